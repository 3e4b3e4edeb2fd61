"""bthub frame validation (docs/bthub.md: "Frames", "Numbers", "Enumerations", "Limits"):
the vendor's sample payloads parse exactly, bad frames are rejected whole, and fuzzed
input never raises out of the decoder or the feed."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obview.headless import record_json
from obview.venues import config
from obview.venues.bthub.client import BthubFeed
from obview.venues.bthub.models import CpOrder, Execution, Order, RiskRow
from obview.venues.bthub.protocol import (
    ORDER_STATUS,
    SIDE,
    AggregatedUpdate,
    BadFrame,
    OrderUpdate,
    QuoteUpdate,
    RiskUpdate,
    decode_frame,
    enum_name,
    fee_adjusted,
    merge_order,
)

FIXTURES = Path(__file__).parent / "fixtures"
D = Decimal


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def fresh_feed(**kw) -> BthubFeed:
    return BthubFeed(config("bthub", ["BTCUSDT"], url="http://127.0.0.1:9", user="user", password="password-unused", **kw))


# -- the vendor's sample payloads ----------------------------------------------------------
def test_api_quote_sample_parses_exactly():
    update = decode_frame(fixture("api_quote"))
    assert isinstance(update, QuoteUpdate)
    assert (update.symbol, update.cp, update.commission) == ("BTCUSDT", "okex", D("0.0001"))
    assert update.asks[0] == (D("5379.3864"), D("0.1"))
    assert update.asks[3] == (D("5385.3535"), D("1.89179998"))
    assert update.bids == [
        (D("5376.0837"), D("0.40748547")), (D("5376.0836"), D("0.33848547")),
        (D("5375.4579"), D("1")), (D("5375.4207"), D("0.00885")), (D("5375.3574"), D("0.00978")),
    ]
    assert all(isinstance(p, Decimal) and isinstance(v, Decimal) for p, v in update.asks + update.bids)


def test_api_aggregated_quote_sample_keeps_sources_and_equal_prices_apart():
    update = decode_frame(fixture("api_aggregated_quote"))
    assert isinstance(update, AggregatedUpdate)
    assert len(update.asks) == len(update.bids) == 12
    assert update.asks[0] == (D("5378.18262"), D("0.00100"), "okex")
    assert update.bids[-1] == (D("5311.37970"), D("0.50000"), "binance")
    assert [cp for *_, cp in update.asks].count("huobi") == 2

    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    book = feed.streams["BTCUSDT"].book
    assert len(book.asks) == 12 and len(book.bids) == 12
    assert book.asks.best().source == "okex" and book.asks.best().size == D("0.00100")
    # equal prices from different counterparties stay separate levels
    feed.on_frame(json.dumps({"event": "API_AGGREGATED_QUOTE", "data": {
        "symbol": "BTCUSDT", "asks": [{"cp": "okex", "price": "10", "volume": "1"},
                                      {"cp": "huobi", "price": "10", "volume": "2"}],
        "bids": [{"cp": "binance", "price": "11", "volume": "3"}]}}))
    assert [(lv.price, lv.size, lv.source) for lv in book.asks.iter_levels()] == [
        (D(10), D(2), "huobi"), (D(10), D(1), "okex")]
    assert book.crossed()  # shown, never repaired
    assert feed.bad_frames == 0


def test_api_order_sample_parses_exactly():
    update = decode_frame(fixture("api_order"))
    assert isinstance(update, OrderUpdate)
    execution = Execution(
        exec_id="764451245254521375", cp="binance", price=D("4408.52000000"),
        volume=D("0.04018000"), amount=D("177.1343336000000000"), time_ms=1542703689751,
        side="SELL", comment="CommissionAsset: USDT")
    child = CpOrder(
        cp_order_id="764451239273443359", cp="binance", status="EXECUTED", side="SELL",
        order_volume=D("0.04018"), execute_volume=D("0.04018000"), pending_volume=D("0.00000000"),
        execute_amount=D("177.1343336000000000"), commission="0.0100",
        comment="764451230726985237.0", order_time_ms=1542703689130,
        execute_time_ms=1542703689751, executions={execution.exec_id: execution})
    assert update.order == Order(
        order_id="764451239265054239", symbol="BTCUSDT", side="SELL", status="EXECUTED",
        order_type="MARKET", time_in_force="IOC", result="PARTIAL", order_volume=D("0.1"),
        execute_volume=D("0.04018000"), pending_volume=D("0.05982000"),
        execute_amount=D("177.1343336000000000"), order_time_ms=1542703689130,
        execute_time_ms=1542703689751, cp_orders={child.cp_order_id: child})
    assert update.order.order_volume - update.order.execute_volume == update.order.pending_volume


def test_api_risk_position_sample_parses_exactly():
    update = decode_frame(fixture("api_risk_position"))
    assert isinstance(update, RiskUpdate)
    assert update.rows == [RiskRow("B", "binance", "BTCUSDT10", D("-0.071040000000"),
                                   D("266.428871696500"))]


def test_feed_applies_samples_and_emits_records():
    feed = fresh_feed()
    seen = []
    feed.add_listener(seen.append)
    for name in ("api_quote", "api_order", "api_risk_position", "api_order"):
        feed.on_frame(fixture(name))
    okex = feed.streams["BTCUSDT@okex"]
    assert okex.source == "okex" and okex.synced and okex.extra["commission"] == "0.0001"
    assert okex.book.bids.best().price == D("5376.0837")
    assert list(feed.orders) == ["764451239265054239"]
    assert feed.risk[("B", "binance", "BTCUSDT10")].open_volume == D("-0.071040000000")
    records = [e for e in seen if type(e).__name__ == "RecordsChanged"]
    # the repeated identical order push changes nothing, so it is not re-emitted
    assert [(e.kind, len(e.rows)) for e in records] == [("orders", 1), ("risk", 1)]
    order_json = record_json(feed, feed.orders["764451239265054239"])
    assert order_json["execute_amount"] == "177.1343336"
    assert order_json["cp_orders"][0]["executions"][0]["price"] == "4408.52"
    assert record_json(feed, records[1].rows[0])["open_amount"] == "266.4288716965"


# -- enums, ids, numbers ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [4, "4", "EXECUTED", "executed", " 4 "])
def test_enum_forms_map_to_one_name(value):
    assert enum_name(value, ORDER_STATUS) == "EXECUTED"


def test_enum_vendor_spellings_and_unknown_values():
    assert enum_name(3, ORDER_STATUS) == "EXCUTING"
    assert enum_name("EXECUTING", ORDER_STATUS) == "EXCUTING"
    assert enum_name("UKNOWN", ORDER_STATUS) == enum_name(99, ORDER_STATUS) == "UKNOWN"
    assert enum_name(42, ORDER_STATUS) == "42"
    assert enum_name("INTERRUPTED", ORDER_STATUS) == "INTERRUPTED"
    assert enum_name("-1", SIDE) == "SELL"
    assert enum_name(None, SIDE) == ""


def test_order_with_names_equals_order_with_codes():
    coded = json.loads(fixture("api_order"))
    named = copy.deepcopy(coded)
    named["data"].update(side="SELL", status="EXECUTED", orderType="MARKET", timeInForce="IOC",
                         orderResult="PARTIAL")
    stringy = copy.deepcopy(coded)
    stringy["data"].update(side="-1", status="4", orderType="5", timeInForce="1", orderResult="5")
    orders = [decode_frame(json.dumps(f)).order for f in (coded, named, stringy)]
    assert orders[0] == orders[1] == orders[2]


def test_big_ids_stay_strings():
    frame = json.loads(fixture("api_order"))
    frame["data"]["orderId"] = 9223372036854775807  # a JSON number: kept as its digits
    assert decode_frame(json.dumps(frame)).order.order_id == "9223372036854775807"


def test_merge_order_upserts_children_and_deduplicates_fills():
    first = decode_frame(fixture("api_order")).order
    later_frame = json.loads(fixture("api_order"))
    child = later_frame["data"]["cpOrders"][0]
    child["executions"].append(dict(child["executions"][0], cpExecutionid="2", executeVolume="1"))
    del later_frame["data"]["symbol"]  # absent fields keep their value
    later = decode_frame(json.dumps(later_frame)).order
    merged = merge_order(merge_order(first, later), later)
    assert merged.symbol == "BTCUSDT"
    executions = merged.cp_orders["764451239273443359"].executions
    assert list(executions) == ["764451245254521375", "2"]


BAD_FRAMES = [
    b'{"event":"API_QUOTE"}',  # binary
    "{not json",
    "[1, 2]",
    '"text"',
    "42",
    '{"data": {}}',
    '{"event": 5, "data": {}}',
    '{"event":"API_QUOTE"}',
    '{"event":"API_NEWS","data":{}}',
    '{"event":"API_QUOTE","data":{"cp":"okex","asks":[],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":7,"asks":[],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":{},"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[1],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":true,"volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":{},"volume":1}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":null,"volume":1}],"bids":[]}}',
    # forms the hub's Java writer never produces (docs/bthub.md, "Numbers")
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1e2","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"99.","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":".5","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"+98","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"007","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1","volume":1e999}],"bids":[]}}',
    # insane values: price <= 0, negative volume (the whole frame, not just the level)
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"0","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"-5","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"3","volume":"1"},{"price":"1","volume":"-1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1","volume":-0.5}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[],"bids":[]},"x":' + "[" * 200_000 + "]" * 200_000 + "}",
    '{"event":"API_ORDER","data":{"orderId":"1","x":' + '{"a":' * 200_000 + "1" + "}" * 200_000 + "}}",
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"NaN","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"Infinity","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1_000","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":" 1","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1e999999999","volume":"1"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"1","volume":"1e-999999"}],"bids":[]}}',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","asks":[{"price":"\u0661","volume":"1"}],"bids":[]}}',
    '{"event":"API_AGGREGATED_QUOTE","data":{"symbol":"BTCUSDT","asks":[{"price":"1","volume":"1"}],"bids":[]}}',
    '{"event":"API_ORDER","data":{"symbol":"BTCUSDT"}}',
    '{"event":"API_ORDER","data":{"orderId":"1","executeVolume":"x"}}',
    '{"event":"API_ORDER","data":{"orderId":"1","executeVolume":false}}',
    '{"event":"API_ORDER","data":{"orderId":"1","cpOrders":[{"cpOrderId":"2","commission":"1e-2"}]}}',
    '{"event":"API_ORDER","data":{"orderId":"1","orderTime":"soon"}}',
    '{"event":"API_ORDER","data":{"orderId":"1","side":1.5}}',
    '{"event":"API_RISK_POSITION","data":{"book":"B","cp":"okex","symbol":"X"}}',
    '{"event":"API_RISK_POSITION","data":[{"book":"B","symbol":"X"}]}',
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
def test_invalid_frames_are_rejected_whole(frame):
    with pytest.raises(BadFrame):
        decode_frame(frame)
    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    before = [lv.as_tuple() for lv in feed.streams["BTCUSDT"].book.bids.iter_levels()]
    feed.on_frame(frame)
    assert feed.bad_frames == 1
    assert [lv.as_tuple() for lv in feed.streams["BTCUSDT"].book.bids.iter_levels()] == before


def test_partially_valid_quote_is_not_applied():
    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    feed.on_frame('{"event":"API_AGGREGATED_QUOTE","data":{"symbol":"BTCUSDT","bids":[{"cp":"okex",'
                  '"price":"1","volume":"999999"},{"cp":"okex","price":"0.5","volume":"1.2.3"}],"asks":[]}}')
    book = feed.streams["BTCUSDT"].book
    assert feed.bad_frames == 1
    assert len(book.asks) == 12 and book.bids.best().price == D("5376.75877")


@pytest.mark.parametrize("text", ["pong", "PONG", "ok", "", "   "])
def test_plain_text_is_ignored_without_counting(text):
    feed = fresh_feed()
    feed.on_frame(text)
    assert feed.bad_frames == 0 and feed.messages == 1


def test_zero_volumes_are_dropped_and_order_is_not_trusted():
    frame = json.dumps({"event": "API_QUOTE", "data": {
        "symbol": "BTCUSDT", "cp": "okex", "bids": [],
        "asks": [{"price": "3", "volume": "1"}, {"price": "2", "volume": "0"},
                 {"price": "2.5", "volume": "2"}]}})
    assert len(decode_frame(frame).asks) == 2
    feed = fresh_feed()
    feed.on_frame(frame)
    assert feed.streams["BTCUSDT@okex"].book.asks.prices() == [D("2.5"), D(3)]


def test_a_negative_volume_makes_the_whole_frame_bad():
    feed = fresh_feed()
    feed.on_frame(fixture("api_quote"))
    before = feed.streams["BTCUSDT@okex"].book.asks.prices()
    feed.on_frame(json.dumps({"event": "API_QUOTE", "data": {
        "symbol": "BTCUSDT", "cp": "okex", "bids": [],
        "asks": [{"price": "3", "volume": "1"}, {"price": "1", "volume": "-1"}]}}))
    assert feed.bad_frames == 1 and feed.streams["BTCUSDT@okex"].book.asks.prices() == before


@pytest.mark.parametrize("side", [
    # the same price twice, also when written differently
    '[{"price":"5","volume":"1"},{"price":"5.00","volume":"2"}]',
    '[{"price":"5","volume":"1"},{"price":5,"volume":"2"}]',
])
def test_the_same_price_twice_in_a_quote_is_bad(side):
    feed = fresh_feed()
    feed.on_frame(fixture("api_quote"))
    before = feed.streams["BTCUSDT@okex"].book.asks.prices()
    feed.on_frame('{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","bids":[],"asks":'
                  + side + "}}")
    assert feed.bad_frames == 1 and feed.streams["BTCUSDT@okex"].book.asks.prices() == before


def test_the_same_price_and_cp_twice_in_the_aggregated_book_is_bad():
    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    before = _levels(feed)
    same_cp = ('{"event":"API_AGGREGATED_QUOTE","data":{"symbol":"BTCUSDT","asks":[],"bids":['
               '{"cp":"okex","price":"5","volume":"1"},{"cp":"okex","price":"5.0","volume":"2"}]}}')
    feed.on_frame(same_cp)
    assert feed.bad_frames == 1 and _levels(feed) == before
    # equal prices from different counterparties stay separate rows
    feed.on_frame(same_cp.replace('"cp":"okex","price":"5.0"', '"cp":"huobi","price":"5.0"'))
    assert feed.bad_frames == 1
    assert sorted((lv.price, lv.source) for lv in feed.streams["BTCUSDT"].book.bids.iter_levels()) \
        == [(D(5), "huobi"), (D(5), "okex")]


NUMBER_FIELDS = {"price", "volume", "commission", "executeAmount", "executeVolume", "executePrice",
                 "orderVolume", "pendingVolume", "openAmount", "openVolume"}


def _numbers_unquoted(text: str) -> str:
    """The same frame with every decimal string written as a JSON number, text unchanged."""
    names = "|".join(sorted(NUMBER_FIELDS))
    pattern = rf'("(?:{names})"\s*:\s*)"([^"]*)"'
    return re.sub(pattern, r"\1\2", text)


@pytest.mark.parametrize("name", ["api_quote", "api_aggregated_quote", "api_order", "api_risk_position"])
def test_numbers_as_json_numbers_decode_exactly_like_strings(name):
    text = fixture(name)
    numeric = _numbers_unquoted(text)
    assert numeric != text and '"price": "' not in numeric and '"volume":"' not in numeric
    assert decode_frame(numeric) == decode_frame(text)
    feed = fresh_feed()
    feed.on_frame(numeric)
    assert feed.bad_frames == 0


@pytest.mark.parametrize("text, value", [
    ("1.2345E-8", D("1.2345E-8")), ("0E-12", D(0)), ("1E+2", D(100)), ("0.0000001", D("1E-7")),
    ("12345678901.234567890123456789", D("12345678901.234567890123456789")),
])
def test_java_written_numbers_are_exact_in_both_forms(text, value):
    for written in (f'"{text}"', text):
        frame = ('{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","cp":"okex","bids":[],'
                 f'"asks":[{{"price":"1","volume":{written}}}],"commission":{written}}}}}')
        update = decode_frame(frame)
        if value:
            assert update.asks == [(D(1), value)] and str(update.asks[0][1]) == str(D(text))
        assert update.commission == value


def test_fee_adjusted_prices_round_against_the_taker():
    # bid x (1 - c) rounded down, ask / (1 - c) rounded up, to the symbol's scale
    assert fee_adjusted(D("5376.0837"), D("0.0001"), 5, True) == D("5375.54609")
    assert fee_adjusted(D("5379.3864"), D("0.0001"), 5, False) == D("5379.92440")
    assert fee_adjusted(D("100"), D("0"), 2, False) == D("100.00")


# -- fuzzing ------------------------------------------------------------------------------------
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                      st.floats(allow_nan=False), st.text(max_size=12),
                      st.sampled_from(["1", "-0.5", "1e3", "NaN", "BTCUSDT", "okex", ""]))
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4)
                          | st.dictionaries(st.sampled_from(
                              ["price", "volume", "cp", "symbol", "asks", "bids", "orderId",
                               "cpOrders", "executions", "cpExecutionid", "book", "side", "x"]),
                              kids, max_size=5), max_leaves=20)
EVENTS = st.sampled_from(["API_QUOTE", "API_AGGREGATED_QUOTE", "API_ORDER", "API_RISK_POSITION", "X"])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _levels(feed: BthubFeed) -> list[tuple]:
    book = feed.streams["BTCUSDT"].book
    return [lv.as_tuple() for side in (book.bids, book.asks) for lv in side.iter_levels()]


def _safe(frame) -> None:
    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    before = _levels(feed)
    feed.on_frame(frame)  # must never raise
    if feed.bad_frames:
        assert _levels(feed) == before


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=50)))
def test_fuzz_arbitrary_payloads_never_raise(payload):
    try:
        decode_frame(payload)
    except BadFrame:
        pass
    _safe(payload)


@FUZZ
@given(EVENTS, json_value)
def test_fuzz_structured_frames_never_raise(event, data):
    frame = json.dumps({"event": event, "data": data})
    try:
        decode_frame(frame)
    except BadFrame:
        pass
    _safe(frame)


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaves(value, (*path, i))
    yield path


@FUZZ
@given(st.sampled_from(["api_quote", "api_aggregated_quote", "api_order", "api_risk_position"]),
       st.data())
def test_fuzz_mutated_samples_never_raise_and_bad_ones_change_nothing(name, data):
    frame = json.loads(fixture(name))
    paths = [p for p in _leaves(frame) if p]
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(json_value)
    target = frame
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    feed = fresh_feed()
    feed.on_frame(fixture("api_aggregated_quote"))
    feed.on_frame(fixture("api_quote"))
    snapshot = {k: [lv.as_tuple() for lv in s.book.bids.iter_levels()] for k, s in feed.streams.items()}
    orders, risk = dict(feed.orders), dict(feed.risk)
    feed.on_frame(json.dumps(frame))
    if feed.bad_frames:
        assert snapshot == {k: [lv.as_tuple() for lv in s.book.bids.iter_levels()]
                            for k, s in feed.streams.items()}
        assert feed.orders == orders and feed.risk == risk
