"""The feed interface every venue implements: streams of books, status, reconnects.

A venue subclasses `Feed` and writes `_session()`: connect, log in, subscribe, sync
and apply updates until the connection ends. `Feed.run()` wraps it in the reconnect
loop (jittered exponential backoff, capped, reset after a session delivered data), so
no venue writes its own retry loop, and a staleness watchdog, so no venue writes its own
staleness rule. A `FatalFeedError` (subscription or login rejected), an untrusted TLS
certificate, and (with `fail_fast`, for headless runs) a refused connection or an
unknown host before any data stop the loop and are reported once. docs/feeds.md
describes the whole lifecycle.

What a feed offers beyond books (aggregation levels, record kinds, what its latency
stats measure) it declares in `capabilities`; consumers read that, never probe.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from obview.book import OrderBook
from obview.errors import describe_error
from obview.events import (
    BookChanged,
    Event,
    FeedFailed,
    RecordsChanged,
    StatusChanged,
    TradesPrinted,
)
from obview.latency import IntervalStats, LatencyStats
from obview.ratelog import RateLimitedLog
from obview.records import Order, RiskRow
from obview.trades import TradeStats

if TYPE_CHECKING:
    from obview.journal import Checkpoint

log = logging.getLogger("obview.feed")
# A stream with no update for this long is stale unless its venue sets its own threshold.
STALE_AFTER = 30.0


class FeedState(StrEnum):
    CONNECTING = "connecting"
    SYNCED = "synced"
    RESYNCING = "resyncing"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    ERROR = "error"
    STOPPED = "stopped"


_SYNCED = FeedState.SYNCED
# A status text carries what a server wrote (a Futu Notify's desc, a refusal's retMsg, a
# hub's result) to the terminal: headless writes it to stderr, the TUI to its status bar.
# Its control characters are shown escaped, never sent (an ESC would drive the terminal),
# and it is cut at this length (a 4 MiB Notify was a 4 MiB status line).
MAX_STATUS = 1000


def shown_text(text: str) -> str:
    """`text` safe for a terminal: control characters escaped, at most MAX_STATUS long."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode()
                       for ch in text[:MAX_STATUS])
    return text if len(text) <= MAX_STATUS else text[:MAX_STATUS - 1] + "…"


def _no_mark(_stamp: float | None) -> None:
    pass


class FeedError(Exception):
    """A session ended in a way worth retrying (bad frame, lost connection)."""


class SessionRestart(FeedError):
    """The session was ended on purpose, to start again at once (a replay's seek): no
    connection was lost, so no reconnect is counted, logged or shown."""


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


class TradeKind(StrEnum):
    """What a feed's tape holds (`Stream.tape`, `TradesPrinted`; obview/trades.py)."""

    NONE = "none"  # the venue (or this dialect of it) publishes no trades
    MARKET = "market"  # every print of the market
    OWN = "own"  # the account's own fills only (`Trade.own`)


class RecordKind(StrEnum):
    """Non-book records a feed publishes (`Feed.records[kind]`, `RecordsChanged.kind`)."""

    ORDERS = "orders"
    RISK = "risk"


# the typed row of each kind, as a checkpoint's `rec` line decodes it (docs/journal.md)
RECORD_TYPES: dict[str, type] = {RecordKind.ORDERS: Order, RecordKind.RISK: RiskRow}


def record_key(kind: str, row: Any) -> Any:
    """A row's key in `Feed.records[kind]`: an order's id, a risk row's (book, cp, symbol)."""
    if kind == RecordKind.ORDERS:
        return row.order_id
    return (row.book, row.cp, row.symbol)


@dataclass(frozen=True)
class LevelControl:
    """A venue's book aggregation levels: how many, the current one, and how to switch."""

    count: Callable[[], int | None]  # None until the venue has told us
    current: Callable[[], int]
    change: Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JournalTime:
    """Where a replay stands on the journal's clocks (ns). While a line is handed over,
    its receive stamp; between lines, the time up to which every line has been handed
    over (so nothing stamped earlier can still arrive)."""

    mono: int  # the recording's monotonic clock
    wall_offset: int  # its wall clock minus `mono` (one session: constant)

    @property
    def wall(self) -> int:
        return self.mono + self.wall_offset


