"""The OpenD client against the OpenD simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

import pytest

from obview.feed import FeedState
from obview.venues import config
from obview.venues.futu import codec
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.sim import start_sim
from tests.conftest import wait_until


def sim_rows(sim, code: str) -> tuple[list, list]:
    """The simulator's current book as the client should show it: (price, size, orders)."""
    bids, asks = sim.book(code).top(sim.levels)

    def rows(side):
        return [(price, Decimal(volume), count) for price, volume, count, _ in side]

    return rows(bids), rows(asks)


def feed_rows(feed: FutuFeed, code: str) -> tuple[list, list]:
    book = feed.streams[code].book

    def rows(side):
        return [(lv.price, lv.size, lv.orders) for lv in side.iter_levels()]

    return rows(book.bids), rows(book.asks)


def book_matches(feed: FutuFeed, sim, code: str) -> bool:
    return feed.streams[code].synced and feed_rows(feed, code) == sim_rows(sim, code)


@contextlib.asynccontextmanager
async def running(codes: list[str], faults: dict[str, str] | None = None, details: bool = False,
                  seed: int = 3):
    sim = await start_sim("127.0.0.1", 0, seed, faults or {"rate": "40"})
    cfg = config("futu", codes, details=details, host="127.0.0.1", port=sim.port)
    feed = FutuFeed(cfg)
    feed.backoff.initial = 0.05  # recover fast in tests; the policy itself is the base class's
    task = asyncio.create_task(feed.run())
    try:
        yield feed, sim
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()


def synced(feed: FutuFeed, pushes: int = 0) -> bool:
    return all(s.synced and s.updates >= pushes for s in feed.streams.values())


async def test_normal_run_two_codes_one_connection_in_the_documented_order():
    async with running(["HK.00700", "US.AAPL"], {"rate": "40", "keepalive": "1"}) as (feed, sim):
        await wait_until(lambda: synced(feed, 5), 10, "both books synced with pushes")
        assert len(sim.connections) == 1
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "HK book = sim")
        await wait_until(lambda: book_matches(feed, sim, "US.AAPL"), 5, "US book = sim")
        hk, us = feed.streams["HK.00700"], feed.streams["US.AAPL"]
        assert hk.name == "腾讯控股" and us.name == "苹果"
        assert len(hk.book.bids) == 20 and len(hk.book.asks) == 20
        assert hk.book.bids.best().price < hk.book.asks.best().price
        # HKEX tick table: 512.5 lies in the 500-1000 band, tick 0.5
        assert all(lv.price % Decimal("0.5") == 0 for lv in hk.book.bids.iter_levels()
                   if lv.price >= 500)
        assert all(lv.queue is None for lv in hk.book.bids.iter_levels())  # no --details
        # latency per side; the first push is the unstamped "cached" one
        for side in ("bid", "ask"):
            stats = hk.latency[side]
            assert stats.unstamped >= 1 and stats.samples
            assert 0 <= stats.summary()["p50"] < 2000
        assert set(hk.extra["latency_ms"]) == {"bid", "ask"}
        assert hk.book.venue_ts is not None
        # keep-alives at 0.8 x 1 s
        await wait_until(lambda: any(p == codec.KEEP_ALIVE for _, p in sim.requests), 3,
                         "a KeepAlive")
        ids = [p for _, p in sim.requests if p != codec.KEEP_ALIVE]
        assert ids == [codec.INIT_CONNECT, codec.QOT_SUB, codec.QOT_GET_ORDER_BOOK,
                       codec.QOT_GET_ORDER_BOOK, codec.QOT_GET_STATIC_INFO]
        assert feed.state is FeedState.SYNCED and feed.bad_frames == 0


async def test_details_fill_queues_that_sum_to_the_level():
    async with running(["HK.00700"], details=True) as (feed, sim):
        await wait_until(lambda: synced(feed, 3), 10, "synced")
        book = feed.streams["HK.00700"].book
        levels = list(book.bids.iter_levels()) + list(book.asks.iter_levels())
        assert levels
        for level in levels:
            assert level.queue, level
            assert sum(level.queue.values()) == level.size
            assert len(level.queue) == level.orders
        _, asks = sim.book("HK.00700").top(sim.levels)
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "book = sim")


