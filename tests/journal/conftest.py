"""Helpers for the journal tests: a hand-driven clock and journals on real files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from obview.book import OrderBook

WALL0 = 1_764_633_600_000_000_000  # 2025-12-02 00:00 UTC, in ns


class FakeClock:
    """Monotonic and wall ns the test moves by hand."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def mono(self) -> int:
        return self.ns

    def wall(self) -> int:
        return WALL0 + self.ns

    def seconds(self) -> float:
        return self.ns / 1e9

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def small_book(shift: int = 0) -> OrderBook:
    book = OrderBook()
    book.replace(
        [(Decimal("100.25") - shift, Decimal("1.5")), (Decimal("100.00"), Decimal("0.000000000000000001"), 2)],
        [(Decimal("100.50") + shift, Decimal("3"), 1, {17: Decimal("2"), 18: Decimal("1")})],
    )
    book.version = 40 + shift
    book.venue_ts = 1_764_633_600_123
    return book