@dataclass(frozen=True, slots=True)
class ReplaySeeked:
    """The replay jumped to journal wall time `target` (ns): the books start over from
    the checkpoint before it and catch up; what a consumer built over time starts over."""

    target: int


@dataclass(frozen=True, slots=True)
class ReplayCaughtUp:
    """Every line before the seek `target` has been handed over; `split` is the wall
    stamp of the first line after it (None: the journal ends first). A consumer that
    ignored the catch-up records from `split` on, and `rebuild()` gives it the past."""

    target: int
    split: int | None


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """Where a replay stands, as figures: the status bar lays them out itself, so that
    what does not fit is dropped whole (a date cut to "…2-07" reads as another date)."""

    wall: int  # the journal's wall-clock time, ns
    progress: float  # 0 to 1 through the journal
    speed: str  # "1x", "max", "100x (CPU-bound: 22x)": the chosen speed, and the one played
    state: str  # "paused", "end" (the journal is over) or ""
    seeks: int = 0  # seeks so far: a figure measured over journal time starts over at one
    # paused, whatever `state` says: a replay paused at its end reads "end", and space
    # resumes it all the same (its footer label follows this)
    paused: bool = False


@dataclass(frozen=True)
class ReplayControl:
    """A feed a journal drives (obview/replay): what the replay keys call, the line the
    status bar shows ("replay 14:03:22 UTC [#####-----] 50% 10x"; `status`: the same as
    figures), and the journal's time, so a consumer can keep its own history on the
    journal's clock rather than the screen's (docs/replay.md, "Time on screen")."""

    control: Callable[[str], None]  # pause, faster, slower, back, forward, home, end, step
    describe: Callable[[], str]
    status: Callable[[], ReplayStatus]
    clock: Callable[[], JournalTime]
    # call_at(wall_ns, callback): run `callback` before the first line stamped at or after
    # `wall_ns` is handed over, or once the lines handed over reach `wall_ns` and the
    # replay waits (paused, at its end: no line comes); forgotten at a seek
    call_at: Callable[[int, Callable[[], None]], None]
    # watch(listener): ReplaySeeked / ReplayCaughtUp events, synchronously; a replay that
    # is still catching up with its start (`--from`) reports that seek at once
    watch: Callable[[Callable[[ReplaySeeked | ReplayCaughtUp], None]], None]
    # rebuild(histories, until, history_s, progress): replay the journal's last
    # `history_s` before wall time `until` (ns) through a second set of the same feeds,
    # at full speed, in slices that yield to the loop, sampling each stream's book and
    # prints into `histories[stream]` (a DepthHistory) as a consumer on the journal's
    # clock would (obview.depth_history.SlotSampler); progress(fraction) now and then
    rebuild: Callable[[dict[Any, Any], int, float, Callable[[float], None] | None],
                      Awaitable[None]]


def wall_now(replay: ReplayControl | None) -> float:
    """Epoch seconds now, on the venue's time: in a replay, the journal's (a check
    stamped, or an age counted, on this machine's clock is the replay's pace)."""
    return time.time() if replay is None else replay.clock().wall / 1e9


