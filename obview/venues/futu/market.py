"""The simulated market behind the OpenD simulator: deterministic books per (seed, code).

Each instrument's book evolves one step per push tick from its own `random.Random`
seeded by (seed, code), so the sequence of books is the same in every run whatever
the timing or the number of clients; tests replay it to know what was sent.
A share of the steps are prints instead (their own seeded generator): a market order
takes resting size at the touch, front of the queue first, so the tape and the next
book tell one story (docs/futu.md, "Trades").
Prices walk the venue's tick grid (the HKEX spread table for HK), every level holds
a queue of orders whose volumes sum to the level volume (Futu's SF detail).
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from obview.venues.futu.symbols import MARKETS as MARKET_NUMBERS
from obview.venues.futu.symbols import split_code

LEVELS = 40  # kept per side; a push carries the top `push_levels`
TRADE_SHARE = 0.3  # of the steps that are prints
TAPE = 1000  # prints kept for Qot_GetTicker (OpenD returns at most 1000)

# HKEX spread table: (upper bound of the band, tick inside it)
HK_TICKS: tuple[tuple[Decimal, Decimal], ...] = tuple(
    (Decimal(hi), Decimal(tick))
    for hi, tick in (
        ("0.25", "0.001"), ("0.50", "0.005"), ("10", "0.01"), ("20", "0.02"),
        ("100", "0.05"), ("200", "0.1"), ("500", "0.2"), ("1000", "0.5"),
        ("2000", "1"), ("5000", "2"), ("9995", "5"),
    )
)


def hk_tick_up(price: Decimal) -> Decimal:
    """The next valid HK price above `price`."""
    for upper, tick in HK_TICKS:
        if price < upper:
            return price + tick
    raise ValueError(f"price {price} beyond the HKEX spread table")


def hk_tick_down(price: Decimal) -> Decimal:
    """The next valid HK price below `price`."""
    for upper, tick in HK_TICKS:
        if price <= upper:
            return price - tick
    raise ValueError(f"price {price} beyond the HKEX spread table")


@dataclass(frozen=True)
class Listing:
    """A security the simulator knows: name, board lot, starting best bid, tick, zone."""

    name: str
    lot: int
    start_bid: str
    tick: str | None  # fixed tick; None = HKEX spread table
    zone: str
    exch_type: int
    sec_id: int
    list_time: str


CATALOGUE: dict[str, Listing] = {
    "HK.00700": Listing("腾讯控股", 100, "512.5", None, "Asia/Hong_Kong", 1, 54047868453564, "2004-06-16"),
    "HK.09988": Listing("阿里巴巴-W", 100, "118.3", None, "Asia/Hong_Kong", 1, 80401224303948, "2019-11-26"),
    "HK.00005": Listing("汇丰控股", 400, "96.45", None, "Asia/Hong_Kong", 1, 4294967301, "1991-07-02"),
    "HK.03690": Listing("美团-W", 100, "156.7", None, "Asia/Hong_Kong", 1, 77309415050, "2018-09-20"),
    "US.AAPL": Listing("苹果", 1, "229.87", "0.01", "America/New_York", 5, 205189, "1980-12-12"),
    "US.TSLA": Listing("特斯拉", 1, "248.50", "0.01", "America/New_York", 5, 201335, "2010-06-29"),
    "SH.600519": Listing("贵州茅台", 100, "1520.01", "0.01", "Asia/Shanghai", 14, 100600519, "2001-08-27"),
    "SZ.000001": Listing("平安银行", 100, "11.52", "0.01", "Asia/Shanghai", 15, 200000001, "1991-04-03"),
    "JP.7203": Listing("トヨタ自動車", 100, "2650", "0.5", "Asia/Tokyo", 21, 300007203, "1949-05-16"),
}


@dataclass(frozen=True)
class SimTrade:
    """One print: `buy` is the aggressor's side (True lifted the ask)."""

    sequence: int
    price: Decimal
    volume: int
    buy: bool
    at: float  # epoch seconds


