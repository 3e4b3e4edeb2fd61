"""The feed interface every venue implements: streams of books, status, reconnects.

A venue subclasses `Feed` and writes `_session()`: connect, log in, subscribe, sync
and apply updates until the connection ends. `Feed.run()` wraps it in the reconnect
loop (jittered exponential backoff, capped, reset after a session delivered data), so
no venue writes its own retry loop. A `FatalFeedError` (subscription or login
rejected) stops the loop and is reported once.

What a feed offers beyond books (aggregation levels, record kinds, what its latency
stats measure) it declares in `capabilities`; consumers read that, never probe.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from obview.book import OrderBook
from obview.events import BookChanged, Event, FeedFailed, StatusChanged
from obview.latency import LatencyStats

log = logging.getLogger("obview.feed")


class FeedState(StrEnum):
    CONNECTING = "connecting"
    SYNCED = "synced"
    RESYNCING = "resyncing"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    ERROR = "error"
    STOPPED = "stopped"


class FeedError(Exception):
    """A session ended in a way worth retrying (bad frame, lost connection)."""


class FatalFeedError(Exception):
    """Retrying cannot help: the venue rejected the subscription or the credentials."""


class Backoff:
    """Jittered exponential backoff: initial, x2 each failure, capped; reset on success."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None):
        self.initial = initial
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        base = min(self.cap, self.initial * (2**self.failures))
        self.failures += 1
        # "equal jitter": never less than half the base, so retries stay spread out
        return base / 2 + self._rng.random() * base / 2

    def reset(self) -> None:
        self.failures = 0


class LatencyKind(StrEnum):
    """What a feed's `Stream.latency` stats measure (the TUI labels them from this)."""

    NONE = "none"  # no venue figures: the TUI measures push timing itself
    RECEIVE = "receive"  # venue stamp to our receive, per side ("bid", "ask")
    INTERVAL = "interval"  # time between the venue's pushes ("interval")


class RecordKind(StrEnum):
    """Non-book records a feed publishes (`Feed.records[kind]`, `RecordsChanged.kind`)."""

    ORDERS = "orders"
    RISK = "risk"


@dataclass(frozen=True)
class LevelControl:
    """A venue's book aggregation levels: how many, the current one, and how to switch."""

    count: Callable[[], int | None]  # None until the venue has told us
    current: Callable[[], int]
    change: Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class FeedCapabilities:
    """What a feed can do beyond books, declared by the venue so nobody has to probe."""

    levels: LevelControl | None = None
    records: tuple[RecordKind, ...] = ()
    latency: LatencyKind = LatencyKind.NONE


@dataclass(eq=False)
class Stream:
    """One subscribed instrument's live state inside a feed."""

    symbol: str
    book: OrderBook
    source: str | None = None  # one counterparty's book of a multi-source venue (bthub)
    name: str | None = None
    level: int | None = None  # Loopring's aggregation level
    synced: bool = False
    updates: int = 0  # updates applied since the book last became synced
    pushes: int = 0  # every book message applied, for venues without versions
    resyncs: int = 0
    stale: bool = False  # no update for the venue's staleness threshold; values kept
    error: str | None = None
    latency: dict[str, LatencyStats] = field(default_factory=dict)  # per Feed.capabilities.latency
    extra: dict[str, Any] = field(default_factory=dict)  # venue-specific JSON fields

    @property
    def key(self) -> str:
        """The stream's key in `Feed.streams`: the symbol, or `symbol@source`."""
        return self.symbol if self.source is None else f"{self.symbol}@{self.source}"

    def age(self) -> float | None:
        """Seconds since the last applied update."""
        if self.book.recv_mono is None:
            return None
        return time.monotonic() - self.book.recv_mono


Listener = Callable[[Event], None]


class Feed:
    """Base class for a venue connection carrying one or more streams."""

    venue: ClassVar[str] = "?"
    capabilities: FeedCapabilities = FeedCapabilities()  # venues override (class or instance)

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}  # by Stream.key
        self.records: dict[str, dict[Any, Any]] = {}  # RecordKind -> rows by their key
        self.state = FeedState.CONNECTING
        self.status_text = ""
        self.bad_frames = 0
        self.messages = 0  # frames received, for the messages/s readout
        self.reconnects = 0
        self.address = ""  # what we connect to, already redacted for display
        self.backoff = Backoff()
        self._listeners: list[Listener] = []
        self._delivered = False
        self._stopping = False

    # -- consumers ---------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)

    # -- helpers for venues ------------------------------------------------------
    def set_state(self, state: FeedState, text: str = "") -> None:
        if state is self.state and text == self.status_text:
            return
        self.state = state
        self.status_text = text
        self.emit(StatusChanged(self, state.value, text))

    def book_changed(self, stream: Stream, snapshot: bool = False) -> None:
        """Call after applying a snapshot or an update to `stream.book`."""
        self._delivered = True
        stream.pushes += 1
        if snapshot and not stream.synced:
            stream.synced = True
            stream.updates = 0
        elif stream.synced:
            stream.updates += 1
        if self.state is not FeedState.SYNCED and all(s.synced for s in self.streams.values()):
            self.set_state(FeedState.SYNCED)
        self.emit(BookChanged(self, stream, snapshot))

    def unsync(self, stream: Stream, reason: str = "", resync: bool = True) -> None:
        """The stream's book is no longer trusted (gap, bad frame, reconnect)."""
        stream.synced = False
        if resync:
            stream.resyncs += 1
            self.set_state(FeedState.RESYNCING, reason)

    def count_bad_frame(self, reason: str) -> None:
        self.bad_frames += 1
        if self.bad_frames <= 10 or self.bad_frames % 1000 == 0:
            log.warning("%s: bad frame #%d: %s", self.venue, self.bad_frames, reason)

    # -- lifecycle ---------------------------------------------------------------
    async def _session(self) -> None:
        """Run one connection until it ends. Raise FatalFeedError to stop for good."""
        raise NotImplementedError

    async def run(self) -> None:
        """Run sessions until stopped, reconnecting with backoff; returns on a fatal error."""
        self.set_state(FeedState.CONNECTING, self.address)
        while not self._stopping:
            self._delivered = False
            try:
                await self._session()
                reason = "connection closed"
            except FatalFeedError as exc:
                self._fail(str(exc))
                return
            except asyncio.CancelledError:
                self.state = FeedState.STOPPED
                raise
            except (TimeoutError, OSError, EOFError, FeedError) as exc:
                reason = describe_error(exc)
            except Exception as exc:  # a bug or unexpected input must not kill the worker
                log.exception("%s: session failed", self.venue)
                reason = f"internal error: {describe_error(exc)}"
            if self._stopping:
                break
            for stream in self.streams.values():
                stream.synced = False
            if self._delivered:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.reconnects += 1
            self.set_state(FeedState.RECONNECTING, f"{reason}; retry in {delay:.1f}s")
            await asyncio.sleep(delay)
        self.state = FeedState.STOPPED

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        """Release what outlives a session (HTTP clients, tasks); after `run()` ended."""

    def headless_streams(self) -> set[str] | None:
        """The stream keys headless prints; None: all of them."""
        return None

    def _fail(self, reason: str) -> None:
        for stream in self.streams.values():
            stream.error = reason
        self.set_state(FeedState.ERROR, reason)
        self.emit(FeedFailed(self, reason))


def describe_error(exc: BaseException) -> str:
    """One line for a user: the exception text, or its type when it has none."""
    text = str(exc).strip()
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return text.splitlines()[0] if text else type(exc).__name__
