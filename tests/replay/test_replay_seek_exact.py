"""A seek restores a Loopring book exactly, whatever the size of its numbers."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import zstandard

from obview.journal import JournalReader, JournalWriter
from tests.replay.conftest import playing, record_session

# 12.3 billion tokens of 18 decimals: 29 digits of units, past a Decimal context's 28
BIG = "12345678901.234567890123456789"


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    from obview.venues import config

    path = tmp_path_factory.mktemp("exact") / "lr.ndjson.zst"
    cfg = config("loopring", ["LRC-ETH"], sim=True, seed=5, faults={"rate": "100"})
    asyncio.run(record_session(
        path, cfg, lambda feed: lambda: feed.streams["LRC-ETH"].pushes >= 60, "60 pushes",
        checkpoint_every=0.2, timeout=60, writer_factory=partial(JournalWriter, frame_bytes=2000)))
    return path


def _with_size(path: Path, copy: Path, size: str) -> tuple[int, Decimal]:
    """The journal cut at the end of the last seek point's frame whose book a replay can
    go on from (a version, bids), with a bid of `size` added (the frame compressed again
    as the writer does); (the point's wall ns, that bid's price)."""
    data = path.read_bytes()
    points = JournalReader(path).index()
    for point, end in reversed(list(zip(points, [p.offset for p in points[1:]] + [len(data)],
                                        strict=True))):
        lines = zstandard.ZstdDecompressor().decompressobj().decompress(
            data[point.offset:end]).split(b"\n")[:-1]
        if len(lines) > 1 and lines[1].startswith(b'{"k":"ckp"'):
            row = json.loads(lines[1])
            if row.get("ver") is not None and row["bids"]:
                break
    at = 1
    # a level of its own, far below the market's, which no push after it touches
    row["bids"].append(["0.00000001", size, 1])
    lines[at] = json.dumps(row).encode()
    cobj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    frame = (cobj.compress(lines[0] + b"\n") + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
             + cobj.compress(b"".join(line + b"\n" for line in lines[1:])) + cobj.flush())
    copy.write_bytes(data[:point.offset] + frame)  # (what follows is not played)
    return point.wall, Decimal("0.00000001")


async def test_a_seek_restores_a_size_of_more_than_28_digits_exactly(journal, tmp_path):
    """The restore divided each size by the token's unit in the default context (28
    digits): 12345678901.234567890123456789 came back ...56790 units, kept as synced."""
    copy = tmp_path / "big.ndjson.zst"
    wall, price = _with_size(journal, copy, BIG)
    restored = []

    async with playing(copy, until=wall + 1, start=wall) as player:
        book = player.feeds[0].streams["LRC-ETH"].book
        restored.append(book.bids.get(price))
    level = restored[0]
    assert level is not None and level.size == Decimal(BIG)
    assert level.units == 12345678901234567890123456789
