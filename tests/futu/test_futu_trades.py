"""Futu trades: the simulator's prints take the resting size its next book shows, and the
client puts TICKER pushes and Qot_GetTicker replies on the tape, exactly and checked."""

from __future__ import annotations

import asyncio
import contextlib
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obview.events import BookChanged, TradesPrinted
from obview.trades import BUY, SELL
from obview.venues import config
from obview.venues.futu import codec
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.market import SimBook
from obview.venues.futu.pb import Qot_UpdateTicker_pb2
from obview.venues.futu.sim import FutuSimulator, start_sim
from tests.conftest import wait_until


def _feed(code: str = "HK.00700", trades: bool = True) -> FutuFeed:
    feed = FutuFeed(config("futu", [code], trades=trades, host="127.0.0.1", port=1))
    feed.streams[code].synced = True
    return feed


def _dispatch(feed: FutuFeed, proto_id: int, serial: int, body: bytes) -> None:
    """One decoded frame into the feed, as its read loop hands them over."""
    feed._process([(proto_id, serial, body)])


def _side(book, buy: bool) -> list[tuple[Decimal, Decimal]]:
    side = book.asks if buy else book.bids  # a buyer takes the asks
    return [(lv.price, lv.size) for lv in side.iter_levels()]


def replayed_trades(code: str, seed: int, steps: int) -> list:
    book = SimBook(code, seed)
    trades = []
    for _ in range(steps):
        book.step()
        trades.extend(book.trades)
    return trades


@pytest.mark.parametrize("code", ["HK.00700", "US.AAPL"])
def test_each_print_takes_the_resting_size_the_next_book_shows(code):
    """Tape and book tell one story: a print of q at the best bid (ask) leaves that level
    q smaller in the next push, or gone when q was all of it; nothing else moves."""
    sim = FutuSimulator(4, {"levels": "20"})
    book = sim.book(code)
    feed = _feed(code)
    stream = feed.streams[code]
    events = []
    feed.add_listener(events.append)
    serial = 0
    feed.receive(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 0,
                                    sim._push_body(book, False, True)))
    checked = swept = 0
    for step in range(1500):
        book.step()
        before = {True: _side(stream.book, True), False: _side(stream.book, False)}
        events.clear()
        if book.trades:
            serial += 1
            feed.receive(codec.encode_frame(codec.QOT_UPDATE_TICKER, serial,
                                            sim._ticker_push_body(book, book.trades)))
        serial += 1
        feed.receive(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, serial,
                                        sim._push_body(book, False, True)))
        printed = [t for e in events if isinstance(e, TradesPrinted) for t in e.trades]
        assert len(printed) == len(book.trades), step
        # the tape arrives before the book that shows it
        kinds = [type(e) for e in events]
        if printed:
            assert kinds.index(TradesPrinted) < kinds.index(BookChanged)
        for trade in printed:
            buy = trade.side == BUY
            old, new = before[buy], _side(stream.book, buy)
            assert trade.price == old[0][0], step  # at the touch
            if new and new[0][0] == trade.price:
                assert new[0][1] == old[0][1] - trade.size, step
                assert new[1:] == old[1:], step
            else:  # the level went: all of it was taken
                assert trade.size == old[0][1], step
                assert new[:len(old) - 2] == old[1:len(old) - 1], step
                swept += 1
            assert _side(stream.book, not buy) == before[not buy], step  # other side untouched
            checked += 1
    assert checked > 200 and swept > 10
    assert feed.bad_frames == 0


def test_the_simulators_prints_are_seeded_and_deterministic():
    def plain(trades):  # the wall-clock stamp aside
        return [(t.sequence, t.price, t.volume, t.buy) for t in trades]

    first = plain(replayed_trades("HK.00700", 11, 400))
    again = plain(replayed_trades("HK.00700", 11, 400))
    other = plain(replayed_trades("HK.00700", 12, 400))
    assert first == again and len(first) > 50
    assert [t[1:] for t in first] != [t[1:] for t in other]
    sequences = [t[0] for t in first]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


