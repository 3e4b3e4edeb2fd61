"""Writes a journal: raw frames plus session events, zstd-compressed, crash-safe, bounded.

Cost on the event loop: a frame line is built by hand from cached pieces (the bytes
msgspec would encode, for less), a socket read of several frames of one message type
(`frames()`) becomes its lines in one `map` and one join, and one clock comparison
decides whether anything else is due. Compression happens in batches of
`buffer_bytes` (64 KiB; zstd itself holds up to a 128 KiB block before it compresses, so
no call holds the loop for more than about half a millisecond, measured), compressed
bytes go to the OS in writes of 64 KiB, and the stream is flushed (a zstd block
boundary, then a write to the OS) at most `flush_every` seconds after a line arrived, so
a killed process loses at most about that much. No thread: a batch of zstd work is
short, and a write to the page cache returns at once; a thread would add a hand-off per
batch for nothing (and its CPU is the process's all the same). Every error from the file
(a full disk, say) stops recording: `failed` then holds the reason, and the caller's
feed carries on.

Seeking: a checkpoint starts a new zstd frame (whose first block holds only its `sync`
line) once the current frame holds `frame_bytes` of lines, so a reader finds these seek
points by walking frame and block headers and decompressing a few dozen bytes per point
(see reader.py), and a seek decodes at most about `frame_bytes` before it reaches the
checkpoint before its target. Checkpoints in between stay inline: each new zstd frame
forgets the compression history, which costs ratio on a quiet feed (measured in
bench/journal_bench.py), and level 1 compresses these feeds as well as level 3, for less
CPU.
"""

from __future__ import annotations

import logging
import os
import secrets as _random
import time
from collections.abc import Callable, Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

import zstandard
from pybase64 import b64encode as _base64  # SIMD: a third of binascii's cost per body

from obview import __version__
from obview.book import OrderBook
from obview.journal import schema
from obview.journal.redact import Redactor
from obview.journal.schema import Frame, embeddable

STOPPED = "recording stopped: "  # what `failed` says, before the reason
log = logging.getLogger("obview.journal")

SUFFIX = ".ndjson.zst"
BookSource = Callable[[], Iterable[tuple[str, str, OrderBook]]]
# (venue, feed index, record kind, rows, context): every non-empty kind of every feed
RecordSource = Callable[[], Iterable[tuple[str, int | None, str, Iterable[Any], Any]]]
_NEVER = 1 << 62
WRITE_BYTES = 64 * 1024  # compressed bytes held before a write to the OS (see _write)
WINDOW_LOG, HASH_LOG, MIN_MATCH = 18, 12, 7  # zstd parameters (see JournalWriter.__init__)


def part_path(base: str | os.PathLike, part: int) -> Path:
    """session.ndjson.zst -> session.0001.ndjson.zst for part 1 (part 0 is `base`)."""
    base = Path(base)
    if part == 0:
        return base
    name = base.name
    if name.endswith(SUFFIX):
        return base.with_name(f"{name[:-len(SUFFIX)]}.{part:04d}{SUFFIX}")
    return base.with_name(f"{name}.{part:04d}")


def _open(path: Path) -> BinaryIO:
    return open(path, "wb", buffering=0)  # noqa: SIM115  # writes are already batched


