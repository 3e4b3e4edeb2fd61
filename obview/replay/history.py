"""A seek's depth history, rebuilt from the journal (docs/replay.md, "Time on screen").

A viewer that jumps to 14:03:22 should see the heatmap a viewer who had played through
would see there. The player restores only the books (from the checkpoint before the
target); the minutes of history before the target are rebuilt here by a second, unseen
player on the same files: its own feeds, built as `build_feed` builds them, so the frames
go through the same decoders, sync and books as in the replay on screen. It runs from
the seek point before `until - history_s` (less a margin: the widest column) up to the
first line at or after `until`, as fast as the loop allows in small slices that give
the screen its turns, and samples every stream's book and prints into the histories it
was given with the same `SlotSampler` rule the screen records with. Lines stop exactly
where the player on screen handed its catch-up over (`ReplayCaughtUp.split`), so the
rebuilt history and the one recorded from there on join without a seam.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from obview.depth_history import RESOLUTIONS_MS, DepthHistory, SlotSampler
from obview.events import BookChanged, TradesPrinted

if TYPE_CHECKING:
    from obview.replay.player import ReplayPlayer

BATCH = 64  # lines per slice: ~1-3 ms of decoding, so the screen keeps its frame rate
MARGIN_NS = RESOLUTIONS_MS[-1] * 1_000_000 + 1_000_000_000  # the widest column, and a second
PROGRESS_EVERY = 0.25  # s of the loop's time between two progress reports


async def rebuild_history(player: ReplayPlayer, histories: dict[Any, DepthHistory],
                          until: int, history_s: float,
                          progress: Callable[[float], None] | None = None) -> None:
    """Fill `histories` (keyed by the on-screen player's `Stream`s) with what their
    books and prints were over the `history_s` before journal wall time `until` (ns)."""
    reader = player.reader
    begin = until - int(history_s * 1e9) - MARGIN_NS
    point = reader.seek_point(wall=max(begin, player.first_wall))
    first = reader.index()[0]
    start = None if point == first else point.wall  # the journal's start: as played
    shadow = type(player)([], speed=None, start=start, until=until - 1, reader=reader,
                          batch=BATCH)
    samplers: dict[Any, SlotSampler] = {}
    for number, feed in enumerate(player.feeds):
        twin = shadow.feeds[number]
        mine: dict[Any, SlotSampler] = {}
        for stream, history in histories.items():
            if feed.streams.get(stream.key) is stream and stream.key in twin.streams:
                sampler = SlotSampler(history, twin.streams[stream.key].book)
                mine[twin.streams[stream.key]] = sampler
                samplers[stream] = sampler
        twin.add_listener(partial(_sample, shadow, mine))
    tasks = [asyncio.create_task(feed.run(), name=f"rebuild-{feed.venue}")
             for feed in shadow.feeds]
    driver = asyncio.create_task(shadow.run(), name="rebuild-replay")
    done = asyncio.create_task(shadow.finished.wait())
    reporter = asyncio.create_task(_report(shadow, point.wall, until, progress)) \
        if progress is not None else None
    try:
        # the driver ends early only at damage: the history goes up to it, as the
        # replay on screen does
        await asyncio.wait({driver, done}, return_when=asyncio.FIRST_COMPLETED)
        # the last samples while the books are as the lines left them (a session that
        # ends clears its book)
        for sampler in samplers.values():
            sampler.finish(shadow.stopped_at)
    finally:
        for feed in shadow.feeds:
            feed.stop()
        others = [t for t in (driver, done, reporter, *tasks) if t is not None]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        for feed in shadow.feeds:
            with contextlib.suppress(Exception):
                await feed.close()
    if progress is not None:
        progress(1.0)


def _sample(shadow: ReplayPlayer, samplers: dict[Any, SlotSampler], event) -> None:
    """A twin feed's event: into the sampler of its stream, at the journal's time."""
    kind = type(event)
    if kind is not BookChanged and kind is not TradesPrinted:
        return
    sampler = samplers.get(event.stream)
    if sampler is None:
        return
    at = shadow.wall
    if kind is BookChanged:
        due = sampler.changed(at)
        if due is not None:
            shadow.call_at(due, partial(_flush, sampler, due))
    else:
        sampler.trades(event.trades, at)


def _flush(sampler: SlotSampler, due: int) -> None:
    if sampler.due == due:
        sampler.flush()


async def _report(shadow: ReplayPlayer, begin: int, until: int,
                  progress: Callable[[float], None]) -> None:
    span = max(until - begin, 1)
    while True:
        progress(min(max((shadow.wall - begin) / span, 0.0), 1.0))
        await asyncio.sleep(PROGRESS_EVERY)
