"""The replay path on schema 2 journals: reads stay whole, and schema 1 replays as before."""

from __future__ import annotations

import asyncio

import msgspec
import zstandard

from obview.journal import Frame, Header, JournalReader, schema
from obview.replay import ReplayPlayer
from obview.venues.futu.client import FutuFeed
from tests.conftest import run_obview
from tests.replay.conftest import record, without_local_stamps


def _reads(lines: list) -> list[tuple[int, int]]:
    """(index of the first line, frames) of each recorded read: frames of one connection
    with one stamp, next to each other."""
    reads: list[tuple[int, int]] = []
    key = None
    for index, line in enumerate(lines):
        if type(line) is not Frame:
            key = None
            continue
        if (line.c, line.m) == key:
            reads[-1] = (reads[-1][0], reads[-1][1] + 1)
        else:
            reads.append((index, 1))
            key = (line.c, line.m)
    return reads


async def test_a_read_split_by_a_batch_boundary_is_delivered_whole(futu_journal, monkeypatch):
    path, _ = futu_journal
    reads = _reads(list(JournalReader(path)))
    # a batch size at which some read of several frames straddles a batch boundary
    batch = next(b for b in range(2, 50)
                 if any(start // b != (start + n - 1) // b for start, n in reads if n > 1))
    delivered: list[int] = []
    replay_frames = FutuFeed._replay_frames

    def spy(self, frames):
        delivered.append(len(frames))
        replay_frames(self, frames)

    monkeypatch.setattr(FutuFeed, "_replay_frames", spy)
    player = ReplayPlayer([path], speed=None)
    player.pace.batch = batch
    tasks = [asyncio.create_task(feed.run()) for feed in player.feeds]
    driver = asyncio.create_task(player.run())
    try:
        await asyncio.wait_for(player.finished.wait(), 30)
    finally:
        for task in (driver, *tasks):
            task.cancel()
        await asyncio.wait([driver, *tasks], timeout=5)
    assert delivered == [n for _, n in reads]


def test_a_schema_1_journal_replays_as_it_did(tmp_path):
    """The same session written as schema 1 wrote it (every text escaped in `p`):
    replayed by this obview, it prints what the schema 2 journal and the live run did."""
    path = tmp_path / "lr.ndjson.zst"
    live = record(path, "loopring", "LRC-ETH", "--sim", count=60)
    lines = list(JournalReader(path))  # texts as `p`
    assert any(type(line) is Frame and line.ch == "ws" for line in lines)
    old = tmp_path / "lr-v1.ndjson.zst"
    encoded = [schema.encoder.encode(msgspec.structs.replace(line, v=1)
                                     if type(line) is Header else line) for line in lines]
    assert not any(b'"j":' in line for line in encoded)
    old.write_bytes(zstandard.ZstdCompressor().compress(b"".join(x + b"\n" for x in encoded)))
    assert JournalReader(old).headers[0].v == 1
    printed = {}
    for name in (path, old):
        done = run_obview("replay", str(name), "--stream", "json")
        assert done.returncode == 0, done.stderr
        printed[name] = [without_local_stamps(t) for t in done.stdout.splitlines()]
    assert printed[old] == printed[path]
    assert printed[old][:len(live)] == [without_local_stamps(t) for t in live]
