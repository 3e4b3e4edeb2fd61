"""Drives feeds from a journal: lines paced by a `ReplayClock`, frames to their links.

Frames of one connection with the same receive stamp were one read live (a tap stamps a
read once), so they are delivered together: a venue's read path sees the same batches.
Between deliveries the player lets the feeds' own coroutines run while a link asks for
turns (a handshake waiting for its next reply), as the event loop did between two reads.

Seeking (`seek(wall_ns)`): every link closes, the lines from the seek point before the
target are read at once (no output: `catching_up`), the books come back from the
checkpoint there, and the connections open at that moment are reopened as `resumed`
links; the frames up to the target then rebuild the state the target had.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path

from obview.feed import Backoff, Feed, ReplayControl
from obview.journal import (
    Checkpoint,
    Connect,
    Disconnect,
    Frame,
    Header,
    JournalError,
    JournalReader,
    ReplayClock,
    Sync,
    book_of,
    session_files,
)
from obview.record import config_of
from obview.replay.transport import ReplayLink, ReplayTransport
from obview.venues import VenueConfig

MIN_WAIT = 0.004  # s: the shortest wait between two paced batches
SETTLE_TURNS = 4  # loop turns a busy feed gets between two deliveries (handshakes need 2-3)
SEEK_TURNS = 40  # after a seek closed every link: each feed's session winds down, asks anew
SEEK = "replay seek"


def parse_when(text: str, day_of: int) -> int:
    """Wall-clock ns of `text`: ISO 8601 (a date and time; no zone: UTC) or HH:MM[:SS[.f]]
    on the UTC day of `day_of` (ns). ValueError with a one-line reason otherwise."""
    value = text.strip()
    try:
        if "T" in value or "-" in value[:5] or " " in value:
            when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            clock = _dt.time.fromisoformat(value)
            day = _dt.datetime.fromtimestamp(day_of / 1e9, _dt.UTC).date()
            when = _dt.datetime.combine(day, clock)
    except ValueError:
        raise ValueError(f"bad time {text!r}: expected ISO 8601 or HH:MM:SS") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _wake_up(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _bar(fraction: float, width: int = 12) -> str:
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


def build_feed(cfg: VenueConfig) -> Feed:
    """The venue's own feed class, with a replay transport in place of the network."""
    from obview.venues import load

    module = load(cfg.venue)
    feed = module.replay_feed(cfg)
    feed.transport = ReplayTransport(feed)
    feed.backoff = Backoff(initial=0.0, cap=0.0)  # a recorded reconnect happens at once
    feed.stale_after = None  # staleness is the live clock's; a paused replay is not stale
    feed.address = f"replay of {feed.address}" if feed.address else "replay"
    return feed


