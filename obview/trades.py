"""A print on the tape: the one trade type shared by venues, the tape and the heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

BUY = "buy"
SELL = "sell"


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution. `side` is the aggressor's: "buy" lifted an ask, "sell" hit a bid.
    `mono` is `time.monotonic()` at receipt (the clock the book's `recv_mono` uses)."""

    mono: float
    price: Decimal
    size: Decimal
    side: str

    def __post_init__(self) -> None:
        if self.side not in (BUY, SELL):
            raise ValueError(f"trade side must be {BUY!r} or {SELL!r}, not {self.side!r}")
