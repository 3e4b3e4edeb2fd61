"""The local book of one (market, level) subscription, without sockets
(docs/loopring.md, "Building the book" and "Verification").

The driver (the client, or a test) feeds pushes and snapshots in and acts on the
returned `Step`: fetch a snapshot now, fetch again after a back-off, or publish the
book. Nothing here waits or does I/O, so every path is a plain call.

Pushes given to `on_push` are `DepthPush`es (every value checked), so applying one
cannot fail half-way. `fast_path` fuses reading and applying for the one case that
happens on almost every frame: the next push of a synced book, written as documented.

Verification runs beside the book: `start_check()` makes every push take the full path
and records it; `on_check_snapshot()` builds the snapshot's book, brings it to the live
version with the recorded (and, if the snapshot is ahead, the next) pushes exactly as
the sync does, and compares it with the live book.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from sys import getrefcount as refcount
from time import monotonic
from typing import Any

import msgspec

from obview.book import LIST_KEYS_MAX, OrderBook, ScaledLevel
from obview.venues.loopring.numbers import EXACT, BadNumber
from obview.venues.loopring.numbers import units as exact_units
from obview.venues.loopring.protocol import (
    DECODE_ERRORS,
    DepthPush,
    DepthSnapshot,
    Level3,
    Push,
    PushReader,
    SlotParser,
    TopicObject,
)

# Reads the JSON integer that digit text without a leading zero is, 2-3x faster than int()
json_integer = msgspec.json.Decoder(int).decode

# A snapshot fetch that keeps failing must not let the buffer grow without bound;
# dropping the oldest pushes only asks for a newer snapshot, it never breaks exactness.
MAX_BUFFER = 20_000
# Pushes recorded for one verification (a snapshot reply normally takes well under a
# second); beyond this the check gives up rather than hold memory.
MAX_CHECK_PUSHES = 20_000
# Deleted level objects the fast path keeps per side for reuse (emptied when full).
MAX_RETIRED = 1024


class Phase(StrEnum):
    INIT = "init"
    SYNCED = "synced"


class Step(StrEnum):
    BUFFERED = "buffered"  # INIT: kept for the snapshot
    IGNORED = "ignored"  # already contained in the book (e <= V after a snapshot)
    APPLIED = "applied"  # the book changed; publish it
    SYNCED = "synced"  # a snapshot (plus buffered pushes) became the book; publish it
    TOO_OLD = "too_old"  # snapshot predates the buffer: fetch again after a back-off
    RESYNC = "resync"  # gap or bad push: book dropped, fetch a new snapshot
    DROPPED = "dropped"  # a bad push while not synced: the buffered run is void
    STRAY = "stray"  # a snapshot nobody asked for (already synced): ignored
    # verification
    VERIFIED = "verified"  # (applied, and) the check snapshot equals the live book
    MISMATCH = "mismatch"  # (applied, and) it differs: book dropped, fetch a new snapshot
    CHECK_PENDING = "check_pending"  # the check snapshot is ahead: waiting for pushes
    CHECK_VOID = "check_void"  # the check cannot conclude (too old, resynced): retry later


_APPLIED = Step.APPLIED


@dataclass(eq=False)
class BadPush:
    """What the fast path returns for a push of ours with a bad value (already resynced).
    Falsy, like the None it returns for a frame it declines: the caller tells an applied
    push from both with one test."""

    reason: str

    def __bool__(self) -> bool:
        return False


Side = dict[Decimal, tuple[int, int]]  # price -> (units, orders)


@dataclass(eq=False)
class Check:
    """One verification in flight."""

    pushes: list[DepthPush] = field(default_factory=list)  # applied since it began
    shadow: tuple[Side, Side] | None = None  # the snapshot's book, brought forward
    version: int = -1  # version of `shadow`
    window: tuple[Decimal | None, Decimal | None] = (None, None)


def _window(snapshot: DepthSnapshot) -> tuple[Decimal | None, Decimal | None]:
    """(lowest bid, highest ask) a snapshot vouches for: a side as long as `limit` may
    have been cut short, so only prices up to its worst one are known; else all."""
    limit = snapshot.limit
    floor = min(p for p, _u, _n in snapshot.bids) if limit and len(snapshot.bids) >= limit else None
    ceiling = max(p for p, _u, _n in snapshot.asks) if limit and len(snapshot.asks) >= limit else None
    return floor, ceiling


def _apply_to(side: Side, levels: list[Level3]) -> None:
    for price, units, orders in levels:
        if units:
            side[price] = (units, orders)
        else:
            side.pop(price, None)


class DepthSync:
    """The book procedure for one subscription; `book` is updated in place."""

    __slots__ = ("book", "parser", "phase", "local", "next_start", "buffer", "awaiting_straddle",
                 "resyncs", "too_old", "discarded", "ignored", "straddled", "level_maps",
                 "window", "check", "verified", "mismatches", "mismatch", "checks_void")

    def __init__(self, book: OrderBook, parser: SlotParser) -> None:
        self.book = book
        self.parser = parser
        self.phase = Phase.INIT
        self.local: int | None = None  # version of `book`
        # local + 1 while the fast path may continue the book, else -1 (INIT, waiting for
        # the push that straddles the snapshot, or a check in flight)
        self.next_start = -1
        self.buffer: deque[DepthPush] = deque()
        self.awaiting_straddle = False  # step 5: snapshot applied, no push applied yet
        # what happened, for status lines and tests
        self.resyncs = 0
        self.too_old = 0  # snapshots refused: older than the buffered run
        self.discarded = 0  # buffered pushes already inside a snapshot (step 4)
        self.ignored = 0  # late pushes already inside the snapshot (step 5)
        self.straddled = 0  # pushes applied across a snapshot's version (s <= V < e)
        self.window: tuple[Decimal | None, Decimal | None] = (None, None)
        self.check: Check | None = None
        self.verified = 0
        self.mismatches = 0
        self.mismatch = ""  # the first differing level of the last mismatch
        self.checks_void = 0
        book.clear()
        self.level_maps = (book.bids.level_map(), book.asks.level_map())

    @property
    def synced(self) -> bool:
        return self.phase is Phase.SYNCED

    # -- pushes ---------------------------------------------------------------------
    def on_push(self, push: DepthPush) -> Step:
        local = self.local
        if local is not None and push.start == local + 1 and not self.awaiting_straddle:
            self._apply(push)  # step 6, the common case
            return _APPLIED if self.check is None else self._check_push(push)
        return self._unusual_push(push, local)

    def on_bad_push(self) -> Step:
        """A push of ours that could not be read: the book can no longer be trusted."""
        if self.phase is Phase.SYNCED:
            self._resync(None)
            return Step.RESYNC
        self.buffer.clear()  # the run is broken: only a contiguous one is usable
        return Step.DROPPED

    def _unusual_push(self, push: DepthPush, local: int | None) -> Step:
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

    def _buffer(self, push: DepthPush) -> None:
        buffer = self.buffer
        if buffer and push.start != buffer[-1].end + 1:
            buffer.clear()  # step 2: only a contiguous run is usable
        elif len(buffer) >= MAX_BUFFER:
            buffer.popleft()
        buffer.append(push)

    def _resync(self, push: DepthPush | None) -> Step:
        self.phase = Phase.INIT
        self.awaiting_straddle = False
        self.local = None
        self.next_start = -1
        self.check = None
        self.book.clear()
        self.buffer.clear()
        if push is not None:
            self.buffer.append(push)
        self.resyncs += 1
        return Step.RESYNC

    def _apply(self, push: DepthPush) -> None:
        # Step 7: size 0 deletes the price, anything else replaces the slot; an existing
        # level is updated in place, only new or vanishing prices touch the sorted keys.
        book = self.book
        unit = self.parser.unit
        for levels, side, level_map in ((push.bids, book.bids, self.level_maps[0]),
                                        (push.asks, book.asks, self.level_maps[1])):
            for price, units, orders in levels:
                level = level_map.get(price)
                if not units:
                    if level is not None:
                        side.delete(price)
                elif level is None:
                    side.insert(ScaledLevel(price, units, unit, orders))
                else:
                    level.units = units
                    level.orders = orders
        self.local = book.version = push.end
        self.next_start = push.end + 1 if self.check is None else -1

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
        self.window = _window(snapshot)
        book.version = version
        self.local = version
        self.phase = Phase.SYNCED
        self.awaiting_straddle = not buffer
        self.next_start = -1  # step 5 first, unless buffered pushes continue the book
        while buffer:
            self._apply(buffer.popleft())
        return Step.SYNCED

    def resume(self, version: int, bids, asks) -> None:
        """Replay from a checkpoint: the book as it was at `version`, synced, so the next
        push continues it exactly as it did live (docs/replay.md)."""
        unit = self.parser.unit
        book = self.book

        # exact: the context's 28 digits rounded a size of more units than that (12.3
        # billion tokens of 18 decimals) and the seek's book kept it (docs/loopring.md)
        def scaled(levels):
            return [ScaledLevel(lv.price, int(EXACT.divide(lv.size, unit)), unit, lv.orders)
                    for lv in levels]

        book.replace(scaled(bids), scaled(asks))
        self.level_maps = (book.bids.level_map(), book.asks.level_map())
        self.local = book.version = version
        self.phase = Phase.SYNCED
        self.awaiting_straddle = False
        self.check = None
        self.buffer.clear()
        self.next_start = version + 1

    # -- verification ---------------------------------------------------------------
    def start_check(self) -> bool:
        """Begin recording pushes for a check; False if the book is not ready for one."""
        if self.phase is not Phase.SYNCED or self.awaiting_straddle or self.check is not None:
            return False
        self.check = Check()
        self.next_start = -1  # every push takes the full path while the check is open
        return True

    def cancel_check(self) -> None:
        if self.check is not None:
            self._end_check()

    def _end_check(self) -> None:
        self.check = None
        if self.phase is Phase.SYNCED and not self.awaiting_straddle and self.local is not None:
            self.next_start = self.local + 1

    def on_check_snapshot(self, snapshot: DepthSnapshot) -> Step:
        check = self.check
        if check is None or self.phase is not Phase.SYNCED:
            self.checks_void += 1
            return Step.CHECK_VOID
        version = snapshot.version
        pushes = [p for p in check.pushes if p.end > version]
        check.pushes = []
        if pushes and pushes[0].start > version + 1:
            self.checks_void += 1  # older than the recorded pushes: cannot be brought forward
            self._end_check()
            return Step.CHECK_VOID
        bids: Side = {p: (u, n) for p, u, n in snapshot.bids if u}
        asks: Side = {p: (u, n) for p, u, n in snapshot.asks if u}
        for push in pushes:
            _apply_to(bids, push.bids)
            _apply_to(asks, push.asks)
        check.shadow = (bids, asks)
        check.version = pushes[-1].end if pushes else version
        check.window = _window(snapshot)
        if check.version == self.local:
            return self._compare(check)
        return Step.CHECK_PENDING  # the snapshot is ahead of the pushes received so far

    def _check_push(self, push: DepthPush) -> Step:
        check = self.check
        assert check is not None
        if check.shadow is None:
            if len(check.pushes) >= MAX_CHECK_PUSHES:
                self.checks_void += 1
                self._end_check()
                return Step.APPLIED
            check.pushes.append(push)
            return Step.APPLIED
        if push.end > check.version:
            if push.start > check.version + 1:  # cannot happen with contiguous pushes
                self.checks_void += 1
                self._end_check()
                return Step.APPLIED
            _apply_to(check.shadow[0], push.bids)
            _apply_to(check.shadow[1], push.asks)
            check.version = push.end
        if check.version == self.local:
            return self._compare(check)
        return Step.APPLIED

    def _compare(self, check: Check) -> Step:
        floor = _narrower(self.window[0], check.window[0], max)
        ceiling = _narrower(self.window[1], check.window[1], min)
        assert check.shadow is not None
        difference = (
            _first_difference("bids", self.book.bids.iter_levels(), check.shadow[0], True, floor)
            or _first_difference("asks", self.book.asks.iter_levels(), check.shadow[1], False, ceiling))
        if difference is None:
            self.verified += 1
            self._end_check()
            return Step.VERIFIED
        self.mismatches += 1
        self.mismatch = f"version {self.local}: {difference}"
        self._resync(None)
        return Step.MISMATCH


def _narrower(a: Decimal | None, b: Decimal | None, pick: Callable) -> Decimal | None:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)


def _first_difference(name: str, live_levels: Any, venue: Side, is_bid: bool,
                      bound: Decimal | None) -> str | None:
    def inside(price: Decimal) -> bool:
        return bound is None or (price >= bound if is_bid else price <= bound)

    live = [(lv.price, int(lv.units), lv.orders) for lv in live_levels if inside(lv.price)]
    theirs = sorted(((p, u, n) for p, (u, n) in venue.items() if inside(p)),
                    key=lambda level: level[0], reverse=is_bid)
    for index, (ours, venue_level) in enumerate(zip(live, theirs, strict=False)):
        if ours != venue_level:
            return (f"{name} row {index + 1}: local {_show(ours)}, venue {_show(venue_level)}")
    if len(live) != len(theirs):
        index = min(len(live), len(theirs))
        ours = live[index] if index < len(live) else None
        venue_level = theirs[index] if index < len(theirs) else None
        return f"{name} row {index + 1}: local {_show(ours)}, venue {_show(venue_level)}"
    return None


def _show(level: tuple | None) -> str:
    if level is None:
        return "none"
    price, units, orders = level
    return f"{price} x {units} units ({orders} orders)"


_new = object.__new__


def _duplicated(slots: list, parser: SlotParser) -> bool:
    price = parser.price
    return len({parser.prices.get(s[0]) or price(s[0]) for s in slots}) != len(slots)


def fast_path(reader: PushReader, sync: DepthSync) -> Callable[[str | bytes], Any]:
    """The common case, frame -> book, as one closure: the next push of a synced book,
    with text values (as documented).

    Returns the applied wire `Push`; a `BadPush` when the frame is that push but a value
    is bad (the sync has then resynced: a half-applied push is dropped with the book); or
    None for anything else (not a push of ours, another form, a gap, not synced), when
    the caller takes the full path (`reader.read`, `sync.on_push`), which decides. Both
    paths apply the same rules (`numbers`); the fuzz tests hold them to that.

    Digit text is checked as `text.encode().isdigit()`: bytes.isdigit accepts ASCII
    digits only, so this is `text.isascii() and text.isdigit()` in one C loop (str.isdigit
    looks every character up in the Unicode tables). `encode` cannot fail here: the
    decoder never yields a lone surrogate (it refuses them, escaped or not).
    """
    # Every name bound here is copied into each call's frame: rarely used ones (market and
    # level of a v3 topic, the parser for values not cached yet) stay behind one name.
    decode, topic = reader.decode, reader.topic
    parser = reader.parser
    # the caches are `BoundedCache`s: their own `get` (dict's, in C) is a cheaper read
    # than `[]` on a dict subclass, which the interpreter cannot specialise
    price_of, count_of = parser.prices.get, parser.counts.get
    book = sync.book
    bids, asks = book.bids, book.asks
    # Levels that vanish often come back at the same price (more so at fine levels): the
    # level objects the fast path deleted are kept by price and put back, if nothing
    # outside the book still holds one (its reference count says so), instead of a new
    # object each time. A new one is made without a class call, which would run
    # __init__ through C.
    bid_retired: dict[Decimal, ScaledLevel] = {}
    ask_retired: dict[Decimal, ScaledLevel] = {}

    def apply(frame: str | bytes) -> Push | BadPush | None:
        try:
            push = decode(frame)
        except DECODE_ERRORS:
            return None
        start = push.start
        next_start = sync.next_start
        if start != next_start and (start.__class__ is not str or not start.encode().isdigit()
                                    or int(start) != next_start):
            return None
        ours = push.topic
        # a str topic equal to ours (v2), or a v3 topic object naming our market and level
        if ours != topic and (ours.__class__ is not TopicObject or ours.market != reader.market
                              or ours.level != reader.level):
            return None
        data = push.data
        bid_slots, ask_slots = data.bids, data.asks
        bid_levels, ask_levels = sync.level_maps
        try:
            end = push.end
            if end.__class__ is str:
                if not end.encode().isdigit():
                    raise BadNumber(f"bad endVersion {end!r}")
                try:
                    end = json_integer(end)  # digit text is a JSON integer: read in C
                except msgspec.DecodeError:  # leading zeros, which JSON does not allow
                    end = int(end)
            if end < next_start:
                raise BadNumber(f"endVersion {end} < startVersion {next_start}")
            # `before`, `last` and `price` are the side's last three prices, for the
            # repeated-price check after the loop (None: fewer slots)
            price = last = None
            for price_text, units, _volume, orders_text in bid_slots:
                before = last
                last = price
                price = price_of(price_text)
                if price is None:
                    price = parser.price(price_text)
                # digit text without a leading zero (at most 78 digits: the decoder's
                # cap) is kept as text, ScaledLevel converts it when read; "0" deletes;
                # anything else is read by `numbers.units`. Digit text starts with "0"
                # exactly when it sorts below "1", which is one comparison.
                if units < "1":
                    units = 0 if units == "0" else exact_units(units)
                elif not units.encode().isdigit():
                    units = exact_units(units)
                orders = count_of(orders_text)
                if orders is None:
                    orders = parser.count(orders_text)
                # BookSide.delete / insert inlined for a plain key list (BookSide.level_map);
                # a vanishing level is popped: one dict operation, not a get and a del
                if units:
                    level = bid_levels.get(price)
                    if level is not None:
                        level.units = units
                        level.orders = orders
                    else:
                        level = bid_retired.pop(price, None)
                        if level is None or refcount(level) > 2:  # 2: `level` and the argument
                            level = _new(ScaledLevel)  # ScaledLevel(price, ...), inlined
                            level.price = price
                            level.unit = parser.unit
                            level.queue = level.source = None
                        level.units = units
                        level.orders = orders
                        bid_levels[price] = level
                        keys = bids._keys
                        if keys.__class__ is list and len(keys) < LIST_KEYS_MAX:
                            insort(keys, price)
                        else:
                            bids._add_key(price)
                else:
                    level = bid_levels.pop(price, None)
                    if level is not None:
                        keys = bids._keys
                        if keys.__class__ is list:
                            del keys[bisect_left(keys, price)]
                        else:
                            keys.remove(price)
                        if len(bid_retired) >= MAX_RETIRED:
                            bid_retired.clear()
                        bid_retired[price] = level
            # one price twice in a side is bad, not merged (a push lists each slot once);
            # two or three slots are compared from the prices the loop kept, no set
            if last is not None:
                if before is None:
                    if last == price:
                        raise BadNumber("the same price twice in bids")
                elif len(bid_slots) == 3:
                    if before == last or before == price or last == price:
                        raise BadNumber("the same price twice in bids")
                elif _duplicated(bid_slots, parser):
                    raise BadNumber("the same price twice in bids")
            price = last = None
            for price_text, units, _volume, orders_text in ask_slots:
                before = last
                last = price
                price = price_of(price_text)
                if price is None:
                    price = parser.price(price_text)
                if units < "1":  # as for bids
                    units = 0 if units == "0" else exact_units(units)
                elif not units.encode().isdigit():
                    units = exact_units(units)
                orders = count_of(orders_text)
                if orders is None:
                    orders = parser.count(orders_text)
                if units:
                    level = ask_levels.get(price)
                    if level is not None:
                        level.units = units
                        level.orders = orders
                    else:
                        level = ask_retired.pop(price, None)
                        if level is None or refcount(level) > 2:  # 2: `level` and the argument
                            level = _new(ScaledLevel)  # ScaledLevel(price, ...), inlined
                            level.price = price
                            level.unit = parser.unit
                            level.queue = level.source = None
                        level.units = units
                        level.orders = orders
                        ask_levels[price] = level
                        keys = asks._keys
                        if keys.__class__ is list and len(keys) < LIST_KEYS_MAX:
                            insort(keys, price)
                        else:
                            asks._add_key(price)
                else:
                    level = ask_levels.pop(price, None)
                    if level is not None:
                        keys = asks._keys
                        if keys.__class__ is list:
                            del keys[bisect_left(keys, price)]
                        else:
                            keys.remove(price)
                        if len(ask_retired) >= MAX_RETIRED:
                            ask_retired.clear()
                        ask_retired[price] = level
            if last is not None:  # as for bids
                if before is None:
                    if last == price:
                        raise BadNumber("the same price twice in asks")
                elif len(ask_slots) == 3:
                    if before == last or before == price or last == price:
                        raise BadNumber("the same price twice in asks")
                elif _duplicated(ask_slots, parser):
                    raise BadNumber("the same price twice in asks")
        except ValueError as exc:  # BadNumber, or int() of an absurdly long digit string
            sync.on_bad_push()
            return BadPush(str(exc))
        sync.local = end
        sync.next_start = end + 1
        # OrderBook.touch, inlined: this runs once per push
        book.recv_mono = monotonic()
        book.venue_ts = push.ts
        book.version = end
        return push

    return apply
