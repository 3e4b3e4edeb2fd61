"""The JSON forms headless prints: a book (best first, exact decimal strings) and a typed
record (`obview.records`). One form each, shared by `--stream`/`--dump`, replay and export."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from obview.feed import Feed, Stream
from obview.fmt import dec_str, dec_text


def book_json(feed: Feed, stream: Stream, depth: int, details: bool) -> dict[str, Any]:
    """The JSON object for one stream (docs/feeds.md, "Headless contract")."""
    book = stream.book
    sourced = book.bids.sourced

    def levels(side) -> list[list]:
        rows = []
        for lv in side.top(depth):
            row: list[Any] = [dec_text(lv.price), dec_text(lv.size), lv.orders]
            if details:
                queue = lv.queue or {}
                row.append([[str(oid), dec_text(vol)] for oid, vol in queue.items()])
            if sourced:
                if not details:
                    row.append(None)
                row.append(lv.source)
            rows.append(row)
        return rows

    obj: dict[str, Any] = {
        "venue": feed.venue,
        "symbol": stream.symbol,
        "level": stream.level,
        "version": book.version if book.version is not None else stream.pushes,
        "synced": stream.synced,
        "recv_ts": book.recv_ts,
        "venue_ts": book.venue_ts,
        "bids": levels(book.bids),
        "asks": levels(book.asks),
    }
    # shown as received, never fixed: crossed = best bid above best ask, locked = equal
    bid, ask = book.best_bid(), book.best_ask()
    obj["crossed"] = bid is not None and ask is not None and bid > ask
    obj["locked"] = bid is not None and ask is not None and bid == ask
    obj["stale"] = stream.stale
    if stream.source is not None:
        obj["source"] = stream.source
    if stream.name is not None:
        obj["name"] = stream.name
    obj.update(stream.extra)
    return obj


def record_json(feed: Feed, record: Any) -> dict[str, Any]:
    """The one JSON form of a typed record (`obview.records`): venue, kind, its fields."""
    return {"venue": feed.venue, "kind": record.KIND, **_fields_json(record)}


def _fields_json(record: Any) -> dict[str, Any]:
    return {name: _value_json(value) for name, value in vars(record).items()}


def _value_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, dict):  # nested records by id: a list in arrival order
        return [_fields_json(child) for child in value.values()]
    return value
