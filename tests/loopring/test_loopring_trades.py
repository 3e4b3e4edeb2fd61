"""Loopring v3 trades: the simulator's prints take size at its touch (tape and book tell
one story), and the client puts `trade` pushes and the REST recent trades on the tape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obview.events import BookChanged, TradesPrinted
from obview.venues.loopring.market import MARKETS, MarketSim
from obview.venues.loopring.numbers import BadNumber
from obview.venues.loopring.sim import LoopringSimulator
from obview.venues.loopring.trades import (
    TradePush,
    TradesReply,
    decode_trade_push,
    decode_trades_reply,
    read_trade_frame,
)
from tests.conftest import run_obview, wait_until
from tests.loopring.conftest import MARKET, Harness, assert_matches_truth, make_feed

DECIMALS = 18  # LRC


def _human(units: int) -> Decimal:
    return Decimal(units).scaleb(-DECIMALS)


async def test_each_print_takes_size_at_the_touch_of_the_simulators_book():
    """At the version of each print, the best level of the side it took is smaller by
    the print's size, or gone when that was all of it; nothing else changed."""
    sim = await LoopringSimulator(seed=8, faults={"rate": "0", "truth": ""}).start()
    try:
        market: MarketSim = sim.markets[MARKET]
        for _ in range(400):
            sim.advance(MARKET)
        trades = list(market.tape)
        assert len(trades) > 100
        swept = 0
        for trade in trades:
            before_bids, before_asks = market.history[trade.version - 1]
            after_bids, after_asks = market.history[trade.version]
            before, after = (before_asks, after_asks) if trade.buy else (before_bids, after_bids)
            best = min(before) if trade.buy else max(before)
            assert trade.tick == best
            size, orders = before[best]
            if trade.size == size:
                assert best not in after
                swept += 1
            else:
                assert after[best] == (size - trade.size, orders)
            assert {k: v for k, v in after.items() if k != best} == {
                k: v for k, v in before.items() if k != best}
            other_before, other_after = ((before_bids, after_bids) if trade.buy
                                         else (before_asks, after_asks))
            assert other_before == other_after
        assert swept > 5
    finally:
        await sim.close()


def test_the_simulators_prints_are_seeded():
    def prints(seed: int) -> list:
        market = MarketSim(next(m for m in MARKETS if m.name == MARKET), seed, False)
        for _ in range(300):
            market.next_push()
        return [(t.trade_id, t.version, t.tick, t.size, t.buy) for t in market.tape]

    assert prints(4) == prints(4) and len(prints(4)) > 50
    assert prints(4) != prints(5)


async def _harness(sim: LoopringSimulator) -> Harness:
    feed = make_feed(sim)
    feed.trades_enabled = True
    return await Harness(sim, feed).start()


async def test_pushed_prints_reach_the_tape_before_the_book_that_shows_them():
    sim = await LoopringSimulator(seed=3, faults={"rate": "0", "truth": ""}).start()
    h = await _harness(sim)
    events: list = []
    h.feed.add_listener(events.append)
    try:
        await wait_until(lambda: sim.stats["trade_subscriptions"] == 1, 5, "trade sub")
        await h.pump(1)
        await h.settle()
        await h.pump(120)
        await h.settle()
        tape = h.stream.tape
        sent = {t.trade_id: t for t in sim.markets[MARKET].tape}
        seen = list(tape.recent)
        assert len(seen) > 30
        for trade in seen:
            sim_trade = sent[int(trade.sequence)]
            assert trade.price == Decimal(sim_trade.tick).scaleb(-8)
            assert trade.size == _human(sim_trade.size)
            assert trade.side == ("buy" if sim_trade.buy else "sell")
            assert trade.venue_ts == sim_trade.at_ms and trade.symbol == MARKET
        ids = [int(t.sequence) for t in seen]
        assert ids == sorted(ids) and ids == list(range(ids[0], ids[0] + len(ids)))
        assert tape.volume == sum(t.size for t in seen)
        assert tape.vwap == sum(t.price * t.size for t in seen) / tape.volume
        # each print arrives before the book push whose versions hold it
        order = [type(e) for e in events if isinstance(e, (TradesPrinted, BookChanged))]
        assert order.index(TradesPrinted) < len(order) - 1
        for i, kind in enumerate(order[:-1]):
            if kind is TradesPrinted:
                assert order[i + 1] is BookChanged
        for event in events:
            if isinstance(event, TradesPrinted) and not event.snapshot:
                version = h.stream.book.version
                assert max(sent[int(t.sequence)].version for t in event.trades) <= version
        assert_matches_truth(sim, h.recorder)
        assert h.feed.bad_frames == 0 and h.stream.resyncs == 0
    finally:
        await h.stop()
        await sim.close()


async def test_recent_trades_fetched_at_connect_then_pushes_without_repeats():
    sim = await LoopringSimulator(seed=6, faults={"rate": "0"}).start()
    for _ in range(200):  # the market traded before we came
        sim.advance(MARKET)
    earlier = list(sim.markets[MARKET].tape)
    h = await _harness(sim)
    try:
        await wait_until(lambda: h.stream.tape.count >= 50, 5, "recent trades")
        assert sim.stats["trade_requests"] == 1
        seen = [int(t.sequence) for t in h.stream.tape.recent]
        assert seen == [t.trade_id for t in earlier[-50:]]  # oldest first
        await h.pump(60)
        ids = [int(t.sequence) for t in h.stream.tape.recent]
        assert len(ids) == len(set(ids)) and ids == sorted(ids) and len(ids) > 55
    finally:
        await h.stop()
        await sim.close()


