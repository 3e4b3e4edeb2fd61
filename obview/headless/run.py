"""Headless mode: the same feeds and books as the TUI, printed as JSON.

`--dump json` prints one object per stream once every stream is synced and has applied
`count` updates since (0 by default: at once); `--timeout` bounds the whole dump.
`--stream json` prints one line per applied update until `count` lines or until
interrupted; `--timeout` bounds only the wait for the first synced book. A closed stdout
(the reader went away) ends the run quietly. The contract is in docs/feeds.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import msgspec

from obview.events import (
    BookChanged,
    Event,
    FeedFailed,
    RecordsChanged,
    StatusChanged,
    TradesPrinted,
)
from obview.feed import Feed, Stream, TradeKind
from obview.headless.json import book_json, record_json
from obview.trades import trade_json
from obview.venues import VenueConfig, load

_encoder = msgspec.json.Encoder()
TROUBLE_EVERY = 10.0  # s: at most one stderr line a feed for bad frames and reconnects


class HeadlessFailure(Exception):
    """Headless mode could not do what was asked; the message is the one line shown."""


class ConfigError(ValueError):
    """The venue refused its configuration (e.g. an unknown simulator fault): a usage error."""


async def open_configured(cfg: VenueConfig, stack: contextlib.AsyncExitStack) -> Feed:
    """`open_feed`, with a venue's ValueError (bad settings) turned into ConfigError."""
    try:
        return await load(cfg.venue).open_feed(cfg, stack)
    except ValueError as exc:
        raise ConfigError(f"{cfg.venue}: {exc}") from None


