"""Loopring v3 trades: the `trade` WebSocket topic and `GET /api/v3/trade`, read exactly
(docs/loopring.md, "Trades"). No I/O here.

Both carry each print as an array of strings by position, and real rows are longer than
the documented examples, so rows are read by index and extra elements are ignored:

- WebSocket row: [time ms, trade id, taker side, size, price, fee]
- REST row:      [time ms, trade id, side, volume, price, market, fee, ...]

The side is compared without case (the WS example writes `buy`, REST `BUY`). A size that
is a whole number is in base-token units, as the depth's sizes are; one with a fraction
is taken as already in human units. Every value is checked; one bad row makes the whole
push or reply bad.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import msgspec

from obview.trades import BUY, SELL, Trade
from obview.venues.loopring import numbers
from obview.venues.loopring.numbers import BadNumber, JsonNumber

TRADE_TOPIC = "trade"
TRADES_PATH = "/api/v3/trade"
RECENT_TRADES = 50  # rows asked for at each (re)connect
MAX_ROWS = 2_000  # more rows than this in one push or reply is not a sane frame

_SIDES = {"buy": BUY, "sell": SELL}


class TradePush(msgspec.Struct, gc=False):
    topic: Any = None
    ts: Any = None
    data: Any = None


class TradesReply(msgspec.Struct, gc=False):
    trades: Any = None
    totalNum: Any = None


_push_decoder = msgspec.json.Decoder(TradePush, float_hook=JsonNumber)


def subscribe_trades_message(market: str, sequence: int) -> str:
    return msgspec.json.encode({"op": "sub", "sequence": sequence,
                                "topics": [{"topic": TRADE_TOPIC, "market": market}]}).decode()


def is_trade_topic(topic: Any, market: str) -> bool:
    return (isinstance(topic, dict) and topic.get("topic") == TRADE_TOPIC
            and topic.get("market") == market)


def _text(value: Any, what: str) -> str:
    if type(value) is int:
        return str(value)
    if type(value) is not str and type(value) is not JsonNumber:
        raise BadNumber(f"bad {what} {value!r}")
    return value


def _side(value: Any) -> str:
    side = _SIDES.get(value.lower()) if type(value) is str else None
    if side is None:
        raise BadNumber(f"bad side {value!r}")
    return side


def _size(value: Any, unit_scale: int) -> Decimal:
    """A whole number is base units (as the depth's sizes); a fraction is human units."""
    try:
        return Decimal(numbers.units(value)).scaleb(unit_scale, numbers.EXACT)
    except BadNumber:
        pass
    text = _text(value, "size")
    if not numbers._DECIMAL.fullmatch(text):
        raise BadNumber(f"bad size {text!r}")
    size = Decimal(text)
    if size == size.to_integral_value() or abs(size.adjusted()) > numbers.PRICE_EXPONENT:
        raise BadNumber(f"bad size {text!r}")  # "7.0": neither units nor a fraction
    return size.normalize(numbers.EXACT)


def _row(row: Any, venue_market: str, unit_scale: int, size_at: int, price_at: int,
         mono: float, recv_ts: int) -> Trade:
    if not isinstance(row, list) or len(row) <= price_at:
        raise BadNumber(f"bad trade row {str(row)[:80]}")
    stamp = numbers.plain_integer(row[0], "trade time")
    trade_id = _text(row[1], "trade id")
    if not trade_id.isdigit():
        raise BadNumber(f"bad trade id {trade_id!r}")
    price = numbers.price(row[price_at])
    size = _size(row[size_at], unit_scale)
    return Trade(mono, price, size, _side(row[2]), venue="loopring", symbol=venue_market,
                 venue_ts=stamp if stamp < 2**53 else None, recv_ts=recv_ts,
                 turnover=price * size, sequence=trade_id)


def _rows(rows: Any, market: str, base_decimals: int, size_at: int, price_at: int) -> list[Trade]:
    if not isinstance(rows, list):
        raise BadNumber("trades are not a list")
    if len(rows) > MAX_ROWS:
        raise BadNumber(f"{len(rows)} trades in one frame (at most {MAX_ROWS})")
    mono, recv_ts = time.monotonic(), time.time_ns() // 1_000_000
    trades = [_row(r, market, -base_decimals, size_at, price_at, mono, recv_ts) for r in rows]
    # the order of rows is not documented: the tape is oldest first
    trades.sort(key=lambda t: (t.venue_ts or 0, int(t.sequence)))
    return trades


def decode_trade_push(push: TradePush, market: str, base_decimals: int) -> list[Trade]:
    """The prints of a `trade` push for `market`; BadNumber if any row is bad."""
    return _rows(push.data, market, base_decimals, size_at=3, price_at=4)


def decode_trades_reply(payload: Any, market: str, base_decimals: int) -> list[Trade]:
    """The prints of a `GET /api/v3/trade` reply, oldest first; BadNumber if bad. Rows
    naming another market are bad too (the call is for one market)."""
    rows = payload.trades if isinstance(payload, TradesReply) else None
    if rows is None:
        raise BadNumber("no trades in the reply")
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, list) and len(row) > 5 and row[5] != market:
            raise BadNumber(f"a trade of {row[5]!r} in the reply for {market}")
    return _rows(rows, market, base_decimals, size_at=3, price_at=4)


def read_trade_frame(frame: str | bytes) -> TradePush | None:
    """The frame as a trade push, or None when it is not one (or not JSON)."""
    try:
        push = _push_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    return push if isinstance(push.topic, dict) and push.topic.get("topic") == TRADE_TOPIC else None
