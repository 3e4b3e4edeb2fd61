"""The local book of one (market, level) subscription: spec §7, exactly, without sockets.

The driver (the client, or a test) feeds pushes and snapshots in and acts on the
returned `Step`: fetch a snapshot now, fetch again after a back-off, or publish the
book. Nothing here waits, reads a clock or does I/O, so every path is a plain call.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from obview.book import OrderBook
from obview.venues.loopring.protocol import DepthSnapshot, DepthUpdate

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

    __slots__ = ("book", "phase", "local", "buffer", "awaiting_straddle", "resyncs", "too_old")

    def __init__(self, book: OrderBook) -> None:
        self.book = book
        self.phase = Phase.INIT
        self.local: int | None = None
        self.buffer: deque[DepthUpdate] = deque()
        self.awaiting_straddle = False  # step 5: snapshot applied, no push applied yet
        self.resyncs = 0
        self.too_old = 0
        book.clear()

    @property
    def synced(self) -> bool:
        return self.phase is Phase.SYNCED

    # -- pushes ---------------------------------------------------------------------
    def on_push(self, push: DepthUpdate) -> Step:
        if self.phase is Phase.INIT:
            self._buffer(push)
            return Step.BUFFERED
        local = self.local
        if self.awaiting_straddle:
            if push.end <= local:  # step 5: the snapshot already has it
                return Step.IGNORED
            if push.start > local + 1:
                return self._resync(push)
            self.awaiting_straddle = False
        elif push.start != local + 1:  # step 6: gap, overlap or repeat
            return self._resync(push)
        self._apply(push)
        return Step.APPLIED

    def _buffer(self, push: DepthUpdate) -> None:
        buffer = self.buffer
        if buffer and push.start != buffer[-1].end + 1:
            buffer.clear()  # step 2: only a contiguous run is usable
        elif len(buffer) >= MAX_BUFFER:
            buffer.popleft()
        buffer.append(push)

    def _resync(self, push: DepthUpdate) -> Step:
        self.phase = Phase.INIT
        self.awaiting_straddle = False
        self.local = None
        self.book.clear()
        self.buffer.clear()
        self.buffer.append(push)
        self.resyncs += 1
        return Step.RESYNC

    def _apply(self, push: DepthUpdate) -> None:
        bids, asks = self.book.bids, self.book.asks
        for price, size, count in push.bids:
            bids.set(price, size, count)  # step 7: size 0 deletes
        for price, size, count in push.asks:
            asks.set(price, size, count)
        self.local = push.end
        self.book.version = push.end

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
