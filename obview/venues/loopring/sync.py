"""The local book of one (market, level) subscription: spec §7, exactly, without sockets.

The driver (the client, or a test) feeds pushes and snapshots in and acts on the
returned `Step`: fetch a snapshot now, fetch again after a back-off, or publish the
book. Nothing here waits, reads a clock or does I/O, so every path is a plain call.

Pushes must come from `PushReader` (versions ordered, prices already accepted by the
parser), so applying one cannot fail half-way.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from obview.book import OrderBook
from obview.venues.loopring.protocol import DepthSnapshot, Push, SlotParser

# A snapshot fetch that keeps failing must not let the buffer grow without bound;
# dropping the oldest pushes only asks for a newer snapshot, it never breaks exactness.
MAX_BUFFER = 20_000


class Phase(StrEnum):
    INIT = "init"
    SYNCED = "synced"


class Step(StrEnum):
    BUFFERED = "buffered"  # INIT: kept for the snapshot
    IGNORED = "ignored"  # already contained in the book (e <= V after a snapshot)
    APPLIED = "applied"  # the book changed; publish it
    SYNCED = "synced"  # a snapshot (plus buffered pushes) became the book; publish it
    TOO_OLD = "too_old"  # snapshot predates the buffer: fetch again after a back-off
    RESYNC = "resync"  # gap: book dropped, fetch a new snapshot (subscription kept)
    STRAY = "stray"  # a snapshot nobody asked for (already synced): ignored


class DepthSync:
    """Spec §7 state for one subscription; `book` is updated in place."""

    __slots__ = ("book", "parser", "phase", "local", "buffer", "awaiting_straddle",
                 "resyncs", "too_old")

    def __init__(self, book: OrderBook, parser: SlotParser) -> None:
        self.book = book
        self.parser = parser
        self.phase = Phase.INIT
        self.local: int | None = None  # version of `book`
        self.buffer: deque[Push] = deque()
        self.awaiting_straddle = False  # step 5: snapshot applied, no push applied yet
        self.resyncs = 0
        self.too_old = 0
        book.clear()

    @property
    def synced(self) -> bool:
        return self.phase is Phase.SYNCED

    # -- pushes ---------------------------------------------------------------------
    def on_push(self, push: Push) -> Step:
        local = self.local
        if local is None:  # INIT
            self._buffer(push)
            return Step.BUFFERED
        if push.start == local + 1:  # step 6, the common case
            self.awaiting_straddle = False
        elif self.awaiting_straddle:
            if push.end <= local:  # step 5: the snapshot already has it
                return Step.IGNORED
            if push.start > local + 1:
                return self._resync(push)
            self.awaiting_straddle = False  # s <= V+1 <= e: straddles the snapshot
        else:  # gap, overlap or repeat
            return self._resync(push)
        self._apply(push)
        return Step.APPLIED

    def _buffer(self, push: Push) -> None:
        buffer = self.buffer
        if buffer and push.start != buffer[-1].end + 1:
            buffer.clear()  # step 2: only a contiguous run is usable
        elif len(buffer) >= MAX_BUFFER:
            buffer.popleft()
        buffer.append(push)

    def _resync(self, push: Push) -> Step:
        self.phase = Phase.INIT
        self.awaiting_straddle = False
        self.local = None
        self.book.clear()
        self.buffer.clear()
        self.buffer.append(push)
        self.resyncs += 1
        return Step.RESYNC

    def _apply(self, push: Push) -> None:
        # Step 7 (size 0 deletes) is BookSide.set's rule. This is the per-slot hot path:
        # sizes are `unit * units` (exact below `exact_below`), prices come from the
        # parser's cache (a text evicted since the reader accepted it parses again).
        parser = self.parser
        prices, parse, unit, limit = parser.prices, parser.price, parser.unit, parser.exact_below
        data = push.data
        side = self.book.bids
        for price, units, _volume, orders in data.bids:
            side.set(prices.get(price) or parse(price),
                     unit * units if units < limit else parser.size(units), orders)
        side = self.book.asks
        for price, units, _volume, orders in data.asks:
            side.set(prices.get(price) or parse(price),
                     unit * units if units < limit else parser.size(units), orders)
        self.local = self.book.version = push.end

    # -- snapshots ------------------------------------------------------------------
    def on_snapshot(self, snapshot: DepthSnapshot) -> Step:
        if self.phase is Phase.SYNCED:
            return Step.STRAY
        version = snapshot.version
        buffer = self.buffer
        while buffer and buffer[0].end <= version:  # step 4: already in the snapshot
            buffer.popleft()
        if buffer and buffer[0].start > version + 1:
            self.too_old += 1  # versions V+1 .. s-1 unknown: never apply it
            return Step.TOO_OLD
        self.book.replace(snapshot.bids, snapshot.asks)
        self.book.version = version
        self.local = version
        self.phase = Phase.SYNCED
        self.awaiting_straddle = not buffer
        while buffer:
            self._apply(buffer.popleft())
        return Step.SYNCED
