"""What a hostile OpenD can send, one rule at a time, over a real loopback socket
(docs/futu.md, "Push validation")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from decimal import Decimal

import pytest

from obview.venues.futu import codec
from obview.venues.futu.client import CACHE_LIMIT, KEEPALIVE_DEFAULT, sane_keepalive
from tests.conftest import wait_until
from tests.futu.fuzz import book_rows, judge
from tests.futu.hostile import CODE, FuzzFeed, HostileOpenD, caught_up, fill, push_body

GOOD = ([[380.0, 500, 2, [(11, 200), (12, 300)], None], [379.8, 100, 1, [(13, 100)], None]],
        [[380.2, 700, 3, [], None]])


@contextlib.asynccontextmanager
async def hostile(keepalive: int = 10, details: bool = True):
    server = HostileOpenD(keepalive=keepalive)
    server.book_body = push_body(*GOOD)
    feed = FuzzFeed(await server.start(), details=details)
    task = asyncio.create_task(feed.run())
    try:
        await caught_up(feed, server)
        await wait_until(lambda: feed.streams[CODE].synced, 5, "synced on the first book")
        yield feed, server
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()


async def push(feed, server, body: bytes) -> None:
    await server.send(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, body))
    await caught_up(feed, server)


def rows_of(body: bytes):
    verdict, rows = judge(body)
    assert verdict == "valid"
    return rows


def with_row(side: int, index: int, **changes):
    sides = [[list(r) for r in GOOD[0]], [list(r) for r in GOOD[1]]]
    row = sides[side][index]
    for name, value in changes.items():
        row[("price", "volume", "count", "details", "hp").index(name)] = value
    return push_body(*sides)


BAD = {
    "nan price": with_row(0, 0, price=math.nan),
    "-inf price": with_row(1, 0, price=-math.inf),
    "inf price": with_row(1, 0, price=math.inf),
    "zero price": with_row(0, 1, price=0.0),
    "negative price": with_row(0, 1, price=-380.0),
    "tiny price": with_row(0, 0, price=5e-324),
    "huge price": with_row(0, 0, price=1e13),
    "ten places": with_row(0, 0, price=380.0000000001),
    "negative volume": with_row(1, 0, volume=-5),
    "nan hpVolume": with_row(0, 0, hp=math.nan),
    "5e-324 hpVolume": with_row(0, 0, hp=5e-324),
    "negative hpVolume": with_row(0, 0, hp=-1.5),
    "negative count": with_row(1, 0, count=-1),
    "negative order volume": with_row(0, 0, details=[(11, -3)]),
    "1001 orders": with_row(0, 0, details=[(i, 1) for i in range(1, 1002)]),
    "duplicate price": push_body(GOOD[0] + [list(GOOD[0][0])], GOOD[1]),
    "61 levels": push_body([[380.0 - i / 10, 100, 1, [], None] for i in range(61)], GOOD[1]),
}


@pytest.mark.parametrize("name", list(BAD))
async def test_a_bad_push_is_counted_and_the_book_stays_the_last_valid_one(name, caplog):
    caplog.set_level(logging.ERROR, logger="obview")
    async with hostile() as (feed, server):
        stream = feed.streams[CODE]
        before = book_rows(feed)
        assert before == rows_of(push_body(*GOOD))
        await push(feed, server, BAD[name])
        assert judge(BAD[name])[0] == "bad"  # the test's own oracle agrees it is bad
        assert feed.bad_frames == 1 and not stream.synced and stream.resyncs == 1
        assert book_rows(feed) == before  # nothing of the bad push reached the book
        assert feed.reconnects == 0 and not feed.broke  # the framing was fine: no reconnect
        nxt = with_row(1, 0, volume=900)
        await push(feed, server, nxt)
        assert stream.synced and book_rows(feed) == rows_of(nxt)  # the next push resyncs


async def test_a_bad_newest_push_falls_back_on_the_valid_one_it_superseded(caplog):
    caplog.set_level(logging.ERROR, logger="obview")
    async with hostile() as (feed, server):
        valid = with_row(1, 0, volume=900)
        frames = [codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, body)
                  for body in (valid, BAD["nan price"], BAD["duplicate price"])]
        await server.send(b"".join(frames))  # one write: typically one read
        await caught_up(feed, server)
        assert book_rows(feed) == rows_of(valid)
        assert 1 <= feed.bad_frames <= 2


async def test_an_oversized_frame_is_bad_and_the_connection_is_replaced(caplog):
    caplog.set_level(logging.ERROR, logger="obview")
    async with hostile() as (feed, server):
        before = book_rows(feed)
        header = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, b"")
        header = header[:12] + (codec.MAX_BODY + 1).to_bytes(4, "little") + header[16:]
        await server.send(header + bytes(1024))
        await wait_until(lambda: feed.reconnects == 1, 5, "a reconnect")
        await caught_up(feed, server)
        assert feed.bad_frames == 1 and book_rows(feed) == before
        assert len(feed.buffer) < codec.HEADER_SIZE + 4096  # nothing of it kept


async def test_a_frame_trickled_byte_by_byte_that_never_ends_replaces_the_connection():
    """The watchdog counted silence from the last byte: a peer sending a frame a byte at
    a time, never finishing it, held the session (and the KeepAlive replies behind it)
    for ever. It counts from the last whole frame: 3 keep-alive intervals, then anew."""
    async with hostile(keepalive=1) as (feed, server):
        header = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, b"")
        header = header[:12] + (2**20).to_bytes(4, "little") + header[16:]  # a 1 MiB body
        trickle = asyncio.create_task(_trickle(server, header + bytes(2**20)))
        try:
            await wait_until(lambda: feed.reconnects == 1, 8, "the connection replaced")
        finally:
            trickle.cancel()
            await asyncio.gather(trickle, return_exceptions=True)
        assert "no complete frame from OpenD for 3s" in feed.status_text
        await caught_up(feed, server)


async def test_a_notify_text_reaches_the_status_escaped_and_cut():
    """A Notify's desc became the status text as sent: headless writes that to stderr
    (with a bad frame or a reconnect), so an ESC sequence in it drove the terminal, and
    a 1 MB desc was a 1 MB line. Control characters are shown escaped; 1000 at most."""
    from obview.venues.futu.pb import Notify_pb2

    async with hostile() as (feed, server):
        notify = Notify_pb2.Response(retType=0)
        notify.s2c.type = 1
        notify.s2c.event.eventType = 7
        notify.s2c.event.desc = "\x1b]0;owned\x07\x1b[2Jkicked out\r" + "x" * 2**20
        await server.send(codec.encode_frame(codec.NOTIFY, 0, notify.SerializeToString()))
        await wait_until(lambda: feed.notice is not None, 5, "the Notify read")
        text = feed.status_text
        assert text.startswith("OpenD: \\x1b]0;owned\\x07\\x1b[2Jkicked out\\rxxx")
        assert text.isprintable() and len(text) == 1000 and text.endswith("x…")


async def test_a_refusal_text_reaches_the_refused_stream_escaped():
    server = HostileOpenD(sub_ret=(-1, "\x1b[2Jno quota\x9b"))
    feed = FuzzFeed(await server.start())
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.streams[CODE].error, 5, "the refusal")
        assert feed.streams[CODE].error.endswith(": \\x1b[2Jno quota\\x9b")
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()


async def _trickle(server: HostileOpenD, data: bytes) -> None:
    for at in range(len(data)):
        await server.send(data[at:at + 1])
        await asyncio.sleep(0.05)  # (the pace of the attack, not a synchronisation)


async def test_the_largest_real_push_is_accepted():
    # 40 levels a side with 1000 orders each (HK SF), wide order ids and volumes: 1.5 MB
    def side(start: int, step: int):
        return [[(start + i * step) / 10, 1000 * 2**40, 1000,
                 [(2**62 + i * 1000 + j, 2**40) for j in range(1000)], None]
                for i in range(40)]

    body = push_body(side(3800, -2), side(3802, 2))
    assert 1.4 * 2**20 < len(body) < codec.MAX_BODY / 2
    async with hostile() as (feed, server):
        await push(feed, server, body)
        assert feed.bad_frames == 0 and book_rows(feed) == rows_of(body)
        best = feed.streams[CODE].book.bids.best()
        assert best.price == Decimal("380") and len(best.queue) == 1000


async def test_decoder_caches_stay_bounded_within_one_session():
    async with hostile(details=False) as (feed, server):
        for n in range(1, 1100):  # 60 new prices and volumes a push: 66,000 of each
            rows = [[n + i / 100, n * 1000 + i, 1, [], None] for i in range(1, 61)]
            await server.send(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1,
                                                 push_body(rows, [])))
            if n % 100 == 0:
                await caught_up(feed, server)
        await caught_up(feed, server)
        assert feed.sessions == 1 and feed.bad_frames == 0
        assert len(feed.decoder.prices) <= CACHE_LIMIT
        assert len(feed.decoder.volumes) <= CACHE_LIMIT
        assert book_rows(feed) == rows_of(push_body(rows, []))


@pytest.mark.parametrize("announced", [-1, 0, 10**9])
async def test_an_unusable_keepalive_interval_falls_back_to_the_default(announced, caplog):
    caplog.set_level(logging.ERROR, logger="obview")
    async with hostile(keepalive=announced) as (feed, server):
        assert feed.keepalive_interval == KEEPALIVE_DEFAULT
        for volume in range(100, 3100, 100):  # the session carries on, push after push
            await push(feed, server, with_row(1, 0, volume=volume))
        assert feed.reconnects == 0 and server.connections == 1 and server.inits == 1


def test_keepalive_rule():
    assert sane_keepalive(10) == 10.0 and sane_keepalive(1) == 1.0
    assert sane_keepalive(600) == 600.0
    assert sane_keepalive(601) == sane_keepalive(-1) == sane_keepalive(0) == KEEPALIVE_DEFAULT


@pytest.mark.parametrize(("bid", "ask", "want"), [
    (1_764_633_600.25, 1_764_633_600.5, 1_764_633_600_500),  # the later side's
    (1_764_633_600.5, 1_764_633_600.25, 1_764_633_600_500),
    (1_764_633_600.25, 0.0, 1_764_633_600_250),  # an unstamped side does not count
    (math.nan, 1_764_633_600.25, 1_764_633_600_250),
    (math.inf, 1e300, None),  # neither is an instant: the book has no venue time
    (0.0, 0.0, None),
])
def test_a_push_s_venue_time_is_the_later_of_its_plausible_stamps(bid, ask, want):
    from obview.venues.futu.client import _venue_ts
    from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2

    response = Qot_UpdateOrderBook_pb2.Response(retType=0)
    fill(response.s2c, *GOOD)
    response.s2c.svrRecvTimeBidTimestamp = bid
    response.s2c.svrRecvTimeAskTimestamp = ask
    assert _venue_ts(response.s2c) == want
