"""bthub WebSocket frames (docs/bthub.md "Frames", "Numbers"): validation with msgspec, conversion to exact records.

A server frame is one JSON object `{"event": NAME, "data": ...}`. `decode_frame` turns
the text into one of the update objects below, returns None for text that is not JSON
at all (`pong` and the like: ignored, not counted), and raises `BadFrame` for anything
invalid: the caller drops the whole frame and counts it. No partial application ever.

Numbers arrive as decimal strings or JSON numbers and become `Decimal`s from their exact
text (docs/bthub.md, "Numbers"); ids stay strings; enums are accepted as a JSON integer,
an integer in a string, or a name, and are kept as names (unknown values are kept raw).

Speed: frames are first decoded with every number field typed `str` (what the hub's own
examples send); only a frame that fails that shape is decoded again with those fields
as `msgspec.Raw`, which accepts JSON numbers too. Either way one conversion function
(`exact`) sees every number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from obview.errors import describe_error
from obview.venues.bthub.models import CpOrder, Execution, Order, RiskRow
from obview.venues.bthub.wire import frame_union


class BadFrame(ValueError):
    """The frame is invalid as a whole; the message says why (no secrets in it)."""


# -- enumerations (docs/bthub.md) ----------------------------------------------------------
SIDE = {1: "BUY", -1: "SELL"}
ORDER_STATUS = {1: "PENDING", 3: "EXCUTING", 4: "EXECUTED", 5: "EXPIRED", 7: "REJECTED",
                9: "CANCELLED", 99: "UKNOWN"}
ORDER_TYPE = {3: "LIMIT", 5: "MARKET"}
TIME_IN_FORCE = {1: "IOC", 3: "GTC"}
ORDER_RESULT = {1: "NONE", 3: "FILLED", 5: "PARTIAL"}
# The vendor's spellings are the names shown; the correct spellings are accepted too.
_ALIASES = {"EXECUTING": "EXCUTING", "UNKNOWN": "UKNOWN", "CANCELED": "CANCELLED"}
_CODE = re.compile(r"^[+-]?\d{1,9}$")


def enum_name(value: int | str | None, table: dict[int, str]) -> str:
    """Name for a code, a code in a string, or a name; unknown values raw; None -> ""."""
    if value is None:
        return ""
    if isinstance(value, int):
        return table.get(value, str(value))
    text = value.strip()
    if _CODE.match(text):
        code = int(text)
        return table.get(code, text)
    upper = text.upper()
    upper = _ALIASES.get(upper, upper)
    return upper if upper in table.values() else text


# -- wire shapes (wire.py) --------------------------------------------------------
_decoder = msgspec.json.Decoder(frame_union(str))
_raw_decoder = msgspec.json.Decoder(frame_union(msgspec.Raw))
_any_json = msgspec.json.Decoder()
_json_string = msgspec.json.Decoder(str)


# -- what the feed applies -------------------------------------------------------------
@dataclass
class QuoteUpdate:
    """One counterparty's complete book (API_QUOTE)."""

    symbol: str
    cp: str
    commission: Decimal | None
    bids: list[tuple[Decimal, Decimal]]  # (price, volume), volume > 0
    asks: list[tuple[Decimal, Decimal]]


@dataclass
class AggregatedUpdate:
    """The complete merged book of a symbol (API_AGGREGATED_QUOTE)."""

    symbol: str
    bids: list[tuple[Decimal, Decimal, str]]  # (price, volume, cp), volume > 0
    asks: list[tuple[Decimal, Decimal, str]]


@dataclass
class OrderUpdate:
    """One parent order's current state; fields absent from the push are None / ""."""

    order: Order


@dataclass
class RiskUpdate:
    rows: list[RiskRow]


Update = QuoteUpdate | AggregatedUpdate | OrderUpdate | RiskUpdate