# Well-formed codes per market for generated listings (`any_code`): what real codes look
# like there (HK five digits, A-shares six, US tickers); other markets: short alphanumerics.
CODE_SHAPES: dict[str, re.Pattern] = {
    "HK": re.compile(r"\d{5}"),
    "SH": re.compile(r"\d{6}"),
    "SZ": re.compile(r"\d{6}"),
    "US": re.compile(r"[A-Z][A-Z.]{0,9}"),
}
OTHER_SHAPE = re.compile(r"[A-Z0-9]{1,12}")
_ZONES = {"HK": "Asia/Hong_Kong", "US": "America/New_York", "SH": "Asia/Shanghai",
          "SZ": "Asia/Shanghai", "JP": "Asia/Tokyo", "SG": "Asia/Singapore",
          "AU": "Australia/Sydney", "MY": "Asia/Kuala_Lumpur", "CA": "America/Toronto"}
_EXCH_TYPES = {"HK": 1, "US": 5, "SH": 14, "SZ": 15, "JP": 21}
_NAME_HEADS = "华新中恒东方金龙海天长江宏信和泰"
_NAME_TAILS = ("控股", "科技", "银行", "能源", "医药", "地产", "集团", "电子")


def generated_listing(code: str) -> Listing | None:
    """A deterministic made-up listing for a well-formed `code` not in the catalogue
    (the simulator's `any_code` switch), or None when the code is malformed."""
    prefix, _, short = code.partition(".")
    if not MARKET_NUMBERS.get(prefix) or not CODE_SHAPES.get(prefix, OTHER_SHAPE).fullmatch(short):
        return None
    rng = random.Random(f"listing:{code}")
    if prefix == "US":
        name = f"{short} Sim Inc"
    else:
        name = "".join(rng.sample(_NAME_HEADS, 2)) + rng.choice(_NAME_TAILS)
    if prefix == "HK":
        # a price on the HKEX grid: a whole number of ticks inside one band
        upper, tick = HK_TICKS[rng.randrange(2, 8)]
        lower = next((hi for hi, _ in reversed(HK_TICKS) if hi < upper), Decimal(0))
        start = lower + tick * rng.randrange(1, int((upper - lower) / tick) - LEVELS)
        lot, fixed_tick = rng.choice((100, 200, 500, 1000, 2000)), None
    else:
        start = Decimal(rng.randrange(500, 50000)) / 100
        lot, fixed_tick = (1 if prefix == "US" else 100), "0.01"
    return Listing(name, lot, str(start), fixed_tick, _ZONES.get(prefix, "UTC"),
                   _EXCH_TYPES.get(prefix, 0), 900_000_000_000 + rng.randrange(10**11),
                   f"{rng.randrange(1990, 2024)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}")