async def test_a_bad_trade_push_is_counted_and_the_book_goes_on():
    sim = await LoopringSimulator(seed=3, faults={"rate": "0"}).start()
    h = await _harness(sim)
    try:
        await h.pump(3)
        await h.settle()
        count = h.stream.tape.count
        topic = {"topic": "trade", "market": MARKET}
        h.feed.on_frame(json.dumps({"topic": topic, "ts": 1, "data": [
            ["1700000000000", "99", "buy", "1000", "0.0001", "1"],
            ["1700000000000", "100", "buy", "1000", "NaN", "1"]]}))
        assert h.feed.bad_frames == 1 and h.stream.tape.count == count
        assert h.stream.synced and h.stream.resyncs == 0
        other = {"topic": "trade", "market": "LRC-USDT"}  # another market's: ignored
        h.feed.on_frame(json.dumps({"topic": other, "data": [["1", "5", "buy", "1", "1", "0"]]}))
        assert h.feed.bad_frames == 1 and h.stream.tape.count == count
        # the trade topic refused: said on the stream, the book goes on
        h.feed.on_frame(json.dumps({"op": "sub", "sequence": h.feed._trade_sequence,
                                    "topics": [topic], "result": {"status": "failed", "error": {
                                        "code": 104109, "message": "Invalid topic"}}}))
        assert "104109" in h.stream.extra["trades_error"] and h.feed._failure is None
        for _ in range(3):  # (frames handed in by hand: the harness's frame count is off)
            sim.advance(MARKET)
        await h.settle()
        assert h.stream.synced and h.stream.resyncs == 0
    finally:
        await h.stop()
        await sim.close()


def test_trade_rows_read_exactly_by_position():
    push = read_trade_frame(json.dumps({"topic": {"topic": "trade", "market": MARKET},
                                        "ts": 1584717910000, "data": [
        ["1584717910000", "123456789", "buy", "500000000000000000000", "0.0008", "100"],
        ["1584717900000", "123456788", "SELL", "1.5E+21", 2.5e-4, "100", "extra"],
        ["1584717905000", "123456787", "sell", "2.5", "0.00081", "1"]]}))
    trades = decode_trade_push(push, MARKET, DECIMALS)
    assert [(t.sequence, t.price, t.size, t.side) for t in trades] == [
        ("123456788", Decimal("0.00025"), Decimal(1500), "sell"),
        ("123456787", Decimal("0.00081"), Decimal("2.5"), "sell"),  # a fraction: human units
        ("123456789", Decimal("0.0008"), Decimal(500), "buy")]  # oldest first
    reply = TradesReply(totalNum=1, trades=[
        ["1700000001000", "1234567", "BUY", "1500000000000000000000", "0.2501", MARKET, "15",
         "9", "10"]])
    (trade,) = decode_trades_reply(reply, MARKET, DECIMALS)
    assert (trade.price, trade.size, trade.side, trade.venue_ts) == (
        Decimal("0.2501"), Decimal(1500), "buy", 1700000001000)
    assert trade.turnover == Decimal("375.15")


@pytest.mark.parametrize("row", [
    ["x", "1", "buy", "1", "0.1"], ["1", "1", "hold", "1", "0.1"], ["1", "1", "buy", "-1", "0.1"],
    ["1", "1", "buy", "1", "NaN"], ["1", "1", "buy", "1", "0"], ["1", "1", "buy", "7.0", "0.1"],
    ["1", "a", "buy", "1", "0.1"], ["1", "1", "buy", "1"], "row", ["1", "1", "buy", "1e999", "1"],
])
def test_a_bad_trade_row_makes_the_frame_bad(row):
    with pytest.raises(BadNumber):
        decode_trade_push(TradePush(data=[row]), MARKET, DECIMALS)


def test_a_reply_row_of_another_market_is_bad():
    with pytest.raises(BadNumber):
        decode_trades_reply(TradesReply(trades=[["1", "1", "BUY", "1", "1", "LRC-USDT", "0"]]),
                            MARKET, DECIMALS)


def test_headless_trades_v3_lines_and_v2_declares_none():
    result = run_obview("loopring", "LRC-ETH", "--sim", "--stream", "json", "--trades",
                        "--count", "5", "--fault", "rate=30")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    for obj in lines:
        assert obj["venue"] == "loopring" and obj["symbol"] == "LRC-ETH"
        assert obj["side"] in ("buy", "sell") and Decimal(obj["size"]) > 0
        assert isinstance(obj["venue_ts"], int) and isinstance(obj["recv_ts"], int)
        assert "e" not in obj["price"].lower() and "e" not in obj["size"].lower()
    result = run_obview("loopring", "LRC-ETH", "--api", "v2", "--sim", "--stream", "json",
                        "--trades", "--count", "1")
    assert result.returncode == 2 and "no trades in the v2 API" in result.stderr


_value = st.one_of(st.text(max_size=12), st.integers(-10**30, 10**30),
                   st.floats(allow_nan=True, allow_infinity=True), st.none(),
                   st.sampled_from(["1", "0.0008", "1.5E+21", "buy", "SELL", "NaN", "-1",
                                    "1e999", "7.0", "2.5"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_value, max_size=8), max_size=5))
def test_any_trade_push_is_read_exactly_or_is_bad(rows):
    obj = {"topic": {"topic": "trade", "market": MARKET}, "data": rows}
    push = read_trade_frame(json.dumps(obj))
    try:
        json.dumps(obj, allow_nan=False)
    except ValueError:  # NaN/Infinity are not JSON: the reader counts such a frame
        assert push is None
        return
    assert push is not None
    try:
        trades = decode_trade_push(push, MARKET, DECIMALS)
    except BadNumber:
        return
    assert len(trades) == len(rows)
    for trade in trades:
        assert trade.price > 0 and trade.size >= 0 and trade.side in ("buy", "sell")
        assert trade.sequence.isdigit() and trade.turnover == trade.price * trade.size
