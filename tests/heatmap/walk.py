"""A seeded random walk of an exact book, for the heatmap's tests and benchmark."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from obview.book import OrderBook
from obview.trades import BUY, SELL, Trade

TICK = Decimal("0.05")


@dataclass
class Step:
    """One book change: when, and every (is_bid, price) -> size then resting."""

    mono: float
    sizes: dict[tuple[bool, Decimal], Decimal]
    trades: list[Trade]


def walk(seed: int, steps: int, *, levels: int = 100, start: float = 1000.0,
         interval: float = 0.1, changes: int = 8, trade_every: int = 3,
         book: OrderBook | None = None) -> Iterator[tuple[OrderBook, Step]]:
    """Yield the book after each seeded change: the touch drifts by a tick now and then,
    `changes` levels get new sizes (two decimals), and every `trade_every` steps a print
    lands at the touch."""
    rng = random.Random(seed)
    book = book or OrderBook()
    mid_ticks = 2000  # 100.00 / TICK

    def size() -> Decimal:  # log-uniform, 0.01 to ~500: walls and crumbs, as books have
        return Decimal(int(10 ** rng.uniform(0, 4.7))).scaleb(-2)

    def rebuild_sides() -> None:
        bids = {(mid_ticks - 1 - i) * TICK: size() for i in range(levels)}
        asks = {(mid_ticks + 1 + i) * TICK: size() for i in range(levels)}
        for side, wanted in ((book.bids, bids), (book.asks, asks)):
            for level in list(side.iter_levels()):
                if level.price not in wanted:
                    side.delete(level.price)
            for price, amount in wanted.items():
                if side.get(price) is None:
                    side.set(price, amount)

    rebuild_sides()
    for n in range(steps):
        if rng.random() < 0.1:
            mid_ticks += rng.choice((-1, 1))
            rebuild_sides()
        for _ in range(changes):
            side = book.bids if rng.random() < 0.5 else book.asks
            sign = -1 if side.is_bid else 1
            price = (mid_ticks + sign * (1 + rng.randrange(levels))) * TICK
            side.set(price, size())
        mono = start + n * interval
        trades = []
        if trade_every and n % trade_every == 0:
            side = BUY if rng.random() < 0.5 else SELL
            touch = book.best_ask() if side == BUY else book.best_bid()
            trades.append(Trade(mono, touch, Decimal(rng.randint(1, 500)).scaleb(-2), side))
        sizes = {(is_bid, lv.price): lv.size for is_bid in (True, False)
                 for lv in book.side(is_bid).iter_levels()}
        yield book, Step(mono, sizes, trades)