async def test_unknown_push_ids_are_skipped_and_notify_reaches_the_status():
    async with running(["HK.00700"], {"rate": "40", "unknown_push": "", "notify": ""}) as (feed, sim):
        await wait_until(lambda: feed.notice is not None, 5, "a Notify")
        assert "simulated gateway event" in feed.notice
        await wait_until(lambda: synced(feed, 5), 10, "pushes applied")
        assert feed.bad_frames == 0 and feed.reconnects == 0
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "book = sim")


async def test_fragmented_writes_reassemble():
    async with running(["HK.00700", "US.AAPL"], {"rate": "40", "fragment": "7"}, details=True) as (feed, sim):
        await wait_until(lambda: synced(feed, 3), 10, "synced through 7-byte writes")
        await wait_until(lambda: book_matches(feed, sim, "US.AAPL"), 5, "book = sim")
        assert feed.bad_frames == 0 and feed.reconnects == 0


@pytest.mark.parametrize(
    ("fault", "bad_frames"),
    [("drop_after", 0), ("truncate_after", 0), ("bad_sha_after", 1), ("garbage_after", 1)],
)
async def test_faults_reconnect_and_the_book_is_right_afterwards(fault, bad_frames):
    async with running(["HK.00700", "US.AAPL"], {"rate": "40", fault: "5"}) as (feed, sim):
        await wait_until(lambda: feed.reconnects >= 1, 10, f"a reconnect after {fault}")
        await wait_until(lambda: synced(feed, 3), 10, "synced again")
        assert feed.bad_frames == bad_frames
        assert len(feed.buffer) < codec.HEADER_SIZE + 4096  # no half frame carried over
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "HK book = sim")
        await wait_until(lambda: book_matches(feed, sim, "US.AAPL"), 5, "US book = sim")
        inits = [c for c, p in sim.requests if p == codec.INIT_CONNECT]
        assert len(set(inits)) >= 2  # InitConnect redone on the new connection
        assert feed.streams["HK.00700"].name == "腾讯控股"


async def test_silence_longer_than_three_keepalive_intervals_reconnects():
    faults = {"rate": "40", "keepalive": "1", "stall_after": "3"}
    async with running(["HK.00700"], faults) as (feed, sim):
        started = time.monotonic()
        await wait_until(lambda: feed.state is FeedState.STALE, 5, "stale while silent")
        await wait_until(lambda: feed.reconnects >= 1, 8, "a reconnect after the stall")
        assert time.monotonic() - started >= 2.5
        await wait_until(lambda: synced(feed, 3), 10, "synced again")
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "book = sim")


async def test_gateway_restart_resubscribes():
    async with running(["HK.00700"]) as (feed, sim):
        await wait_until(lambda: synced(feed, 2), 10, "synced")
        sim.drop_all()
        await wait_until(lambda: feed.reconnects >= 1, 5, "reconnect")
        await wait_until(lambda: synced(feed, 2), 10, "synced again")
        subs = [c for c, p in sim.requests if p == codec.QOT_SUB]
        assert len(set(subs)) == 2


@pytest.mark.parametrize(
    ("codes", "faults", "expected"),
    [
        (["HK.99999"], {}, "Unknown stock HK.99999"),
        (["US.AAPL"], {"no_right": "US"}, "No right to subscribe AAPL"),
        (["JP.7203"], {}, "No right to subscribe 7203"),  # no JP equity right exists
        (["HK.00700", "US.AAPL"], {"no_right": "HK.00700+US"}, "subscription rejected for every"),
    ],
)
async def test_error_replies_stop_the_feed_with_the_servers_message(codes, faults, expected):
    async with running(codes, faults) as (feed, sim):
        await wait_until(lambda: feed.state is FeedState.ERROR, 5, "the feed to fail")
        assert expected in feed.status_text
        assert all(expected in s.error for s in feed.streams.values())
        assert feed.reconnects == 0


