"""bthub order and risk records as the feed keeps them (docs/bthub.md "Frames").

Plain data, shared by the feed (which fills them) and the TUI (which shows them).
Numbers are exact Decimals; ids stay strings (they exceed 2^53); enums are names
(codes are mapped, unknown values kept raw as text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Execution:
    exec_id: str  # cpExecutionid
    cp: str
    price: Decimal | None
    volume: Decimal | None
    amount: Decimal | None
    time_ms: int | None
    side: str
    comment: str = ""


@dataclass
class CpOrder:
    cp_order_id: str
    cp: str
    status: str = ""
    side: str = ""
    order_volume: Decimal | None = None
    execute_volume: Decimal | None = None
    pending_volume: Decimal | None = None
    execute_amount: Decimal | None = None
    commission: str = ""  # shown raw: rate or amount is not documented
    comment: str = ""
    order_time_ms: int | None = None
    execute_time_ms: int | None = None
    executions: dict[str, Execution] = field(default_factory=dict)  # by exec_id, arrival order


@dataclass
class Order:
    order_id: str
    symbol: str = ""
    side: str = ""
    status: str = ""
    order_type: str = ""
    time_in_force: str = ""
    result: str = ""
    order_volume: Decimal | None = None
    execute_volume: Decimal | None = None
    pending_volume: Decimal | None = None
    execute_amount: Decimal | None = None
    order_time_ms: int | None = None
    execute_time_ms: int | None = None
    cp_orders: dict[str, CpOrder] = field(default_factory=dict)  # by cp_order_id


@dataclass
class RiskRow:
    book: str
    cp: str
    symbol: str
    open_volume: Decimal | None = None
    open_amount: Decimal | None = None
