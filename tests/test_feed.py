"""The shared feed machinery: reconnect loop, backoff, states, headless printing."""

from __future__ import annotations

import asyncio
import io
import json
import random
from decimal import Decimal

import pytest

from obview.book import OrderBook
from obview.events import BookChanged, FeedFailed, StatusChanged
from obview.feed import Backoff, FatalFeedError, Feed, FeedError, FeedState, Stream
from obview.headless import HeadlessPrinter, book_json
from obview.latency import IntervalStats
from tests.conftest import wait_until


class ScriptedFeed(Feed):
    """A feed whose sessions follow a script: each entry is what one session does."""

    venue = "test"

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.sessions = 0
        self.backoff = Backoff(initial=0.001, cap=0.004, rng=random.Random(1))
        stream = Stream("AAA", OrderBook())
        self.streams[stream.key] = stream

    async def _session(self):
        self.sessions += 1
        step = self.script.pop(0) if self.script else "idle"
        stream = self.streams["AAA"]
        if step == "refused":
            raise ConnectionRefusedError(111, "Connection refused")
        if step == "bad_frame":
            raise FeedError("bad SHA-1 in frame")
        if step == "fatal":
            raise FatalFeedError("unknown security HK.99999")
        if step == "bug":
            raise KeyError("oops")
        if step in ("data", "data_then_idle"):
            stream.book.replace([(Decimal("1.5"), Decimal(2), 1)], [(Decimal(2), Decimal(3), 1)])
            stream.book.touch(version=10)
            self.book_changed(stream, snapshot=True)
            stream.book.bids.set(Decimal("1.5"), Decimal(5), 2)
            stream.book.touch(version=11)
            self.book_changed(stream)
            if step == "data":
                return  # the connection closes after delivering
        await asyncio.Event().wait()


async def test_reconnects_through_errors_until_data_then_stops_on_fatal():
    feed = ScriptedFeed(["refused", "bad_frame", "bug", "data", "fatal"])
    events = []
    feed.add_listener(events.append)
    await asyncio.wait_for(feed.run(), 5)
    assert feed.sessions == 5
    assert feed.state is FeedState.ERROR
    assert feed.status_text == "unknown security HK.99999"
    assert isinstance(events[-1], FeedFailed)
    states = [e.text for e in events if isinstance(e, StatusChanged)]
    assert any(text.startswith("connection refused; retry in") for text in states)
    assert any(text.startswith("bad SHA-1 in frame; retry in") for text in states)
    assert any(text.startswith("internal error: 'oops'") for text in states)
    changes = [e for e in events if isinstance(e, BookChanged)]
    assert [e.snapshot for e in changes] == [True, False]
    assert feed.streams["AAA"].resyncs == 0


