"""bthub WebSocket frames (spec §4-§8): validation with msgspec, conversion to exact records.

A server frame is one JSON object `{"event": NAME, "data": ...}`. `decode_frame` turns
the text into one of the update objects below, returns None for text that is not JSON
at all (`pong` and the like: ignored, not counted), and raises `BadFrame` for anything
invalid: the caller drops the whole frame and counts it. No partial application ever.

Numbers arrive as decimal strings and become `Decimal`s; ids stay strings; enums are
accepted as a JSON integer, an integer in a string, or a name, and are kept as names
(unknown values are kept raw).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from obview.venues.bthub.models import CpOrder, Execution, Order, RiskRow


class BadFrame(ValueError):
    """The frame is invalid as a whole; the message says why (no secrets in it)."""


# -- enumerations (spec §6) ----------------------------------------------------------
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


# -- wire shapes -------------------------------------------------------------------
Enum = int | str | None
Number = str | None  # decimal strings; checked in conversion
Millis = str | int | None
Ident = str | int


class QuoteLevel(msgspec.Struct):
    price: str
    volume: str


class SourcedLevel(msgspec.Struct):
    cp: str
    price: str
    volume: str


class QuoteData(msgspec.Struct):
    symbol: str
    cp: str
    asks: list[QuoteLevel]
    bids: list[QuoteLevel]
    commission: Number = None


class AggregatedData(msgspec.Struct):
    symbol: str
    asks: list[SourcedLevel]
    bids: list[SourcedLevel]


class ExecutionData(msgspec.Struct):
    cpExecutionid: Ident
    cp: str | None = None
    executePrice: Number = None
    executeVolume: Number = None
    executeAmount: Number = None
    executeTime: Millis = None
    side: Enum = None
    symbol: str | None = None
    executeComment: str | None = None


class OrderFields(msgspec.Struct, kw_only=True):
    """What a parent order and its per-counterparty child orders both carry (spec §5)."""

    symbol: str | None = None
    side: Enum = None
    status: Enum = None
    orderType: Enum = None
    timeInForce: Enum = None
    orderResult: Enum = None
    orderVolume: Number = None
    executeVolume: Number = None
    pendingVolume: Number = None
    executeAmount: Number = None
    orderTime: Millis = None
    executeTime: Millis = None


class CpOrderData(OrderFields, kw_only=True):
    cpOrderId: Ident
    cp: str | None = None
    commission: Number = None
    orderComment: str | None = None
    executions: list[ExecutionData] = []


class OrderData(OrderFields, kw_only=True):
    orderId: Ident
    cpOrders: list[CpOrderData] = []


class RiskData(msgspec.Struct):
    book: str
    cp: str
    symbol: str
    openVolume: Number = None
    openAmount: Number = None


class QuoteFrame(msgspec.Struct, tag_field="event", tag="API_QUOTE"):
    data: QuoteData


class AggregatedFrame(msgspec.Struct, tag_field="event", tag="API_AGGREGATED_QUOTE"):
    data: AggregatedData


class OrderFrame(msgspec.Struct, tag_field="event", tag="API_ORDER"):
    data: OrderData


class RiskFrame(msgspec.Struct, tag_field="event", tag="API_RISK_POSITION"):
    data: list[RiskData]


_decoder = msgspec.json.Decoder(QuoteFrame | AggregatedFrame | OrderFrame | RiskFrame)
_any_json = msgspec.json.Decoder()


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


def exact(text: str) -> Decimal:
    """A finite decimal string, strictly: ASCII, no blanks, underscores, NaN or Infinity
    (all of which `Decimal()` alone accepts), and of sane size. ValueError otherwise."""
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(text)
    try:
        value = Decimal(text)
    except (ArithmeticError, TypeError, ValueError):
        raise ValueError(text) from None
    if (not value.is_finite() or not text.isascii() or "_" in text or text != text.strip()
            or not -MAX_MAGNITUDE <= value.adjusted() <= MAX_MAGNITUDE):
        raise ValueError(text)
    return value


def decimal(text: str, where: str) -> Decimal:
    """`exact`, raising BadFrame that says where."""
    try:
        return exact(text)
    except ValueError:
        raise BadFrame(f"bad number {text[:40]!r} at {where}") from None


def _opt_decimal(text: str | None, where: str) -> Decimal | None:
    return None if text is None else decimal(text, where)


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
    if text[0] not in "{[":
        try:
            _any_json.decode(text)
        except msgspec.DecodeError:
            return None  # `pong` or other plain text: no reply is specified, ignore it
        raise BadFrame("not a JSON object")
    try:
        frame = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise BadFrame(f"invalid frame: {_short(exc)}") from None
    except msgspec.DecodeError as exc:
        raise BadFrame(f"bad JSON: {_short(exc)}") from None
    if isinstance(frame, QuoteFrame):
        return _quote(frame.data)
    if isinstance(frame, AggregatedFrame):
        return _aggregated(frame.data)
    if isinstance(frame, OrderFrame):
        return OrderUpdate(_order(frame.data))
    return RiskUpdate([_risk(row, i) for i, row in enumerate(frame.data)])


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _levels(levels: list, name: str, sourced: bool) -> list[tuple]:
    """(price, volume[, cp]) per level with volume > 0; the location is built only on error."""
    out = []
    i, field_name = 0, "price"
    try:
        for i, lv in enumerate(levels):  # noqa: B007  (i names the bad level below)
            field_name = "price"
            price = exact(lv.price)
            field_name = "volume"
            volume = exact(lv.volume)
            if volume > 0:
                out.append((price, volume, lv.cp) if sourced else (price, volume))
    except ValueError:
        text = getattr(levels[i], field_name)
        raise BadFrame(f"bad number {text[:40]!r} at {name}[{i}].{field_name}") from None
    return out


def _quote(data: QuoteData) -> QuoteUpdate:
    return QuoteUpdate(
        symbol=data.symbol,
        cp=data.cp,
        commission=_opt_decimal(data.commission, "commission"),
        bids=_levels(data.bids, "bids", False),
        asks=_levels(data.asks, "asks", False),
    )


def _aggregated(data: AggregatedData) -> AggregatedUpdate:
    return AggregatedUpdate(data.symbol, _levels(data.bids, "bids", True), _levels(data.asks, "asks", True))


def _execution(data: ExecutionData, where: str) -> Execution:
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


def _cp_order(data: CpOrderData, where: str) -> CpOrder:
    child = CpOrder(
        cp_order_id=_ident(data.cpOrderId, f"{where}.cpOrderId"),
        cp=data.cp or "",
        status=enum_name(data.status, ORDER_STATUS),
        side=enum_name(data.side, SIDE),
        order_volume=_opt_decimal(data.orderVolume, f"{where}.orderVolume"),
        execute_volume=_opt_decimal(data.executeVolume, f"{where}.executeVolume"),
        pending_volume=_opt_decimal(data.pendingVolume, f"{where}.pendingVolume"),
        execute_amount=_opt_decimal(data.executeAmount, f"{where}.executeAmount"),
        commission=data.commission or "",
        comment=data.orderComment or "",
        order_time_ms=_millis(data.orderTime, f"{where}.orderTime"),
        execute_time_ms=_millis(data.executeTime, f"{where}.executeTime"),
    )
    if data.commission is not None:
        decimal(data.commission, f"{where}.commission")  # shown raw, but must be a number
    for i, ex in enumerate(data.executions):
        execution = _execution(ex, f"{where}.executions[{i}]")
        child.executions.setdefault(execution.exec_id, execution)
    return child


def _order(data: OrderData) -> Order:
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


def _risk(data: RiskData, index: int) -> RiskRow:
    return RiskRow(
        book=data.book,
        cp=data.cp,
        symbol=data.symbol,
        open_volume=_opt_decimal(data.openVolume, f"data[{index}].openVolume"),
        open_amount=_opt_decimal(data.openAmount, f"data[{index}].openAmount"),
    )


# -- merging pushes into kept records (spec §5 [decision]: upsert) ---------------------
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


# -- optional fee-adjusted view (spec §5, as the vendor's PriceBoard demo does it) -------
def fee_adjusted(price: Decimal, commission: Decimal, scale: int, is_bid: bool) -> Decimal:
    """What a level is worth after the counterparty's fee: bid x (1 - c) rounded down,
    ask / (1 - c) rounded up, both to `scale` decimals (never better than real)."""
    quantum = Decimal(1).scaleb(-scale)
    keep = 1 - commission
    if is_bid:
        return (price * keep).quantize(quantum, rounding=ROUND_FLOOR)
    return (price / keep).quantize(quantum, rounding=ROUND_CEILING)
