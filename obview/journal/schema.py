"""The journal's line kinds (documented field by field in docs/journal.md).

Every line is one JSON object whose `k` names its kind. Keys are short on purpose: a busy
feed writes thousands of lines a second and each key is repeated on every one (zstd makes
the repetition cheap on disk, but encoding and decoding still pay for every byte).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from obview.book import Level, OrderBook
from obview.errors import abridged

# Bumped when a reader of the previous version would misread a journal of this one.
# 2: a text payload that is itself one line of valid JSON is embedded as it is (`j`).
# 3: a checkpoint holds the feeds' records (`rec` lines): a schema 2 reader took one for
# a corrupt line and stopped mid-replay, so it is told to upgrade at open instead.
SCHEMA_VERSION = 3
# What the first line of every journal file must be, byte for byte.
HEADER_PREFIX = b'{"k":"hdr"'

_Base = dict(omit_defaults=True, forbid_unknown_fields=False, tag_field="k")


# a feed's index as a JSON object key: digits only (a damaged key is refused, not int()ed)
FeedIndex = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,6}$")]
# a connection's number as a JSON object key (`cn`): digits, as for a feed's index
ConnNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}$")]
# Every number a writer puts on a line (a stamp, a count, a connection, a version) is
# never negative and fits a signed 64-bit integer (ns stamps until the year 2262): a
# damaged line outside that is refused as corrupt where it is read, not shown ("-5 bad
# frames") or handed on (Parquet's int64 columns raised OverflowError at the export's
# end: "internal error").
MAX_INT = (1 << 63) - 1
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
Stamp = Count  # ns, monotonic or wall
# a venue's own stamp (epoch ms), as its decoder took it: any 64-bit value
Int64 = Annotated[int, msgspec.Meta(ge=-MAX_INT - 1, le=MAX_INT)]


class Counters(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """One feed's running counts at a seek point (`Sync.fc`, `Header.fc`): what its
    screen showed then, so a replay starting there shows the same, not the count of
    the timeline a seek left. Absent (journals written before it): a replay counts from
    0 at the seek point."""

    rc: Count = 0  # Feed.reconnects
    bf: Count = 0  # Feed.bad_frames
    ms: Count = 0  # Feed.messages
    rs: dict[str, Count] = {}  # Stream.resyncs by stream key (every stream, synced or not)


class Header(msgspec.Struct, tag="hdr", **_Base):
    """First line of every file: which session this is and how it was recorded."""

    v: int  # journal schema version
    app: str  # obview version
    m: Stamp  # monotonic ns when the file was opened
    w: Stamp  # wall clock ns (epoch) at the same moment
    sid: str  # session id, the same in every file of one session
    part: Count = 0  # 0 for the first file, n for session.000n.ndjson.zst
    vns: list[str] = []  # venues
    sy: dict[str, list[str]] = {}  # venue -> symbols
    o: dict[str, Any] = {}  # options, secrets removed
    cn: dict[ConnNumber, Count] = {}  # connections open when the file began: number -> feed
    fc: dict[FeedIndex, Counters] = {}  # the feeds' counts when the file began: feed -> counts


NO_JSON = msgspec.Raw()  # `Frame.j` when the payload is not embedded JSON


class Frame(msgspec.Struct, tag="f", gc=False, **_Base):
    """One frame or REST reply exactly as it came off the wire. (gc=False: no field can
    hold a reference cycle, and a replay makes one of these per frame.)"""

    m: Stamp
    w: Stamp
    vn: str  # venue
    c: Count  # connection number within the session
    ch: str  # "ws", "tcp" or "rest"
    p: str | None = None  # a text payload, as received
    b: bytes | None = None  # a binary payload (base64 in the JSON)
    pid: Count | None = None  # the message type where the transport carries one (Futu proto id)
    u: str | None = None  # REST: the request path (query included, secrets masked)
    st: Count | None = None  # REST: the HTTP status
    # A text payload that is one line of valid JSON, embedded as is (see `embeddable`):
    # no escaping when written, no unescaping when read, and the bytes handed to the
    # venue's decoder are the very bytes of the line. Last, so that it ends the line.
    j: msgspec.Raw = NO_JSON

    def payload(self) -> str | bytes:
        """The payload as received: `str` for text, `bytes` for binary."""
        if self.p is not None:
            return self.p
        if self.j:
            return bytes(self.j).decode()
        return self.b or b""

    def data(self) -> str | bytes | msgspec.Raw:
        """The payload for a decoder that takes any buffer (msgspec): embedded JSON as its
        `msgspec.Raw` (bytes-like, not copied), else as `payload()`."""
        if self.j:
            return self.j
        return self.p if self.p is not None else (self.b or b"")


class Connect(msgspec.Struct, tag="con", **_Base):
    m: Stamp
    w: Stamp
    vn: str
    c: Count
    ch: str
    u: str | None = None  # where to (host:port or URL)
    fd: Count | None = None  # which of the session's feeds (index into the header's o.feeds)


# The reason of the `dis` lines a recording writes for every connection still open as it
# closes (obview quitting): the journal ends there; no connection was lost.
RECORDING_CLOSED = "recording closed"


class Disconnect(msgspec.Struct, tag="dis", **_Base):
    m: Stamp
    w: Stamp
    vn: str
    c: Count
    r: str | None = None  # why
    # bad frames the feed counted on the connection that no line holds: refused below
    # the tap (a Futu frame failing its SHA-1, a WebSocket message over the size limit),
    # so a replay counts them here, as live did
    bf: Count = 0


class Subscribe(msgspec.Struct, tag="sub", **_Base):
    m: Stamp
    w: Stamp
    vn: str
    c: Count
    sy: str
    x: dict[str, Any] = {}  # what else the subscription asked for (depth, level, ...)


class Resync(msgspec.Struct, tag="rsy", **_Base):
    m: Stamp
    w: Stamp
    vn: str
    sy: str
    r: str | None = None


class Gap(msgspec.Struct, tag="gap", **_Base):
    m: Stamp
    w: Stamp
    vn: str
    sy: str
    fr: Int64 | None = None  # the last version the book had
    to: Int64 | None = None  # the version the venue jumped to
    r: str | None = None


class Sync(msgspec.Struct, tag="sync", **_Base):
    """Opens every zstd frame but a file's first: the checkpoints of moment `m` follow.
    A reader seeks by jumping to the frame that starts with one of these."""

    m: Stamp
    w: Stamp
    n: Count  # checkpoint number within the session
    cn: dict[ConnNumber, Count] = {}  # connections open now: number -> feed (a replay starting here)
    fc: dict[FeedIndex, Counters] = {}  # the feeds' counts now: feed index -> counts


class Checkpoint(msgspec.Struct, tag="ckp", **_Base):
    """One synced book. Levels are [price, size, orders] with [..., queue] and
    [..., queue, source] where those exist; prices and sizes are exact decimal strings."""

    m: Stamp
    w: Stamp
    vn: str
    sy: str
    ver: Count | None = None  # OrderBook.version
    rm: Count | None = None  # OrderBook.recv_mono, ns
    vts: Int64 | None = None  # OrderBook.venue_ts, epoch ms
    src: bool = False  # the book keeps equal prices from different sources apart
    pu: Count | None = None  # book messages the stream had applied (Stream.pushes)
    nm: str | None = None  # the stream's name (Stream.name: a Futu stock's), where it has one
    # what the venue learnt earlier in the session and needs to read the stream's frames
    # (Feed.checkpoint_context: a Loopring market and its base token), where it has any
    cx: dict[str, Any] | None = None
    up: Count | None = None  # updates applied since the book last became synced (Stream.updates)
    bids: list[list[Any]] = []
    asks: list[list[Any]] = []


class Records(msgspec.Struct, tag="rec", **_Base):
    """One feed's records of one kind at a checkpoint (`Feed.records[kind]`: bthub's
    orders, risk rows), after its `ckp` lines, so a replay starting there shows the
    tables live showed (docs/journal.md). `rows` stay raw JSON until a seek restores
    them (`records_of`): a replay passes thousands of checkpoints it never restores."""

    m: Stamp
    w: Stamp
    vn: str  # venue
    kind: str  # the RecordKind name ("orders", "risk")
    fd: Count | None = None  # which of the session's feeds (as `Connect.fd`)
    rows: msgspec.Raw = msgspec.Raw(b"[]")  # the records, as msgspec encodes the dataclasses
    cx: Any = None  # the feed's bookkeeping of the rows (`Feed.records_context`), opt


class End(msgspec.Struct, tag="end", **_Base):
    """Last line of a file closed cleanly (absent after a crash)."""

    m: Stamp
    w: Stamp
    r: str = "close"  # "close" or "rotate"
    next: str | None = None  # rotate: the next file's name


Line = (Header | Frame | Connect | Disconnect | Subscribe | Resync | Gap | Sync | Checkpoint
        | Records | End)

encoder = msgspec.json.Encoder(enc_hook=str)  # str: options may hold paths and the like
# Lines as stored: an embedded JSON payload stays in `j` (a replay's hot path).
raw_line_decoder = msgspec.json.Decoder(Line)


def as_text(lines: list) -> list:
    """The lines with every embedded JSON payload as its text in `p` (in place)."""
    frame = Frame
    for line in lines:
        if line.__class__ is frame and line.j:
            line.p = str(line.j, "utf-8")
            line.j = NO_JSON
    return lines


class LineDecoder:
    """Lines as readers see them: every text payload in `p`, as in schema 1, whether it
    was stored escaped or embedded (`JournalReader.lines()` gives the same)."""

    def decode(self, data: bytes) -> Line:
        return as_text([raw_line_decoder.decode(data)])[0]

    def decode_lines(self, data: bytes) -> list[Line]:
        return as_text(raw_line_decoder.decode_lines(data))


line_decoder = LineDecoder()

# A text nests no deeper than it has brackets; msgspec's decoder stops at Python's recursion
# limit (1000 less the caller's stack), so a text with more than this many goes escaped:
# embedded, it would make its line unreadable to a reader called from a deeper stack.
MAX_BRACKETS = 200
_validate = msgspec.json.Decoder(msgspec.Raw).decode


def embeddable(text: str) -> bytes | None:
    """The UTF-8 bytes of `text` if it can be embedded in a line as a JSON value (`j`),
    else None: it must be valid JSON (msgspec's grammar), an object or an array from its
    first character to its last (no surrounding space to lose), with no CR or LF (lines
    end at LF), and nest boundedly. Anything else, a hostile or broken text included,
    stays an escaped string (`p`), so every text is recorded exactly as received."""
    if not text or text[0] not in "{[" or text[-1] not in "}]" or "\n" in text or "\r" in text:
        return None
    # valid JSON closes every bracket it opens, so a short text cannot nest that deep
    if len(text) > 2 * MAX_BRACKETS and text.count("[") + text.count("{") > MAX_BRACKETS:
        return None
    try:
        data = text.encode()
        _validate(data)
    except (UnicodeEncodeError, msgspec.DecodeError, RecursionError):
        return None
    return data


def _exact(value: Decimal) -> str:
    return format(value, "f")  # positional (no exponent), every digit kept


def _level(level: Level) -> list[Any]:
    row: list[Any] = [_exact(level.price), _exact(level.size), level.orders]
    if level.queue is not None or level.source is not None:
        row.append([[oid, _exact(vol)] for oid, vol in level.queue.items()]
                   if level.queue else None)
    if level.source is not None:
        row.append(level.source)
    return row


def checkpoint_of(venue: str, symbol: str, book: OrderBook, mono_ns: int, wall_ns: int,
                  pushes: int | None = None, name: str | None = None,
                  context: dict[str, Any] | None = None,
                  updates: int | None = None) -> Checkpoint:
    recv = book.recv_mono
    return Checkpoint(
        m=mono_ns, w=wall_ns, vn=venue, sy=symbol, ver=book.version,
        rm=None if recv is None else int(recv * 1e9), vts=book.venue_ts,
        src=book.bids.sourced, pu=pushes, nm=name, cx=context, up=updates,
        bids=[_level(lv) for lv in book.bids.iter_levels()],
        asks=[_level(lv) for lv in book.asks.iter_levels()],
    )


# A price or size as `_exact` writes it: positional digits, never negative; no book
# holds a number this long (Loopring's sizes stop at 78 digits, docs/loopring.md).
_EXACT = re.compile(r"[0-9]{1,100}(?:\.[0-9]{1,100})?")


def _number(text: Any) -> Decimal:
    if type(text) is not str or not _EXACT.fullmatch(text):
        raise ValueError(f"{abridged(text)} is not a price or size as written")
    return Decimal(text)


def _restore_level(row: list[Any]) -> Level:
    """A level as `_level` wrote it; ValueError for anything else (damage: the rows are
    only typed as lists, so a damaged one reaches here; docs/journal.md)."""
    if not 3 <= len(row) <= 5:
        raise ValueError(f"level {abridged(row)} is not [price, size, orders, ...]")
    orders = row[2]
    if type(orders) is not int or not 0 <= orders <= MAX_INT:
        raise ValueError(f"level {abridged(row)}: orders {abridged(orders)}")
    queue = None
    if len(row) > 3 and row[3] is not None:
        if type(row[3]) is not list:
            raise ValueError(f"level {abridged(row)}: queue {abridged(row[3])}")
        queue = {}
        for entry in row[3]:
            if type(entry) is not list or len(entry) != 2 or type(entry[0]) not in (int, str):
                raise ValueError(f"level {abridged(row)}: queue entry {abridged(entry)}")
            queue[entry[0]] = _number(entry[1])
    source = row[4] if len(row) > 4 else None
    if source is not None and type(source) is not str:
        raise ValueError(f"level {abridged(row)}: source {abridged(source)}")
    return Level(_number(row[0]), _number(row[1]), orders, queue, source)


def book_of(checkpoint: Checkpoint) -> OrderBook:
    """The OrderBook a checkpoint holds (plain `Level`s: a venue that keeps `ScaledLevel`s
    rebuilds its own from these exact sizes). ValueError, saying what, for levels no
    writer wrote (checked here, where a seek restores the book, not as each line is
    decoded: a replay passes through thousands of checkpoints it never restores)."""
    book = OrderBook(sourced=checkpoint.src)
    book.replace([_restore_level(r) for r in checkpoint.bids],
                 [_restore_level(r) for r in checkpoint.asks])
    book.version = checkpoint.ver
    book.recv_mono = None if checkpoint.rm is None else checkpoint.rm / 1e9
    book.venue_ts = checkpoint.vts
    return book


def records_line(venue: str, feed: int | None, kind: str, rows: Iterable[Any], mono_ns: int,
                 wall_ns: int, context: Any = None) -> bytes:
    """The `rec` line of `rows` (typed records, dataclasses): one msgspec call encodes
    them all (a session holds thousands of orders; Decimals as exact strings)."""
    return encoder.encode(Records(mono_ns, wall_ns, venue, kind, feed,
                                  msgspec.Raw(encoder.encode(list(rows))), context))


_row_decoders: dict[type, msgspec.json.Decoder] = {}


def records_of(line: Records, row_type: type) -> list[Any]:
    """The typed records a `rec` line holds. ValueError, saying what, for rows that do not
    decode into `row_type` (damage: checked where a seek restores them, as `book_of`)."""
    decoder = _row_decoders.get(row_type)
    if decoder is None:
        decoder = _row_decoders[row_type] = msgspec.json.Decoder(list[row_type])
    try:
        rows = decoder.decode(line.rows)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(str(exc)) from None
    for at, row in enumerate(rows):
        _check_record(row, f"$[{at}]")
    return rows


# The largest |adjusted exponent| of a number in a record: as a checkpoint's levels (at
# most 100 digits each side of the point). A venue's decoder bounds what it takes (bthub:
# 40), so a row beyond it is damage; "1E+999999999" decodes as a finite Decimal, and the
# orders table's formatting raised decimal.Overflow on it (the replay's screen died).
MAX_RECORD_MAGNITUDE = 100


def _check_record(value: Any, where: str) -> None:
    """ValueError, saying where, for a number in a decoded record (a dataclass of
    obview/records.py, its dicts of dataclasses included) that no feed ever held: not
    finite (NaN, Infinity), beyond MAX_RECORD_MAGNITUDE, or an int outside 64 bits."""
    for name in value.__dataclass_fields__:
        field = getattr(value, name)
        kind = type(field)
        if kind is Decimal:
            if not field.is_finite() or not (
                    -MAX_RECORD_MAGNITUDE <= field.adjusted() <= MAX_RECORD_MAGNITUDE):
                raise ValueError(f"{abridged(str(field))} is not a number a record holds "
                                 f"- at `{where}.{name}`")
        elif kind is int:
            if not -MAX_INT - 1 <= field <= MAX_INT:
                raise ValueError(f"{abridged(field)} is out of range - at `{where}.{name}`")
        elif kind is dict:
            for key, item in field.items():
                if hasattr(item, "__dataclass_fields__"):
                    _check_record(item, f"{where}.{name}[{key!r:.40}]")
