"""The local book of one (market, level) subscription: spec §7, exactly, without sockets.

The driver (the client, or a test) feeds pushes and snapshots in and acts on the
returned `Step`: fetch a snapshot now, fetch again after a back-off, or publish the
book. Nothing here waits or does I/O, so every path is a plain call.

Pushes must come from `PushReader` (versions ordered, prices already accepted by the
parser), so applying one cannot fail half-way. `fast_path` fuses reader and state
machine for the one case that happens on almost every frame (and stamps the book
like `OrderBook.touch`); anything else it leaves to `PushReader.read` + `on_push`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum
from time import monotonic

import msgspec

from obview.book import OrderBook, ScaledLevel
from obview.venues.loopring.protocol import (
    DepthSnapshot,
    ProtocolError,
    Push,
    PushReader,
    SlotParser,
)

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


_APPLIED = Step.APPLIED


class DepthSync:
    """Spec §7 state for one subscription; `book` is updated in place."""

    __slots__ = ("book", "parser", "phase", "local", "next_start", "buffer", "awaiting_straddle",
                 "resyncs", "too_old", "discarded", "ignored", "straddled", "level_maps")

    def __init__(self, book: OrderBook, parser: SlotParser) -> None:
        self.book = book
        self.parser = parser
        self.phase = Phase.INIT
        self.local: int | None = None  # version of `book`
        # local + 1 while a push can simply continue the book, else -1 (INIT, or waiting
        # for the push that straddles the snapshot): the one test on the hot path
        self.next_start = -1
        self.buffer: deque[Push] = deque()
        self.awaiting_straddle = False  # step 5: snapshot applied, no push applied yet
        # what happened, for status lines and tests
        self.resyncs = 0
        self.too_old = 0  # snapshots refused: older than the buffered run
        self.discarded = 0  # buffered pushes already inside a snapshot (step 4)
        self.ignored = 0  # late pushes already inside the snapshot (step 5)
        self.straddled = 0  # pushes applied across a snapshot's version (s <= V < e)
        book.clear()
        self.level_maps = (book.bids.level_map(), book.asks.level_map())

    @property
    def synced(self) -> bool:
        return self.phase is Phase.SYNCED

    # -- pushes ---------------------------------------------------------------------
    def on_push(self, push: Push) -> Step:
        if push.start == self.next_start:  # step 6, the common case
            self._apply(push)
            return _APPLIED
        return self._unusual_push(push, self.local)

    def _unusual_push(self, push: Push, local: int | None) -> Step:
        if local is None:  # INIT
            self._buffer(push)
            return Step.BUFFERED
        if self.awaiting_straddle:
            if push.start == local + 1:
                self.awaiting_straddle = False
            elif push.end <= local:  # step 5: the snapshot already has it
                self.ignored += 1
                return Step.IGNORED
            elif push.start > local + 1:
                return self._resync(push)
            else:  # s <= V < e: straddles the snapshot
                self.awaiting_straddle = False
                self.straddled += 1
            self._apply(push)
            return Step.APPLIED
        return self._resync(push)  # gap, overlap or repeat

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
        self.next_start = -1
        self.book.clear()
        self.buffer.clear()
        self.buffer.append(push)
        self.resyncs += 1
        return Step.RESYNC

    def _apply(self, push: Push) -> None:
        # Step 7: size 0 deletes the price, anything else replaces the slot. This is the
        # per-slot hot path, hence the two spelled-out loops: sizes stay integer units
        # (`ScaledLevel`); prices come from the parser's cache (a text evicted since the
        # reader accepted it parses again); an existing level is updated in place, only
        # new or vanishing prices go through the sorted keys.
        parser = self.parser
        prices, parse, unit = parser.prices, parser.price, parser.unit
        data = push.data
        book = self.book
        for slots, side, levels in ((data.bids, book.bids, self.level_maps[0]),
                                    (data.asks, book.asks, self.level_maps[1])):
            for price_text, units, _volume, orders in slots:
                price = prices.get(price_text) or parse(price_text)
                level = levels.get(price)
                if not units:
                    if level is not None:
                        side.delete(price)
                elif level is None:
                    side.insert(ScaledLevel(price, units, unit, orders))
                else:
                    level.units = units
                    level.orders = orders
        self.local = book.version = push.end
        self.next_start = push.end + 1

    # -- snapshots ------------------------------------------------------------------
    def on_snapshot(self, snapshot: DepthSnapshot) -> Step:
        if self.phase is Phase.SYNCED:
            return Step.STRAY
        version = snapshot.version
        buffer = self.buffer
        while buffer and buffer[0].end <= version:  # step 4: already in the snapshot
            buffer.popleft()
            self.discarded += 1
        if buffer and buffer[0].start > version + 1:
            self.too_old += 1  # versions V+1 .. s-1 unknown: never apply it
            return Step.TOO_OLD
        if buffer and buffer[0].start <= version:
            self.straddled += 1
        book = self.book
        parser = self.parser
        book.replace(parser.book_levels(snapshot.bids), parser.book_levels(snapshot.asks))
        self.level_maps = (book.bids.level_map(), book.asks.level_map())  # replace made new
        book.version = version
        self.local = version
        self.phase = Phase.SYNCED
        self.awaiting_straddle = not buffer
        self.next_start = -1  # step 5 first, unless buffered pushes continue the book
        while buffer:
            self._apply(buffer.popleft())
        return Step.SYNCED


def fast_path(reader: PushReader, sync: DepthSync) -> Callable[[str | bytes], Push | None]:
    """The common case, frame -> book, as one closure: the next push of a synced book.
    Everything it needs is bound once per subscription, since this runs for every push.
    Returns the applied push, or None for anything else (not a push of ours, malformed,
    a gap, not synced yet): the caller then takes the full path (`reader.read`,
    `sync.on_push`), which decides. Both paths apply slots identically
    (`DepthSync._apply`); the fuzz tests hold them to that.
    """
    decode, topic, is_ours = reader.decode, reader.topic, reader.is_ours
    parser = reader.parser
    prices, parse, unit = parser.prices, parser.price, parser.unit
    book = sync.book
    bids, asks = book.bids, book.asks
    decode_errors = (msgspec.DecodeError, UnicodeDecodeError)

    def apply(frame: str | bytes) -> Push | None:
        try:
            push = decode(frame)
        except decode_errors:
            return None
        start = push.start
        if start != sync.next_start or (push.topic != topic and not is_ours(push.topic)):
            return None
        end = push.end
        if end < start:
            return None
        data = push.data
        bid_slots, ask_slots = data.bids, data.asks
        # every price parsed before anything changes: a push is applied whole or not at all
        new_prices = False
        try:
            for slot in bid_slots:
                if slot[0] not in prices:
                    parse(slot[0])
                    new_prices = True
            for slot in ask_slots:
                if slot[0] not in prices:
                    parse(slot[0])
                    new_prices = True
        except ProtocolError:
            return None  # the full path counts it as malformed
        if new_prices:  # rare; the general loop copes with a cache cleared by a parse
            sync._apply(push)
        else:
            bid_levels, ask_levels = sync.level_maps
            for price_text, units, _volume, orders in bid_slots:
                price = prices[price_text]
                level = bid_levels.get(price)
                if not units:
                    if level is not None:
                        bids.delete(price)
                elif level is None:
                    bids.insert(ScaledLevel(price, units, unit, orders))
                else:
                    level.units = units
                    level.orders = orders
            for price_text, units, _volume, orders in ask_slots:
                price = prices[price_text]
                level = ask_levels.get(price)
                if not units:
                    if level is not None:
                        asks.delete(price)
                elif level is None:
                    asks.insert(ScaledLevel(price, units, unit, orders))
                else:
                    level.units = units
                    level.orders = orders
            sync.local = end
            sync.next_start = end + 1
        # OrderBook.touch, inlined: this runs once per push
        book.recv_mono = monotonic()
        book.venue_ts = push.ts
        book.version = end
        return push

    return apply
