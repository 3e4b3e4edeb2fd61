"""The exact order book shared by every venue.

Prices and sizes are `Decimal`s (never floats). Each side keeps a dict from key to
`Level` plus its keys in sorted order, so a lookup or an in-place size change is a dict
operation and an insert or delete is a binary search. The sorted keys are a plain list
while a side is small enough for C's `insort` and `del` to beat any tree (measured: up to
~8,000 levels), and a `SortedList` beyond that. Keys are prices, or `(price, source)`
for books that keep equal prices from different sources apart (bthub's aggregated book).

Everything derived (cumulative size, notional, spread, grouping) is computed on
demand for the rows asked for only: a screen shows 20 rows of a 2,000-level side.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Any

from sortedcontainers import SortedList

ZERO = Decimal(0)
_monotonic = time.monotonic
# Wall clock minus monotonic clock, fixed at start: epoch stamps without a second clock read.
_EPOCH_MINUS_MONOTONIC = time.time() - time.monotonic()
_BPS = Decimal(10000)
_TWO = Decimal(2)
# Wide enough that scaling an integer amount never rounds (uint256 has 78 digits).
_EXACT = Context(prec=200)
# Sides with more levels than this keep their keys in a SortedList (see the module doc).
LIST_KEYS_MAX = 8192


def _sorted_keys(keys: Iterable[Any]) -> list | SortedList:
    ordered = sorted(keys)
    return ordered if len(ordered) <= LIST_KEYS_MAX else SortedList(ordered)


class Level:
    """One price level. `queue` maps order id -> volume in queue order (Futu details)."""

    __slots__ = ("price", "size", "orders", "queue", "source")

    def __init__(
        self,
        price: Decimal,
        size: Decimal,
        orders: int = 0,
        queue: dict[Any, Decimal] | None = None,
        source: str | None = None,
    ) -> None:
        self.price = price
        self.size = size
        self.orders = orders
        self.queue = queue
        self.source = source

    def as_tuple(self) -> tuple:
        queue = tuple(self.queue.items()) if self.queue is not None else None
        return (self.price, self.size, self.orders, queue, self.source)

    def __repr__(self) -> str:
        src = f" @{self.source}" if self.source is not None else ""
        return f"Level({self.price} x {self.size}, {self.orders} orders{src})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Level) and self.as_tuple() == other.as_tuple()

    __hash__ = None  # type: ignore[assignment]  # levels are mutable


class ScaledLevel(Level):
    """A level whose size is an exact integer count of a fixed `unit` (a token's smallest
    unit, say): a venue that sends integer amounts stores them in `units` as they come,
    with no Decimal arithmetic per message, and `size` is computed when it is read (a
    screen reads a few rows a frame; a busy feed writes thousands of levels a second).
    `units` may also be the checked digit text it came as ("1500"): converting it is then
    left to the rare read as well."""

    __slots__ = ("units", "unit")

    def __init__(self, price: Decimal, units: int | str, unit: Decimal, orders: int = 0) -> None:
        self.price = price
        self.units = units
        self.unit = unit
        self.orders = orders
        self.queue = None
        self.source = None

    @property
    def size(self) -> Decimal:  # type: ignore[override]
        return _EXACT.multiply(self.unit, Decimal(self.units))

    @size.setter
    def size(self, value: Decimal) -> None:
        units = _EXACT.divide(value, self.unit)
        if units != units.to_integral_value():
            raise ValueError(f"size {value} is not a whole number of {self.unit}")
        self.units = int(units)


LevelInput = Level | tuple


def _as_level(item: LevelInput) -> Level:
    if isinstance(item, Level):
        return item
    return Level(*item)


class BookSide:
    """One side of a book. Bids are best = highest, asks best = lowest."""

    __slots__ = ("is_bid", "sourced", "_levels", "_keys")

    def __init__(self, is_bid: bool, sourced: bool = False) -> None:
        self.is_bid = is_bid
        self.sourced = sourced
        self._levels: dict[Any, Level] = {}
        self._keys: list | SortedList = []  # ascending

    # -- updates -----------------------------------------------------------------
    def set(
        self,
        price: Decimal,
        size: Decimal,
        orders: int = 0,
        queue: dict[Any, Decimal] | None = None,
        source: str | None = None,
    ) -> None:
        """Set a level's size (and count, queue); a size of zero deletes it."""
        key = (price, source) if self.sourced else price
        if not size:
            self.delete(price, source)
            return
        level = self._levels.get(key)
        if level is None:
            self._levels[key] = Level(price, size, orders, queue, source)
            self._add_key(key)
        else:
            level.size = size
            level.orders = orders
            level.queue = queue

    def insert(self, level: Level) -> None:
        """Put this very `Level` in the side (replacing one at its price): for venue hot
        paths that build their own levels (a `ScaledLevel`, say). Its size must not be 0."""
        key = (level.price, level.source) if self.sourced else level.price
        levels = self._levels
        known = key in levels
        levels[key] = level
        if known:
            return
        keys = self._keys
        if type(keys) is list and len(keys) < LIST_KEYS_MAX:  # _add_key, inlined: hot
            insort(keys, key)
        else:
            self._add_key(key)

    def delete(self, price: Decimal, source: str | None = None) -> bool:
        key = (price, source) if self.sourced else price
        if self._levels.pop(key, None) is None:
            return False
        keys = self._keys
        if type(keys) is list:
            del keys[bisect_left(keys, key)]
        else:
            keys.remove(key)
        return True

    def _add_key(self, key: Any) -> None:
        keys = self._keys
        if type(keys) is list:
            insort(keys, key)
            if len(keys) > LIST_KEYS_MAX:
                self._keys = SortedList(keys)
        else:
            keys.add(key)

    def clear(self) -> None:
        self._levels.clear()
        self._keys = []

    def replace(self, levels: Iterable[LevelInput]) -> None:
        """Replace the whole side; levels with size zero are skipped."""
        fresh: dict[Any, Level] = {}
        for item in levels:
            level = _as_level(item)
            if not level.size:
                continue
            fresh[(level.price, level.source) if self.sourced else level.price] = level
        self._levels = fresh
        self._keys = _sorted_keys(fresh)

    def __len__(self) -> int:
        return len(self._levels)

    def __bool__(self) -> bool:
        return bool(self._levels)

    def __contains__(self, price: Decimal) -> bool:
        return price in self._levels

    def get(self, price: Decimal, source: str | None = None) -> Level | None:
        return self._levels.get((price, source) if self.sourced else price)

    def best(self) -> Level | None:
        keys = self._keys
        if not keys:
            return None
        return self._levels[keys[-1] if self.is_bid else keys[0]]

    def top(self, n: int) -> list[Level]:
        """The best `n` levels, best first."""
        if n <= 0:
            return []
        levels = self._levels
        if self.is_bid:
            # (a SortedList slice inside its last sublist is a plain list slice too)
            keys = self._keys[-n:]
            keys.reverse()
        else:
            keys = self._keys[:n]
        return [levels[k] for k in keys]

    def iter_levels(self) -> Iterator[Level]:
        """All levels, best first."""
        levels = self._levels
        keys = reversed(self._keys) if self.is_bid else iter(self._keys)
        for key in keys:
            yield levels[key]

    def prices(self) -> list[Decimal]:
        return [lv.price for lv in self.iter_levels()]

    def level_map(self) -> dict[Any, Level]:
        """The live key -> Level dict, for venue hot paths that change the `size` and
        `orders` of an existing level in place. Adding or removing keys goes through
        `set`/`insert`/`delete`, which keep the sorted keys in step; the one exception is
        the Loopring fast path (venues/loopring/sync.py), which does what `insert` and
        `delete` do inline, on `_keys` when it is a plain list below LIST_KEYS_MAX."""
        return self._levels


