"""Typed non-book records a feed publishes (orders, risk positions, trades), venue-neutral.

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


# a trade's side is the aggressor's ("buy" lifted an ask, "sell" hit a bid), or None
# when the venue does not say (Futu's neutral and unknown directions); obview/trades.py
# has the tape built from them
BUY = "buy"
SELL = "sell"
SIDES = (BUY, SELL, None)


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution. `mono` is `time.monotonic()` at receipt (the clock the book's
    `recv_mono` uses); `recv_ts`/`venue_ts` are epoch milliseconds (ours, the venue's).
    `own` marks the account's own fills (bthub executions)."""

    KIND: ClassVar[str] = "trade"
    mono: float
    price: Decimal
    size: Decimal
    side: str | None
    venue: str = ""
    symbol: str = ""
    venue_ts: int | None = None
    recv_ts: int | None = None
    turnover: Decimal | None = None  # as the venue reports it (else price x size)
    sequence: int | str | None = None  # the venue's id of the print
    kind: str | None = None  # the venue's trade type (Futu TickerType name)
    own: bool = False
    source: str | None = None  # the counterparty that filled it (multi-source venues)

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"trade side must be {BUY!r}, {SELL!r} or None, not {self.side!r}")
