"""Wire shapes: pushes, topics, REST envelopes, exact units."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from obview.venues.loopring import protocol as p
from obview.venues.loopring.protocol import FrameKind, PushReader, SlotParser


def reader(level: int = 1, decimals: int = 18) -> PushReader:
    return PushReader("LRC-ETH", level, SlotParser(decimals))


SEED_PUSH = b"""{"topic": "depth&LRC-ETH&1", "ts": 1584717910000,
  "startVersion": 1212121, "endVersion": "1212123",
  "data": {"bids": [["295.97", "456781000000000", "3015000000000", "4"]],
           "asks": [["298.97", "456781000000000000", "301500000000000", "2"]]}}"""


def test_seed_example_push_versions_as_number_or_string():
    kind, push = reader().read(SEED_PUSH)
    assert kind == FrameKind.PUSH
    assert (push.start, push.end, push.ts) == (1212121, 1212123, 1584717910000)
    assert push.bids[0] == (Decimal("295.97"), 456781000000000, 4)


def test_v3_topic_object_matches_on_market_and_level_even_misspelt():
    frame = msgspec.json.encode({
        "topic": {"topic:": "orderbook", "market": "LRC-ETH", "level": 1},
        "ts": 1, "startVersion": "5", "endVersion": 6, "data": {"bids": [], "asks": []}})
    assert reader().read(frame)[0] == FrameKind.PUSH
    assert reader(level=2).read(frame)[0] == FrameKind.FOREIGN


@pytest.mark.parametrize("frame, kind", [
    ("ping", FrameKind.PING),
    ("not json", FrameKind.UNDECODABLE),  # counted, but cannot be told apart: no resync
    (b"[" * 200_000 + b"]" * 200_000, FrameKind.UNDECODABLE),  # RecursionError inside msgspec
    ("[1,2]", FrameKind.FOREIGN),
    (SEED_PUSH.replace(b"LRC-ETH", b"LRC-USDT"), FrameKind.FOREIGN),
    (SEED_PUSH.replace(b"&1", b"&0"), FrameKind.FOREIGN),
    (SEED_PUSH.replace(b'"endVersion": "1212123",', b""), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"12x"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"1212120"'), FrameKind.MALFORMED),  # end < start
    (SEED_PUSH.replace(b'"456781000000000"', b'"-5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"4.5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"NaN"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"1e3"'), FrameKind.PUSH),  # exponent form: exact
    (SEED_PUSH.replace(b'"295.97"', b'".5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"5."'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"+98"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"Infinity"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"-1"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"5000000000000000.5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"7.0"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"4.1E-9"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"\\u0663"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"1212123.0"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"1.212123e6"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'1212123.0'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'["295.97", "456781000000000", "3015000000000", "4"]',
                       b'["0.001", "1", "1", "1"], ["0.00100000", "2", "2", "1"]'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"0"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b', "4"]', b"]"), FrameKind.MALFORMED),
    (b'{"op":"sub","args":["depth&LRC-ETH&1"],"result":{"status":"OK"}}', FrameKind.SUB_REPLY),
])
def test_frame_classes(frame, kind):
    assert reader().read(frame)[0] == kind


def test_prices_keyed_by_value_and_sizes_exact_in_human_units():
    parser = SlotParser(18)
    assert parser.price("0.2500") == parser.price("0.25") and str(parser.price("0.2500")) == "0.25"
    assert parser.size(1500000000000000000000) == Decimal(1500)
    huge = 10**40 + 1  # beyond the default 28-digit context: still exact
    assert parser.size(huge) == Decimal("10000000000000000000000.000000000000000001")
    assert SlotParser(6).size(375150000) == Decimal("375.15")


def test_subscribe_messages():
    assert msgspec.json.decode(p.subscribe_message("v2", "LRC-ETH", 1)) == {
        "op": "sub", "args": ["depth&LRC-ETH&1"]}
    assert msgspec.json.decode(p.subscribe_message("v3", "LRC-ETH", 1, 7)) == {
        "op": "sub", "sequence": 7,
        "topics": [{"topic": "orderbook", "market": "LRC-ETH", "level": 1}]}


def test_rest_envelopes_v2_and_v3():
    parser = SlotParser(18)
    v2 = b'{"resultInfo":{"code":0,"message":"SUCCESS"},"data":{"version":90210,"timestamp":5,' \
         b'"bids":[["0.2501","1500000000000000000000","375150000","3"]],"asks":[]}}'
    snap = p.decode_depth("v2", 200, v2, parser)
    assert snap.version == 90210 and snap.bids == [(Decimal("0.2501"), 1500 * 10**18, 3)]
    assert parser.book_levels(snap.bids)[0].size == Decimal(1500)
    v3 = b'{"version":"90210","market":"LRC-ETH","bids":[],"asks":[]}'
    assert p.decode_depth("v3", 200, v3, parser).version == 90210
    with pytest.raises(p.ApiError) as err:
        p.decode_depth("v2", 200, b'{"resultInfo":{"code":108000,"message":"bad market"}}', parser)
    assert err.value.code == 108000
    with pytest.raises(p.ApiError) as err:
        p.decode_depth("v3", 400, b'{"resultInfo":{"code":108001,"message":"bad level"}}', parser)
    assert err.value.code == 108001
    with pytest.raises(p.ProtocolError):
        p.decode_depth("v3", 500, b"oops", parser)
    markets = b'{"markets":[{"market":"LRC-ETH","baseTokenId":1,"quoteTokenId":0,' \
              b'"precisionForPrice":6,"orderbookAggLevels":4,"enabled":true}]}'
    assert p.decode_markets("v3", 200, markets)[0].orderbookAggLevels == 4


def test_exponent_forms_and_json_numbers_are_read_exactly():
    frame = (b'{"topic":"depth&LRC-ETH&1","startVersion":1,"endVersion":2,"data":{'
             b'"bids":[["4.1E-9","1.5E+21","0","3"],[0.25,1500000000000000000000,0,2]],'
             b'"asks":[[2.5e-3,"1500","0",1],["0.0031",1.5E3,"0","1"]]}}')
    kind, push = reader().read(frame)
    assert kind == FrameKind.PUSH, push
    assert push.bids == [(Decimal("4.1E-9"), 1500 * 10**18, 3), (Decimal("0.25"), 1500 * 10**18, 2)]
    assert push.asks == [(Decimal("0.0025"), 1500, 1), (Decimal("0.0031"), 1500, 1)]
    # the float a JSON number would round to is never used: 0.5 of a base unit is bad
    for size in (b"5000000000000000.5", b'"5000000000000000.5"', b"1500.0", b"-1"):
        bad = frame.replace(b"1500000000000000000000", size)
        assert reader().read(bad)[0] == FrameKind.MALFORMED, size


def test_v3_code_msg_error_body_is_an_api_error():
    parser = SlotParser(18)
    for status in (400, 200):
        with pytest.raises(p.ApiError) as err:
            p.decode_depth("v3", status, b'{"code":104002,"msg":"Invalid ApiKey"}', parser)
        assert err.value.code == 104002 and "Invalid ApiKey" in str(err.value)


def test_snapshot_with_one_price_twice_is_bad():
    body = b'{"version":5,"bids":[["0.001","1","1","1"],["0.00100000","2","2","1"]],"asks":[]}'
    with pytest.raises(p.ProtocolError, match="twice"):
        p.decode_depth("v3", 200, body, SlotParser(18))