@contextlib.asynccontextmanager
async def running(codes, seed=3, rate="60", trades=True):
    sim = await start_sim("127.0.0.1", 0, seed, {"rate": rate})
    feed = FutuFeed(config("futu", codes, trades=trades, host="127.0.0.1", port=sim.port))
    task = asyncio.create_task(feed.run())
    try:
        yield feed, sim
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()


async def test_pushed_prints_reach_the_tape_exactly_with_session_figures():
    async with running(["HK.00700", "US.AAPL"]) as (feed, sim):
        await wait_until(lambda: all(s.tape.count >= 15 for s in feed.streams.values()), 20,
                         "prints on both tapes")
        assert {c.ticker_subs == {"HK.00700", "US.AAPL"} for c in sim.connections} == {True}
        for code, stream in feed.streams.items():
            seen = list(stream.tape.recent)
            replay = replayed_trades(code, 3, sim.book(code).steps)
            start = next(i for i, t in enumerate(replay) if t.sequence == seen[0].sequence)
            expected = replay[start:start + len(seen)]
            assert [(t.price, t.size, t.side, t.sequence) for t in seen] == [
                (t.price, Decimal(t.volume), BUY if t.buy else SELL, t.sequence)
                for t in expected]
            sent = {t.sequence: t for t in sim.book(code).tape}
            for trade in seen:
                sim_trade = sent[trade.sequence]
                assert trade.venue == "futu" and trade.symbol == code
                assert trade.turnover == trade.price * trade.size
                assert trade.kind == "Automatch"
                assert trade.venue_ts == math.floor(sim_trade.at * 1000)
                assert trade.recv_ts >= trade.venue_ts - 1
            tape = stream.tape
            assert tape.volume == sum(t.size for t in seen)
            assert tape.notional == sum(t.price * t.size for t in seen)
            assert tape.vwap == tape.notional / tape.volume
            assert tape.last_price == seen[-1].price and tape.count == len(seen)


async def test_recent_prints_are_fetched_at_start_and_not_counted_twice():
    sim = await start_sim("127.0.0.1", 0, 5, {"rate": "20"})
    try:
        market = sim.book("HK.00700")
        for _ in range(600):  # the market traded before we came
            market.step()
        earlier = list(market.tape)
        assert len(earlier) > 120
        feed = FutuFeed(config("futu", ["HK.00700"], trades=True, host="127.0.0.1",
                               port=sim.port))
        events = []
        feed.add_listener(lambda e: events.append(e) if isinstance(e, TradesPrinted) else None)
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: any(e.snapshot for e in events), 10, "recent prints")
            snapshot = next(e for e in events if e.snapshot)
            sequences = [t.sequence for t in snapshot.trades]
            assert earlier[-1].sequence in sequences  # the prints from before we came
            assert len(sequences) <= 100
            tape = feed.streams["HK.00700"].tape
            await wait_until(lambda: tape.count >= len(sequences) + 5, 10, "pushes after it")
            counted = [t.sequence for t in tape.recent]
            assert len(counted) == len(set(counted))  # overlap of reply and pushes dropped
            assert [t for t in counted if t <= earlier[-1].sequence] == [
                t.sequence for t in earlier[-len([x for x in counted
                                                  if x <= earlier[-1].sequence]):]]
            # a reconnect fetches the recent prints again: none is counted twice
            before = tape.count
            sim.drop_all()
            await wait_until(lambda: feed.reconnects >= 1 and feed.streams["HK.00700"].synced
                             and tape.count > before + 3, 15, "reconnected and printing")
            counted = [t.sequence for t in tape.recent]
            assert len(counted) == len(set(counted))
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await sim.close()


async def test_no_ticker_subscription_unless_trades_are_asked_for():
    async with running(["HK.00700"], trades=False) as (feed, sim):
        await wait_until(lambda: feed.streams["HK.00700"].updates >= 5, 10, "book pushes")
        assert all(not c.ticker_subs for c in sim.connections)
        assert codec.QOT_GET_TICKER not in {p for _, p in sim.requests}
        assert feed.streams["HK.00700"].tape.count == 0


def _ticker_push(rows: list[dict], code: str = "00700") -> bytes:
    response = Qot_UpdateTicker_pb2.Response(retType=0)
    response.s2c.security.market = 1
    response.s2c.security.code = code
    for row in rows:
        response.s2c.tickerList.add(**row)
    return response.SerializePartialToString()


