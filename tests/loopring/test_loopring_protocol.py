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
    assert push.data.bids[0] == ("295.97", 456781000000000, "3015000000000", 4)


def test_v3_topic_object_matches_on_market_and_level_even_misspelt():
    frame = msgspec.json.encode({
        "topic": {"topic:": "orderbook", "market": "LRC-ETH", "level": 1},
        "ts": 1, "startVersion": "5", "endVersion": 6, "data": {"bids": [], "asks": []}})
    assert reader().read(frame)[0] == FrameKind.PUSH
    assert reader(level=2).read(frame)[0] == FrameKind.FOREIGN


@pytest.mark.parametrize("frame, kind", [
    ("ping", FrameKind.PING),
    ("not json", FrameKind.FOREIGN),
    ("[1,2]", FrameKind.FOREIGN),
    (SEED_PUSH.replace(b"LRC-ETH", b"LRC-USDT"), FrameKind.FOREIGN),
    (SEED_PUSH.replace(b"&1", b"&0"), FrameKind.FOREIGN),
    (SEED_PUSH.replace(b'"endVersion": "1212123",', b""), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"12x"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"1212123"', b'"1212120"'), FrameKind.MALFORMED),  # end < start
    (SEED_PUSH.replace(b'"456781000000000"', b'"-5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"456781000000000"', b'"4.5"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"NaN"'), FrameKind.MALFORMED),
    (SEED_PUSH.replace(b'"295.97"', b'"1e3"'), FrameKind.MALFORMED),
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