class JournalWriter:
    """One session's journal. Every method is safe to call after a failure (it does
    nothing) and none raises an OSError into the caller.

    `venues`, `symbols`, `options` go into each file's header (`options` with secrets
    masked). `secrets` are masked wherever they appear and `redact` (text -> text) runs on
    every text first. `books` returns (venue, symbol, book) for every synced book: a
    checkpoint is taken from it every `checkpoint_every` seconds (None: only on
    `checkpoint()`) and at the start of every rotated file. `rotate_bytes` starts a new
    file past that many compressed bytes. `mono`/`wall` are the clocks (ns); `opener`
    opens a file for binary writing; `on_fail(reason)` is called once if recording stops.
    `links` returns the open connections (number -> feed index) and `counters` each
    feed's counts (feed index -> `schema.Counters`), for every seek point's `sync` line
    and every file's header: a replay starting there takes both back. `records` returns
    (venue, feed index, kind, rows, context) for each feed's non-empty record kinds: a
    `rec` line of each follows every checkpoint's `ckp` lines (docs/journal.md).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        venues: Iterable[str] = (),
        symbols: dict[str, list[str]] | None = None,
        options: dict[str, Any] | None = None,
        secrets: Iterable[str | None] = (),
        redact: Callable[[str], str] | None = None,
        books: BookSource | None = None,
        checkpoint_every: float | None = 10.0,
        rotate_bytes: int | None = None,
        flush_every: float = 1.0,
        buffer_bytes: int = 64 * 1024,
        frame_bytes: int = 1 << 20,
        level: int = 1,
        window_log: int | None = None,
        mono: Callable[[], int] = time.monotonic_ns,
        wall: Callable[[], int] = time.time_ns,
        opener: Callable[[Path], BinaryIO] = _open,
        on_fail: Callable[[str], None] | None = None,
        links: Callable[[], dict[int, int]] | None = None,
        counters: Callable[[], dict[int, schema.Counters]] | None = None,
        records: RecordSource | None = None,
    ) -> None:
        self.base = Path(path)
        self.redactor = Redactor(secrets, redact)
        self.books = books
        self.links = links  # open connections -> feed index, for seek points
        self.counters = counters  # feed index -> its counts, for seek points
        self.records = records  # each feed's records, for seek points
        self.rotate_bytes = rotate_bytes
        self.failed: str | None = None
        self.paths: list[Path] = []
        self.lines = 0
        self._redacting = bool(self.redactor)
        self.bytes_written = 0  # compressed bytes, all files
        self._venues = list(venues)
        self._symbols = dict(symbols or {})
        self._options = dict(options or {})
        self._sid = _random.token_hex(8)
        self._mono, self._opener, self._on_fail = mono, opener, on_fail
        self._flush_ns = int(flush_every * 1e9)
        self._ckp_ns = int(checkpoint_every * 1e9) if checkpoint_every else None
        self._buffer_bytes = buffer_bytes
        self._frame_bytes = frame_bytes
        self._frame_raw = 0  # uncompressed bytes in the current zstd frame
        # Level 1 with a 256 KiB window, a 4096-entry hash table and matches of 7 bytes or
        # more: the same ratio on these feeds as level 1's own 512 KiB, 8192 and 6, for a
        # third less CPU on a busy feed, where zstd's tables are out of cache at every
        # batch (bench/record_replay.py; a larger window_log= widens the history).
        params = zstandard.ZstdCompressionParameters.from_level(
            level, window_log=window_log or WINDOW_LOG, hash_log=HASH_LOG, min_match=MIN_MATCH,
            write_checksum=True, enable_ldm=bool(window_log and window_log > 23))
        self._cctx = zstandard.ZstdCompressor(compression_params=params)
        self._cobj: Any = None
        self._fh: BinaryIO | None = None
        self._file_bytes = 0  # compressed bytes of the current file, written or held
        self._out: list[bytes] = []  # compressed bytes not written yet (see _write)
        self._out_bytes = 0
        # Lines wait here, newline-terminated, for the next batch: bytes objects joined once
        # when the batch is compressed (a bytearray grown by += and cleared after every
        # batch is reallocated and copied over and over: three times the cost, measured).
        self._buffer: list[bytes] = []
        self._buffered = 0  # about how many bytes `_buffer` holds
        self._buffer_lines = 0  # how many lines it holds
        self._unflushed = False
        self._part = -1
        self._checkpoints = 0
        self._next_flush = _NEVER
        self._next_ckp = _NEVER
        self._due = _NEVER
        self._rotate_pending = False
        self._encode = schema.encoder.encode
        self._heads: dict[tuple[str, int, str], bytes] = {}  # '"vn":..,"c":..,"ch":..'
        self._tails: dict[int | None, bytes] = {}  # a binary payload's line end, by pid
        now = self._mono()
        # Wall stamps are monotonic stamps plus this offset, read once: no second clock read
        # per line, and they never step back when the system clock is adjusted (a reader
        # bisects on them).
        self._wall_offset = wall() - now
        self._open_part(now, now + self._wall_offset)
        if self._ckp_ns is not None and books is not None:
            self._next_ckp = now + self._ckp_ns
            self._schedule()

    # -- what feeds call ------------------------------------------------------------
    def frame(self, venue: str, conn: int, channel: str, payload: str | bytes, *,
              pid: int | None = None, url: str | None = None, status: int | None = None,
              mono: int | None = None, wall: int | None = None) -> None:
        """A frame or REST reply as received: `str` for text, `bytes` for binary.
        (The hot path: one call per message, so it is written out flat.)"""
        if self.failed:
            return
        m = self._mono() if mono is None else mono
        if m >= self._due:  # before the line: see _maintain
            self._maintain(m)
            if self.failed:
                return
        w = m + self._wall_offset if wall is None else wall
        if self._redacting:
            self._masked_frame(m, w, venue, conn, channel, payload, pid, url, status)
            return
        head = self._heads.get((venue, conn, channel)) or self._head(venue, conn, channel)
        if url is not None or status is not None:
            line = self._line(m, w, head, payload, pid, url, status)
        elif type(payload) is not str:  # a binary payload (a Futu body)
            line = b'{"k":"f","m":%d,"w":%d,%s,"b":"%s%s' % (
                m, w, head, _base64(payload), self._tails.get(pid) or self._tail(pid))
        elif pid is not None:
            line = self._line(m, w, head, payload, pid, None, None)
        elif (data := embeddable(payload)) is not None:  # a WebSocket text, the common case
            line = b'{"k":"f","m":%d,"w":%d,%s,"j":%s}\n' % (m, w, head, data)
        else:
            line = b'{"k":"f","m":%d,"w":%d,%s,"p":%s}\n' % (m, w, head, self._encode(payload))
        self._buffer.append(line)
        self._buffered += len(line)
        self._buffer_lines += 1
        if self._buffered >= self._buffer_bytes:
            self._compress()

    def frames(self, venue: str, conn: int, channel: str, items: Iterable[tuple], *,
               payload_at: int = 0, pid_at: int = 1, mono: int | None = None) -> None:
        """Several frames received at once (one socket read), one stamp for all: each item
        a tuple holding the payload at `payload_at` and the pid at `pid_at` ((payload,
        pid) by default; a venue hands over its decoder's own tuples, with no list built
        for the journal). A read of one binary message type (a socket read of Futu
        pushes, the common case) becomes its lines without a Python step per frame: the
        base64 texts come from one `map`, and one join puts the line ends and starts
        between them. (Lines are built at once: a read held for later would keep its
        frames' tuples alive through garbage collections, which then cost more.)"""
        if self.failed:
            return
        m = self._mono() if mono is None else mono
        if self._redacting:  # masking works line by line
            for item in items:
                self.frame(venue, conn, channel, item[payload_at], pid=item[pid_at], mono=m)
            return
        if m >= self._due:
            self._maintain(m)
            if self.failed:
                return
        if type(items) is not list:
            items = list(items)
        w = m + self._wall_offset
        head = self._heads.get((venue, conn, channel)) or self._head(venue, conn, channel)
        self._buffer_lines += len(items)  # a line per item
        pids = set(map(itemgetter(pid_at), items))
        if len(pids) == 1:
            pid = pids.pop()
            try:
                encoded = list(map(_base64, map(itemgetter(payload_at), items)))
            except TypeError:  # a text among them
                pass
            else:
                start = b'{"k":"f","m":%d,"w":%d,%s,"b":"' % (m, w, head)
                tail = self._tails.get(pid) or self._tail(pid)
                lines = (tail + start).join(encoded)
                self._buffer += (start, lines, tail)
                self._buffered += len(lines) + len(start) + len(tail)
                if self._buffered >= self._buffer_bytes:
                    self._compress()
                return
        parts = self._buffer
        for item in items:
            line = self._line(m, w, head, item[payload_at], item[pid_at], None, None)
            parts.append(line)
            self._buffered += len(line)
        if self._buffered >= self._buffer_bytes:
            self._compress()

    def connect(self, venue: str, conn: int, channel: str, url: str | None = None,
                feed: int | None = None) -> None:
        self._event(schema.Connect, vn=venue, c=conn, ch=channel, u=self._clean(url), fd=feed)

    def disconnect(self, venue: str, conn: int, reason: str | None = None,
                   bad_frames: int = 0) -> None:
        self._event(schema.Disconnect, vn=venue, c=conn, r=self._clean(reason), bf=bad_frames)

    def subscribe(self, venue: str, conn: int, symbol: str, **extra: Any) -> None:
        self._event(schema.Subscribe, vn=venue, c=conn, sy=symbol,
                    x=self.redactor.options(extra))

    def resync(self, venue: str, symbol: str, reason: str | None = None) -> None:
        self._event(schema.Resync, vn=venue, sy=symbol, r=self._clean(reason))

    def gap(self, venue: str, symbol: str, last: int | None = None, new: int | None = None,
            reason: str | None = None) -> None:
        self._event(schema.Gap, vn=venue, sy=symbol, fr=last, to=new, r=self._clean(reason))

    def add_secret(self, secret: str | None) -> None:
        """A secret learnt during the session (a login token, say): register it before
        writing the frame that carries it."""
        self.redactor.add(secret)
        self._redacting = bool(self.redactor)

    def checkpoint(self, books: Iterable[tuple[str, str, OrderBook]] | None = None,
                   mono: int | None = None) -> None:
        """Start a seek point holding these books (default: the `books` source), stamped
        `mono` (default: now)."""
        if self.failed:
            return
        if books is None:
            books = self.books() if self.books is not None else ()
        m = self._mono() if mono is None else mono
        w = m + self._wall_offset
        self._checkpoints += 1
        sync = self._encode(schema.Sync(m, w, self._checkpoints, self._open_links(),
                                        self._counts()))
        if self._frame_raw + self._buffered >= self._frame_bytes:
            self._end_frame()
            self._write_marker(sync)
        else:  # inline: a seek from the frame's start replays through it
            self._put(sync)
        self._write_books(books, m, w)
        if self._ckp_ns is not None:
            self._next_ckp = m + self._ckp_ns
        self._schedule()

    def tick(self) -> None:
        """Do what is due (flush, checkpoint, rotation): call it from a timer, say every
        0.25 s, so an idle feed's last lines reach the disk too."""
        if not self.failed:
            m = self._mono()
            if m >= self._due:
                self._maintain(m)

    def flush(self) -> None:
        """Everything written so far becomes readable from the file."""
        if self.failed:
            return
        self._compress()
        if self._unflushed and not self.failed:
            self._write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK), now=True)
            self._unflushed = False

    def close(self) -> None:
        if self._fh is None:
            return
        if not self.failed:
            self._put(self._encode(schema.End(m := self._mono(), m + self._wall_offset)))
            self._end_frame()
        self._close_file()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path | None:
        """The file being written."""
        return self.paths[-1] if self.paths else None

    # -- inside -----------------------------------------------------------------------
    # Frame lines are built by hand from pieces: the same bytes `encoder.encode(Frame(...))`
    # gives (a test holds them to that), for a third of its cost on the hot path (no
    # struct per line, the part that repeats is cached).
    def _head(self, venue: str, conn: int, channel: str) -> bytes:
        head = b'"vn":%s,"c":%d,"ch":%s' % (self._encode(venue), conn, self._encode(channel))
        self._heads[(venue, conn, channel)] = head
        return head

    def _tail(self, pid: int | None) -> bytes:
        tail = b'"}\n' if pid is None else b'","pid":%d}\n' % pid
        self._tails[pid] = tail
        return tail

    def _line(self, m: int, w: int, head: bytes | None, payload: str | bytes, pid: int | None,
              url: str | None, status: int | None, start: bytes | None = None) -> bytes:
        """Any frame line, fields in the struct's order (`start`: its first part, built)."""
        if start is None:
            start = b'{"k":"f","m":%d,"w":%d,%s,' % (m, w, head)
        parts = []
        if pid is not None:
            parts.append(b'"pid":%d' % pid)
        if url is not None:
            parts.append(b'"u":' + self._encode(url))
        if status is not None:
            parts.append(b'"st":%d' % status)
        if type(payload) is str:
            data = embeddable(payload)
            if data is not None:
                parts.append(b'"j":' + data)
            else:
                parts.insert(0, b'"p":' + self._encode(payload))
        else:
            parts.insert(0, b'"b":"%s"' % _base64(payload))
        return start + b",".join(parts) + b"}\n"

    def _masked_frame(self, m: int, w: int, venue: str, conn: int, channel: str,
                      payload: str | bytes, pid: int | None, url: str | None,
                      status: int | None) -> None:
        red = self.redactor
        if url is not None:
            url = red.text(url)
        payload = red.text(payload) if type(payload) is str else red.binary(payload)
        head = self._heads.get((venue, conn, channel)) or self._head(venue, conn, channel)
        line = self._line(m, w, head, payload, pid, url, status)
        masked = red.line(line)
        if masked is not line and type(payload) is str and b'"j":' in line:
            # the last guard found something in an embedded text: masking it there could
            # break the JSON, so the text goes escaped, masked the same way
            masked = red.line(self._encode(Frame(m, w, venue, conn, channel, payload, None,
                                                 pid, url, status)) + b"\n")
        self._buffer.append(masked)
        self._buffered += len(masked)
        self._buffer_lines += 1
        if self._buffered >= self._buffer_bytes:
            self._compress()

    def _open_links(self) -> dict[str, int]:
        return {str(c): f for c, f in self.links().items()} if self.links is not None else {}

    def _counts(self) -> dict[str, schema.Counters]:
        if self.counters is None:
            return {}
        return {str(f): c for f, c in self.counters().items()}

    def _clean(self, text: str | None) -> str | None:
        return self.redactor.text(text) if text is not None and self._redacting else text

    def _event(self, kind: type, **fields: Any) -> None:
        if self.failed:
            return
        m = self._mono()
        self._add(kind(m=m, w=m + self._wall_offset, **fields), m)

    def _add(self, line: Any, mono: int) -> None:
        # Due work runs before the line is added: a checkpoint taken now holds the books
        # as every earlier line left them, and this line follows it.
        if mono >= self._due:
            self._maintain(mono)
            if self.failed:
                return
        data = self._encode(line)
        if self._redacting:
            data = self.redactor.line(data)
        self._put(data)
        if self._buffered >= self._buffer_bytes:
            self._compress()

    def _maintain(self, mono: int) -> None:
        # What falls due as a line arrives is written before it with its stamp, not a
        # later clock read: stamps never step back, and a reader bisects on them.
        if self._rotate_pending:
            self._rotate(mono)
        elif mono >= self._next_ckp and self.books is not None:
            self.checkpoint(mono=mono)
        elif mono >= self._next_flush:
            self.flush()
            self._next_flush = mono + self._flush_ns
        self._schedule()

    def _put(self, line: bytes) -> None:
        self._buffer += (line, b"\n")
        self._buffered += len(line) + 1
        self._buffer_lines += 1

    def _schedule(self) -> None:
        self._due = 0 if self._rotate_pending else min(self._next_flush, self._next_ckp)

    def _compress(self) -> None:
        parts = self._buffer
        if not parts or self.failed:
            return
        data = b"".join(parts)
        parts.clear()
        self._buffered = 0
        self._frame_raw += len(data)
        self.lines += self._buffer_lines
        self._buffer_lines = 0
        self._unflushed = True
        try:
            out = self._cobj.compress(data)
        except zstandard.ZstdError as exc:
            self._fail(f"compression failed: {exc}")
            return
        self._write(out)

    def _write(self, data: bytes, now: bool = False) -> None:
        """Compressed bytes to the file: held until WRITE_BYTES are pending or `now` (a
        flush, a frame's end, a seek marker): a write to the OS is one system call, which
        costs as much as compressing 10 kB (measured), and a flush comes within the
        second anyway."""
        if self.failed or self._fh is None:
            return
        if data:
            self._out.append(data)
            self._out_bytes += len(data)
            self._file_bytes += len(data)
            self.bytes_written += len(data)
            if self.rotate_bytes and self._file_bytes >= self.rotate_bytes:
                self._rotate_pending = True
                self._due = 0
        if not self._out or (not now and self._out_bytes < WRITE_BYTES):
            return
        view = memoryview(self._out[0] if len(self._out) == 1 else b"".join(self._out))
        self._out.clear()
        self._out_bytes = 0
        try:
            while view:  # an unbuffered file may take part of a write (a disk filling up)
                written = self._fh.write(view)
                view = view[len(view) if written is None else written:]
        except OSError as exc:
            self._fail(exc.strerror or str(exc))

    def _end_frame(self) -> None:
        """Finish the current zstd frame and begin another."""
        self._compress()
        if self.failed:
            return
        self._write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH), now=True)
        self._cobj = self._cctx.compressobj()
        self._frame_raw = 0
        self._unflushed = False

    def _write_marker(self, line: bytes) -> None:
        """A frame's first line, alone in its block, so an index reads it cheaply."""
        self._put(line)
        self._compress()
        if not self.failed:
            self._write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK), now=True)
            self._unflushed = False

    def _write_books(self, books: Iterable[tuple[str, str, OrderBook]], m: int, w: int) -> None:
        for venue, symbol, book, *more in books:  # more: push count, name, context, updates
            data = self._encode(schema.checkpoint_of(venue, symbol, book, m, w, *more))
            self._put(self.redactor.line(data) if self._redacting else data)
        # the feeds' records after the books, in every checkpoint (a rotated file's too):
        # a replay starting here shows the tables live showed (a seek emptied them)
        for venue, feed, kind, rows, context in (self.records() if self.records else ()):
            data = schema.records_line(venue, feed, kind, rows, m, w, context)
            self._put(self.redactor.line(data) if self._redacting else data)
        self.flush()

    def _open_part(self, m: int, w: int) -> None:
        self._part += 1
        path = part_path(self.base, self._part)
        try:
            self._fh = self._opener(path)
        except OSError as exc:
            self._fail(f"cannot open {path}: {exc.strerror or exc}")
            return
        self.paths.append(path)
        self._file_bytes = 0
        self._cobj = self._cctx.compressobj()
        self._frame_raw = 0
        self._next_flush = m + self._flush_ns
        self._schedule()
        header = schema.Header(
            v=schema.SCHEMA_VERSION, app=__version__, m=m, w=w, sid=self._sid,
            part=self._part, vns=self._venues, sy=self._symbols,
            o=self.redactor.options(self._options), cn=self._open_links(), fc=self._counts())
        self._write_marker(self.redactor.line(self._encode(header)))

    def _rotate(self, m: int) -> None:
        self._rotate_pending = False
        w = m + self._wall_offset
        nxt = part_path(self.base, self._part + 1)
        self._put(self._encode(schema.End(m, w, "rotate", nxt.name)))
        self._end_frame()
        self._close_file()
        if self.failed:
            return
        self._open_part(m, w)
        if not self.failed:
            self._write_books(self.books() if self.books is not None else (), m, w)
            if self._ckp_ns is not None:
                self._next_ckp = m + self._ckp_ns
        # what ending the old file and opening this one wrote does not count: every file
        # gets lines of its own, however small the rotation size
        self._rotate_pending = False
        self._schedule()

    def _close_file(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.close()
        except OSError as exc:
            self._fail(exc.strerror or str(exc))

    def _fail(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = STOPPED + reason
        self._buffer.clear()
        self._buffered = 0
        self._buffer_lines = 0
        self._out.clear()
        self._due = _NEVER
        log.warning("journal %s: %s", self.path or self.base, self.failed)
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        if self._on_fail is not None:
            self._on_fail(self.failed)