async def test_stream_counts_updates_after_sync_and_resyncs():
    feed = ScriptedFeed(["data_then_idle"])
    task = asyncio.create_task(feed.run())
    await wait_until(lambda: feed.streams["AAA"].updates == 1, message="one update")
    stream = feed.streams["AAA"]
    assert stream.synced and stream.pushes == 2 and feed.state is FeedState.SYNCED
    feed.unsync(stream, "gap 11 -> 13")
    assert stream.resyncs == 1 and not stream.synced
    assert feed.state is FeedState.RESYNCING and feed.status_text == "gap 11 -> 13"
    feed.stop()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_backoff_grows_with_jitter_and_caps():
    backoff = Backoff(initial=1, cap=8, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    bases = [1, 2, 4, 8, 8, 8, 8, 8]
    for delay, base in zip(delays, bases, strict=True):
        assert base / 2 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1


def _synced_feed() -> ScriptedFeed:
    feed = ScriptedFeed([])
    stream = feed.streams["AAA"]
    stream.book.replace(
        [(Decimal("100.50"), Decimal("2000"), 3, {"o1": Decimal(500), "o2": Decimal(1500)}),
         (Decimal("100.25"), Decimal("0.250"), 1)],
        [(Decimal("101"), Decimal("1E+1"), 2)],
    )
    stream.book.touch(venue_ts=1700000000123)
    return feed


def test_book_json_contract():
    feed = _synced_feed()
    stream = feed.streams["AAA"]
    feed.book_changed(stream, snapshot=True)
    obj = book_json(feed, stream, depth=1, details=False)
    assert obj["venue"] == "test" and obj["symbol"] == "AAA" and obj["level"] is None
    assert obj["version"] == 1  # no venue version: the push counter
    assert obj["synced"] is True and obj["venue_ts"] == 1700000000123
    assert isinstance(obj["recv_ts"], int)
    assert obj["bids"] == [["100.5", "2000", 3]]
    assert obj["asks"] == [["101", "10", 2]]
    detailed = book_json(feed, stream, depth=5, details=True)
    assert detailed["bids"][0][3] == [["o1", "500"], ["o2", "1500"]]
    assert detailed["bids"][1] == ["100.25", "0.25", 1, []]


def test_book_json_sourced_levels_have_source_fifth():
    feed = ScriptedFeed([])
    stream = Stream("BTCUSDT", OrderBook(sourced=True))
    stream.book.asks.set(Decimal(5), Decimal(1), 1, source="okex")
    stream.book.asks.set(Decimal(5), Decimal(2), 1, source="binance")
    obj = book_json(feed, stream, depth=5, details=False)
    assert obj["asks"] == [["5", "2", 1, None, "binance"], ["5", "1", 1, None, "okex"]]


async def test_printer_dump_waits_for_n_updates_and_stream_counts_lines():
    feed = _synced_feed()
    stream = feed.streams["AAA"]
    out = io.StringIO()
    dump = HeadlessPrinter("dump", 2, depth=5, details=False, out=out)
    dump.watch(feed)
    line_out = io.StringIO()
    streamer = HeadlessPrinter("stream", 3, depth=5, details=False, out=line_out)
    streamer.watch(feed)
    feed.book_changed(stream, snapshot=True)
    feed.book_changed(stream)
    assert out.getvalue() == "" and not dump.done.is_set()
    feed.book_changed(stream)
    assert dump.done.is_set()
    assert json.loads(out.getvalue())["version"] == 3
    assert streamer.done.is_set()
    assert len(line_out.getvalue().splitlines()) == 3


async def test_printer_reports_failure():
    feed = ScriptedFeed([])
    printer = HeadlessPrinter("dump", None, depth=5, details=False, out=io.StringIO())
    printer.watch(feed)
    feed._fail("subscription rejected: no quote right")
    assert printer.done.is_set()
    assert printer.failure == "test: subscription rejected: no quote right"


def _counts(feed: Feed, stream: Stream) -> tuple:
    return (feed.state, feed.status_text, feed._delivered, stream.pushes, stream.updates,
            stream.synced, stream.stale, stream.stale_reason)


@pytest.mark.parametrize("case", ["synced", "stale stream", "feed resyncing", "not synced"])
def test_push_reader_does_what_book_changed_does(case):
    """A venue's hot path is the push reader; its common case is a copy of book_changed's
    and every other case is book_changed itself: both must leave the same feed."""
    results = []
    for use_notifier in (False, True):
        feed = ScriptedFeed([])
        stream = feed.streams["AAA"]
        events = []
        feed.add_listener(events.append)
        if case != "not synced":
            feed.book_changed(stream, snapshot=True)
        if case == "stale stream":
            feed.mark_stale(stream, "quote server logged out")
        elif case == "feed resyncing":
            feed.set_state(FeedState.RESYNCING, "gap")
        events.clear()
        if use_notifier:
            declined: list = []
            on_frame = feed.push_reader(stream, lambda frame: frame != "bad",
                                        lambda frame, why, seen=declined: seen.append((frame, why)))
            on_frame("push")
            on_frame("bad")
            on_frame("push")
            assert declined == [("bad", False)]
            feed.messages -= 3  # the frames counted: the same feed otherwise
        else:
            feed.book_changed(stream)
            feed.book_changed(stream)
        assert [type(e) for e in events if isinstance(e, BookChanged)] == [BookChanged] * 2
        assert all(not e.snapshot for e in events if isinstance(e, BookChanged))
        results.append((_counts(feed, stream), [type(e).__name__ for e in events]))
    assert results[0] == results[1]
    if case == "synced":
        assert results[1][0][3:5] == (3, 2)  # pushes, updates
    if case == "stale stream":
        assert results[1][0][6] is False  # the next update ends the staleness


def test_push_reader_marks_the_interval_of_each_applied_push():
    feed = ScriptedFeed([])
    stream = feed.streams["AAA"]
    feed.book_changed(stream, snapshot=True)
    intervals = IntervalStats()
    stamps = iter([10.0, 10.25, 10.75])

    def apply(frame: str) -> bool:
        if frame == "bad":
            return False
        stream.book.recv_mono = next(stamps)
        return True

    on_frame = feed.push_reader(stream, apply, lambda frame, why: None, intervals)
    for frame in ("push", "bad", "push"):
        on_frame(frame)
    intervals.restart()  # a new subscription: no interval across it
    on_frame("push")
    assert intervals.samples == [250.0] and intervals.total == 1
    assert feed.messages == 4 and stream.updates == 3