@pytest.mark.parametrize(
    ("codes", "faults", "refused"),
    [
        (["HK.00700", "HK.99999"], {}, {"HK.99999": "Unknown stock HK.99999"}),
        (["HK.00700", "US.AAPL", "US.TSLA"], {"no_right": "US.AAPL"},
         {"US.AAPL": "No right to subscribe AAPL"}),
        (["HK.00700", "HK.00005", "US.AAPL"], {"quota": "2"},
         {"US.AAPL": "Subscription quota exceeded: 2 of 2 used, 1 more requested"}),
    ],
)
async def test_a_refused_code_never_blanks_the_others(codes, faults, refused):
    async with running(codes, {"rate": "40", **faults}) as (feed, sim):
        live = [c for c in codes if c not in refused]
        await wait_until(lambda: all(feed.streams[c].synced and feed.streams[c].updates >= 3
                                     for c in live), 10, "the accepted codes synced")
        await wait_until(lambda: feed.state is FeedState.SYNCED, 5, "the feed synced")
        for code in live:
            assert feed.streams[code].error is None
            await wait_until(lambda code=code: book_matches(feed, sim, code), 5, f"{code} = sim")
        for code, message in refused.items():
            stream = feed.streams[code]
            assert stream.error == message and not stream.synced
            assert not stream.book.bids and not stream.book.asks
        assert feed.headless_streams() == set(live)
        # the refused batch was retried code by code, then the books fetched for the rest
        ids = [p for _, p in sim.requests if p not in (codec.KEEP_ALIVE,)]
        assert ids[:2 + len(codes)] == [codec.INIT_CONNECT] + [codec.QOT_SUB] * (1 + len(codes))
        assert ids.count(codec.QOT_GET_ORDER_BOOK) == len(live)
        assert feed.bad_frames == 0 and feed.reconnects == 0


async def test_cannot_connect_names_host_port_and_hints_at_sim():
    sim = await start_sim("127.0.0.1", 0, 1, {})
    port = sim.port
    await sim.close()  # a port nobody listens on any more
    feed = FutuFeed(config("futu", ["HK.00700"], host="127.0.0.1", port=port))
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.reconnects >= 1, 5, "a failed connect")
        assert f"127.0.0.1:{port}" in feed.status_text and "--sim" in feed.status_text
        assert feed.state is FeedState.RECONNECTING
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_keepalive_every_0_8_intervals():
    async with running(["HK.00700"], {"rate": "0", "keepalive": "1"}) as (feed, sim):
        await wait_until(lambda: synced(feed), 5, "synced")
        started = time.monotonic()
        await wait_until(lambda: any(p == codec.KEEP_ALIVE for _, p in sim.requests), 3,
                         "the first KeepAlive")
        first = time.monotonic() - started
        await wait_until(lambda: sum(p == codec.KEEP_ALIVE for _, p in sim.requests) >= 2, 3,
                         "the second KeepAlive")
        second = time.monotonic() - started
        assert 0.5 <= first <= 1.2 and 1.3 <= second <= 2.2, (first, second)
        # replies keep the connection alive; a code without pushes for the threshold is
        # stale by the shared rule (docs/feeds.md), while the session goes on
        assert feed.reconnects == 0
        assert feed.state is FeedState.STALE and feed.streams["HK.00700"].stale
        assert feed.status_text == "no update for 1s: HK.00700"


async def test_quote_server_logout_notify_makes_every_stream_stale_until_its_next_push():
    async with running(["HK.00700", "US.AAPL"], {"rate": "40"}) as (feed, sim):
        await wait_until(lambda: synced(feed, 3), 10, "synced")
        await sim.quote_server(logged_in=False)
        await wait_until(lambda: all(s.stale for s in feed.streams.values()), 5,
                         "both streams stale after the logout Notify")
        assert "quote server logged out" in feed.status_text
        pushes = {k: s.pushes for k, s in feed.streams.items()}
        await sim.quote_server(logged_in=True)
        await wait_until(lambda: not any(s.stale for s in feed.streams.values()), 5,
                         "stale cleared by each stream's next push")
        assert all(s.pushes > pushes[k] for k, s in feed.streams.items())
        assert feed.reconnects == 0 and feed.bad_frames == 0
