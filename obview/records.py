"""Typed non-book records a feed publishes (orders, risk positions), venue-neutral.

Feeds fill them, the TUI shows them, headless prints them (`headless.record_json`).
Numbers are exact Decimals; ids stay strings (they can exceed 2^53); enums are names
(codes are mapped by the venue, unknown values kept raw as text). `KIND` names the
record in JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

# order statuses as venues send them (bthub: see docs/bthub.md), grouped for display
DONE_STATUSES = frozenset({"EXECUTED", "FILLED"})
WORKING_STATUSES = frozenset({"EXCUTING", "EXECUTING", "PARTIALLY_FILLED"})
OPEN_STATUSES = frozenset({"PENDING", "NEW"})
ENDED_STATUSES = frozenset({"CANCELED", "CANCELLED", "EXPIRED"})
FAILED_STATUSES = frozenset({"REJECTED", "FAILED"})


@dataclass
class Execution:
    KIND: ClassVar[str] = "execution"
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
    KIND: ClassVar[str] = "cp_order"
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
    KIND: ClassVar[str] = "order"
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
    KIND: ClassVar[str] = "risk"
    book: str
    cp: str
    symbol: str
    open_volume: Decimal | None = None
    open_amount: Decimal | None = None
