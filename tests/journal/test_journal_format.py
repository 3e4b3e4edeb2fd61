"""Schema 2's frame lines: embedded JSON text, hand-built lines, and schema 1 still read."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import zstandard

from obview.journal import Frame, JournalReader, JournalWriter, schema
from tests.journal.conftest import FakeClock

DEEP = "[" * (schema.MAX_BRACKETS + 1) + "]" * (schema.MAX_BRACKETS + 1)
# Texts a venue may send: valid JSON of every shape, and texts that are not (hostile,
# broken, or JSON a line could not hold as it is). Each must come back exactly.
TEXTS = {
    '{"topic":"orderbook","data":{"bids":[["0.1","5",1]]}}': True,
    '[1,2.5e-3,null,true,"\\u00e9\\n"]': True,
    '{"a": 1,\t"b":"\\u00e9", "c" : [ ] }': True,  # spacing and escapes: kept, not normalised
    '{"é":"ü","emoji":"\U0001f600"}': True,
    "{}": True,
    " {\"a\":1}": False,  # space around it would be lost as a JSON value
    '{"a":1} ': False,
    '{"a":1}\n': False,  # a line ends at LF
    '{"a":\r\n1}': False,
    '{"a":"\\q"}': False,  # bad escape
    "[01]": False,
    '{"a":1,}': False,
    '{"a":"\x01"}': False,  # raw control character in a string
    '{"a":"\ud800"}': False,  # a lone surrogate: not UTF-8 at all
    '{"a":1}{"b":2}': False,
    '"just a string"': False,
    "12": False,
    "null": False,
    "ping": False,
    "": False,
    "[": False,
    DEEP: False,  # would nest past what a reader deep in a stack can decode
    "[" * 50 + "]" * 50: True,
}


def test_only_one_line_of_valid_json_is_embedded() -> None:
    for text, embedded in TEXTS.items():
        data = schema.embeddable(text)
        assert (data is not None) == embedded, text
        if data is not None:
            assert data == text.encode()


def _expected_line(m: int, w: int, venue: str, conn: int, channel: str, payload: str | bytes,
                   pid: int | None, url: str | None, status: int | None) -> bytes:
    raw = schema.embeddable(payload) if isinstance(payload, str) else None
    frame = Frame(m, w, venue, conn, channel,
                  payload if isinstance(payload, str) and raw is None else None,
                  payload if isinstance(payload, bytes) else None, pid, url, status,
                  msgspec.Raw(raw) if raw is not None else schema.NO_JSON)
    return schema.encoder.encode(frame) + b"\n"


def test_hand_built_lines_are_what_msgspec_encodes(tmp_path: Path, clock: FakeClock) -> None:
    # (a lone surrogate cannot be written at all: no venue hands one over, their texts
    # are decoded from UTF-8)
    payloads = [*(t for t in TEXTS if "\ud800" not in t), b"", b"\x00\x01\xfe\xff" * 50,
                bytes(range(256))]
    extras = [(None, None, None), (3013, None, None), (None, '/x?y="z"&q=é', 200), (7, "/u", 404)]
    path = tmp_path / "s.ndjson.zst"
    w = JournalWriter(path, mono=clock.mono, wall=clock.wall)
    offset = clock.wall() - clock.mono()
    expected = []
    for payload in payloads:
        for pid, url, status in extras:
            clock.advance(0.001)
            m = clock.mono()
            w.frame("loopring", 3, "ws", payload, pid=pid, url=url, status=status)
            expected.append(_expected_line(m, m + offset, "loopring", 3, "ws", payload, pid,
                                           url, status))
        clock.advance(0.001)
        m = clock.mono()
        w.frames("futu", 4, "tcp", [(payload, None), (payload, 3013)])
        expected += [_expected_line(m, m + offset, "futu", 4, "tcp", payload, pid, None, None)
                     for pid in (None, 3013)]
        # a read of one message type, in the decoder's own (pid, serial, body) tuples: the
        # joined lines of a binary read, line by line for a text among them
        clock.advance(0.001)
        m = clock.mono()
        w.frames("futu", 4, "tcp", [(3013, 1, payload), (3013, 2, payload)], payload_at=2,
                 pid_at=0)
        expected += [_expected_line(m, m + offset, "futu", 4, "tcp", payload, 3013, None, None)
                     ] * 2
    w.close()
    lines = list(JournalReader(path).raw_lines())
    assert [line + b"\n" for line in lines[1:-1]] == expected
    # and every payload comes back exactly as given, from both ways of reading
    frames = [line for line in JournalReader(path) if type(line) is Frame]
    fast = [line for batch in JournalReader(path).batches() for line in batch
            if type(line) is Frame]
    sent = [p for p in payloads for _ in range(len(extras) + 4)]
    assert [f.payload() for f in frames] == sent
    assert [f.payload() for f in fast] == sent
    for f, payload in zip(fast, sent, strict=True):
        data = f.data()
        assert (bytes(data) if isinstance(data, msgspec.Raw) else data) == (
            payload.encode() if isinstance(payload, str) and f.j else payload)
        assert bool(f.j) == (isinstance(payload, str) and schema.embeddable(payload) is not None)
    assert all(f.p is not None or f.b is not None for f in frames)  # lines(): text as p


def test_lines_keep_their_order_around_reads(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    with JournalWriter(path, mono=clock.mono, wall=clock.wall) as w:
        w.connect("futu", 1, "tcp", "127.0.0.1:1", feed=0)
        w.frames("futu", 1, "tcp", [(b"\x01", 3013), (b"\x02", 3013)])
        w.frame("loopring", 2, "ws", '{"n":1}')
        w.frames("futu", 1, "tcp", [(b"\x03", 3013)])
        w.subscribe("futu", 1, "HK.00700")
        w.frames("futu", 1, "tcp", [(b"\x04", 3013)])
        w.checkpoint([])
        w.frames("futu", 1, "tcp", iter([(b"\x05", 3013)]))  # any iterable
        w.frames("futu", 1, "tcp", [(b"\x06", 3013), ("t", 3013)])  # a text among them
        w.disconnect("futu", 1, "done")
    got = [(type(line).__name__, line.payload() if type(line) is Frame else None)
           for line in JournalReader(path)][1:]
    assert got == [("Connect", None), ("Frame", b"\x01"), ("Frame", b"\x02"),
                   ("Frame", '{"n":1}'), ("Frame", b"\x03"), ("Subscribe", None),
                   ("Frame", b"\x04"), ("Sync", None), ("Frame", b"\x05"),
                   ("Frame", b"\x06"), ("Frame", "t"), ("Disconnect", None), ("End", None)]
    assert w.lines == len(got) + 1


def test_a_schema_1_journal_reads_as_before(tmp_path: Path) -> None:
    """Schema 1 held every text escaped in `p`: read by this obview, payloads and all."""
    header = schema.encoder.encode(schema.Header(v=1, app="0.1.0", m=1, w=2, sid="x"))
    text = '{"topic":"x","data":[1,2]}'
    lines = [header,
             b'{"k":"f","m":5,"w":6,"vn":"loopring","c":1,"ch":"ws","p":'
             + schema.encoder.encode(text) + b"}",
             b'{"k":"f","m":7,"w":8,"vn":"futu","c":2,"ch":"tcp","b":"AAEC","pid":3013}',
             b'{"k":"end","m":9,"w":10}']
    path = tmp_path / "v1.ndjson.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(x + b"\n" for x in lines)))
    reader = JournalReader(path)
    assert reader.headers[0].v == 1
    read = list(reader)
    assert [type(line).__name__ for line in read] == ["Header", "Frame", "Frame", "End"]
    assert read[1].payload() == text and read[1].data() == text
    assert read[2].payload() == b"\x00\x01\x02" and read[2].pid == 3013
    fast = [line for batch in reader.batches() for line in batch]
    assert fast == read


@pytest.mark.parametrize("text", ['{"token":"SECRET-TOKEN-1"}', '["SECRET-TOKEN-1"]'])
def test_a_secret_in_embedded_json_is_masked_and_the_line_stays_json(tmp_path: Path,
                                                                      clock: FakeClock,
                                                                      text: str) -> None:
    path = tmp_path / "s.ndjson.zst"
    with JournalWriter(path, mono=clock.mono, wall=clock.wall,
                       secrets=["SECRET-TOKEN-1"]) as w:
        w.frame("bthub", 1, "ws", text)
    frame = [line for batch in JournalReader(path).batches() for line in batch
             if type(line) is Frame][0]
    assert frame.j and b"SECRET" not in bytes(frame.j)
    assert frame.payload() == text.replace("SECRET-TOKEN-1", "*" * 14)
