"""Stale means stale, and clears: the base feed's rule for every venue (docs/feeds.md),
against the simulators on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from obview.book import OrderBook
from obview.events import StatusChanged
from obview.feed import Feed, FeedState, Stream
from obview.venues import config
from tests.conftest import wait_until


@contextlib.asynccontextmanager
async def _running(feed: Feed):
    feed.backoff.initial = 0.05
    statuses: list[tuple[FeedState, str]] = []
    feed.add_listener(lambda e: statuses.append((e.feed.state, e.text))
                      if isinstance(e, StatusChanged) else None)
    feed.statuses = statuses  # type: ignore[attr-defined]
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        close = getattr(feed, "close", None)
        if close is not None:
            await close()


def _synced(feed: Feed) -> bool:
    return bool(feed.streams) and all(s.synced for s in feed.streams.values())


async def test_futu_stall_goes_stale_then_clears_when_pushes_resume():
    from obview.venues.futu import start_sim
    from obview.venues.futu.client import FutuFeed

    # keepalive 1 s: the threshold; the stall silences the whole connection after 10 pushes
    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "20", "keepalive": "1", "stall_after": "10"})
    try:
        cfg = config("futu", ["HK.00700"], host="127.0.0.1", port=sim.port)
        async with _running(FutuFeed(cfg)) as feed:
            stream = feed.streams["HK.00700"]
            await wait_until(lambda: feed.state is FeedState.STALE, 5, "stale during the stall")
            assert stream.stale and stream.book.bids  # values kept
            assert feed.status_text == "no update for 1s: HK.00700"
            await wait_until(lambda: feed.reconnects >= 1, 8, "the silent session replaced")
            pushes = stream.pushes
            await wait_until(lambda: stream.pushes > pushes + 5, 8, "pushes flowing again")
            # before: "stale" forever after the reconnect, though pushes flowed again
            assert not stream.stale and stream.stale_reason == ""
            assert feed.state is FeedState.SYNCED
            assert any(state is FeedState.STALE for state, _ in feed.statuses)
    finally:
        await sim.close()


async def test_loopring_quiet_market_goes_stale_and_its_next_push_clears_it():
    from obview.venues.loopring import start_sim
    from obview.venues.loopring.client import LoopringFeed

    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "0"})
    try:
        cfg = config("loopring", ["LRC-ETH"], api="v2", rest_url=sim.rest_url,
                     ws_url=sim.ws_url("v2"), first_push_wait=0)
        feed = LoopringFeed(cfg)
        feed.stale_after = 0.3
        async with _running(feed):
            await wait_until(lambda: _synced(feed), 10, "synced")
            await wait_until(lambda: feed.state is FeedState.STALE, 5, "stale while quiet")
            assert feed.stream.stale and feed.stream.stale_reason == "no update for 0.3s"
            sim.advance("LRC-ETH")
            await wait_until(lambda: feed.state is FeedState.SYNCED, 5, "fresh on the next push")
            assert not feed.stream.stale and feed.reconnects == 0
    finally:
        await sim.close()


class _TwoStreams(Feed):
    venue = "test"

    def __init__(self) -> None:
        super().__init__()
        for symbol in ("AAA", "BBB"):
            stream = Stream(symbol, OrderBook())
            stream.book.replace([(Decimal(1), Decimal(1), 1)], [(Decimal(2), Decimal(1), 1)])
            self.streams[symbol] = stream

    def push(self, symbol: str) -> None:
        stream = self.streams[symbol]
        stream.book.touch()
        self.book_changed(stream, snapshot=not stream.synced)


def test_mark_stale_by_the_venue_clears_on_that_streams_next_push_only():
    feed = _TwoStreams()
    feed.push("AAA")
    feed.push("BBB")
    assert feed.state is FeedState.SYNCED
    feed.mark_stale(feed.streams["AAA"], "quote server logged out")
    assert feed.state is FeedState.STALE and feed.status_text == "quote server logged out: AAA"
    feed.push("BBB")  # another stream's push does not make AAA live
    assert feed.state is FeedState.STALE and feed.streams["AAA"].stale
    feed.push("AAA")
    assert feed.state is FeedState.SYNCED and not feed.streams["AAA"].stale


def test_staleness_never_hides_a_reconnect_or_a_resync():
    feed = _TwoStreams()
    feed.push("AAA")
    feed.push("BBB")
    feed.unsync(feed.streams["BBB"], "gap 3 -> 5")
    feed.mark_stale(feed.streams["AAA"], "quote server logged out")
    assert feed.state is FeedState.RESYNCING  # the more urgent state stays shown
    feed.push("BBB")  # resynced: now the staleness shows
    assert feed.state is FeedState.STALE


async def test_futu_quote_server_logout_notify_marks_stale_until_the_next_push():
    from obview.venues.futu import codec, start_sim
    from obview.venues.futu.client import FutuFeed
    from obview.venues.futu.pb import Notify_pb2

    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "0"})
    try:
        cfg = config("futu", ["HK.00700", "US.AAPL"], host="127.0.0.1", port=sim.port)
        async with _running(FutuFeed(cfg)) as feed:
            await wait_until(lambda: _synced(feed), 5, "synced")
            conn = sim.connections[-1]
            notice = Notify_pb2.Response(retType=0)
            notice.s2c.type = 3  # NotifyType_ConnStatus
            notice.s2c.connectStatus.qotLogined = False
            notice.s2c.connectStatus.trdLogined = False
            await conn.send(codec.encode_frame(codec.NOTIFY, 1, notice.SerializeToString()))
            await wait_until(lambda: feed.state is FeedState.STALE, 5, "stale on logout")
            assert all(s.stale_reason == "quote server logged out" for s in feed.streams.values())
            # the quote server is back: HK.00700 pushes again, US.AAPL stays stale
            await sim._push(conn, sim._push_body(sim.book("HK.00700"), False, True))
            await wait_until(lambda: not feed.streams["HK.00700"].stale, 5, "HK fresh")
            assert feed.streams["US.AAPL"].stale and feed.state is FeedState.STALE
            await sim._push(conn, sim._push_body(sim.book("US.AAPL"), False, True))
            await wait_until(lambda: feed.state is FeedState.SYNCED, 5, "all fresh")
            assert feed.reconnects == 0
    finally:
        await sim.close()