class ReplayPlayer:
    """The journal `paths` (one session's files, or several sessions in order)."""

    def __init__(self, paths: list[Path], *, speed: float | None = None,
                 start: int | None = None, until: int | None = None,
                 warn: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        files: list[Path] = []
        for path in paths:
            files.extend(session_files(path))
        self.reader = JournalReader(files, warn=warn)
        header = self.reader.headers[0]
        feeds = header.o.get("feeds") if isinstance(header.o, dict) else None
        if not feeds:
            raise JournalError(f"{files[0]}: the journal names no feeds to replay")
        try:
            self.configs = [config_of(cfg) for cfg in feeds]
        except (TypeError, KeyError, ValueError) as exc:
            raise JournalError(f"{files[0]}: the journal header is corrupt ({exc})") from None
        self.feeds = [build_feed(cfg) for cfg in self.configs]
        controls = ReplayControl(self.control, self.describe)
        for feed in self.feeds:  # the TUI finds the replay keys' target here
            feed.capabilities = replace(feed.capabilities, replay=controls)
        self.first_wall = header.w
        self.last_wall = self._last_wall()
        self.start = start
        self.until = until
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
        self.catching_up = start is not None
        self._epoch = 0  # counts seeks: a batch being dispatched when one happens is dropped
        point = self.reader.seek_point(wall=start) if start is not None else None
        source = self._bounded(self.reader.batches(point))
        self._restoring = start is not None
        if start is None:
            self.pace = ReplayClock(source, speed=speed, clock=clock)
        else:  # from the seek point before `start`, caught up at once
            self.pace = ReplayClock((), speed=speed, clock=clock)
            self.pace.seek(self._mono_of(start), source)

    # -- what the TUI and headless mode use -------------------------------------------
    @property
    def speed(self) -> float | None:
        return self.pace.speed

    @property
    def paused(self) -> bool:
        return self.pace.paused

    def progress(self) -> float:
        span = self.last_wall - self.first_wall
        return 1.0 if span <= 0 else min(max((self.wall - self.first_wall) / span, 0.0), 1.0)

    def describe(self) -> str:
        """The status bar's replay line: journal time, progress bar, speed."""
        when = _dt.datetime.fromtimestamp(self.wall / 1e9, _dt.UTC)
        speed = "max" if self.pace.speed is None else f"{self.pace.speed:g}x"
        state = " paused" if self.pace.paused else " end" if self.finished.is_set() else ""
        return (f"replay {when:%Y-%m-%d %H:%M:%S} UTC {_bar(self.progress())} "
                f"{self.progress():.0%} {speed}{state}")

    def control(self, action: str) -> None:
        """pause (toggle), faster, slower, step, back, forward, home, end."""
        pace = self.pace
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
            self.seek(self.first_wall)
        elif action == "end":
            self.seek(self.last_wall)
        self._poke()

    def seek(self, wall: int) -> None:
        """Go to journal wall time `wall` (clamped to the journal)."""
        wall = min(max(wall, self.first_wall), self.last_wall)
        for link in self.links.values():
            link.close(SEEK)
        self.links.clear()
        self._pending = []
        for feed in self.feeds:
            for stream in feed.streams.values():
                stream.book.clear()
                stream.synced = False
        self.start = wall
        self.wall = wall
        self.catching_up = True
        self._restoring = True
        self._epoch += 1
        paused = self.pace.paused
        self.pace.seek(self._mono_of(wall),
                       self._bounded(self.reader.batches(self.reader.seek_point(wall=wall))))
        if paused:
            self.pace.pause()
        self.finished.clear()
        self._settle_now = True
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
            delay = pace.delay()
            if delay is None or delay > 0:
                if delay is None and pace.finished:
                    self._flush()
                    if self.error is not None:
                        raise self.error
                    self.finished.set()
                await self._wait(delay)
                continue
            lines = pace.due()
            if lines:
                await self._dispatch(lines)
            else:
                await asyncio.sleep(0)

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
        """Hand `lines` over: frames of one read (same connection and stamp) together.
        The hot path of a replay: a read's delivery is written out inline (it is
        `_deliver_now`), and `self._pending` is only brought up to date before an await
        (a control may then look at it: a seek replaces it)."""
        self.lines += len(lines)
        epoch = self._epoch
        links = self.links
        group = self._pending
        conn = stamp = None
        if group:
            conn, stamp = group[0].c, group[0].m
        link = links.get(conn)  # the link of `conn` (Connect and Disconnect lines change them)
        restoring = self._restoring
        catching_up = self.catching_up  # only a seek sets it, and a seek ends this batch
        for line in lines:
            if line.__class__ is Frame:
                if line.m == stamp and line.c == conn:
                    group.append(line)
                    continue
                if group:  # the read before this frame is complete
                    first = group[0]
                    self.mono = first.m
                    self.wall = first.w
                    if catching_up and first.w >= self.start:
                        self.catching_up = catching_up = False
                    if link is not None:
                        link.push(group)
                        if link.needs_turns():
                            self._pending = []
                            await self._settle(link=link)
                            if epoch != self._epoch:
                                return
                group = [line]
                if line.c != conn:
                    conn = line.c
                    link = links.get(conn)
                stamp = line.m
                if restoring:
                    self._restoring = restoring = False
                continue
            self._pending = group
            if group:
                await self._deliver()
                if epoch != self._epoch:
                    return
                group = self._pending
                conn = stamp = link = None
            self._line(line)
            catching_up = self.catching_up
            if type(line) in (Connect, Disconnect):
                await self._settle(force=True)
                link = links.get(conn)
            elif restoring and type(line) in (Sync, Header):
                # the resumed links' sessions start before their books come back
                await self._settle(force=True, turns=SEEK_TURNS)
                link = links.get(conn)
            else:
                restoring = self._restoring
                continue
            if epoch != self._epoch:
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
        return line.__class__ is Frame and line.m == first.m and line.c == first.c

    def _dispatch_now(self, lines: list) -> None:
        """`step`: one line at once (a frame is delivered alone)."""
        self._flush()  # a read a batch left pending goes first
        self.lines += len(lines)
        for line in lines:
            if type(line) is Frame:
                self._at(line.w)
                link = self.links.get(line.c)
                if link is not None:
                    link.push([line])
            else:
                self._line(line)

    async def _deliver(self) -> None:
        link = self._deliver_now()
        if link is not None:
            await self._settle(link=link)

    def _deliver_now(self) -> ReplayLink | None:
        """The pending read to its link (the hot path: no coroutine per read)."""
        frames, self._pending = self._pending, []
        first = frames[0]
        self.mono = first.m
        self.wall = wall = first.w
        if self.catching_up and wall >= self.start:
            self.catching_up = False
        link = self.links.get(first.c)
        if link is None:  # a connection whose start is before a seek point: not replayable
            return None
        link.push(frames)
        return link

    def _at(self, wall: int) -> None:
        self.wall = wall
        if self.catching_up and wall >= self.start:
            self.catching_up = False

    async def _settle(self, link: ReplayLink | None = None, force: bool = False,
                      turns: int = SETTLE_TURNS) -> None:
        for _ in range(turns):
            if not force and (link is None or not link.needs_turns()):
                return
            await asyncio.sleep(0)

    def _flush(self) -> None:
        if self._pending:
            frames, self._pending = self._pending, []
            link = self.links.get(frames[0].c)
            if link is not None:
                link.push(frames)

    def _line(self, line) -> None:
        kind = type(line)
        self.mono = getattr(line, "m", self.mono)
        self._at(getattr(line, "w", self.wall))
        if kind is Connect:
            self._restoring = False
            feed = self._feed_at(line.fd)
            if feed is not None:
                link = ReplayLink(line.c)
                self.links[line.c] = link
                feed.transport.open(link)
        elif kind is Disconnect:
            link = self.links.pop(line.c, None)
            if link is not None:
                link.close(line.r)
        elif kind is Sync or kind is Header:
            if self._restoring:
                self._resume_links(line.cn)
        elif kind is Checkpoint:
            if self._restoring:
                self._restore(line)
        else:
            self._restoring = False

    def _resume_links(self, open_links: dict[str, int]) -> None:
        for conn, index in open_links.items():
            feed = self._feed_at(index)
            if feed is not None and int(conn) not in self.links:
                link = ReplayLink(int(conn), resumed=True)
                self.links[int(conn)] = link
                feed.transport.open(link)

    def _restore(self, line: Checkpoint) -> None:
        for feed in self.feeds:
            if feed.venue == line.vn and line.sy in feed.streams:
                stream = feed.streams[line.sy]
                if line.pu is not None:
                    stream.pushes = line.pu - 1  # book_changed counts the restore as one
                feed.restore_book(stream, book_of(line))
                return

    def _feed_at(self, index: int | None) -> Feed | None:
        if index is None or not 0 <= index < len(self.feeds):
            return None
        return self.feeds[index]

    # -- journal times ----------------------------------------------------------------
    def _bounded(self, batches: Iterator[list]) -> Iterator:
        """The lines of `batches` up to `until`; damage ends them and is raised by `run()`
        once every line before it was handed over (the pace reads one line ahead). The
        lines come out of lists through C iterators: nothing runs per line here."""
        return chain.from_iterable(self._bounded_batches(batches))

    def _bounded_batches(self, batches: Iterator[list]) -> Iterator[list]:
        until = self.until
        try:
            for batch in batches:
                if until is not None:
                    for at, line in enumerate(batch):
                        if line.w > until:
                            yield batch[:at]
                            return
                yield batch
        except JournalError as exc:
            self.error = exc

    def _mono_of(self, wall: int) -> int:
        """The monotonic stamp the pace uses for wall time `wall` (same session)."""
        point = self.reader.seek_point(wall=wall)
        return point.mono + (wall - point.wall)

    def _last_wall(self) -> int:
        points = self.reader.index()
        last = points[-1].wall if points else self.reader.headers[0].w
        # the last seek point is at most a frame (about 1 MiB of lines) before the end
        try:
            for batch in self.reader.batches(points[-1] if points else None):
                last = max(last, max(line.w for line in batch))
        except JournalError:  # damage: reported when the replay gets there
            pass
        return last


def open_player(paths: list[str], **kw) -> ReplayPlayer:
    return ReplayPlayer([Path(p) for p in paths], **kw)
