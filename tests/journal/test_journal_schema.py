"""Every line kind survives the round trip, and a checkpoint holds a book exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from obview.book import OrderBook, ScaledLevel
from obview.journal import schema
from tests.journal.conftest import small_book


def _as_tuples(book: OrderBook) -> tuple:
    return ([lv.as_tuple() for lv in book.bids.iter_levels()],
            [lv.as_tuple() for lv in book.asks.iter_levels()])


@pytest.mark.parametrize("line", [
    schema.Header(v=1, app="0.1.0", m=1, w=2, sid="ab", part=3, vns=["futu"],
                  sy={"futu": ["HK.00700"]}, o={"depth": 10}),
    schema.Frame(5, 6, "loopring", 2, "ws", p='{"topic":"orderbook"}'),
    schema.Frame(5, 6, "futu", 1, "tcp", b=b"\x00\x01\xfe\xff", pid=3013),
    schema.Frame(5, 6, "bthub", 3, "rest", p="{}", u="/api/v1/depth?s=X", st=200),
    schema.Connect(1, 2, "futu", 1, "tcp", "127.0.0.1:11111"),
    schema.Disconnect(1, 2, "futu", 1, "peer closed"),
    schema.Subscribe(1, 2, "loopring", 1, "LRC-ETH", {"level": 0}),
    schema.Resync(1, 2, "loopring", "LRC-ETH", "gap"),
    schema.Gap(1, 2, "loopring", "LRC-ETH", 10, 14, "version jump"),
    schema.Sync(1, 2, 7),
    schema.End(1, 2, "rotate", "s.0001.ndjson.zst"),
])
def test_every_line_kind_round_trips(line: schema.Line) -> None:
    data = schema.encoder.encode(line)
    assert b"\n" not in data
    assert schema.line_decoder.decode(data) == line


def test_text_payload_is_kept_as_received_and_binary_as_base64() -> None:
    text = '{"a": 1,\t"b":"\\u00e9"}'  # odd spacing and escapes: kept, not normalised
    line = schema.line_decoder.decode(schema.encoder.encode(schema.Frame(1, 2, "x", 1, "ws", p=text)))
    assert line.payload() == text
    binary = bytes(range(256))
    data = schema.encoder.encode(schema.Frame(1, 2, "x", 1, "tcp", b=binary))
    assert b'"b":"AAECAwQF' in data
    assert schema.line_decoder.decode(data).payload() == binary


def test_checkpoint_holds_the_book_exactly() -> None:
    book = small_book()
    book.recv_mono = 12.5
    line = schema.checkpoint_of("futu", "HK.00700", book, 11, 22)
    data = schema.encoder.encode(line)
    assert b'"0.000000000000000001"' in data and b'"100.25"' in data  # exact strings
    restored = schema.book_of(schema.line_decoder.decode(data))
    assert _as_tuples(restored) == _as_tuples(book)
    assert [str(lv.price) for lv in restored.bids.iter_levels()] == ["100.25", "100.00"]
    assert restored.version == 40 and restored.venue_ts == book.venue_ts
    assert restored.recv_mono == 12.5
    assert restored.asks.best().queue == {17: Decimal("2"), 18: Decimal("1")}


def test_checkpoint_of_sourced_and_scaled_books() -> None:
    book = OrderBook(sourced=True)
    book.bids.set(Decimal("5"), Decimal("1"), 1, source="binance")
    book.bids.set(Decimal("5"), Decimal("2"), 1, source="okx")
    book.asks.insert(ScaledLevel(Decimal("6"), 123, Decimal("1E-18"), 4))
    data = schema.encoder.encode(schema.checkpoint_of("bthub", "BTCUSDT", book, 1, 2))
    restored = schema.book_of(schema.line_decoder.decode(data))
    assert restored.bids.sourced
    assert _as_tuples(restored) == _as_tuples(book)
    assert restored.asks.best().size == Decimal("1.23E-16")
    assert b'"0.000000000000000123"' in data
