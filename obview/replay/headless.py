"""`obview replay PATH --stream json`: the recorded session's JSON lines, again.

The same `HeadlessPrinter` as live watches the replayed feeds, so each applied update
prints the line it printed live (the local receive stamps aside: see docs/replay.md).
As fast as possible unless a speed is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from obview.headless import SHUTDOWN_GRACE, HeadlessFailure, HeadlessPrinter
from obview.replay.player import ReplayPlayer


async def replay_headless(paths: list[Path], *, count: int | None = None,
                          depth: int | None = None, details: bool | None = None,
                          speed: float | None = None, start: int | None = None,
                          until: int | None = None, out: TextIO | None = None,
                          warn: Callable[[str], None] | None = None,
                          player: ReplayPlayer | None = None) -> bool:
    """Print until the journal ends or `count` lines. False when stdout's reader left."""
    player = player or ReplayPlayer(paths, speed=speed, start=start, until=until, warn=warn)
    cfg = player.configs[0]
    view = player.view  # what the live run printed
    depth = depth or view.get("depth") or cfg.depth
    if details is None:
        details = bool(view.get("details", cfg.details))
    printer = HeadlessPrinter("stream", count, depth, details, out or sys.stdout)
    # a live --trades / --orders / --risk stream printed those instead of books
    records = view.get("records")
    printer.records = records if records in ("trades", "orders", "risk") else None
    printer.muted = lambda: player.catching_up
    # recv_ts: when the read that made the update was received, as recorded (the line's
    # `w`: what live printed, and Parquet's recv_wall), not when the replay applied it
    printer.received = lambda: player.wall // 1_000_000
    for feed in player.feeds:
        printer.watch(feed)
    tasks = [asyncio.create_task(feed.run(), name=f"replay-{feed.venue}") for feed in player.feeds]
    driver = asyncio.create_task(player.run(), name="replay-player")
    ended = asyncio.create_task(player.finished.wait())
    done = asyncio.create_task(printer.done.wait())
    try:
        with printer.interruptible():
            finished, _ = await asyncio.wait({driver, ended, done},
                                             return_when=asyncio.FIRST_COMPLETED)
        if driver in finished and driver.exception() is not None:
            raise driver.exception()
    finally:
        for task in (driver, ended, done, *tasks):
            task.cancel()
        await asyncio.wait([driver, ended, done, *tasks], timeout=SHUTDOWN_GRACE)
        for feed in player.feeds:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(feed.close(), SHUTDOWN_GRACE)
        printer.report_totals()
    if printer.failure:
        raise HeadlessFailure(printer.failure)
    return not printer.closed
