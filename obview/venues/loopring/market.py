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

About a fifth of the versions are prints instead (their own seeded generator): a taker
takes all or part of the best bid or ask (docs/loopring.md, "Trades").
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from obview.fmt import dec_str

NUMBER_FORMS = ("text", "exp", "json")
HISTORY_KEEP = 2_000  # versions kept for stale snapshots when not recording truth
TRADE_SHARE = 0.2  # of the versions that are prints
TAPE_KEEP = 1_000  # prints kept for GET /api/v3/trade


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

@dataclass(frozen=True)
class SimTrade:
    """One print: `buy` is the taker's side (True took the best ask)."""

    trade_id: int
    version: int
    tick: int
    size: int  # base-token units
    buy: bool
    at_ms: int


class MarketSim:
    """One market's raw book, version counter and history."""

    def __init__(self, spec: MarketSpec, seed: int, record_all: bool) -> None:
        self.spec = spec
        self.rng = random.Random(f"{seed}:{spec.name}")
        self.trade_rng = random.Random(f"{seed}:{spec.name}:trades")
        self.tape: deque[SimTrade] = deque(maxlen=TAPE_KEEP)
        self.unsent_trades: list[SimTrade] = []  # prints not yet in a trade push
        self.next_trade_id = 10_000_000 + self.trade_rng.randrange(1_000_000)
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

    def _trade(self) -> tuple[bool, int] | None:
        """A taker at the touch: the best level loses part or all of its size (one
        version). None when that side is empty."""
        rng, spec = self.trade_rng, self.spec
        buy = rng.random() < 0.5
        side = self.asks if buy else self.bids
        if not side:
            return None
        tick = min(side) if buy else max(side)
        size, orders = side[tick]
        lot = 10 ** (spec.base.decimals - spec.lot_decimals)
        taken = size if rng.random() < 0.15 else min(size, rng.randint(1, 20_000) * lot)
        if taken == size:
            del side[tick]
        else:
            side[tick] = (size - taken, orders)
        self.version += 1
        self.next_trade_id += 1
        trade = SimTrade(self.next_trade_id, self.version, tick, taken, buy,
                         time.time_ns() // 1_000_000)
        self.tape.append(trade)
        self.unsent_trades.append(trade)
        if len(self.unsent_trades) > TAPE_KEEP:  # nobody collects them: keep it bounded
            del self.unsent_trades[0]
        return not buy, tick

    def step_version(self) -> None:
        touched = self._trade() if self.trade_rng.random() < TRADE_SHARE else None
        self.pending.append(touched or self._change())
        self._record()

    def take_trades(self, end: int) -> list[SimTrade]:
        """The prints of versions up to `end` not handed out yet, oldest first."""
        due = [t for t in self.unsent_trades if t.version <= end]
        if due:
            self.unsent_trades = [t for t in self.unsent_trades if t.version > end]
        return due

    def price_of(self, tick: int) -> str:
        return dec_str(Decimal(tick).scaleb(-self.spec.precision))

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