@dataclass(slots=True)
class Row:
    """A displayed row: one level (or price group) with its running totals."""

    price: Decimal
    size: Decimal
    orders: int
    cum_size: Decimal
    cum_notional: Decimal
    bps_from_mid: Decimal | None
    level: Level | None = None  # None for a grouped row
    source: str | None = None


@dataclass(slots=True)
class BookView:
    """Top-N rows of both sides plus the numbers a trader reads between them."""

    bids: list[Row]
    asks: list[Row]
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread: Decimal | None
    mid: Decimal | None
    spread_bps: Decimal | None
    imbalance: Decimal | None  # (bid - ask) / (bid + ask) over the rows shown
    crossed: bool


class OrderBook:
    """Both sides of one instrument's book, with its version and update times."""

    __slots__ = ("bids", "asks", "version", "recv_mono", "venue_ts")

    def __init__(self, sourced: bool = False) -> None:
        self.bids = BookSide(True, sourced)
        self.asks = BookSide(False, sourced)
        self.version: int | None = None
        self.recv_mono: float | None = None  # time.monotonic() of the last update
        self.venue_ts: int | None = None  # the venue's stamp, epoch ms

    def side(self, is_bid: bool) -> BookSide:
        return self.bids if is_bid else self.asks

    def touch(self, venue_ts: int | None = None, version: int | None = None) -> None:
        """Record that an update was just applied (one clock read: this is per message)."""
        self.recv_mono = _monotonic()
        self.venue_ts = venue_ts
        if version is not None:
            self.version = version

    @property
    def recv_ts(self) -> int | None:
        """Local epoch ms of the last update, derived from the monotonic stamp."""
        if self.recv_mono is None:
            return None
        return int((self.recv_mono + _EPOCH_MINUS_MONOTONIC) * 1000)

    def replace(self, bids: Iterable[LevelInput], asks: Iterable[LevelInput]) -> None:
        self.bids.replace(bids)
        self.asks.replace(asks)

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.version = None

    # -- derived -----------------------------------------------------------------
    def best_bid(self) -> Decimal | None:
        level = self.bids.best()
        return level.price if level else None

    def best_ask(self) -> Decimal | None:
        level = self.asks.best()
        return level.price if level else None

    def crossed(self) -> bool:
        """Best bid at or above best ask (crossed or locked). Reported, never fixed."""
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def view(self, depth: int, step: Decimal | None = None) -> BookView:
        bid, ask = self.best_bid(), self.best_ask()
        mid = None if bid is None or ask is None else (bid + ask) / _TWO
        if step:
            bid_rows = _grouped_rows(self.bids, depth, step, mid)
            ask_rows = _grouped_rows(self.asks, depth, step, mid)
        else:
            bid_rows = _rows(self.bids.top(depth), mid)
            ask_rows = _rows(self.asks.top(depth), mid)
        spread = spread_bps = None
        if mid is not None:
            spread = ask - bid
            spread_bps = spread / mid * _BPS if mid else None
        bid_total = bid_rows[-1].cum_size if bid_rows else ZERO
        ask_total = ask_rows[-1].cum_size if ask_rows else ZERO
        total = bid_total + ask_total
        imbalance = (bid_total - ask_total) / total if total else None
        return BookView(
            bids=bid_rows,
            asks=ask_rows,
            best_bid=bid,
            best_ask=ask,
            spread=spread,
            mid=mid,
            spread_bps=spread_bps,
            imbalance=imbalance,
            crossed=bid is not None and ask is not None and bid >= ask,
        )


