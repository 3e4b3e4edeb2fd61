"""Journals of simulator traffic: payloads come back byte for byte and every checkpoint
is the book the feed had at that moment (Loopring's scaled-integer book included)."""

from __future__ import annotations

import sys
from pathlib import Path

from obview.journal import JournalReader, JournalWriter, book_of, schema
from tests.conftest import ROOT
from tests.journal.conftest import FakeClock

sys.path.insert(0, str(ROOT / "bench"))
from loopring_push import MARKET, fresh_feed, record  # noqa: E402  # the bench's recorder


def state(book) -> tuple:
    return (book.version, [(lv.price, lv.size, lv.orders) for lv in book.bids.iter_levels()],
            [(lv.price, lv.size, lv.orders) for lv in book.asks.iter_levels()])


def test_loopring_session_checkpoints_are_the_live_books(tmp_path: Path, clock: FakeClock) -> None:
    snapshot, frames = record(1500, 0, seed=11)
    feed = fresh_feed(snapshot, 0)
    book = feed.stream.book
    path = tmp_path / "loopring.ndjson.zst"
    w = JournalWriter(path, mono=clock.mono, wall=clock.wall, venues=["loopring"],
                      symbols={"loopring": [MARKET]}, options={"level": 0},
                      books=lambda: [("loopring", MARKET, book)], checkpoint_every=5.0,
                      frame_bytes=50_000)
    live_at: dict[int, tuple] = {}  # mono -> the book after every frame up to then
    texts = [frame.decode() for frame in frames]
    for text in texts:
        clock.advance(0.05)
        live_at[clock.mono()] = state(book)  # what a checkpoint taken now must hold
        w.frame("loopring", 1, "ws", text)
        feed.on_frame(text)
    w.close()
    assert feed.bad_frames == 0 and feed.stream.resyncs == 0

    reader = JournalReader(path)
    lines = list(reader)
    assert [line.p for line in lines if isinstance(line, schema.Frame)] == texts
    checkpoints = [line for line in lines if isinstance(line, schema.Checkpoint)]
    assert len(checkpoints) == 1500 * 0.05 // 5
    for ckp in checkpoints:
        assert state(book_of(ckp)) == live_at[ckp.m]
    # a seek to the middle starts at a checkpoint that is that moment's book
    middle = lines[len(lines) // 2].w
    sought = list(reader.seek(wall=middle))
    assert isinstance(sought[1], schema.Checkpoint) and sought[1].w <= middle
    assert state(book_of(sought[1])) == live_at[sought[1].m]
    assert path.stat().st_size <= 0.25 * sum(map(len, frames))
