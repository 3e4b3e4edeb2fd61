"""A deterministic in-memory feed for TUI tests and the TUI benchmark.

It speaks the `Feed` interface exactly like a venue does (declared capabilities,
streams, `book_changed`, states, latency stats, orders and risk records with the
statuses bthub sends: EXECUTED / EXCUTING / PENDING) but has no socket: the
test or benchmark drives it by calling `push()` / `walk()`. Everything derives from
the seed, so screens rendered from it are reproducible.
"""

from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

from obview.book import OrderBook
from obview.events import RecordsChanged
from obview.feed import (
    Feed,
    FeedCapabilities,
    FeedState,
    LatencyKind,
    LevelControl,
    RecordKind,
    Stream,
    TradeKind,
)
from obview.latency import LatencyStats
from obview.records import CpOrder, Execution, Order, RiskRow
from obview.trades import BUY, SELL, Trade

COUNTERPARTIES = ("okex", "binance", "huobi")


def _d(value: str | int) -> Decimal:
    return Decimal(value)


class FakeFeed(Feed):
    """One feed with seeded books. `kind` picks the venue flavour: futu, loopring or bthub."""

    def __init__(self, kind: str = "futu", symbols: tuple[str, ...] = ("HK.00700",),
                 seed: int = 1, levels: int = 30, details: bool = True,
                 orders_per_level: int = 4, trades: bool = False) -> None:
        super().__init__()
        self.venue = kind  # type: ignore[misc]  # instance override of the class tag
        self.kind = kind
        self.rng = random.Random(seed)
        self.address = f"fake:{kind}"
        self.levels = levels
        self.details = details and kind == "futu"
        self.orders_per_level = orders_per_level
        self._next_order_id = 1000
        self.level_count = 3 if kind == "loopring" else 0
        self.level_changes: list[int] = []
        self._stop = asyncio.Event()
        self.orders: dict[str, Order] = {}
        self.risk: dict[tuple, RiskRow] = {}
        self.level = 0
        if kind == "bthub":
            self.records = {RecordKind.ORDERS: self.orders, RecordKind.RISK: self.risk}
            self.capabilities = FeedCapabilities(records=(RecordKind.ORDERS, RecordKind.RISK))
        elif kind == "loopring":
            self.capabilities = FeedCapabilities(
                latency=LatencyKind.INTERVAL,
                levels=LevelControl(lambda: self.level_count, lambda: self.level,
                                    self.change_level))
        else:
            self.capabilities = FeedCapabilities(latency=LatencyKind.RECEIVE)
        if trades:  # a tape, declared as a venue with market prints declares it (bthub's
            # flavour: the account's own fills, as the hub has no market tape)
            self.capabilities = FeedCapabilities(
                levels=self.capabilities.levels, records=self.capabilities.records,
                latency=self.capabilities.latency,
                trades=TradeKind.OWN if kind == "bthub" else TradeKind.MARKET)
            self.trades_enabled = True
        for symbol in symbols:
            self._add_streams(symbol)

    # -- construction ------------------------------------------------------------
    def _add_streams(self, symbol: str) -> None:
        if self.kind == "bthub":
            agg = Stream(symbol, OrderBook(sourced=True))
            self.streams[agg.key] = agg
            for cp in COUNTERPARTIES:
                stream = Stream(symbol, OrderBook(), source=cp)
                self.streams[stream.key] = stream
            return
        name = {"HK.00700": "騰訊控股", "US.AAPL": "Apple Inc."}.get(symbol)
        stream = Stream(symbol, OrderBook(), name=name)
        if self.kind == "loopring":
            stream.level = 0
            stream.latency["interval"] = LatencyStats()
        elif self.kind == "futu":
            stream.latency["bid"] = LatencyStats()
            stream.latency["ask"] = LatencyStats()
        self.streams[stream.key] = stream

    def _queue(self, size: Decimal) -> dict[str, Decimal] | None:
        if not self.details:
            return None
        parts = self.orders_per_level
        base = size // parts
        queue = {}
        for index in range(parts):
            self._next_order_id += 1
            volume = base if index < parts - 1 else size - base * (parts - 1)
            queue[str(self._next_order_id)] = volume
        return queue

    def _mid(self, stream: Stream) -> Decimal:
        if self.kind == "loopring":
            return _d("0.000123450")
        if self.kind == "bthub":
            return _d("30000.5")
        return _d("350.2") if stream.symbol == "HK.00700" else _d("189.985")

    def _tick(self) -> Decimal:
        return {"loopring": _d("0.000000010"), "bthub": _d("0.5")}.get(self.kind, _d("0.2"))

    def seed_books(self) -> None:
        """Fill every stream with a deterministic snapshot and mark it synced."""
        tick = self._tick()
        for stream in self.streams.values():
            if stream.book.bids.sourced:
                continue
            mid = self._mid(stream)
            offset = {"okex": 0, "binance": 1, "huobi": -1}.get(stream.source or "", 0)
            bids, asks = [], []
            for index in range(self.levels):
                for is_bid, out in ((True, bids), (False, asks)):
                    step = (index + 1) * tick + offset * tick
                    price = mid - step if is_bid else mid + step
                    size = _d(self.rng.randrange(1, 60) * 100)
                    orders = self.orders_per_level if self.details else self.rng.randrange(1, 9)
                    out.append((price, size, orders, self._queue(size), None))
            stream.book.replace(bids, asks)
            stream.book.touch(venue_ts=1_700_000_000_000, version=1)
            self._record_latency(stream)
            self.book_changed(stream, snapshot=True)
        self._rebuild_aggregated(snapshot=True)
        if self.kind == "bthub":
            self._seed_records()
        self.set_state(FeedState.SYNCED)

    def _record_latency(self, stream: Stream) -> None:
        for name, stats in stream.latency.items():
            stats.add(None if name == "ask" and stream.pushes % 7 == 3 else
                      round(2 + self.rng.random() * 8, 2))

    def _rebuild_aggregated(self, snapshot: bool = False) -> None:
        for stream in list(self.streams.values()):
            if not stream.book.bids.sourced:
                continue
            bids, asks = [], []
            for cp in COUNTERPARTIES:
                part = self.streams.get(f"{stream.symbol}@{cp}")
                if part is None:
                    continue
                bids += [(lv.price, lv.size, lv.orders, None, cp) for lv in part.book.bids.iter_levels()]
                asks += [(lv.price, lv.size, lv.orders, None, cp) for lv in part.book.asks.iter_levels()]
            stream.book.replace(bids, asks)
            stream.book.touch(venue_ts=1_700_000_000_000, version=(stream.book.version or 0) + 1)
            self.book_changed(stream, snapshot=snapshot)

    def _seed_records(self) -> None:
        for index, (side, status) in enumerate((("BUY", "EXECUTED"), ("SELL", "EXCUTING"),
                                                 ("BUY", "PENDING"))):
            order_id = f"9007199254740{993 + index}"
            volume = _d("1.5") * (index + 1)
            executed = volume if status == "EXECUTED" else (volume / 2 if index == 1 else _d(0))
            order = Order(order_id, "BTCUSDT", side, status, "LIMIT", "GTC", "",
                          volume, executed, volume - executed, executed * _d("30000.5"),
                          1_700_000_000_000 + index, None)
            cp = COUNTERPARTIES[index]
            cp_order = CpOrder(f"{cp}-{index}", cp, status, side, volume, executed,
                               volume - executed, executed * _d("30000.5"))
            if executed:
                half = executed / 2
                for n, vol in enumerate((half, executed - half)):
                    exec_id = f"x{index}{n}"
                    cp_order.executions[exec_id] = Execution(
                        exec_id, cp, _d("30000.5"), vol, vol * _d("30000.5"),
                        1_700_000_000_000 + n, side)
            order.cp_orders[cp_order.cp_order_id] = cp_order
            self.orders[order_id] = order
        for cp, volume in zip(COUNTERPARTIES, ("2.5", "-1.25", "0"), strict=True):
            row = RiskRow("main", cp, "BTCUSDT", _d(volume), _d(volume) * _d("30000.5"))
            self.risk[(row.book, row.cp, row.symbol)] = row
        self.emit(RecordsChanged(self, "orders", list(self.orders.values())))
        self.emit(RecordsChanged(self, "risk", list(self.risk.values())))

    # -- driving -----------------------------------------------------------------
    def walk(self, stream: Stream | None = None, changes: int = 1) -> None:
        """Change `changes` random levels near the top of one stream and emit one push."""
        if stream is None:
            stream = self.rng.choice([s for s in self.streams.values()
                                      if not s.book.bids.sourced])
        book = stream.book
        for _ in range(changes):
            side = book.bids if self.rng.random() < 0.5 else book.asks
            levels = side.top(8)
            if not levels:
                continue
            level = self.rng.choice(levels)
            size = _d(self.rng.randrange(1, 60) * 100)
            side.set(level.price, size, level.orders, self._queue(size), level.source)
        self.push(stream)

    def push(self, stream: Stream) -> None:
        """Announce that `stream.book` changed (after the caller changed it)."""
        self.messages += 1
        book = stream.book
        book.touch(venue_ts=book.venue_ts, version=(book.version or 0) + 1)
        self._record_latency(stream)
        self.book_changed(stream)
        if stream.source is not None:
            self._rebuild_aggregated()

    def print_trades(self, stream: Stream | None = None, count: int = 1,
                     sizes: list[Decimal] | None = None) -> list[Trade]:
        """`count` seeded prints at the touch (a buy lifts the best ask, a sell hits the
        best bid), sent as one event the way a venue sends a batch."""
        if stream is None:
            stream = next(s for s in self.streams.values() if not s.book.bids.sourced)
        book = stream.book
        trades = []
        for index in range(count):
            side = BUY if self.rng.random() < 0.5 else SELL
            price = book.best_ask() if side == BUY else book.best_bid()
            size = sizes[index] if sizes else _d(self.rng.randrange(1, 40) * 100)
            trades.append(Trade(time.monotonic(), price, size, side))
        self.trades_printed(stream, trades)
        return trades

    async def change_level(self, level: int) -> None:
        """Loopring-style: switch the aggregation level and resync."""
        self.level_changes.append(level)
        self.level = level
        for stream in self.streams.values():
            stream.level = level
            self.unsync(stream, f"level {level}")
            stream.book.touch(version=(stream.book.version or 0) + 1)
            self.book_changed(stream, snapshot=True)

    async def _session(self) -> None:
        self.seed_books()
        await self._stop.wait()

    def stop(self) -> None:
        super().stop()
        self._stop.set()