class SimBook:
    """One instrument's evolving book. Levels best first: [price, [[order_id, volume], ...]]."""

    def __init__(self, code: str, seed: int, listing: Listing | None = None) -> None:
        listing = listing or CATALOGUE[code]
        self.code = code
        self.market, self.short_code = split_code(code)
        self.listing = listing
        self.zone = ZoneInfo(listing.zone)
        self.rng = random.Random(f"{seed}:{code}")
        self.trade_rng = random.Random(f"{seed}:{code}:trades")
        self.steps = 0
        self.trades: list[SimTrade] = []  # the prints of the last step
        self.tape: deque[SimTrade] = deque(maxlen=TAPE)
        self.next_sequence = 6_900_000_000_000_000_000 + self.trade_rng.randrange(10**15)
        self.next_order_id = 10**15 + self.rng.randrange(10**12)
        if listing.tick is None:
            self.up, self.down = hk_tick_up, hk_tick_down
        else:
            tick = Decimal(listing.tick)
            self.up = lambda p: p + tick  # noqa: E731
            self.down = lambda p: p - tick  # noqa: E731
        best_bid = Decimal(listing.start_bid)
        self.bids: list[list] = []
        self.asks: list[list] = []
        price = best_bid
        for _ in range(LEVELS):
            self.bids.append([price, self._queue()])
            price = self.down(price)
        price = self.up(best_bid)
        for _ in range(LEVELS):
            self.asks.append([price, self._queue()])
            price = self.up(price)
        now = time.time()
        self.changed_at = {"bid": now, "ask": now}

    # -- evolution -------------------------------------------------------------
    def _order(self, rng: random.Random | None = None) -> list:
        rng = rng or self.rng
        self.next_order_id += rng.randint(1, 97)
        lots = rng.choice((1, 1, 1, 2, 2, 3, 5, 10, 20))
        return [self.next_order_id, lots * self.listing.lot]

    def _queue(self, rng: random.Random | None = None) -> list[list]:
        rng = rng or self.rng
        return [self._order(rng) for _ in range(rng.randint(1, 8))]

    def step(self) -> None:
        """One market event: a print at the touch, a price move, or an order added,
        cancelled or reduced."""
        self.steps += 1
        self.trades = []
        if self.trade_rng.random() < TRADE_SHARE:
            self._trade_step()
            self.changed_at["bid"] = self.changed_at["ask"] = time.time()
            return
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            self._move(up=rng.random() < 0.5)
        else:
            is_bid = rng.random() < 0.5
            side = self.bids if is_bid else self.asks
            index = min(int(rng.expovariate(0.35)), len(side) - 1)
            queue = side[index][1]
            action = rng.random()
            if action < 0.45:
                queue.append(self._order())
            elif action < 0.75 and len(queue) > 1:
                queue.pop(rng.randrange(1, len(queue)))
            else:
                front = queue[0]
                front[1] -= self.listing.lot * rng.randint(1, 3)
                if front[1] <= 0:
                    queue.pop(0)
                if not queue:
                    queue.append(self._order())
        # OpenD stamps both sides of each book it forwards with its receive time
        now = time.time()
        self.changed_at["bid"] = self.changed_at["ask"] = now

    def _trade_step(self) -> None:
        """A market order against the touch, or (when prints have widened the spread) a
        new order inside it, so the spread does not drift open."""
        rng = self.trade_rng
        bid, ask = self.bids[0][0], self.asks[0][0]
        if self.up(bid) < ask and rng.random() < 0.5:
            if rng.random() < 0.5:
                self.bids.insert(0, [self.up(bid), self._queue(rng)])
                self.bids.pop()
            else:
                self.asks.insert(0, [self.down(ask), self._queue(rng)])
                self.asks.pop()
            return
        buy = rng.random() < 0.5
        side = self.asks if buy else self.bids
        price, queue = side[0]
        resting = sum(v for _, v in queue)
        if rng.random() < 0.15:
            volume = resting  # the whole level goes
        else:
            volume = min(resting, self.listing.lot * rng.choice((1, 1, 2, 3, 5, 10)))
        left = volume
        while left:
            front = queue[0]
            taken = min(front[1], left)
            front[1] -= taken
            left -= taken
            if not front[1]:
                queue.pop(0)
        if not queue:  # the level is gone: the side keeps its depth from the far end
            side.pop(0)
            far = side[-1][0]
            side.append([self.up(far) if buy else self.down(far), self._queue(rng)])
        self.next_sequence += 1
        trade = SimTrade(self.next_sequence, price, volume, buy, time.time())
        self.trades.append(trade)
        self.tape.append(trade)

    def _move(self, up: bool) -> None:
        """The best level of one side is taken out; the other side steps in one tick."""
        if up:
            self.asks.pop(0)
            self.bids.insert(0, [self.up(self.bids[0][0]), self._queue()])
            self.asks.append([self.up(self.asks[-1][0]), self._queue()])
            self.bids.pop()
        else:
            self.bids.pop(0)
            self.asks.insert(0, [self.down(self.asks[0][0]), self._queue()])
            self.bids.append([self.down(self.bids[-1][0]), self._queue()])
            self.asks.pop()

    # -- views -----------------------------------------------------------------
    def top(self, levels: int) -> tuple[list, list]:
        """(bids, asks) best first as [(price, volume, order_count, queue tuple)]."""
        def rows(side: list[list]) -> list:
            return [
                (price, sum(v for _, v in queue), len(queue), tuple((o, v) for o, v in queue))
                for price, queue in side[:levels]
            ]
        return rows(self.bids), rows(self.asks)

    def local_time(self, stamp: float) -> str:
        """`2025-04-07 05:00:52.266` in the market's local time."""
        moment = datetime.fromtimestamp(stamp, self.zone)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def book_sequence(code: str, seed: int, steps: int, levels: int) -> list[tuple[list, list]]:
    """The first `steps + 1` books the simulator produces for `code` (index 0 = initial)."""
    book = SimBook(code, seed)
    books = [book.top(levels)]
    for _ in range(steps):
        book.step()
        books.append(book.top(levels))
    return books
