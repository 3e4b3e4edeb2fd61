"""Headless mode: the same feeds and books as the TUI, printed as JSON.

`--dump json` prints one object per stream once every stream is synced and has applied
`count` updates since; `--stream json` prints one line per applied update.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from decimal import Decimal
from typing import Any, TextIO

import msgspec

from obview.events import BookChanged, Event, FeedFailed, RecordsChanged
from obview.feed import Feed, Stream
from obview.fmt import dec_str
from obview.venues import VenueConfig, load

_encoder = msgspec.json.Encoder()


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


def book_json(feed: Feed, stream: Stream, depth: int, details: bool) -> dict[str, Any]:
    """The JSON object of issue 2 §5 for one stream."""
    book = stream.book
    sourced = book.bids.sourced

    def levels(side) -> list[list]:
        rows = []
        for lv in side.top(depth):
            row: list[Any] = [dec_str(lv.price), dec_str(lv.size), lv.orders]
            if details:
                queue = lv.queue or {}
                row.append([[str(oid), dec_str(vol)] for oid, vol in queue.items()])
            if sourced:
                if not details:
                    row.append(None)
                row.append(lv.source)
            rows.append(row)
        return rows

    obj: dict[str, Any] = {
        "venue": feed.venue,
        "symbol": stream.symbol,
        "level": stream.level,
        "version": book.version if book.version is not None else stream.pushes,
        "synced": stream.synced,
        "recv_ts": book.recv_ts,
        "venue_ts": book.venue_ts,
        "bids": levels(book.bids),
        "asks": levels(book.asks),
    }
    if stream.source is not None:
        obj["source"] = stream.source
    if stream.name is not None:
        obj["name"] = stream.name
    obj.update(stream.extra)
    return obj


def record_json(feed: Feed, record: Any) -> dict[str, Any]:
    """The one JSON form of a typed record (`obview.records`): venue, kind, its fields."""
    return {"venue": feed.venue, "kind": record.KIND, **_fields_json(record)}


def _fields_json(record: Any) -> dict[str, Any]:
    return {name: _value_json(value) for name, value in vars(record).items()}


def _value_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, dict):  # nested records by id: a list in arrival order
        return [_fields_json(child) for child in value.values()]
    return value


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
        self.failure: str | None = None
        self.feeds: list[Feed] = []
        self.records: str | None = None  # "orders" / "risk": print those instead of books

    def watch(self, feed: Feed) -> None:
        self.feeds.append(feed)
        feed.add_listener(self.on_event)

    def _print(self, obj: dict[str, Any]) -> None:
        self.out.write(_encoder.encode(obj).decode() + "\n")
        self.out.flush()
        self.lines += 1
        if self.count is not None and self.lines >= self.count:
            self.done.set()

    def on_event(self, event: Event) -> None:
        if self.done.is_set():
            return
        if isinstance(event, FeedFailed):
            self.failure = f"{event.feed.venue}: {event.reason}"
            self.done.set()
        elif isinstance(event, RecordsChanged):
            if self.records == event.kind and self.mode == "stream":
                for row in event.rows:
                    self._print(record_json(event.feed, row))
                    if self.done.is_set():
                        return
        elif isinstance(event, BookChanged) and self.records is None:
            stream = event.stream
            if not stream.synced or not _shown(event.feed, stream):
                return
            if self.mode == "stream":
                self._print(book_json(event.feed, stream, self.depth, self.details))
            elif self._dump_ready():
                for feed in self.feeds:
                    for each in feed.streams.values():
                        if _shown(feed, each):
                            self._print(book_json(feed, each, self.depth, self.details))
                self.done.set()

    def _dump_ready(self) -> bool:
        need = 1 if self.count is None else self.count
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


async def run_headless(
    configs: list[VenueConfig],
    mode: str,
    count: int | None,
    timeout: float | None,
    details: bool = False,
    records: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Run feeds until the request is met. Raises HeadlessFailure with a one-line reason."""
    printer = HeadlessPrinter(mode, count, configs[0].depth, details, out or sys.stdout)
    printer.records = records
    async with contextlib.AsyncExitStack() as stack:
        feeds = [await open_configured(cfg, stack) for cfg in configs]
        tasks = []
        for feed in feeds:
            printer.watch(feed)
            tasks.append(asyncio.create_task(feed.run(), name=f"feed-{feed.venue}"))
        try:
            await asyncio.wait_for(printer.done.wait(), timeout)
        except TimeoutError:
            limit = f"{timeout:g}s"
            raise HeadlessFailure(f"timed out after {limit}: {printer.waiting_for()}") from None
        finally:
            for feed in feeds:
                feed.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for feed in feeds:
                await feed.close()
    if printer.failure:
        raise HeadlessFailure(printer.failure)
