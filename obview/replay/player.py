"""Drives feeds from a journal: lines paced by a `ReplayClock`, frames to their links.

Frames of one connection with the same receive stamp were one read live (a tap stamps a
read once), so they are delivered together: a venue's read path sees the same batches.
A link whose feed takes messages one at a time (`ReplayLink.take`: a WebSocket's) gets
them one by one, each with its own stamp, and no grouping is done for it.
Between deliveries the player lets the feeds' own coroutines run while a link asks for
turns (a handshake waiting for its next reply), as the event loop did between two reads.

Seeking (`seek(wall_ns)`): every link closes, the lines from the seek point before the
target are read at once (no output: `catching_up`), the books come back from the
checkpoint there, and the connections open at that moment are reopened as `resumed`
links; the frames up to the target then rebuild the state the target had.

The journal's time is offered to consumers (`ReplayControl.clock`, `call_at`, `watch`,
`rebuild`): the TUI keeps its depth history on it, and a seek rebuilds that history
from the journal (obview/replay/history.py; docs/replay.md, "Time on screen").
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from obview import fmt
from obview.errors import abridged, bounded, named
from obview.feed import (
    Backoff,
    Feed,
    JournalTime,
    ReplayCaughtUp,
    ReplayControl,
    ReplaySeeked,
    ReplayStatus,
)
from obview.journal import (
    RECORDING_CLOSED,
    Checkpoint,
    Connect,
    Disconnect,
    Frame,
    Header,
    JournalError,
    JournalReader,
    Records,
    ReplayClock,
    SeekPoint,
    Sync,
    one_session,
)
from obview.record import MAX_DEPTH, config_of, valid_depth
from obview.replay.governor import ReplayGovernor
from obview.replay.restore import SeekPointRestorer, checkpointed, feeds_text
from obview.replay.transport import ReplayLink, ReplayTransport
from obview.venues import VenueConfig

MIN_WAIT = 0.004  # s: the shortest wait between two paced batches
SETTLE_TURNS = 4  # loop turns a busy feed gets between two deliveries (handshakes need 2-3)
SEEK_TURNS = 40  # after a seek closed every link: each feed's session winds down, asks anew
# the most loop turns a feed gets to take a new link, or to set its session up, before the
# frames go on without it (a feed that failed for good never takes one). Measured: a Futu
# session that lost its link took 6 after the 4 a disconnect gets; a Loopring one, 2 to
# subscribe after its key's reply
ATTACH_TURNS = 200
SEEK = "replay seek"
_NEVER = 1 << 127  # a timer time later than any stamp


def parse_when(text: str, day_of: int, span_end: int | None = None) -> int:
    """Wall-clock ns of `text`: ISO 8601 (a date and time; no zone: UTC) or HH:MM[:SS[.f]]
    (UTC) on the day of `day_of` (ns), the journal's start, or on a later day where that
    time falls within the journal (up to `span_end`): a session recorded across midnight
    reads `--until 00:00:05` as the time after midnight. ValueError with a one-line
    reason otherwise."""
    value = text.strip()
    try:
        if "T" in value or "-" in value[:5] or " " in value:
            when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            clock = _dt.time.fromisoformat(value)
            day = _dt.datetime.fromtimestamp(day_of // 10**9, _dt.UTC).date()
            when = _dt.datetime.combine(day, clock)
            if clock.tzinfo is None and span_end is not None and _ns(when) < day_of:
                later = when + _dt.timedelta(days=1)  # before the start: the next day's?
                if _ns(later) <= span_end:
                    when = later
    except ValueError:
        raise ValueError(f"bad time {text!r}: expected ISO 8601 or HH:MM:SS") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return _ns(when)


def _ns(when: _dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _wake_up(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def build_feed(cfg: VenueConfig, simulated: bool = False) -> Feed:
    """The venue's own feed class, with a replay transport in place of the network.
    `simulated`: the session was recorded from obview's simulator, so the address the
    config names (the venue's own, by default) is not where it came from."""
    from obview.venues import load

    module = load(cfg.venue)
    feed = module.replay_feed(cfg)
    feed.transport = ReplayTransport(feed)
    feed.backoff = Backoff(initial=0.0, cap=0.0)  # a recorded reconnect happens at once
    feed.stale_after = None  # staleness is the live clock's; a paused replay is not stale
    if simulated:
        feed.address = "replay of a simulator session"
    else:
        feed.address = f"replay of {feed.address}" if feed.address else "replay"
    return feed


def _view_of(options: dict[str, Any]) -> dict[str, Any]:
    """What the recorded run showed (`o.view`), checked: a headless replay prints by it."""
    view = options.get("view")
    if view is None:  # (a journal of another writer, or of an obview before it)
        return {}
    if not isinstance(view, dict):
        raise ValueError(f"its view is {abridged(view)}, not an object")
    depth = view.get("depth")
    if depth is not None and not valid_depth(depth):
        raise ValueError(f"its view's depth is {abridged(depth)}, not 1 to {MAX_DEPTH} rows")
    return view


class ReplayPlayer:
    """The journal `paths`: one session's files, each once, in part order (`one_session`)."""

    def __init__(self, paths: list[Path], *, speed: float | None = None,
                 start: int | None = None, until: int | None = None,
                 warn: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 reader: JournalReader | None = None, batch: int = 1000) -> None:
        """`reader`: an open reader of the journal (a second player on the same files
        shares the first one's index); `batch`: lines handed over between two turns of
        the loop at full speed."""
        self.warnings: list[str] = []  # what the journal warned of, for a screen to show
        self.on_warning: Callable[[str], None] | None = None  # the TUI's, once it runs
        # the TUI's: damage the lines stopped at is told, and the replay waits for controls
        # as at its end (a seek back plays on); without it `run()` raises it (headless)
        self.on_error: Callable[[JournalError], None] | None = None
        self._error_told = -1  # the seek count when it was last told
        warn = partial(self._warned, warn)
        # a rotated part whose header cannot be read: the parts before it are replayed,
        # then its error is raised (`one_session`)
        self._later: list[JournalError] = []
        if reader is None:
            reader = JournalReader(one_session(paths, warn, self._later), warn=warn)
        self.reader = reader
        self.paths = list(reader.paths)
        header = self.reader.headers[0]
        feeds = header.o.get("feeds") if isinstance(header.o, dict) else None
        if not feeds:
            raise JournalError(f"{self.paths[0]}: the journal names no feeds to replay")
        try:  # (a feed checks its settings as it is built: a Loopring API "v9", no symbol)
            if not isinstance(feeds, list):
                raise ValueError(f"its feeds are {abridged(feeds)}, not a list")
            self.view = _view_of(header.o)
            self.configs = [config_of(cfg) for cfg in feeds]
            self.feeds = [build_feed(cfg, simulated=bool(recorded.get("sim")))
                          for cfg, recorded in zip(self.configs, feeds, strict=True)]
        except (TypeError, KeyError, ValueError, IndexError, AttributeError) as exc:
            raise JournalError(f"{self.paths[0]}: the journal header is corrupt "
                               f"({bounded(str(exc))})") from None
        from obview.replay.history import rebuild_history

        controls = ReplayControl(self.control, self.describe, self.status, self.clock,
                                 self.call_at, self.watch, partial(rebuild_history, self))
        for feed in self.feeds:  # the TUI finds the replay keys' target here
            # and no level control: the journal holds the level it recorded, and another
            # one's subscription went into the void (the book stayed empty for good)
            feed.capabilities = replace(feed.capabilities, replay=controls, levels=None)
        if start is not None and start <= header.w:
            # --from at or before the journal's start is its start: the playhead had sat
            # before the recording at 0%, "connecting", for the whole gap (a --from of an
            # hour earlier: an hour at 1x) and the bar showed a time nothing was recorded at
            start = None
        self.first_wall = header.w
        self.start = start
        self.until = until
        # the replay's bounds on screen: --from (home goes there, the bar's 0%) to --until
        self.begin = header.w if start is None else max(start, header.w)
        self.stopped_at: int | None = None  # wall stamp of the first line past `until`
        self.links: dict[int, ReplayLink] = {}
        self._pending: list[Frame] = []
        self._restoring = False
        self.wall = header.w  # journal wall-clock time of the last line handed over
        self.mono = header.m  # and its monotonic receive stamp
        self.lines = 0
        self.finished = asyncio.Event()
        self._wake = asyncio.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._settle_now = False
        self.error: JournalError | None = None  # damage the lines stopped at
        # frames by connection that no link took (`_orphaned`), and the connections
        # whose con line named no feed of the journal (by number: the feed it named)
        self._orphans: dict[int, int] = {}
        self._unfed: dict[int, int | None] = {}
        # the connections lines opened, and whether each is open still (a `dis` line of
        # one no line opened, or closed already, is damage)
        self._conns: dict[int, bool] = {}
        self.restorer = SeekPointRestorer(self.feeds, self.links, self._conns, self.reader.paths)
        self._feed_at = self.restorer.feed_at
        # the replay reads from the session's start, with no seek: every connection
        # it meets was opened by a line it read
        self._whole = start is None and header.part == 0
        self._framed = False  # a frame was read (`_bounded_batches`)
        self.catching_up = start is not None
        # journal-time consumers: timers (wall ns, order, callback) and seek watchers
        self._timers: list[tuple[int, int, Callable[[], None]]] = []
        self._next_timer = _NEVER
        self._timer_order = itertools.count()
        self._watchers: list[Callable[[ReplaySeeked | ReplayCaughtUp], None]] = []
        self._arming = start is not None  # a seek's catch-up not yet reported as over
        self._busy = False  # lines taken from the pace and not all handed over yet
        self._seeks = 0
        self.governor: ReplayGovernor | None = None  # see govern()
        # where the last start or seek replays from: without `start`, the first file's
        # start (a damaged checkpoint of a rotated part given alone is named by it: it
        # said "internal error: AttributeError")
        self.point = SeekPoint(0, 0, header.m, header.w)
        source = self._bounded(self._batches_from(start) if start is not None
                               else self.reader.batches())
        # A rotated part given without the ones before it starts mid-session, as a seek
        # does: its header names the open connections and its checkpoint holds the books
        # (without that, its frames went to no connection and nothing was shown).
        self._restoring = start is not None or header.part > 0
        if header.part > 0:
            warn(f"{self.paths[0]} is part {header.part} of its session: replaying from "
                 "its first checkpoint (the parts before it are not given)")
        if start is None:
            self.pace = ReplayClock(source, speed=speed, clock=clock, batch=batch)
        else:  # from the seek point before `start`, caught up at once
            self.pace = ReplayClock((), speed=speed, clock=clock, batch=batch)
            self.pace.seek(self._mono_of(start), source)
            self.mono = self._mono_of(start)
            self.wall = start

    def _warned(self, warn: Callable[[str], None] | None, text: str) -> None:
        self.warnings.append(text)
        if self.on_warning is not None:  # the TUI: stderr is under its screen
            self.on_warning(text)
        elif warn is not None:
            warn(text)

    # -- what the TUI and headless mode use -------------------------------------------
    @cached_property
    def last_wall(self) -> int:
        """The journal's last wall stamp, read when first asked (the progress bar, a seek
        to the end): finding it decodes the last zstd frame, up to a MiB of lines, which a
        headless replay as fast as possible never needs."""
        return self.reader.end_wall()

    @property
    def speed(self) -> float | None:
        return self.pace.speed

    @property
    def paused(self) -> bool:
        return self.pace.paused

    @property
    def end(self) -> int:
        """The replay's last instant: the journal's end, or `until` before it."""
        return self.last_wall if self.until is None else min(self.last_wall, self.until)

    def progress(self) -> float:
        """Where the playhead is between `begin` (--from) and `end` (--until)."""
        span = self.end - self.begin
        return 1.0 if span <= 0 else min(max((self.wall - self.begin) / span, 0.0), 1.0)

    def govern(self, budget: float, **kw) -> ReplayGovernor:
        """Slow the pace down while playing it keeps the event loop's thread busier
        than `budget` of a core, or the screen paints late (`governor.late`, which the
        screen calls; a screen's replay: obview/replay/governor.py)."""
        self.governor = ReplayGovernor(budget, **kw)
        return self.governor

    def status(self) -> ReplayStatus:
        """Where the replay stands: journal time, progress, speed (and the speed actually
        played when the machine cannot keep up), paused or over."""
        pace = self.pace
        speed = "max" if pace.speed is None else f"{pace.speed:g}x"
        if pace.throttle < 1.0 and (playing := pace.playing_speed) is not None:
            speed += f" (CPU-bound: {playing:.0f}x)" if playing >= 10 else \
                f" (CPU-bound: {playing:.2g}x)"
        # the end first: a journal played to its end, or sent there (`end`, `]`) while
        # paused, is over, whatever its last instant's lines still wait for
        upcoming = pace.peek()
        over = self.finished.is_set() or (not pace.catching_up and (
            upcoming is None or getattr(upcoming, "w", 0) >= self.last_wall))
        state = "end" if over else "paused" if pace.paused else ""
        return ReplayStatus(self.wall, self.progress(), speed, state, self._seeks, pace.paused)

    def describe(self) -> str:
        """`status()` in one line: "replay 2026-12-07 14:03:22 UTC ██████░░░░░░ 50% 10x"."""
        status = self.status()
        when = _dt.datetime.fromtimestamp(status.wall / 1e9, _dt.UTC)
        return (f"replay {when:%Y-%m-%d %H:%M:%S} UTC {fmt.progress_bar(status.progress)} "
                f"{status.progress:.0%} {status.speed}{' ' if status.state else ''}{status.state}")

    def clock(self) -> JournalTime:
        """The journal's time now (see JournalTime): between lines, the pace's position,
        but never past a line not yet handed over."""
        mono = self.mono
        offset = self.wall - mono
        if not self._busy:
            pace = self.pace
            ahead = pace.position()
            upcoming = pace.next_stamp()
            if upcoming is not None and (ahead is None or upcoming < ahead):
                ahead = upcoming
            if ahead is not None and ahead > mono:
                mono = ahead
        return JournalTime(mono, offset)

    def call_at(self, wall: int, callback: Callable[[], None]) -> None:
        """Run `callback` before the first line stamped at or after journal wall time
        `wall` (ns) is handed over, or once the last line handed over is stamped at or
        after it and the replay waits (paused, a step, its end), or while it plays
        once the journal's time reaches it between two lines. A seek forgets every
        timer."""
        earliest = wall < self._next_timer
        heapq.heappush(self._timers, (wall, next(self._timer_order), callback))
        self._next_timer = self._timers[0][0]
        if earliest and self._waiter is not None:
            self._poke()  # waiting for a later line: the wait is measured again

    def watch(self, listener: Callable[[ReplaySeeked | ReplayCaughtUp], None]) -> None:
        """`listener(event)` at every seek and at the end of its catch-up (a start with
        `start=` still catching up is reported at once)."""
        self._watchers.append(listener)
        if self._arming and self.start is not None:
            listener(ReplaySeeked(self.start))

    def _woken(self) -> bool:
        """After timers ran: does a feed need the loop (one they woke: a Loopring check
        whose wait on the journal's time is over)?"""
        return any(link.needs_turns() for link in self.links.values())

    async def _give_turns(self) -> None:
        """The turns of the feeds that timers woke, before the line that is due: live,
        the timer fired before that line came, and a check asked for then recorded the
        pushes after it. Woken after the line was handed over, a Loopring check began
        with that push in the book, its snapshot a version older could never be
        brought level, and no mismatch was counted (a recording: 4 live, 3 replayed)."""
        for link in list(self.links.values()):
            if link.needs_turns():
                await self._settle(link=link)

    def _playhead_wall(self) -> int | None:
        """The journal wall time being played now (the pace's position, on the wall
        clock of the last line handed over: one session's stamps keep one offset)."""
        at = self.pace.position()
        return None if at is None else at + (self.wall - self.mono)

    async def _timers_at_playhead(self) -> bool:
        """Run the timers the playhead has reached; True if a feed they woke had its
        turns (the caller looks again: a seek may have come meanwhile)."""
        now = self._playhead_wall()
        if now is None or now < self._next_timer:
            return False
        self._run_timers(now)
        if not self._woken():
            return False
        await self._give_turns()
        return True

    def _until_timer(self) -> float:
        """Seconds until the playhead reaches the next timer, at the speed playing."""
        now, speed = self._playhead_wall(), self.pace.playing_speed
        if now is None or not speed:
            return float("inf")
        return max(0.0, (self._next_timer - now) / speed / 1e9)

    def _run_timers(self, wall: int) -> None:
        timers = self._timers
        while timers and timers[0][0] <= wall:
            heapq.heappop(timers)[2]()
        self._next_timer = timers[0][0] if timers else _NEVER

    def _caught_up(self, split: int | None) -> None:
        """Every line before the seek target is handed over; `split`: the next one's
        wall stamp."""
        self._arming = False
        event = ReplayCaughtUp(self.start, split)
        for listener in list(self._watchers):
            listener(event)

    def control(self, action: str) -> None:
        """pause (toggle), faster, slower, step, back, forward, home, end."""
        pace = self.pace
        if self.governor is not None:  # a new situation: measured afresh
            self.governor.restart(1.0 if action in ("faster", "slower") else pace.throttle)
        if action == "pause":
            pace.toggle()
        elif action == "faster":
            pace.faster()
        elif action == "slower":
            pace.slower()
        elif action == "step":
            line = pace.step()
            if line is not None:
                self._dispatch_now([line])
        elif action == "back":
            self.seek(self.wall - 10 * 1_000_000_000)
        elif action == "forward":
            self.seek(self.wall + 10 * 1_000_000_000)
        elif action == "home":
            self.seek(self.begin)
        elif action == "end":
            self.seek(self.last_wall)
        self._poke()

    def seek(self, wall: int) -> None:
        """Go to journal wall time `wall` (clamped to the journal, and to --from and
        `until`: past it no line is handed over, so a seek there emptied the books)."""
        wall = min(max(wall, self.begin), self.end)
        for link in self.links.values():
            link.close(SEEK, restart=True)
        self.links.clear()
        self._pending.clear()
        for feed in self.feeds:
            # the counts too: the seek point's `sync` line gives them back as they were
            # then (`SeekPointRestorer.counters`); a file start, or a journal written before the
            # counts were recorded, counts from none, never on from the timeline left
            feed.reconnects = feed.bad_frames = feed.messages = 0
            feed.seeked()
            feed.forget_records()
            for stream in feed.streams.values():
                stream.resyncs = 0
                stream.book.clear()
                # no receive behind the emptied book: its repaint is no receive-to-paint
                stream.book.recv_mono = None
                stream.synced = False
                # a checkpoint restores the count; a file start (or a book not in the
                # checkpoint) counts from none, not on from the timeline the seek left
                stream.pushes = 0
                # the prints from the checkpoint on count again (by sequence, a print
                # already seen would be dropped: a seek back would show none)
                stream.tape.reset()
        self.start = wall
        self.wall = wall
        self.mono = self._mono_of(wall)
        self._whole = False
        self._conns.clear()  # (the lines from the seek point open them again)
        self.catching_up = True
        self._restoring = True
        self._timers.clear()
        self._next_timer = _NEVER
        self._arming = True
        self._seeks += 1
        self.error = None  # found again if the lines from here reach it
        paused = self.pace.paused
        self.pace.seek(self.mono, self._bounded(self._batches_from(wall)))
        if paused:
            self.pace.pause()
        self.finished.clear()
        self._settle_now = True
        event = ReplaySeeked(wall)
        for listener in list(self._watchers):
            listener(event)
        self._poke()

    # -- running ------------------------------------------------------------------------
    async def run(self) -> None:
        """Hand the lines over at their pace until the journal ends (then wait for
        controls: a seek back plays on)."""
        pace = self.pace
        while True:
            if self._settle_now:
                self._settle_now = False
                await self._settle(force=True, turns=SEEK_TURNS)
            if self._arming and not pace.catching_up and not self._pending:
                # the catch-up is over even if the next line waits (paused, or later)
                upcoming = pace.peek()
                self._caught_up(None if upcoming is None else upcoming.w)
            delay = pace.delay()
            if delay is None or delay > 0:
                over = delay is None and pace.finished
                if over:
                    self._flush()
                if self._next_timer <= self.wall:
                    # due by the last line handed over (a screen told of what it changed):
                    # live they ran at once, and no line may come to run them (paused, a
                    # step, the end, --until)
                    self._run_timers(self.wall)
                if over:
                    if self.error is None:
                        self.error = (self._orphans_error() or self._frameless_error()
                                      or (self._later[0] if self._later else None))
                    if self.error is not None:
                        if self.on_error is None:
                            raise self.error
                        if self._error_told != self._seeks:  # once each time it is reached
                            self._error_told = self._seeks
                            self.on_error(self.error)
                    self.finished.set()
                if delay is not None and self._next_timer != _NEVER:
                    # playing, the next line not due yet: the timers due before it run
                    # at their own journal time, as live's did in a quiet spell (a
                    # screen told of the orders the last line changed, a heatmap column,
                    # a Loopring check), not when that line comes
                    if await self._timers_at_playhead():
                        continue
                    delay = min(delay, self._until_timer())
                await self._wait(delay)
                continue
            lines = pace.due()
            if lines:
                try:
                    await self._dispatch(lines)
                except JournalError as exc:
                    # damage a line showed as it was played (a checkpoint, a con line): on
                    # a screen, told as the reader's is and the replay stays seekable (its
                    # worker had ended with it, and no replay key did anything after)
                    if self.on_error is None:
                        raise
                    self.error = exc
                    pace.stop()
                    continue
                if self.governor is not None and pace.speed is not None:
                    self._govern()
            else:
                await asyncio.sleep(0)

    def _govern(self) -> None:
        pace, governor = self.pace, self.governor
        if not self.catching_up:  # (a seek's catch-up is not paced: it does not count)
            governor.played()
        # never slower than real time: the recording was once played at 1x, live, and if
        # the screen alone is over budget, slowing the lines further would not help
        throttle = governor.sample(floor=min(1.0, 1.0 / pace.speed))
        if throttle is not None:
            pace.set_throttle(throttle)

    async def _wait(self, delay: float | None) -> None:
        """Until `delay` has passed or a control woke us. Paced lines are handed over at
        least MIN_WAIT apart, in one batch: a wake-up per line at 10,000 lines/s would
        cost more than the lines (and the screen paints at 30 fps anyway)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None
        if delay is not None:
            timer = loop.call_later(max(delay, MIN_WAIT), _wake_up, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
            self._wake.clear()

    def _poke(self) -> None:
        self._wake.set()
        if self._waiter is not None:
            _wake_up(self._waiter)

    async def _dispatch(self, lines: list) -> None:
        self._busy = True
        try:
            await self._dispatch_lines(lines)
        finally:
            self._busy = False

    async def _dispatch_lines(self, lines: list) -> None:
        """Hand `lines` over: frames of one read (same connection and stamp) together,
        or one by one to a link that takes messages (`ReplayLink.take`).
        The hot path of a replay: deliveries are written out inline (a read's is
        `_deliver_now`), and `self._pending` is only brought up to date before an await
        (a control may then look at it: a seek replaces it). A seek while the feeds take
        their turns (a key pressed meanwhile) ends the batch: its remaining lines belong
        to the timeline the seek left."""
        self.lines += len(lines)
        seeks = self._seeks
        links = self.links
        group = self._pending
        conn = stamp = channel = wire = None
        if group:
            conn, stamp, channel = group[0].c, group[0].m, group[0].ch
        link = links.get(conn)  # the link of `conn` (Connect and Disconnect lines change them)
        # `take`: the link of `conn` takes messages, and no read is pending before them;
        # a frame of another channel than the link's (`wire`) is no message for it
        take = None
        restoring = self._restoring
        catching_up = self.catching_up  # only a seek sets it, and a seek ends this batch
        for line in lines:
            if line.__class__ is Frame:
                if take is None or line.c != conn or line.ch != wire:
                    # one read: one connection's socket (a REST reply has its own), one stamp
                    if line.m == stamp and line.c == conn and line.ch == channel:
                        group.append(line)
                        continue
                    if group:  # the read before this frame is complete
                        first = group[0]
                        wall = first.w
                        if wall >= self._next_timer:  # before the read: what fell due before it
                            self._run_timers(wall)
                            if self._woken():
                                self._pending = []
                                await self._give_turns()
                                if seeks != self._seeks:
                                    return
                        self.mono = first.m
                        self.wall = wall
                        if catching_up and wall >= self.start:
                            self.catching_up = catching_up = False
                            if self._arming:
                                self._caught_up(wall)
                        if link is not None:
                            link.push(group)
                            if link.needs_turns():
                                self._pending = []
                                await self._settle(link=link)
                                if seeks != self._seeks:
                                    return
                        else:
                            self._orphaned(group)
                    if line.c != conn:
                        conn = line.c
                        link = links.get(conn)
                    if restoring:
                        self._restoring = restoring = False
                    wire = None if link is None else link.wire
                    take = None if line.ch != wire else link.taker()
                    if take is None:
                        group = [line]
                        stamp, channel = line.m, line.ch
                        continue
                    group = []
                    stamp = None
                # the next message of a link that takes messages: no read to group
                wall = line.w
                if wall >= self._next_timer:  # (a book change may have set a timer)
                    self._run_timers(wall)
                    if self._woken():
                        self._pending = []
                        await self._give_turns()
                        if seeks != self._seeks:
                            return
                        take = link.taker()
                        if take is None:  # the feed it woke ended the session
                            continue
                if catching_up and wall >= self.start:
                    self.catching_up = catching_up = False
                    if self._arming:
                        self._caught_up(wall)
                self.mono = line.m
                self.wall = wall
                try:
                    busy = take(line)
                except Exception as exc:  # noqa: BLE001  # as `ReplayLink.push`: ends the link
                    link.fail(exc)
                    busy = True
                if busy:  # the feed needs the loop's turns before the next one
                    self._pending = []
                    await self._settle(link=link)
                    if seeks != self._seeks:
                        return
                    take = link.taker()
                continue
            take = None
            self._pending = group
            if group:
                await self._deliver()
                if seeks != self._seeks:
                    return
                group = self._pending
                conn = stamp = link = None
            wall = line.w  # (every kind of line is stamped)
            if wall >= self._next_timer:  # (as before a frame)
                self._run_timers(wall)
                if self._woken():
                    await self._give_turns()
                    if seeks != self._seeks:
                        return
            self._line(line)
            catching_up = self.catching_up
            if type(line) in (Connect, Disconnect):
                if type(line) is Connect:
                    # its frames wait for the feed: live, they came after its last session
                    # had ended (on a network's time, which max speed does not take)
                    await self._attach((links.get(line.c),))
                await self._settle(force=True)
                link = links.get(conn)
            elif restoring and type(line) in (Sync, Header):
                # the resumed links' sessions start before their books come back
                await self._settle(force=True, turns=SEEK_TURNS)
                await self._attach(list(links.values()))
                link = links.get(conn)
            else:
                restoring = self._restoring
                continue
            if seeks != self._seeks:
                return
            restoring = self._restoring
        self._pending = group
        if group and not self._continues(group[0]):
            await self._deliver()
        await asyncio.sleep(0)  # the screen and the printer get their turn each batch

    def _continues(self, first: Frame) -> bool:
        """The next line belongs to the same read as `first`: the read stays pending
        (a batch boundary must not split a read the venue was handed whole live)."""
        line = self.pace.peek()
        return line.__class__ is Frame and line.m == first.m and line.c == first.c and \
            line.ch == first.ch

    def _dispatch_now(self, lines: list) -> None:
        """`step`: one line at once (a frame is delivered alone)."""
        self.lines += len(lines)
        self._busy = True
        try:
            if self._pending:  # a read a batch left pending goes first
                self._deliver_now()
            for line in lines:
                if type(line) is Frame:
                    if line.w >= self._next_timer:
                        self._run_timers(line.w)
                    self.mono = line.m
                    self._at(line.w)
                    link = self.links.get(line.c)
                    if link is not None:
                        link.push([line])
                    else:
                        self._orphaned([line])
                else:
                    self._line(line)
        finally:
            self._busy = False

    async def _deliver(self) -> None:
        wall = self._pending[0].w
        if wall >= self._next_timer:  # (`_deliver_now` runs them: its caller cannot wait)
            self._run_timers(wall)
            if self._woken():
                seeks = self._seeks
                await self._give_turns()
                if seeks != self._seeks or not self._pending:  # (a seek, a step: taken)
                    return
        link = self._deliver_now()
        if link is not None:
            await self._settle(link=link)

    def _deliver_now(self) -> ReplayLink | None:
        """The pending read to its link (the hot path: no coroutine per read)."""
        frames, self._pending = self._pending, []
        first = frames[0]
        wall = first.w
        if wall >= self._next_timer:  # before the read: what fell due before it
            self._run_timers(wall)
        self.mono = first.m
        self.wall = wall
        if self.catching_up and wall >= self.start:
            self.catching_up = False
            if self._arming:
                self._caught_up(wall)
        link = self.links.get(first.c)
        if link is None:  # a connection whose start is before a seek point: not replayable
            self._orphaned(frames)
            return None
        link.push(frames)
        return link

    def _at(self, wall: int) -> None:
        self.wall = wall
        if self.catching_up and wall >= self.start:
            self.catching_up = False
            if self._arming:
                self._caught_up(wall)

    async def _settle(self, link: ReplayLink | None = None, force: bool = False,
                      turns: int = SETTLE_TURNS) -> None:
        if link is not None and link.unread:
            # a recorded reply handed to the request waiting for it: read before the
            # next line, as live read it before the pushes after it (`ReplayLink.unread`)
            await link.replies_taken()
        for _ in range(turns):
            if not force and (link is None or not link.needs_turns()):
                break
            await asyncio.sleep(0)
        if link is not None:  # a session setting up runs until it reads or awaits a reply
            for _ in range(ATTACH_TURNS):
                if not link.setting_up():
                    return
                await asyncio.sleep(0)

    async def _attach(self, links) -> None:
        """Until the feeds took the open `links` from their transports (or ATTACH_TURNS)."""
        for _ in range(ATTACH_TURNS):
            if all(link is None or link.taken or link.is_closed for link in links):
                return
            await asyncio.sleep(0)

    def _flush(self) -> None:
        if self._pending:
            self._busy = True
            try:
                self._deliver_now()
            finally:
                self._busy = False
        if self._arming and not self.pace.catching_up:
            self._caught_up(None)

    def _line(self, line) -> None:
        kind = type(line)
        wall = getattr(line, "w", self.wall)
        if wall >= self._next_timer:
            self._run_timers(wall)
        self.mono = getattr(line, "m", self.mono)
        self._at(wall)
        if kind is Connect:
            self._restoring = False
            self._conns[line.c] = True
            feed = self._feed_at(line.fd)
            if feed is None:  # (its frames are counted as no connection's)
                self._unfed[line.c] = line.fd
            if feed is not None:
                # damage: its frames would go to a feed of another venue, or to one
                # whose read path takes another wire's
                if line.vn != feed.venue:
                    self._corrupt_line(line, f"a con line of {named(line.vn)} for feed "
                                             f"{line.fd}, which is {feed.venue}'s")
                if line.ch != feed.wire:
                    self._corrupt_line(line, f"a con line of channel {named(line.ch)}: "
                                             f"{feed.venue} connections are {feed.wire}")
                resumed = self.links.get(line.c)
                if resumed is not None and resumed.resumed:
                    # a seek point written before obview listed a connection only once
                    # its `con` line was written listed this one: it opens here, with
                    # its handshake, so the resumed stand-in ends (a restart: no loss)
                    resumed.close(SEEK, restart=True)
                link = ReplayLink(line.c)
                self.links[line.c] = link
                feed.transport.open(link)
        elif kind is Disconnect:
            if self._from_start() and not self._conns.get(line.c):
                # damage (the lines from the session's start hold every con line): a
                # damaged number, which left the connection it closed open
                self._corrupt_line(line, f"a dis line of connection {line.c}, which " + (
                    "a dis line closed already" if line.c in self._conns
                    else "no con line opened"))
            self._conns[line.c] = False
            if line.bf:
                self._count_unjournaled(line)
            # the recording's own close is the journal's end, not a lost connection: the
            # feed stays as the recording left it (live, nothing showed a reconnect)
            if line.r != RECORDING_CLOSED:
                link = self.links.pop(line.c, None)
                if link is not None:
                    link.close(line.r)
        elif kind is Sync or kind is Header:
            if self._restoring:
                self.restorer.counters(line.fc)
                self.restorer.reopen_links(line.cn, self.point)
        elif kind is Checkpoint:
            if self._restoring:
                self.restorer.book(line, self.point)
        elif kind is Records:
            if self._restoring:
                self.restorer.records(line, self.point)
        else:
            self._restoring = False

    def _orphaned(self, frames: list[Frame]) -> None:
        """Frames of a connection no replayed line opened: not replayable, counted (the
        error path: a connection that was opened has its link)."""
        conn = frames[0].c
        self._orphans[conn] = self._orphans.get(conn, 0) + len(frames)

    def _orphans_error(self) -> JournalError | None:
        """The frames no connection took, said as damage, where the replay read its
        journal from the session's start (after a seek or --from, a connection opened
        before the seek point is not replayable: journals written before `cn` listed
        the open ones)."""
        if not self._orphans or not self._whole:
            return None
        count = sum(self._orphans.values())
        conns = sorted(self._orphans)
        said = ", ".join(map(str, conns[:5])) + (", ..." if len(conns) > 5 else "")
        why = "which no con line opened"
        unfed = [c for c in conns if c in self._unfed]
        if unfed:
            why = (f"whose con line names feed {self._unfed[unfed[0]]} (the journal has "
                   f"{feeds_text(len(self.feeds))})")
        error = JournalError(
            f"{self.paths[0]}: {count} frame{'s' if count > 1 else ''} of connection"
            f"{'s' if len(conns) > 1 else ''} {said}, {why}, went to no feed: the journal "
            "is damaged")
        error.read_whole = True
        return error

    def _frameless_error(self) -> JournalError | None:
        """A journal read whole that holds no frame: the recording received nothing (it
        was stopped at once, or never got through to the venue). There is nothing to
        replay, as for a header that names no feed: one line and exit 1 (it printed
        nothing and exited 0, as if a session had been replayed)."""
        if self._framed or not self._whole or self.stopped_at is not None:
            return None
        header = self.reader.headers[0]
        said = ", ".join(f"{named(venue)} {' '.join(map(named, symbols))}"
                         for venue, symbols in header.sy.items())
        if len(said) > 60:  # (a session of thousands of symbols)
            said = said[:57] + "..."
        return JournalError(
            f"{self.paths[0]}: the journal holds no frame{' of ' + said if said else ''}: "
            "its recording received nothing from the venue, so there is nothing to replay")

    def _from_start(self) -> bool:
        """The lines played come from the session's start (a seek home included), so
        every connection they meet was opened by a line among them."""
        point = self.point
        return point.file == 0 and point.offset == 0 and self.reader.headers[0].part == 0

    def _corrupt_line(self, line: Connect | Disconnect, why: str) -> None:
        """Raise the JournalError of a line whose content the journal contradicts."""
        raise JournalError(f"{self.reader.where(line, self.point)} is corrupt ({why})")

    def _count_unjournaled(self, line: Disconnect) -> None:
        """The bad frames live counted on the connection that no line holds (refused by
        the framing: Feed.count_unjournaled_bad_frame), counted as it ends, as live."""
        link = self.links.get(line.c)
        feed = link.feed if link is not None else None
        if feed is not None:  # (at once: a damaged line's count must not take its time)
            feed.count_bad_frame(line.r or "a bad frame the journal does not hold", line.bf)

    # -- journal times ----------------------------------------------------------------
    def _batches_from(self, wall: int) -> Iterator[list]:
        """The lines a start at `wall` replays: from the last seek point before it whose
        checkpoint every feed can go on from (`Feed.resumable`: Loopring's needs its
        book), else from an earlier one, down to the first point of the files given.
        What a feed lacks there came before the point (docs/journal.md, "Seeking"):
        from an earlier point the replay goes through it too and shows at `wall` what
        live showed. The lines read to look at a point are the first ones replayed."""
        points = self.reader.index()
        at = points.index(self.reader.seek_point(wall=wall))
        while True:
            self.point = point = points[at]
            batches = self.reader.batches(point)
            if at == 0:
                return batches
            head: list[list] = []
            try:
                books = checkpointed(batches, head)
            except JournalError:  # damage: the replay reads it again and stops there
                return self.reader.batches(point)
            if any(self.restorer.book_of(venue, key) is None for venue, key in books):
                return itertools.chain(head, batches)  # damage: restored, it says so
            if all(feed.resumable(stream, books.get((feed.venue, key)))
                   for feed in self.feeds for key, stream in feed.streams.items()):
                return itertools.chain(head, batches)
            at -= 1

    def _bounded(self, batches: Iterator[list]) -> Iterator:
        """The lines of `batches` up to `until`; damage ends them and is raised by `run()`
        once every line before it was handed over (the pace reads one line ahead). The
        lines come out of lists through C iterators: nothing runs per line here."""
        return itertools.chain.from_iterable(self._bounded_batches(batches))

    def _bounded_batches(self, batches: Iterator[list]) -> Iterator[list]:
        until = self.until
        try:
            for batch in batches:
                if not self._framed:  # (until the first: a scan in C of its batches)
                    self._framed = Frame in map(type, batch)
                if until is not None:
                    for at, line in enumerate(batch):
                        if line.w > until:
                            self.stopped_at = line.w
                            yield batch[:at]
                            return
                yield batch
        except JournalError as exc:
            self.error = exc

    def _mono_of(self, wall: int) -> int:
        """The monotonic stamp the pace uses for wall time `wall` (same session)."""
        point = self.reader.seek_point(wall=wall)
        return point.mono + (wall - point.wall)


def open_player(paths: list[str], **kw) -> ReplayPlayer:
    return ReplayPlayer([Path(p) for p in paths], **kw)