MAX_NUMBER_TEXT = 80  # the hub's numbers are ~20 characters
MAX_MAGNITUDE = 40  # |adjusted exponent|: "1e999999999" is finite, but printing it is not
# A number in a JSON string, as Java's BigDecimal.toString writes it (docs/bthub.md,
# "Numbers"): optional minus, no leading zeros, digits on both sides of a point,
# exponent only with a capital E. "1e2", "99.", ".5", "+98", " 1", "NaN" do not match.
_STRING_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:E[+-]?[0-9]+)?\Z")
_JSON_NUMBER_START = frozenset(b"-0123456789")


def _raw_text(raw: msgspec.Raw) -> str:
    """The text of a number field decoded as Raw, checked: a JSON number as written
    (JSON's own grammar, checked by msgspec), or a JSON string's contents that look
    like a Java-written number."""
    data = bytes(raw)
    if data[:1] == b'"':
        text = _json_string.decode(data)
        if not _STRING_NUMBER.match(text):
            raise ValueError(text)
        return text
    if data[:1] and data[0] in _JSON_NUMBER_START:
        return data.decode("ascii")  # msgspec has checked the JSON number grammar
    raise ValueError(data[:40].decode("utf-8", "replace"))


def exact(value: str | msgspec.Raw) -> Decimal:
    """A finite decimal from a JSON string or a JSON number, exactly, of sane size;
    ValueError (or ArithmeticError) otherwise."""
    if type(value) is str:
        text = value
        if len(text) > MAX_NUMBER_TEXT:
            raise ValueError(text)
        result = Decimal(text)
        # Fast path: text that Decimal writes back unchanged is canonical; anything else
        # must still be Java-written (e.g. "0.0000001", which Decimal writes as 1E-7).
        if str(result) != text and not _STRING_NUMBER.match(text):
            raise ValueError(text)
    else:
        text = _raw_text(value)
        if len(text) > MAX_NUMBER_TEXT:
            raise ValueError(text)
        result = Decimal(text)
    if not result.is_finite() or not -MAX_MAGNITUDE <= result.adjusted() <= MAX_MAGNITUDE:
        raise ValueError(text)
    return result


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
    return text[:40]


def decimal(value: str | msgspec.Raw, where: str) -> Decimal:
    """`exact`, raising BadFrame that says where."""
    try:
        return exact(value)
    except (ValueError, ArithmeticError, msgspec.DecodeError):
        raise BadFrame(f"bad number {_shown(value)!r} at {where}") from None


def _opt_decimal(value: str | msgspec.Raw | None, where: str) -> Decimal | None:
    if value is None or (type(value) is not str and bytes(value) == b"null"):
        return None
    return decimal(value, where)


def _opt_text(value: str | msgspec.Raw | None) -> str | None:
    """A number shown raw (a child order's commission), once `decimal` has accepted it."""
    if value is None or type(value) is str:
        return value
    data = bytes(value)
    if data == b"null":
        return None
    return _json_string.decode(data) if data[:1] == b'"' else data.decode("ascii")


