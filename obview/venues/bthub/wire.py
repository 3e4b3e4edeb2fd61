"""The JSON shapes of the hub's server frames (docs/bthub.md, "Frames"), for msgspec.

Built twice by `frame_union`: with decimal fields typed `str` (the fast path: the hub's
examples write numbers as strings) and typed `msgspec.Raw` (JSON numbers too). No
`from __future__ import annotations` here: the classes are made inside a function and
their annotations must resolve there.
"""

import msgspec

Enum = int | str | None
Millis = str | int | None
Ident = str | int


def frame_union(number: type) -> type:
    """The frame union with every decimal field typed `number` (str, or msgspec.Raw)."""
    optional = number | None if number is str else number

    class QuoteLevel(msgspec.Struct):
        price: number
        volume: number

    class SourcedLevel(msgspec.Struct):
        cp: str
        price: number
        volume: number

    class QuoteData(msgspec.Struct):
        symbol: str
        cp: str
        asks: list[QuoteLevel]
        bids: list[QuoteLevel]
        commission: optional = None

    class AggregatedData(msgspec.Struct):
        symbol: str
        asks: list[SourcedLevel]
        bids: list[SourcedLevel]

    class ExecutionData(msgspec.Struct):
        cpExecutionid: Ident
        cp: str | None = None
        executePrice: optional = None
        executeVolume: optional = None
        executeAmount: optional = None
        executeTime: Millis = None
        side: Enum = None
        symbol: str | None = None
        executeComment: str | None = None

    class OrderFields(msgspec.Struct, kw_only=True):
        """What a parent order and its per-counterparty child orders both carry."""

        symbol: str | None = None
        side: Enum = None
        status: Enum = None
        orderType: Enum = None
        timeInForce: Enum = None
        orderResult: Enum = None
        orderVolume: optional = None
        executeVolume: optional = None
        pendingVolume: optional = None
        executeAmount: optional = None
        orderTime: Millis = None
        executeTime: Millis = None

    class CpOrderData(OrderFields, kw_only=True):
        cpOrderId: Ident
        cp: str | None = None
        commission: optional = None
        orderComment: str | None = None
        executions: list[ExecutionData] = []

    class OrderData(OrderFields, kw_only=True):
        orderId: Ident
        cpOrders: list[CpOrderData] = []

    class RiskData(msgspec.Struct):
        book: str
        cp: str
        symbol: str
        openVolume: optional = None
        openAmount: optional = None

    class QuoteFrame(msgspec.Struct, tag_field="event", tag="API_QUOTE"):
        data: QuoteData

    class AggregatedFrame(msgspec.Struct, tag_field="event", tag="API_AGGREGATED_QUOTE"):
        data: AggregatedData

    class OrderFrame(msgspec.Struct, tag_field="event", tag="API_ORDER"):
        data: OrderData

    class RiskFrame(msgspec.Struct, tag_field="event", tag="API_RISK_POSITION"):
        data: list[RiskData]

    return QuoteFrame | AggregatedFrame | OrderFrame | RiskFrame