class HeadlessPrinter:
    """Listens to feeds and prints; sets `done` when the request is satisfied."""

    def __init__(self, mode: str, count: int | None, depth: int, details: bool, out: TextIO):
        self.mode = mode  # "dump" | "stream"
        self.count = count
        self.depth = depth
        self.details = details
        self.out = out
        self.lines = 0
        self.done = asyncio.Event()
        self.started = asyncio.Event()  # a shown book was synced: --timeout no longer applies
        self.closed = False  # stdout went away (`| head`): stop quietly
        self.failure: str | None = None
        self.feeds: list[Feed] = []
        self.records: str | None = None  # "orders" / "risk" / "trades": those instead of books
        self.err: TextIO = sys.stderr
        self._refused_reported: set[tuple[int, str]] = set()
        self.muted: Callable[[], bool] | None = None  # replay: True while catching up
        # replay: the recorded receive time (epoch ms) of the read being applied, for
        # `recv_ts`; the book's own stamp is the replay's clock, not the recording's
        self.received: Callable[[], int] | None = None
        self.writing = False  # inside a write to `out`, which may block (`interruptible`)
        # bad input and lost sessions, said on stderr (the lines alone never show them):
        # per feed, the (bad frames, reconnects) last said and when
        self._trouble_said: dict[int, tuple[tuple[int, int], float]] = {}

    def watch(self, feed: Feed) -> None:
        self.feeds.append(feed)
        feed.add_listener(self.on_event)

    def _print(self, obj: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.out is None:  # no stdout at all (`>&-`): as a reader that left
            self._reader_gone()
            return
        self.writing = True  # (see `interruptible`)
        try:
            self.out.write(_encoder.encode(obj).decode() + "\n")
            self.out.flush()
        except (BrokenPipeError, ValueError):  # ValueError: the file object was closed
            self._reader_gone()
            return
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.EBADF):
                self._reader_gone()
            else:
                # A full disk under `> file`. Raised here it would reach the feed, which
                # takes a listener's error for its session's and reconnects, for ever
                # and in silence: the run ends, saying why.
                self.failure = f"cannot write stdout: {exc.strerror or exc}"
                self.closed = True
                self.done.set()
            return
        finally:
            self.writing = False
        self.lines += 1
        if self.count is not None and self.lines >= self.count:
            self.done.set()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Ctrl-C ends the run even while a write waits on a full pipe (a reader that
        stopped reading). Stdout is written blocking: a slow reader holds obview back
        rather than letting lines pile up in memory. But asyncio's SIGINT handler only
        cancels the main task, and the blocked write is retried after it (PEP 475), so
        the cancellation would never run: a SIGINT during a write raises
        KeyboardInterrupt there instead, with stdout pointed at /dev/null so that what
        is left in its buffer cannot block the exit either (docs/feeds.md, "Headless contract")."""
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or not callable(previous):
            yield
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self.writing:
                self.closed = True
                discard_output(self.out)
                raise KeyboardInterrupt
            previous(signum, frame)

        signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _reader_gone(self) -> None:
        # Not a venue error: nobody reads any more, so there is nothing left to do.
        self.closed = True
        self.done.set()

    def on_event(self, event: Event) -> None:
        if self.done.is_set():
            return
        feed = event.feed
        if feed.bad_frames or feed.reconnects:
            self._report_trouble(feed)
        if isinstance(event, StatusChanged):
            self._report_refused(event.feed)
        elif isinstance(event, FeedFailed):
            self.failure = f"{event.feed.venue}: {event.reason}"
            self.done.set()
        elif isinstance(event, RecordsChanged):
            if self.muted is not None and self.muted():  # replay: before --from
                return
            if self.records == event.kind and self.mode == "stream":
                for row in event.rows:
                    self._print(record_json(event.feed, row))
                    if self.done.is_set():
                        return
        elif isinstance(event, TradesPrinted):
            if self.muted is not None and self.muted():
                return
            if self.records == "trades" and self.mode == "stream" and _shown(event.feed,
                                                                              event.stream):
                for trade in event.trades:
                    obj = trade_json(trade)
                    if self.received is not None:  # replay: as recorded, like a book's
                        obj["recv_ts"] = self.received()
                    self._print(obj)
                    if self.done.is_set():
                        return
        elif isinstance(event, BookChanged):
            stream = event.stream
            if not stream.synced or not _shown(event.feed, stream):
                return
            if self.muted is not None and self.muted():
                return
            self.started.set()  # also in records mode: the session is up
            if self.records is not None:
                return
            if self.mode == "stream":
                obj = book_json(event.feed, stream, self.depth, self.details)
                if self.received is not None:
                    obj["recv_ts"] = self.received()
                self._print(obj)
            elif self._dump_ready():
                for feed in self.feeds:
                    for each in feed.streams.values():
                        if _shown(feed, each):
                            self._print(book_json(feed, each, self.depth, self.details))
                self.done.set()

    def _report_trouble(self, feed: Feed, final: bool = False) -> None:
        """A line on stderr when a feed counts bad frames or reconnects: at most one per
        TROUBLE_EVERY seconds a feed, each with the totals, so a flood of garbage is a
        few lines; `final` (the run is over) says totals not said yet, whenever the last
        line was. Each one is in the log too."""
        counts = (feed.bad_frames, feed.reconnects)
        said, at = self._trouble_said.get(id(feed), ((0, 0), -TROUBLE_EVERY))
        if counts == said or self.muted is not None and self.muted():
            return
        now = time.monotonic()
        if now - at < TROUBLE_EVERY and not final:
            return
        self._trouble_said[id(feed)] = (counts, now)
        bad, reconnects = counts
        parts = [f"{bad} bad frame{'s' if bad != 1 else ''}"] if bad else []
        if reconnects:
            parts.append(f"{reconnects} reconnect{'s' if reconnects != 1 else ''}")
        if final:
            self.err.write(f"obview: warning: {feed.venue}: {', '.join(parts)} in all\n")
        else:
            status = f" ({feed.status_text})" if feed.status_text else ""
            self.err.write(f"obview: warning: {feed.venue}: {', '.join(parts)} so far{status}; "
                           "the books resync and go on\n")
        self.err.flush()

    def report_totals(self) -> None:
        """The run is over: the counts the rate limit held back (see `_report_trouble`).
        Not after a failure, whose one line is what is left to say."""
        if self.failure:
            return
        for feed in self.feeds:
            self._report_trouble(feed, final=True)

    def _report_refused(self, feed: Feed) -> None:
        """One stderr line per stream the venue refused while the feed runs on for the
        rest (a failed feed says its one line instead)."""
        if feed.state.value == "error":
            return
        for stream in feed.streams.values():
            key = (id(feed), stream.key)
            if stream.error and key not in self._refused_reported:
                self._refused_reported.add(key)
                self.err.write(f"obview: {feed.venue}: {stream.key}: {stream.error}\n")
                self.err.flush()

    def _dump_ready(self) -> bool:
        need = 0 if self.count is None else self.count
        shown = [s for f in self.feeds for s in f.streams.values() if _shown(f, s)]
        return bool(shown) and all(s.synced and s.updates >= need for s in shown)

    def waiting_for(self) -> str:
        """Why we are still waiting, for the timeout message."""
        for feed in self.feeds:
            pending = [s.symbol for s in feed.streams.values() if not s.synced]
            text = feed.status_text or feed.state.value
            if pending:
                return f"{feed.venue} {', '.join(pending)} not synced ({text})"
        for feed in self.feeds:
            if feed.status_text:
                return f"{feed.venue}: not enough updates ({feed.state.value}: {feed.status_text})"
        return "not enough updates"


def _shown(feed: Feed, stream: Stream) -> bool:
    shown = feed.headless_streams()
    return shown is None or stream.key in shown


# How long shutdown waits for a feed to finish after cancelling it: Ctrl-C must end
# obview within a second whatever the venue is doing.
SHUTDOWN_GRACE = 0.5


async def run_headless(
    configs: list[VenueConfig],
    mode: str,
    count: int | None,
    timeout: float | None,
    details: bool = False,
    records: str | None = None,
    out: TextIO | None = None,
    recording: Any = None,
) -> bool:
    """Run feeds until the request is met. Raises HeadlessFailure with a one-line reason.

    Returns False when stdout was closed by its reader (the caller silences it)."""
    printer = HeadlessPrinter(mode, count, configs[0].depth, details, out or sys.stdout)
    printer.records = records
    async with contextlib.AsyncExitStack() as stack:
        feeds = [await open_configured(cfg, stack) for cfg in configs]
        if records == "trades":
            for feed in feeds:
                if feed.capabilities.trades is TradeKind.NONE:
                    why = feed.no_trades_reason or "this feed has no trades"
                    raise ConfigError(f"{feed.venue}: {why}")
        tasks = []
        for feed in feeds:
            if recording is not None:
                recording.attach(feed)
            feed.fail_fast = True  # a script wants "connection refused" now, not retries
            printer.watch(feed)
            tasks.append(asyncio.create_task(feed.run(), name=f"feed-{feed.venue}"))
        watching = _watch_pipe_reader(printer)
        try:
            with printer.interruptible():
                await _wait(printer, mode, timeout)
        finally:
            if watching is not None:
                asyncio.get_running_loop().remove_reader(watching)
            await _shutdown(feeds, tasks)
            printer.report_totals()
            if recording is not None:
                recording.close()
    if printer.failure:
        raise HeadlessFailure(printer.failure)
    return not printer.closed


def discard_output(out: TextIO) -> None:
    """Point `out`'s descriptor at /dev/null: what is still in its buffer, and the
    interpreter's final flush, then neither block on a full pipe nor fail on a closed
    one. (A stream without a descriptor has nothing that could.)"""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, out.fileno())
        finally:
            os.close(devnull)


def _watch_pipe_reader(printer: HeadlessPrinter) -> int | None:
    """When stdout is a pipe, notice its reader going away even if nothing is printed
    (a quiet market after `| head -1`): the write end of a pipe never turns readable,
    but epoll reports an error on it once the read end is closed, which wakes a reader
    callback. Returns the watched descriptor, or None."""
    try:
        fd = printer.out.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
        asyncio.get_running_loop().add_reader(fd, printer._reader_gone)
    except (AttributeError, OSError, ValueError, NotImplementedError):
        return None
    return fd


async def _wait(printer: HeadlessPrinter, mode: str, timeout: float | None) -> None:
    """A dump is bounded by `timeout` as a whole; a stream only until its first book."""
    first = printer.done if mode == "dump" else printer.started
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(printer.done.wait())}
    try:
        finished, _ = await asyncio.wait(waiters, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if not finished:
        raise HeadlessFailure(f"timed out after {timeout:g}s: {printer.waiting_for()}")
    await printer.done.wait()


async def _shutdown(feeds: list[Feed], tasks: list[asyncio.Task]) -> None:
    for feed in feeds:
        feed.stop()
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
    for feed in feeds:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(feed.close(), SHUTDOWN_GRACE)
