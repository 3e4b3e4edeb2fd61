"""The journal's line kinds (documented field by field in docs/journal.md).

Every line is one JSON object whose `k` names its kind. Keys are short on purpose: a busy
feed writes thousands of lines a second and each key is repeated on every one (zstd makes
the repetition cheap on disk, but encoding and decoding still pay for every byte).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from obview.book import Level, OrderBook

# Bumped when a reader of the previous version would misread a journal of this one.
SCHEMA_VERSION = 1
# What the first line of every journal file must be, byte for byte.
HEADER_PREFIX = b'{"k":"hdr"'

_Base = dict(omit_defaults=True, forbid_unknown_fields=False, tag_field="k")


class Header(msgspec.Struct, tag="hdr", **_Base):
    """First line of every file: which session this is and how it was recorded."""

    v: int  # journal schema version
    app: str  # obview version
    m: int  # monotonic ns when the file was opened
    w: int  # wall clock ns (epoch) at the same moment
    sid: str  # session id, the same in every file of one session
    part: int = 0  # 0 for the first file, n for session.000n.ndjson.zst
    vns: list[str] = []  # venues
    sy: dict[str, list[str]] = {}  # venue -> symbols
    o: dict[str, Any] = {}  # options, secrets removed
    cn: dict[str, int] = {}  # connections open when the file began: number -> feed


class Frame(msgspec.Struct, tag="f", **_Base):
    """One frame or REST reply exactly as it came off the wire."""

    m: int
    w: int
    vn: str  # venue
    c: int  # connection number within the session
    ch: str  # "ws", "tcp" or "rest"
    p: str | None = None  # a text payload, as received
    b: bytes | None = None  # a binary payload (base64 in the JSON)
    pid: int | None = None  # the message type where the transport carries one (Futu proto id)
    u: str | None = None  # REST: the request path (query included, secrets masked)
    st: int | None = None  # REST: the HTTP status

    def payload(self) -> str | bytes:
        return self.p if self.p is not None else (self.b or b"")


class Connect(msgspec.Struct, tag="con", **_Base):
    m: int
    w: int
    vn: str
    c: int
    ch: str
    u: str | None = None  # where to (host:port or URL)
    fd: int | None = None  # which of the session's feeds (index into the header's o.feeds)


class Disconnect(msgspec.Struct, tag="dis", **_Base):
    m: int
    w: int
    vn: str
    c: int
    r: str | None = None  # why


class Subscribe(msgspec.Struct, tag="sub", **_Base):
    m: int
    w: int
    vn: str
    c: int
    sy: str
    x: dict[str, Any] = {}  # what else the subscription asked for (depth, level, ...)


class Resync(msgspec.Struct, tag="rsy", **_Base):
    m: int
    w: int
    vn: str
    sy: str
    r: str | None = None


class Gap(msgspec.Struct, tag="gap", **_Base):
    m: int
    w: int
    vn: str
    sy: str
    fr: int | None = None  # the last version the book had
    to: int | None = None  # the version the venue jumped to
    r: str | None = None


class Sync(msgspec.Struct, tag="sync", **_Base):
    """Opens every zstd frame but a file's first: the checkpoints of moment `m` follow.
    A reader seeks by jumping to the frame that starts with one of these."""

    m: int
    w: int
    n: int  # checkpoint number within the session
    cn: dict[str, int] = {}  # connections open now: number -> feed (a replay starting here)


class Checkpoint(msgspec.Struct, tag="ckp", **_Base):
    """One synced book. Levels are [price, size, orders] with [..., queue] and
    [..., queue, source] where those exist; prices and sizes are exact decimal strings."""

    m: int
    w: int
    vn: str
    sy: str
    ver: int | None = None  # OrderBook.version
    rm: int | None = None  # OrderBook.recv_mono, ns
    vts: int | None = None  # OrderBook.venue_ts, epoch ms
    src: bool = False  # the book keeps equal prices from different sources apart
    pu: int | None = None  # book messages the stream had applied (Stream.pushes)
    bids: list[list[Any]] = []
    asks: list[list[Any]] = []


class End(msgspec.Struct, tag="end", **_Base):
    """Last line of a file closed cleanly (absent after a crash)."""

    m: int
    w: int
    r: str = "close"  # "close" or "rotate"
    next: str | None = None  # rotate: the next file's name


Line = Header | Frame | Connect | Disconnect | Subscribe | Resync | Gap | Sync | Checkpoint | End

encoder = msgspec.json.Encoder(enc_hook=str)  # str: options may hold paths and the like
line_decoder = msgspec.json.Decoder(Line)


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
                  pushes: int | None = None) -> Checkpoint:
    recv = book.recv_mono
    return Checkpoint(
        m=mono_ns, w=wall_ns, vn=venue, sy=symbol, ver=book.version,
        rm=None if recv is None else int(recv * 1e9), vts=book.venue_ts,
        src=book.bids.sourced, pu=pushes,
        bids=[_level(lv) for lv in book.bids.iter_levels()],
        asks=[_level(lv) for lv in book.asks.iter_levels()],
    )


def _restore_level(row: list[Any]) -> Level:
    queue = None
    if len(row) > 3 and row[3] is not None:
        queue = {oid: Decimal(vol) for oid, vol in row[3]}
    return Level(Decimal(row[0]), Decimal(row[1]), row[2], queue, row[4] if len(row) > 4 else None)


def book_of(checkpoint: Checkpoint) -> OrderBook:
    """The OrderBook a checkpoint holds (plain `Level`s: a venue that keeps `ScaledLevel`s
    rebuilds its own from these exact sizes)."""
    book = OrderBook(sourced=checkpoint.src)
    book.replace([_restore_level(r) for r in checkpoint.bids],
                 [_restore_level(r) for r in checkpoint.asks])
    book.version = checkpoint.ver
    book.recv_mono = None if checkpoint.rm is None else checkpoint.rm / 1e9
    book.venue_ts = checkpoint.vts
    return book
