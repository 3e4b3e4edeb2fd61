"""OpenD framing: header layout, SHA-1 and magic checks, reassembly, fuzzing (docs/futu.md "Frames")."""

from __future__ import annotations

import struct
from hashlib import sha1

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obview.venues import config
from obview.venues.futu import codec
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2


def push_body(price: float = 512.5) -> bytes:
    response = Qot_UpdateOrderBook_pb2.Response(retType=0)
    response.s2c.security.market = 1
    response.s2c.security.code = "00700"
    response.s2c.orderBookBidList.add(price=price, volume=300, orederCount=2)
    response.s2c.orderBookAskList.add(price=513.0, volume=100, orederCount=1)
    return response.SerializeToString()


def test_header_layout_is_the_sdks():
    body = b"\x08\x00"
    frame = codec.encode_frame(3013, 77, body)
    assert codec.HEADER_SIZE == 44 and len(frame) == 44 + len(body)
    magic, proto_id, fmt, version, serial, length, digest, reserved = struct.unpack(
        "<2sIBBII20s8s", frame[:44])
    assert (magic, proto_id, fmt, version, serial, length) == (b"FT", 3013, 0, 0, 77, 2)
    assert digest == sha1(body).digest() and reserved == bytes(8)


def test_reassembly_across_reads_byte_by_byte():
    frames = codec.encode_frame(1004, 1, b"\x08\x01") + codec.encode_frame(3013, 2, push_body())
    buffer = codec.FrameBuffer()
    out = []
    for i in range(len(frames)):
        out += buffer.feed(frames[i:i + 1])
    assert [(p, s) for p, s, _ in out] == [(1004, 1), (3013, 2)]
    assert out[1][2] == push_body() and len(buffer) == 0


def test_several_frames_in_one_read_and_a_partial_tail():
    data = b"".join(codec.encode_frame(3013, n, push_body()) for n in range(3))
    buffer = codec.FrameBuffer()
    assert len(buffer.feed(data + data[:50])) == 3
    assert len(buffer) == 50
    buffer.clear()  # what the client does when the connection is replaced
    assert len(buffer) == 0 and len(buffer.feed(data)) == 3


@pytest.mark.parametrize("offset,value", [(0, b"XX"), (20, b"\x00" * 4)])
def test_bad_magic_or_digest_is_a_broken_stream(offset, value):
    frame = bytearray(codec.encode_frame(3013, 1, push_body()))
    frame[offset:offset + len(value)] = value
    buffer = codec.FrameBuffer()
    with pytest.raises(codec.BadFrame):
        buffer.feed(bytes(frame))
    assert len(buffer) == 0


def test_absurd_length_is_a_broken_stream():
    header = struct.pack("<2sIBBII20s8s", b"FT", 3013, 0, 0, 1, 2**31, bytes(20), bytes(8))
    with pytest.raises(codec.BadFrame):
        codec.FrameBuffer().feed(header)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), max_size=8))
def test_fuzzed_bytes_only_yield_frames_or_bad_frame(chunks):
    buffer = codec.FrameBuffer()
    for chunk in chunks:
        try:
            buffer.feed(chunk)
        except codec.BadFrame:
            return


def _feed() -> FutuFeed:
    return FutuFeed(config("futu", ["HK.00700"], host="127.0.0.1", port=1))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([1003, 1004, 3005, 3013, 3012, 9999]), st.integers(0, 2**32 - 1),
       st.binary(max_size=200))
def test_fuzzed_bodies_never_escape_as_anything_but_bad_frame(proto_id, serial, body):
    feed = _feed()
    try:
        feed._process([(proto_id, serial, body)])
    except codec.BadFrame:
        assert feed.bad_frames == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 120))
def test_fuzzed_mutations_of_a_real_push(noise, position):
    frame = bytearray(codec.encode_frame(3013, 1, push_body()))
    frame[position:position + len(noise)] = noise
    feed = _feed()
    feed.streams["HK.00700"].synced = True
    try:
        for proto_id, serial, body in codec.FrameBuffer().feed(bytes(frame)):
            feed._process([(proto_id, serial, body)])
    except codec.BadFrame:
        pass


def test_a_push_replaces_each_side_whole():
    feed = _feed()
    feed._process([(3013, 1, push_body(512.5))])
    feed._process([(3013, 2, push_body(512.0))])
    bids = list(feed.streams["HK.00700"].book.bids.iter_levels())
    assert [(str(lv.price), str(lv.size), lv.orders) for lv in bids] == [("512.0", "300", 2)]


def test_a_long_frame_in_small_reads_is_joined_once():
    """A frame's reads were joined to what came before at every read: two 4 MiB bodies
    in 536-byte reads (a small MSS) cost 1.5 s of copying; joined once, 20 ms."""
    import time

    body = b"\x08\x00" + bytes(codec.MAX_BODY - 2)
    data = codec.encode_frame(3013, 1, body) * 2
    buffer = codec.FrameBuffer()
    got = []
    started = time.perf_counter()
    for at in range(0, len(data), 536):
        got += buffer.feed(data[at:at + 536])
    assert time.perf_counter() - started < 0.5
    buffer.feed(data[:100_000])
    assert len(buffer) == 100_000  # (what it holds, in parts)
    buffer.clear()
    assert got == [(3013, 1, body), (3013, 1, body)] and len(buffer) == 0