GOOD = {"time": "2026-01-02 10:00:00.000", "sequence": 1, "dir": 1, "price": 512.5,
        "volume": 300, "turnover": 153750.0, "timestamp": 1767319200.0}


@pytest.mark.parametrize("bad", [
    {"price": float("nan")}, {"price": float("inf")}, {"price": 0.0}, {"price": -1.0},
    {"price": 1e-12}, {"volume": -1}, {"hpVolume": float("nan")}, {"hpVolume": -0.5},
    {"turnover": float("inf")}, {"turnover": -2.0},
])
def test_a_bad_ticker_row_makes_the_push_bad_and_is_counted(bad):
    feed = _feed()
    tape = feed.streams["HK.00700"].tape
    body = _ticker_push([dict(GOOD, sequence=1), dict(GOOD, sequence=2, **bad)])
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 1, body)
    assert feed.bad_frames == 1 and tape.count == 0  # dropped whole, the session goes on
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 2, _ticker_push([dict(GOOD, sequence=3)]))
    assert tape.count == 1 and tape.last_price == Decimal("512.5")


def test_ticker_rows_decode_exactly_and_duplicates_count_once():
    feed = _feed()
    stream = feed.streams["HK.00700"]
    rows = [dict(GOOD, sequence=1),
            dict(GOOD, sequence=2, dir=2, price=512.0, volume=100, turnover=51200.0, type=7),
            dict(GOOD, sequence=3, dir=3, price=0.1, hpVolume=2.5, turnover=0.25),
            {k: v for k, v in GOOD.items() if k != "dir"}]  # a required field missing
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 1, _ticker_push(rows[:3]))
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 2, _ticker_push(rows[:1]))  # a repeat
    trades = list(stream.tape.recent)
    assert [(t.price, t.size, t.side, t.kind) for t in trades] == [
        (Decimal("512.5"), Decimal(300), "buy", None),
        (Decimal("512"), Decimal(100), "sell", "Auction"),
        (Decimal("0.1"), Decimal("2.5"), None, None)]  # neutral: no aggressor
    assert trades[0].venue_ts == 1767319200000 and trades[0].turnover == Decimal(153750)
    assert stream.tape.volume == Decimal("402.5")
    assert stream.tape.notional == Decimal("153750") + Decimal("51200") + Decimal("0.25")
    assert stream.tape.buy_volume == 300 and stream.tape.sell_volume == 100
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 3, _ticker_push(rows[3:]))
    assert feed.bad_frames == 1 and stream.tape.count == 3
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 4, b"\xff\xfe garbage")
    assert feed.bad_frames == 2
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 5, _ticker_push([GOOD], code="09999"))  # not ours
    assert feed.bad_frames == 2 and stream.tape.count == 3


_odd_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                        st.sampled_from([0.0, -0.0, 5e-324, 1e300, 512.5, 0.1, 1e-9]))
_row = st.fixed_dictionaries(
    {"time": st.just("2026-01-02 10:00:00.000"), "sequence": st.integers(-2**63, 2**63 - 1),
     "dir": st.integers(-5, 9), "price": _odd_floats,
     "volume": st.integers(-2**63, 2**63 - 1), "turnover": _odd_floats},
    optional={"hpVolume": _odd_floats, "timestamp": _odd_floats, "type": st.integers(-3, 40)})


@settings(max_examples=300, deadline=None)
@given(st.lists(_row, max_size=6))
def test_any_ticker_push_is_taken_exactly_or_counted_bad(rows):
    feed = _feed()
    tape = feed.streams["HK.00700"].tape
    _dispatch(feed, codec.QOT_UPDATE_TICKER, 1, _ticker_push(rows))
    if feed.bad_frames:
        assert feed.bad_frames == 1 and tape.count == 0  # dropped whole
        return
    assert tape.count == len({r["sequence"] for r in rows})
    for trade in tape.recent:
        assert trade.price > 0 and trade.price.is_finite() and trade.size >= 0
        assert trade.side in ("buy", "sell", None)
        assert trade.venue_ts is None or 0 < trade.venue_ts < 2**53
