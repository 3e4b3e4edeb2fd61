"""A start at a seek point whose checkpoint lacks the Loopring book (taken before it
first synced, or while it resynced) shows what live showed from there on.

The session is recorded from the Loopring simulator with its depth replies sent 0.5 s
late and a push dropped every 2 s (a gap, so a resync), a checkpoint every 0.3 s: seek
points fall while the first snapshot is on its way, and while a resync's is. And one
at each gap line, as a checkpoint falls due at one now and then: the sync had emptied
the book, and the stream was not marked unsynced yet."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from functools import partial
from pathlib import Path

import pytest

from obview.journal import Checkpoint, Frame, JournalReader, JournalWriter, Sync
from tests.conftest import run_obview
from tests.replay.conftest import playing, record_session

FAULTS = {"rate": "100", "delay_snapshot": "0.5", "skip": "200"}
RESYNCS = 2  # the recording ends once the book synced again after these
CASES = ["before the first sync", "during a resync", "at a gap"]


class _CheckpointAtGap(JournalWriter):
    def gap(self, *args, **kw) -> None:
        self.checkpoint()
        super().gap(*args, **kw)


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    from obview.venues import config

    path = tmp_path_factory.mktemp("unsynced") / "lr.ndjson.zst"
    cfg = config("loopring", ["LRC-ETH"], sim=True, faults=FAULTS)
    stream = lambda feed: feed.streams["LRC-ETH"]  # noqa: E731
    asyncio.run(record_session(
        path, cfg, lambda feed: lambda: stream(feed).resyncs >= RESYNCS and stream(feed).synced,
        f"{RESYNCS} resyncs recorded", checkpoint_every=0.3, timeout=60,
        writer_factory=partial(_CheckpointAtGap, frame_bytes=2000)))
    return path


def _bookless(path: Path) -> dict[str, Sync]:
    """Seek points (checkpoints that start a zstd frame) without a book to go on from
    while the connection was open: before the first sync, during a resync, and at a
    gap (an empty book, without a version)."""
    reader = JournalReader([path])
    points = {point.wall for point in reader.index()}
    lines = list(reader.lines())
    found = [(line, then) for line, then in zip(lines, lines[1:], strict=False)
             if type(line) is Sync and line.w in points and line.cn]
    none = [line for line, then in found if type(then) is not Checkpoint]
    empty = [line for line, then in found if type(then) is Checkpoint and then.ver is None]
    first = [line for line in none if "LRC-ETH" not in line.fc["0"].rs]
    later = [line for line in none if line.fc["0"].rs.get("LRC-ETH", 0) > 0]
    assert first and later and empty, [(line.n, line.fc, type(then)) for line, then in found]
    return dict(zip(CASES, (first[0], later[0], empty[0]), strict=True))


def _just_after(path: Path, point: Sync) -> int:
    """The start of the millisecond of the first frame after `point` that no line before
    it shares (recv_ts is in ms: the lines printed from there on are those at or after)."""
    lines = list(JournalReader([path]).lines())
    at = next(n for n, line in enumerate(lines) if type(line) is Sync and line.n == point.n)
    for before, line in zip(lines[at:], lines[at + 1:], strict=False):
        if type(line) is Frame and before.w // 1_000_000 < line.w // 1_000_000:
            return line.w // 1_000_000 * 1_000_000
    raise AssertionError("no frame after the seek point")


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).replace(
        microsecond=ns // 1000 % 10**6).isoformat()


def _printed(*args: str) -> list[dict]:
    done = run_obview("replay", *args, "--stream", "json")
    assert done.returncode == 0, done.stderr
    return [json.loads(text) for text in done.stdout.splitlines()]


# (at a gap, the lines printed were right: the sync's buffer starts at the gap's push,
# which comes after the point; only the resync went uncounted, as the seek test shows)
@pytest.mark.parametrize("when", CASES[:2])
def test_from_a_seek_point_without_the_book_prints_what_a_straight_replay_does(journal, when):
    """A Loopring replay from such a point could not decode what followed (no market
    read yet, and no `cx` without a `ckp`; or a snapshot that the pushes buffered before
    the point had to bring forward): it printed nothing. The player starts from an earlier seek point that holds the
    book (or from the journal's start)."""
    start = _just_after(journal, _bookless(journal)[when])
    whole = _printed(str(journal))
    expected = [line for line in whole if line["recv_ts"] >= start // 1_000_000]
    assert len(expected) > 20
    assert _printed(str(journal), "--from", _iso(start)) == expected


def _book(player) -> tuple:
    feed = player.feeds[0]
    stream = feed.streams["LRC-ETH"]
    return (stream.synced, stream.book.version, list(stream.book.bids.iter_levels()),
            list(stream.book.asks.iter_levels()), stream.resyncs, feed.reconnects,
            feed.messages)


@pytest.mark.parametrize("when", CASES)
async def test_a_seek_to_a_seek_point_without_the_book_shows_the_book_live_showed(journal, when):
    """The TUI's seek, to just after such a point, then on to the next checkpoint that
    holds the book: the book and the counts are those of a straight replay (from the
    empty book at a gap, the resync that emptied it went uncounted)."""
    start = _just_after(journal, _bookless(journal)[when])
    synced = next(line.w for line in JournalReader([journal]).lines()
                  if type(line) is Checkpoint and line.w > start and line.ver)
    async with playing(journal, until=synced) as player:
        expected = _book(player)
    assert expected[0] and expected[1] is not None
    async with playing(journal) as player:
        player.until = synced
        player.seek(start)
        await asyncio.wait_for(player.finished.wait(), 30)
        assert _book(player) == expected
