"""`--record`: one journal per run, shared by every feed of the run (docs/replay.md).

A `Recording` owns the `JournalWriter`; each feed gets a `Tap` (`feed.tap`) that the
venue's transport calls with what came off the wire, before any decoding. The base feed
writes the generic lines (disconnect, resync); a venue writes connect, frames,
subscriptions and gaps. A timer calls `writer.tick()` so an idle session's lines reach
the disk within a second. A writer failure (a full disk) becomes the feeds' status text
and the live view carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obview.errors import abridged
from obview.journal import RECORDING_CLOSED, Counters, JournalWriter
from obview.journal.writer import SUFFIX

if TYPE_CHECKING:
    from obview.feed import Feed
    from obview.venues import VenueConfig

log = logging.getLogger("obview.record")
TICK_EVERY = 0.25  # s between writer.tick() calls: flushes land well within the second
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Config options that never go into a header, whatever the redactor would make of them.
_DROP = ("rsa_key", "user", "password", "api_key")
MAX_DEPTH = 1000  # rows per side, as --depth allows


def parse_size(text: str) -> int:
    """'100M' -> 104857600; ValueError for anything else (binary units, as `ls -h`)."""
    match = _SIZE.match(text or "")
    if not match:
        raise ValueError(f"bad size {text!r}: expected a number with K, M, G or T (e.g. 100M)")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 4096:
        raise ValueError(f"bad size {text!r}: at least 4K")
    return value


def journal_path(text: str, record_dir: str | None, now: float | None = None) -> Path:
    """Where `--record PATH` writes: a relative PATH goes into the config's `record_dir`
    when one is set; `.ndjson.zst` is appended when PATH has no such ending. A folder
    (one that exists, or PATH ending in a slash) gets a journal named for the time it
    starts (UTC), `obview-20261207T015530Z.ndjson.zst`: the name a user gave it is
    the folder's."""
    expanded = os.path.expanduser(text)
    path = Path(expanded)
    if expanded.endswith(("/", os.sep)) or path.is_dir():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        made, number = path / f"obview-{stamp}{SUFFIX}", 1
        while made.exists():  # two sessions begun in one second
            number += 1
            made = path / f"obview-{stamp}-{number}{SUFFIX}"
        return made
    if not path.is_absolute() and record_dir and path.parent == Path("."):
        path = Path(record_dir) / path
    if not path.name.endswith(SUFFIX):
        path = path.with_name(path.name + SUFFIX)
    return path


def config_json(cfg: VenueConfig) -> dict[str, Any]:
    """What a replay needs to rebuild the feed: the config without secrets or simulator."""
    data = asdict(cfg)
    data["options"] = {k: v for k, v in data["options"].items()
                       if k not in _DROP and isinstance(v, (str, int, float, bool, type(None)))}
    data.pop("faults", None)
    return data


def config_of(data: dict[str, Any]) -> VenueConfig:
    """The VenueConfig a header's feed entry describes (options a newer obview added and
    this one does not know are left out). ValueError, TypeError or the venue's own error
    for an entry no obview wrote (a corrupt header)."""
    from dataclasses import fields

    from obview.venues import config, options_type

    # what a damaged header holds is shown abbreviated: it can be any size
    if not isinstance(data, dict):
        raise ValueError(f"a feed is {abridged(data)}, not an object")
    symbols = data.get("symbols")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
        raise ValueError(f"a feed's symbols are {abridged(symbols)}, not a list of names")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"a feed's options are {abridged(options)}, not an object")
    depth = data.get("depth", 20)
    if not valid_depth(depth):
        raise ValueError(f"a feed's depth is {abridged(depth)}, not 1 to {MAX_DEPTH} rows")
    known = {f.name for f in fields(options_type(data.get("venue")))}
    settings = {k: v for k, v in options.items() if k in known}
    return config(data["venue"], list(symbols), depth=depth,
                  details=bool(data.get("details")), seed=int(data.get("seed", 1)),
                  trades=bool(data.get("trades")), **settings)


def valid_depth(depth: Any) -> bool:
    """A depth --depth accepts (a bool is no number of rows, though Python's int says so)."""
    return type(depth) is int and 1 <= depth <= MAX_DEPTH


