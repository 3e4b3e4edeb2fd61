"""Loopring simulator's market model: seeded raw books, versions, and the number forms
slots are written in. No I/O: the server (`obview.venues.loopring.sim`) drives it.

The market: every market has a raw book at its finest price tick (integer ticks,
integer base amounts in smallest units, order counts). Each random change of one raw
slot is one version. Changes are grouped into pushes of 1-3 versions, so a snapshot
taken between pushes lands inside the next push's range (the straddling case). A push
for level L lists every level-L slot touched in its range with its state at the end
version (bids round down, asks round up to a step of 10^-(precisionForPrice - L)).
Versions count per market, shared by all levels. Content is fully determined by the
seed; `rate` sets pushes per second per market (0: nothing moves on its own; tests call
`advance()` to move the market one push at a time).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from obview.fmt import dec_str

NUMBER_FORMS = ("text", "exp", "json")
HISTORY_KEEP = 2_000  # versions kept for stale snapshots when not recording truth


@dataclass(frozen=True)
class TokenSpec:
    token_id: int
    symbol: str
    decimals: int
    precision: int


@dataclass(frozen=True)
class MarketSpec:
    name: str
    base: TokenSpec
    quote: TokenSpec
    precision: int  # precisionForPrice
    levels: int  # orderbookAggLevels
    mid_tick: int  # mid price in ticks of 10^-precision
    width: int  # raw slots each side of the mid
    lot_decimals: int  # sizes are whole multiples of 10^-lot_decimals base units


ETH = TokenSpec(0, "ETH", 18, 6)
LRC = TokenSpec(1, "LRC", 18, 3)
USDT = TokenSpec(2, "USDT", 6, 2)
WBTC = TokenSpec(3, "WBTC", 8, 6)
TOKENS = (ETH, LRC, USDT, WBTC)
MARKETS = (
    MarketSpec("LRC-ETH", LRC, ETH, 8, 4, 12_500, 30, 1),
    MarketSpec("LRC-USDT", LRC, USDT, 4, 3, 2_500, 25, 1),
    MarketSpec("ETH-USDT", ETH, USDT, 2, 5, 200_000, 30, 3),
    MarketSpec("WBTC-ETH", WBTC, ETH, 5, 4, 1_550_000, 20, 4),
)

RawSide = dict[int, tuple[int, int]]  # tick -> (size in base units, orders)

class MarketSim:
    """One market's raw book, version counter and history."""

    def __init__(self, spec: MarketSpec, seed: int, record_all: bool) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:{spec.name}")
        self.version = 1_000_000 + self.rng.randrange(1_000_000)
        self.bids: RawSide = {}
        self.asks: RawSide = {}
        self.record_all = record_all
        self.history: dict[int, tuple[RawSide, RawSide]] = {}
        self.pending: list[tuple[bool, int]] = []  # (is_bid, tick) per version not pushed
        self.pending_start = self.version + 1
        self.batch = self.rng.randint(1, 3)
        for _ in range(spec.width * 3):  # a populated book, built before anyone connects
            self._change()
            self._record()
        self.pending_start = self.version + 1

    # -- the market ---------------------------------------------------------------------
    def _change(self) -> tuple[bool, int]:
        rng, spec = self.rng, self.spec
        is_bid = rng.random() < 0.5
        side = self.bids if is_bid else self.asks
        distance = min(int(rng.expovariate(0.12)) + 1, spec.width)
        tick = spec.mid_tick - distance if is_bid else spec.mid_tick + distance
        lot = 10 ** (spec.base.decimals - spec.lot_decimals)
        size, orders = side.get(tick, (0, 0))
        roll = rng.random()
        if size and roll < 0.2:
            size, orders = 0, 0  # level taken or cancelled
        elif size and roll < 0.5:
            keep = rng.randint(1, max(1, orders))
            size, orders = max(lot, size * keep // (orders + 1) // lot * lot), keep
        else:
            size += rng.randint(1, 50_000) * lot
            orders += 1
        if size:
            side[tick] = (size, orders)
        else:
            side.pop(tick, None)
        self.version += 1
        return is_bid, tick

    def _record(self) -> None:
        self.history[self.version] = (dict(self.bids), dict(self.asks))
        if not self.record_all:
            stale = self.version - HISTORY_KEEP
            self.history.pop(stale, None)

    def step_version(self) -> None:
        self.pending.append(self._change())
        self._record()

    def next_push(self) -> tuple[int, int, list[tuple[bool, int]]] | None:
        """Complete the pending batch and return (start, end, touched raw slots)."""
        while len(self.pending) < self.batch:
            self.step_version()
        start, end, touched = self.pending_start, self.version, self.pending
        self.pending = []
        self.pending_start = self.version + 1
        self.batch = self.rng.randint(1, 3)
        # run part of the next batch now: a snapshot taken before the next push lands
        # inside its version range
        for _ in range(self.rng.randrange(self.batch)):
            self.step_version()
        return start, end, touched

    # -- views --------------------------------------------------------------------------
    def bucket(self, tick: int, is_bid: bool, level: int) -> int:
        step = 10**level
        return (tick // step) * step if is_bid else -(-tick // step) * step

    def slot(self, raw: RawSide, is_bid: bool, level: int, bucket: int) -> tuple[int, int, int]:
        """(size, volume, orders) of one level-`level` slot."""
        step = 10**level
        ticks = range(bucket - step + 1, bucket + 1) if not is_bid else range(bucket, bucket + step)
        size = volume = orders = 0
        for tick in ticks:
            entry = raw.get(tick)
            if entry:
                size += entry[0]
                orders += entry[1]
                volume += self._volume(tick, entry[0])
        return size, volume, orders

    def _volume(self, tick: int, size: int) -> int:
        spec = self.spec
        exponent = spec.quote.decimals - spec.base.decimals - spec.precision
        value = size * tick
        return value * 10**exponent if exponent >= 0 else value // 10**-exponent

    def aggregated(self, raw: RawSide, is_bid: bool, level: int) -> list[tuple[int, int, int, int]]:
        """[(bucket, size, volume, orders)] best first."""
        buckets = sorted({self.bucket(t, is_bid, level) for t in raw}, reverse=is_bid)
        return [(b, *self.slot(raw, is_bid, level, b)) for b in buckets]

    def price_text(self, bucket: int, level: int, fixed: bool) -> str:
        """REST sends fixed decimals ("0.2500"), pushes the shortest form ("0.25")."""
        value = Decimal(bucket).scaleb(-self.spec.precision)
        if fixed:
            return f"{value:.{max(0, self.spec.precision - level)}f}"
        return dec_str(value)

    def depth_entries(self, raw: RawSide, is_bid: bool, level: int, limit: int, fixed: bool,
                      form: str = "text") -> list[list[Any]]:
        rows = self.aggregated(raw, is_bid, level)[:limit]
        return [write_slot(self.price_text(b, level, fixed), size, volume, orders, form)
                for b, size, volume, orders in rows]

    def truth(self, level: int, version: int) -> dict[str, list[list[Any]]]:
        """The normalised full book at `version` (human units), independent of the client."""
        bids, asks = self.history[version]
        decimals = self.spec.base.decimals
        out = {}
        for name, raw, is_bid in (("bids", bids, True), ("asks", asks, False)):
            out[name] = [
                [self.price_text(b, level, False), dec_str(Decimal(size).scaleb(-decimals)), orders]
                for b, size, _volume, orders in self.aggregated(raw, is_bid, level)
            ]
        return out


def write_slot(price: str, size: int, volume: int, orders: int, form: str) -> list[Any]:
    """One [price, size, volume, count] slot in the requested number form."""
    if form == "exp":
        return [f"{Decimal(price):E}", f"{Decimal(size):E}", str(volume), str(orders)]
    if form == "json":
        return [msgspec.Raw(price.encode()), msgspec.Raw(str(size).encode()), volume, orders]
    return [price, str(size), str(volume), str(orders)]