@dataclass(frozen=True)
class FeedCapabilities:
    """What a feed can do beyond books, declared by the venue so nobody has to probe."""

    levels: LevelControl | None = None
    replay: ReplayControl | None = None
    records: tuple[RecordKind, ...] = ()
    latency: LatencyKind = LatencyKind.NONE
    # the tape; a MARKET tape runs only when asked for (`Feed.trades_enabled`, from
    # `VenueConfig.trades`: it costs a subscription), an OWN one always
    trades: TradeKind = TradeKind.NONE
    # whether a level carries its order count (`Level.orders`); a venue that sends none
    # declares False and no consumer shows an always-empty orders column
    order_counts: bool = True


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
    stale: bool = False  # values kept but not live (see Feed.check_stale); cleared by a push
    stale_reason: str = ""
    error: str | None = None
    latency: dict[str, LatencyStats] = field(default_factory=dict)  # per Feed.capabilities.latency
    extra: dict[str, Any] = field(default_factory=dict)  # venue-specific JSON fields
    # the tape: recent prints and the session's last price, volume and VWAP
    tape: TradeStats = field(default_factory=TradeStats)
    update_event: BookChanged | None = field(default=None, init=False, repr=False)  # book_changed's

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
    # The journal channels (docs/journal.md): `wire`, what its connections are (their
    # `con` lines' `ch`), and `channels`, every `ch` its frames can have (REST replies
    # ride a connection's number). A replay takes a line of any other for damage: a REST
    # reply on a TCP connection had waited for a request that never came, dropped unsaid.
    wire: ClassVar[str] = "?"
    channels: ClassVar[frozenset[str]] = frozenset()
    capabilities: FeedCapabilities = FeedCapabilities()  # venues override (class or instance)

    def __init__(self) -> None:
        self.trades_enabled = False
        self.no_trades_reason = ""  # why this feed prints no trades where one would expect them
        self.streams: dict[str, Stream] = {}  # by Stream.key
        self.records: dict[str, dict[Any, Any]] = {}  # RecordKind -> rows by their key
        self.state = FeedState.CONNECTING
        self.status_text = ""
        self.bad_frames = 0
        self.messages = 0  # frames received, for the messages/s readout
        self.reconnects = 0
        self.address = ""  # what we connect to, already redacted for display
        self.backoff = Backoff()
        # seconds without an update that make a stream stale; None: never by the clock
        self.stale_after: float | None = STALE_AFTER
        # Give up instead of retrying when the first connection fails for a reason known
        # at once (refused, unknown host): what a script wants; the TUI keeps retrying.
        self.fail_fast = False
        self.log_limited = RateLimitedLog(log)
        self._listeners: list[Listener] = []
        # Recording (obview/record.py): the tap the transport writes to, and the journal's
        # number of the connection in use. None when not recording.
        self.tap = None
        self.conn: int | None = None
        self.unjournaled_bad_frames = 0  # not yet in a `dis` line: count_unjournaled_bad_frame
        self.recording_warning: str | None = None  # "recording stopped: ..." once it did
        # Replay (obview/replay/): the journal's connections stand in for the network.
        self.transport = None
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
        text = shown_text(text)
        if self.recording_warning:
            text = self.set_state_text(state, text)
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
        if stream.stale:
            stream.stale = False
            stream.stale_reason = ""
            self._settle_state()
        elif self.state is not _SYNCED:
            self._settle_state()
        if snapshot:
            event = BookChanged(self, stream, True)
        else:
            # An update's event says only "this stream changed" and listeners only read
            # it, so one instance per stream serves every push (no allocation per push).
            event = stream.update_event
            if event is None:
                event = stream.update_event = BookChanged(self, stream)
        for listener in self._listeners:  # `emit`, inlined: this runs once per push
            listener(event)

    def push_reader(self, stream: Stream, apply: Callable[[Any], Any],
                    declined: Callable[[Any, Any], None],
                    intervals: IntervalStats | None = None) -> Callable[[Any], None]:
        """`on_frame` for a venue's per-push hot path, where most frames are the next
        update of one stream: `apply(frame)` applies one (and stamps the book) or returns
        something false, and the frame goes to `declined(frame, what apply returned)`.
        After an applied update: the push-interval mark and `book_changed(stream)`, its
        common case (a synced, live stream of a synced feed) written out here, since this
        runs for every frame; every other case is `book_changed` itself, so the rule
        stays in one place."""
        feed = self
        book = stream.book
        listeners = self._listeners
        synced = _SYNCED
        mark = intervals.mark if intervals is not None else _no_mark
        event = stream.update_event
        if event is None:
            event = stream.update_event = BookChanged(self, stream)

        def on_frame(frame: Any) -> None:
            feed.messages += 1
            applied = apply(frame)
            if not applied:
                declined(frame, applied)
                return
            mark(book.recv_mono)
            if feed.state is synced and stream.synced and not stream.stale:
                feed._delivered = True
                stream.pushes += 1
                stream.updates += 1
                for listener in listeners:
                    listener(event)
            else:
                feed.book_changed(stream)

        return on_frame

    def _settle_state(self) -> None:
        """SYNCED once every book is synced, STALE while one of them is stale. A stream the
        venue refused (its `error` set) never syncs and does not hold the others back."""
        streams = self.streams.values()
        if self.state is FeedState.ERROR or not all(s.synced or s.error for s in streams):
            return
        text = self._stale_text()
        self.set_state(FeedState.STALE if text else FeedState.SYNCED, text)

    # -- staleness: one rule for every venue ---------------------------------------------
    def mark_stale(self, stream: Stream, reason: str) -> None:
        """The venue says this stream's values are not live (e.g. its quote server logged
        out); they stay shown, marked, until the stream's next update."""
        stream.stale = True
        stream.stale_reason = reason
        self._show_staleness()

    def check_stale(self) -> None:
        """Mark every stream without an update for `stale_after` seconds (values kept).
        Run by the watchdog in `run()`; each stream has its own clock (its last update)."""
        limit = self.stale_after
        if not limit:
            return
        now = time.monotonic()
        newly = False
        for stream in self.streams.values():
            seen = stream.book.recv_mono
            if not stream.stale and seen is not None and now - seen > limit:
                stream.stale = True
                stream.stale_reason = f"no update for {limit:g}s"
                newly = True
        if newly:
            self._show_staleness()

    def _show_staleness(self) -> None:
        # Only a live feed turns STALE: "reconnecting" or "resyncing" already says more.
        if self.state in (FeedState.SYNCED, FeedState.STALE):
            self._settle_state()

    def _stale_text(self) -> str:
        """"no update for 10s: HK.00700, US.AAPL", one part per reason; "" when none."""
        by_reason: dict[str, list[str]] = {}
        for stream in self.streams.values():
            if stream.stale:
                by_reason.setdefault(stream.stale_reason or "stale", []).append(stream.key)
        return "; ".join(f"{reason}: {', '.join(keys)}" for reason, keys in by_reason.items())

    async def _stale_watchdog(self) -> None:
        while True:
            limit = self.stale_after
            await asyncio.sleep(max(0.01, min(1.0, limit / 4)) if limit else 1.0)
            self.check_stale()

    def trades_printed(self, stream: Stream, trades: list, snapshot: bool = False) -> None:
        """Call with a stream's new prints, oldest first: they go into its tape and
        figures (a print already counted, by sequence, is dropped) and out as one event."""
        fresh = [t for t in trades if stream.tape.add(t)]
        if fresh:
            self.emit(TradesPrinted(self, stream, fresh, snapshot))

    def unsync(self, stream: Stream, reason: str = "", resync: bool = True) -> None:
        """The stream's book is no longer trusted (gap, bad frame, reconnect)."""
        stream.synced = False
        if resync:
            if self.tap is not None:
                self.tap.writer.resync(self.venue, stream.key, reason or None)
            stream.resyncs += 1
            self.set_state(FeedState.RESYNCING, reason)

    def record_connect(self, channel: str, url: str | None = None) -> None:
        """A venue calls this once its connection is up, before its first frame."""
        if self.tap is not None:
            self.conn = self.tap.connect(channel, url)

    def checkpoint_context(self, stream: Stream) -> dict[str, Any] | None:
        """What a replay that starts at a checkpoint needs to read this stream's frames
        and learnt earlier in the session (JSON values), or None: a rotated part, or a
        seek point, holds no reply from before it."""
        return None

    def resumable(self, stream: Stream, line: Checkpoint | None) -> bool:
        """Can a replay that starts at a checkpoint go on with `stream` as live did, `line`
        being the checkpoint's `ckp` line of it (None: the book was not synced then)? If
        not, the player starts from an earlier seek point (ReplayPlayer._batches_from).
        Yes by default: a book not in the checkpoint shows unsynced until the journal's
        next snapshot of it, as it was live."""
        return True

    def checkpoint_stream(self, key: str) -> Stream | None:
        """The stream a checkpoint's book `key` goes back into, or None if this feed never
        holds such a book (its `ckp` line is then damage: it disagrees with the header's
        feeds). A venue whose streams come and go with the session (bthub's sources)
        makes the stream the checkpoint held, as live had by then."""
        return self.streams.get(key)

    def restore_context(self, stream: Stream, context: dict[str, Any]) -> None:
        """Replay from a checkpoint: what `checkpoint_context` gave, before the book."""

    def restore_book(self, stream: Stream, book: OrderBook) -> None:
        """Replay from a checkpoint: the stream's book becomes `book` (levels copied into
        the stream's own book, which the screen holds) and counts as synced. A venue
        whose sync keeps more state (a version to continue from) extends this."""
        target = stream.book
        target.replace(book.bids.iter_levels(), book.asks.iter_levels())
        target.version = book.version
        target.venue_ts = book.venue_ts
        target.recv_mono = time.monotonic()
        stream.stale = False
        self.book_changed(stream, snapshot=True)

    def seeked(self) -> None:
        """A replay jumped: venue state shown beside the books that belongs to the
        timeline left goes back to how a session starts (Loopring: its verification
        figures); a checkpoint's context may then give back those of its moment."""

    def forget_records(self) -> None:
        """A replay jumped: the orders and risk rows of the timeline it left are not the
        ones at the new instant, and kept, they showed the end's orders at the journal's
        start, or an order's older state beside later ones. The checkpoint the replay
        starts from gives back those of its moment (`restore_records`; a journal
        written before checkpoints held records: none), and the journal the rest."""
        for kind, rows in self.records.items():
            if rows:
                rows.clear()
                self.emit(RecordsChanged(self, kind, []))

    def records_context(self, kind: str) -> dict[str, Any] | None:
        """What a replay that restores the records of `kind` at a checkpoint needs beside
        the rows to go on with them as live did (JSON values, a `rec` line's `cx`), or
        None (bthub: the order its orders finished in, and how many it evicted)."""
        return None

    def restore_records(self, kind: str, rows: list[Any], context: Any = None) -> None:
        """Replay from a checkpoint: the records of `kind` become `rows` (typed, in the
        order live held them), as live's tables showed them at that moment, and the
        screen is told. A kind this feed does not keep is ignored. A venue keeping more
        bookkeeping about its rows extends this, from `context` (what its
        `records_context` gave; None in a journal written before it, or damaged)."""
        target = self.records.get(kind)
        if target is None:
            return
        target.clear()
        target.update(zip(map(partial(record_key, kind), rows), rows, strict=True))
        self.emit(RecordsChanged(self, kind, list(rows)))

    def recording_failed(self, reason: str) -> None:
        """The journal stopped (a full disk): say so in the status; the feed goes on."""
        self.recording_warning = reason
        text = f"{self.status_text}; {reason}" if self.status_text else reason
        self.set_state(self.state, text)

    def set_state_text(self, state: FeedState, text: str) -> str:
        if self.recording_warning and self.recording_warning not in text:
            return f"{text}; {self.recording_warning}" if text else self.recording_warning
        return text

    def count_bad_frame(self, reason: str, frames: int = 1) -> None:
        self.bad_frames += frames
        self.log_limited.warning(f"{self.venue}:bad-frame", "%s: bad frame #%d: %s",
                                 self.venue, self.bad_frames, reason)

    def count_unjournaled_bad_frame(self, reason: str) -> None:
        """A bad frame refused before the tap saw it (its framing or size): no journal
        line holds it, so the connection's `dis` line counts it, for a replay to count
        it too (it had counted none: docs/replay.md)."""
        self.count_bad_frame(reason)
        if self.tap is not None:
            self.unjournaled_bad_frames += 1

    # -- lifecycle ---------------------------------------------------------------
    async def _session(self) -> None:
        """Run one connection until it ends. Raise FatalFeedError to stop for good."""
        raise NotImplementedError

    async def run(self) -> None:
        """Run sessions until stopped, reconnecting with backoff; returns on a fatal error."""
        self.set_state(FeedState.CONNECTING, self.address)
        watchdog = asyncio.create_task(self._stale_watchdog(), name=f"{self.venue}-stale")
        try:
            await self._run_sessions()
        except asyncio.CancelledError:
            self.state = FeedState.STOPPED
            raise
        finally:
            watchdog.cancel()
            self.log_limited.flush()
            await asyncio.gather(watchdog, return_exceptions=True)

    async def _run_sessions(self) -> None:
        while not self._stopping:
            self._delivered = False
            restarted = False
            try:
                await self._session()
                reason = "connection closed"
            except FatalFeedError as exc:
                self._fail(str(exc))
                return
            except asyncio.CancelledError:
                raise
            except SessionRestart as exc:
                reason, restarted = describe_error(exc), True
            except Exception as exc:
                final = self._final_reason(exc)
                if final is not None:
                    log.error("%s: giving up: %s", self.venue, final)
                    self._fail(final)
                    return
                if isinstance(exc, (TimeoutError, OSError, EOFError, FeedError)):
                    reason = describe_error(exc)
                else:  # a bug or unexpected input must not kill the worker
                    log.exception("%s: session failed", self.venue)
                    reason = f"internal error: {describe_error(exc)}"
            if self.tap is not None:
                # (zeroed once written: a checkpoint the line takes leaves them to it)
                self.tap.disconnect(self.conn, reason, self.unjournaled_bad_frames)
                self.unjournaled_bad_frames = 0
                self.conn = None
            if self._stopping:
                break
            if restarted:  # the books start again from where the restart put them
                self.set_state(FeedState.CONNECTING, reason)
                await asyncio.sleep(0)
                continue
            for stream in self.streams.values():
                stream.synced = False
                if stream.book.recv_mono is not None:  # values kept, marked, until a push
                    stream.stale = True
                    stream.stale_reason = "connection lost"
            if self._delivered:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.reconnects += 1
            self.log_limited.warning(f"{self.venue}:reconnect",
                                     "%s: session ended (%s); reconnect #%d in %.1fs",
                                     self.venue, reason, self.reconnects, delay)
            # (a replay reconnects at once, as the journal goes on: no countdown to show)
            self.set_state(FeedState.RECONNECTING,
                           f"{reason}; retry in {delay:.1f}s" if delay > 0 else reason)
            await asyncio.sleep(delay)
        self.state = FeedState.STOPPED

    def _final_reason(self, exc: BaseException) -> str | None:
        """The one line to stop with when retrying cannot help, else None."""
        cause = known_cause(exc)
        if cause is None:
            return None
        reason = describe_error(exc)
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or describe_error(cause)
            return f"{reason} (TLS certificate not trusted: {detail})" \
                if "certificate" not in reason.lower() else reason
        if not self.fail_fast or any(s.pushes for s in self.streams.values()):
            return None  # after data, a refusal is an outage worth waiting out
        detail = describe_error(cause)
        said = [t.lower() for t in (detail, getattr(cause, "strerror", None) or detail)]
        return reason if any(t in reason.lower() for t in said) else f"{reason} ({detail})"

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        """Release what outlives a session (HTTP clients, tasks); after `run()` ended."""

    def headless_streams(self) -> set[str] | None:
        """The stream keys headless prints; None: all of them."""
        return None

    def _fail(self, reason: str) -> None:
        reason = shown_text(reason)  # (headless prints it as its one line)
        for stream in self.streams.values():
            stream.error = reason
        self.set_state(FeedState.ERROR, reason)
        self.emit(FeedFailed(self, reason))


_KNOWN_AT_ONCE = (ssl.SSLCertVerificationError, ConnectionRefusedError, socket.gaierror)


def known_cause(exc: BaseException) -> BaseException | None:
    """The refused connection, unknown host or untrusted certificate behind `exc`, if any.

    Venues wrap library errors in their own one-line FeedError; the original stays
    reachable through the exception chain (`raise ... from None` keeps `__context__`).
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen or len(seen) > 32:
            continue
        seen.add(id(item))
        if isinstance(item, _KNOWN_AT_ONCE):
            return item
        todo.extend((item.__cause__, item.__context__))
        todo.extend(getattr(item, "exceptions", ()))  # exception groups (anyio, trio)
    return None