class Tap:
    """One feed's side of the recording: what its transport calls. Connection numbers are
    unique in the session, so frames of several feeds of one venue never mix up."""

    __slots__ = ("recording", "writer", "venue", "feed_index")

    def __init__(self, recording: Recording, venue: str, feed_index: int) -> None:
        self.recording = recording
        self.writer = recording.writer
        self.venue = venue
        self.feed_index = feed_index

    # A checkpoint falls due as a line is written, and is taken before it: the links it
    # lists are those every earlier line left open. So a connection joins them once its
    # `con` line is written, and leaves once its `dis` line is (else a replay starting
    # there resumed a connection that its `con` line then opened again, the frames going
    # to the link the feed never took; or missed one its `dis` line then ended, and the
    # reconnect went uncounted).
    def connect(self, channel: str, url: str | None = None) -> int:
        conn = self.recording.next_conn()
        self.writer.connect(self.venue, conn, channel, url, feed=self.feed_index)
        self.recording.links[conn] = self.feed_index
        return conn

    def disconnect(self, conn: int | None, reason: str | None = None,
                   bad_frames: int = 0) -> None:
        links = self.recording.links
        if conn is not None and conn in links:
            self.writer.disconnect(self.venue, conn, reason, bad_frames)
            links.pop(conn, None)

    def add_secret(self, secret: str | None) -> None:
        self.writer.add_secret(secret)

    def rest(self, conn: int, body: bytes, url: str, status: int) -> None:
        """An HTTP reply body, as received: its text when it is UTF-8 (every reply a
        venue documents is), else the bytes themselves (docs/journal.md, `f` lines).
        Decoded with replacement characters, a body the feed refused live (msgspec
        rejects invalid UTF-8) became one a replay accepted, or refused for another
        reason."""
        try:
            payload: str | bytes = body.decode()
        except UnicodeDecodeError:
            payload = body
        self.writer.frame(self.venue, conn, "rest", payload, url=url, status=status)


class Recording:
    """The journal of one run. `attach(feed)` gives the feed its tap."""

    def __init__(self, path: Path, configs: list[VenueConfig], *, rotate_bytes: int | None = None,
                 checkpoint_every: float = 10.0, secrets: list[str | None] | None = None,
                 writer_factory: Callable[..., JournalWriter] = JournalWriter,
                 view: dict[str, Any] | None = None) -> None:
        self.feeds: list[Feed] = []
        self.warn: Callable[[str], None] | None = None  # said once when the journal stops
        self.links: dict[int, int] = {}  # open connection -> feed index
        self._conns = 0
        self._timer: asyncio.Task | None = None
        venues = list(dict.fromkeys(c.venue for c in configs))
        symbols: dict[str, list[str]] = {}
        for cfg in configs:
            symbols.setdefault(cfg.venue, []).extend(cfg.symbols)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = writer_factory(
            path, venues=venues, symbols=symbols,
            options={"feeds": [config_json(c) for c in configs], "view": dict(view or {})},
            secrets=[s for s in (secrets or []) if s], books=self._books,
            checkpoint_every=checkpoint_every, rotate_bytes=rotate_bytes,
            on_fail=self._failed, links=lambda: dict(self.links), counters=self._counters,
            records=self._records)

    @property
    def failed(self) -> str | None:
        return self.writer.failed

    @property
    def connections(self) -> int:
        """Connections recorded so far (0: nothing came off the wire)."""
        return self._conns

    def next_conn(self) -> int:
        self._conns += 1
        return self._conns

    def attach(self, feed: Feed) -> None:
        feed.tap = Tap(self, feed.venue, len(self.feeds))
        self.feeds.append(feed)
        if self.failed:
            feed.recording_failed(self.failed)
        if self._timer is None:
            with contextlib.suppress(RuntimeError):  # no loop: the caller ticks
                self._timer = asyncio.get_running_loop().create_task(self._tick(), name="journal-tick")

    def _books(self):
        for feed in self.feeds:
            for stream in feed.streams.values():
                if stream.synced:
                    yield (feed.venue, stream.key, stream.book, stream.pushes, stream.name,
                           feed.checkpoint_context(stream), stream.updates)

    def _records(self):
        """Each feed's non-empty record kinds (a checkpoint's `rec` lines): the rows as
        its tables hold them now, so a seek to here restores them (docs/journal.md)."""
        for index, feed in enumerate(self.feeds):
            for kind, rows in feed.records.items():
                if rows:
                    yield (feed.venue, index, str(kind), rows.values(),
                           feed.records_context(kind))

    def _counters(self) -> dict[int, Counters]:
        """Each feed's counts as its screen shows them now (a seek point's `fc`)."""
        # (less the bad frames the next `dis` line counts: a replay from here counts them there)
        return {index: Counters(feed.reconnects, feed.bad_frames - feed.unjournaled_bad_frames,
                                feed.messages,
                                {key: s.resyncs for key, s in feed.streams.items() if s.resyncs})
                for index, feed in enumerate(self.feeds)}

    def _failed(self, reason: str) -> None:
        for feed in self.feeds:
            feed.recording_failed(reason)
        if self.warn is not None:
            self.warn(f"{reason}; the feed goes on")

    async def _tick(self) -> None:
        while not self.writer.failed:
            await asyncio.sleep(TICK_EVERY)
            self.writer.tick()

    def discard(self) -> None:
        """Close and delete the journal's files: for a run refused before it recorded
        anything (a journal of a header alone)."""
        self.close()
        for path in self.writer.paths:
            with contextlib.suppress(OSError):
                path.unlink()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for conn in list(self.links):
            feed = self.feeds[self.links[conn]]
            self.writer.disconnect(feed.venue, conn, RECORDING_CLOSED, feed.unjournaled_bad_frames)
            feed.unjournaled_bad_frames = 0
        self.links.clear()
        self.writer.close()