def _bps(price: Decimal, mid: Decimal | None) -> Decimal | None:
    if not mid:
        return None
    return abs(price - mid) / mid * _BPS


def _rows(levels: list[Level], mid: Decimal | None) -> list[Row]:
    # sums under the wide context: a 78-digit size must not round in the cum column
    add, mul = _EXACT.add, _EXACT.multiply
    rows = []
    cum = cum_notional = ZERO
    for lv in levels:
        cum = add(cum, lv.size)
        cum_notional = add(cum_notional, mul(lv.size, lv.price))
        rows.append(
            Row(lv.price, lv.size, lv.orders, cum, cum_notional, _bps(lv.price, mid), lv, lv.source)
        )
    return rows


def group_price(price: Decimal, step: Decimal, is_bid: bool) -> Decimal:
    """Bucket a price by `step`: bids round down, asks round up (never better than real)."""
    units = (price / step).to_integral_value(ROUND_FLOOR if is_bid else ROUND_CEILING)
    return units * step


def nice_step(base: Decimal, index: int) -> Decimal:
    """The `index`-th number of the 1-2-5 series strictly above `base` (index >= 1)."""
    exponent = base.adjusted()
    found = 0
    while True:
        for mantissa in (1, 2, 5):
            step = Decimal(mantissa).scaleb(exponent)
            if step > base:
                found += 1
                if found == index:
                    return step
        exponent += 1


def _grouped_rows(side: BookSide, depth: int, step: Decimal, mid: Decimal | None) -> list[Row]:
    groups: list[list] = []  # [price, size, orders, notional]
    for lv in side.iter_levels():
        price = group_price(lv.price, step, side.is_bid)
        if groups and groups[-1][0] == price:
            group = groups[-1]
            group[1] = _EXACT.add(group[1], lv.size)
            group[2] += lv.orders
            group[3] = _EXACT.add(group[3], _EXACT.multiply(lv.size, lv.price))
        else:
            if len(groups) == depth:
                break
            groups.append([price, lv.size, lv.orders, _EXACT.multiply(lv.size, lv.price)])
    rows = []
    cum = cum_notional = ZERO
    for price, size, orders, notional in groups:
        cum = _EXACT.add(cum, size)
        cum_notional = _EXACT.add(cum_notional, notional)
        rows.append(Row(price, size, orders, cum, cum_notional, _bps(price, mid)))
    return rows