def _millis(value: str | int | None, where: str) -> int | None:
    """Epoch milliseconds; "0" means "not yet" and becomes None."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise BadFrame(f"bad time {value[:40]!r} at {where}")
        value = int(value)
    if value < 0:
        raise BadFrame(f"bad time {value!r} at {where}")
    return value or None


def _ident(value: str | int, where: str) -> str:
    text = str(value).strip()
    if not text:
        raise BadFrame(f"empty id at {where}")
    return text


def decode_frame(payload: str | bytes) -> Update | None:
    """Validate one received frame. None: non-JSON text to ignore. BadFrame: drop and count."""
    if isinstance(payload, bytes | bytearray | memoryview):
        raise BadFrame("binary frame")
    text = payload.strip()
    if not text:
        return None
    try:
        if text[0] not in "{[":
            try:
                _any_json.decode(text)
            except msgspec.DecodeError:
                return None  # `pong` or other plain text: no reply is specified, ignore it
            raise BadFrame("not a JSON object")
        try:
            frame = _decoder.decode(text)
        except msgspec.ValidationError:
            frame = _raw_decoder.decode(text)  # numbers written as JSON numbers, or bad
        return _CONVERT[type(frame).__name__](frame.data)
    except msgspec.ValidationError as exc:
        raise BadFrame(f"invalid frame: {_short(exc)}") from None
    except msgspec.DecodeError as exc:
        raise BadFrame(f"bad JSON: {_short(exc)}") from None
    except RecursionError:  # msgspec on a very deeply nested value
        raise BadFrame("JSON nested too deeply") from None


def _short(exc: Exception) -> str:
    return describe_error(exc, limit=200)  # the text quotes hostile input


_ZERO = Decimal(0)


def _levels(levels: list, name: str, sourced: bool) -> list[tuple]:
    """(price, volume[, cp]) per level with volume > 0, in the order received.

    The frame is bad (as a whole) for a price that is not > 0 or a volume that is < 0;
    volume 0 drops just that level. The same price (per cp, in an aggregated book) twice
    is found where the book is built, for free (`BthubFeed._fresh_sides`). The location
    is built only on error."""
    out = []
    i, field_name = 0, "price"
    try:
        for i, lv in enumerate(levels):  # noqa: B007  (i names the bad level below)
            field_name = "price"
            price = exact(lv.price)
            if price <= _ZERO:
                raise ValueError
            field_name = "volume"
            volume = exact(lv.volume)
            if volume > _ZERO:
                out.append((price, volume, lv.cp) if sourced else (price, volume))
            elif volume < _ZERO:
                raise ValueError
    except (ValueError, ArithmeticError, msgspec.DecodeError):
        raise BadFrame(f"bad {field_name} {_shown(getattr(levels[i], field_name))!r} "
                       f"at {name}[{i}].{field_name}") from None
    return out


def _quote(data) -> QuoteUpdate:
    return QuoteUpdate(
        symbol=data.symbol,
        cp=data.cp,
        commission=_opt_decimal(data.commission, "commission"),
        bids=_levels(data.bids, "bids", False),
        asks=_levels(data.asks, "asks", False),
    )


def _aggregated(data) -> AggregatedUpdate:
    return AggregatedUpdate(data.symbol, _levels(data.bids, "bids", True), _levels(data.asks, "asks", True))


def _execution(data, where: str) -> Execution:
    return Execution(
        exec_id=_ident(data.cpExecutionid, f"{where}.cpExecutionid"),
        cp=data.cp or "",
        price=_opt_decimal(data.executePrice, f"{where}.executePrice"),
        volume=_opt_decimal(data.executeVolume, f"{where}.executeVolume"),
        amount=_opt_decimal(data.executeAmount, f"{where}.executeAmount"),
        time_ms=_millis(data.executeTime, f"{where}.executeTime"),
        side=enum_name(data.side, SIDE),
        comment=data.executeComment or "",
    )


def _cp_order(data, where: str) -> CpOrder:
    child = CpOrder(
        cp_order_id=_ident(data.cpOrderId, f"{where}.cpOrderId"),
        cp=data.cp or "",
        status=enum_name(data.status, ORDER_STATUS),
        side=enum_name(data.side, SIDE),
        order_volume=_opt_decimal(data.orderVolume, f"{where}.orderVolume"),
        execute_volume=_opt_decimal(data.executeVolume, f"{where}.executeVolume"),
        pending_volume=_opt_decimal(data.pendingVolume, f"{where}.pendingVolume"),
        execute_amount=_opt_decimal(data.executeAmount, f"{where}.executeAmount"),
        commission=_opt_text(data.commission) or "",
        comment=data.orderComment or "",
        order_time_ms=_millis(data.orderTime, f"{where}.orderTime"),
        execute_time_ms=_millis(data.executeTime, f"{where}.executeTime"),
    )
    _opt_decimal(data.commission, f"{where}.commission")  # shown raw, but must be a number
    for i, ex in enumerate(data.executions):
        execution = _execution(ex, f"{where}.executions[{i}]")
        child.executions.setdefault(execution.exec_id, execution)
    return child


def _order(data) -> Order:
    order = Order(
        order_id=_ident(data.orderId, "orderId"),
        symbol=data.symbol or "",
        side=enum_name(data.side, SIDE),
        status=enum_name(data.status, ORDER_STATUS),
        order_type=enum_name(data.orderType, ORDER_TYPE),
        time_in_force=enum_name(data.timeInForce, TIME_IN_FORCE),
        result=enum_name(data.orderResult, ORDER_RESULT),
        order_volume=_opt_decimal(data.orderVolume, "orderVolume"),
        execute_volume=_opt_decimal(data.executeVolume, "executeVolume"),
        pending_volume=_opt_decimal(data.pendingVolume, "pendingVolume"),
        execute_amount=_opt_decimal(data.executeAmount, "executeAmount"),
        order_time_ms=_millis(data.orderTime, "orderTime"),
        execute_time_ms=_millis(data.executeTime, "executeTime"),
    )
    for i, child_data in enumerate(data.cpOrders):
        child = _cp_order(child_data, f"cpOrders[{i}]")
        order.cp_orders[child.cp_order_id] = child
    return order


def _risk(data, index: int) -> RiskRow:
    return RiskRow(
        book=data.book,
        cp=data.cp,
        symbol=data.symbol,
        open_volume=_opt_decimal(data.openVolume, f"data[{index}].openVolume"),
        open_amount=_opt_decimal(data.openAmount, f"data[{index}].openAmount"),
    )


_CONVERT = {
    "QuoteFrame": _quote,
    "AggregatedFrame": _aggregated,
    "OrderFrame": lambda data: OrderUpdate(_order(data)),
    "RiskFrame": lambda rows: RiskUpdate([_risk(row, i) for i, row in enumerate(rows)]),
}


# -- merging pushes into kept records (docs/bthub.md "Frames": upsert) ---------------------
def merge_order(kept: Order | None, pushed: Order) -> Order:
    """Upsert: fields the push carries replace kept ones; children by id; fills deduplicated."""
    if kept is None:
        return pushed
    merged = Order(order_id=kept.order_id)
    _merge_fields(merged, kept, pushed, exclude={"order_id", "cp_orders"})
    merged.cp_orders = dict(kept.cp_orders)
    for child_id, child in pushed.cp_orders.items():
        merged.cp_orders[child_id] = _merge_child(kept.cp_orders.get(child_id), child)
    return merged


def _merge_child(kept: CpOrder | None, pushed: CpOrder) -> CpOrder:
    if kept is None:
        return pushed
    merged = CpOrder(cp_order_id=kept.cp_order_id, cp=pushed.cp or kept.cp)
    _merge_fields(merged, kept, pushed, exclude={"cp_order_id", "cp", "executions"})
    merged.executions = dict(kept.executions)
    for exec_id, execution in pushed.executions.items():
        merged.executions[exec_id] = execution  # same id: the same fill, latest text wins
    return merged


def _merge_fields(target, kept, pushed, exclude: set[str]) -> None:
    for name in kept.__dataclass_fields__:
        if name in exclude:
            continue
        new = getattr(pushed, name)
        setattr(target, name, getattr(kept, name) if new is None or new == "" else new)


# -- optional fee-adjusted view (as the vendor's PriceBoard demo does it) -------
def fee_adjusted(price: Decimal, commission: Decimal, scale: int, is_bid: bool) -> Decimal:
    """What a level is worth after the counterparty's fee: bid x (1 - c) rounded down,
    ask / (1 - c) rounded up, both to `scale` decimals (never better than real)."""
    quantum = Decimal(1).scaleb(-scale)
    keep = 1 - commission
    if is_bid:
        return (price * keep).quantize(quantum, rounding=ROUND_FLOOR)
    return (price / keep).quantize(quantum, rounding=ROUND_CEILING)
