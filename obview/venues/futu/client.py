"""The OpenD quote client: one TCP connection carrying the order books of several codes.

Per session (docs/futu.md: "Connection and InitConnect", "Subscriptions, rights and
quota", "Push validation"): InitConnect first (plain, or RSA-sealed with --rsa-key and
every later body AES-sealed: docs/futu.md, "Encryption"; a refusal is retried, see
"Connection and InitConnect"); then Qot_Sub
for every code with ORDER_BOOK, pushes registered and a first push; Qot_GetOrderBook per
code for the initial book; Qot_GetStaticInfo for the names. KeepAlive goes out every
0.8 x the announced interval; more than three intervals without a single byte from
OpenD ends the session (the base class reconnects). Replies are matched by
(protocol id, serial); 3013 pushes replace each side of the book whole (a push is the
complete top N); Notify pushes go to the status line; other push ids are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from decimal import Decimal
from itertools import compress
from math import isfinite
from operator import ne

from google.protobuf.message import DecodeError

from obview.book import BookSide, Level, OrderBook
from obview.errors import describe_error
from obview.feed import (
    FatalFeedError,
    Feed,
    FeedCapabilities,
    FeedError,
    FeedState,
    LatencyKind,
    Stream,
    TradeKind,
    shown_text,
)
from obview.fmt import CACHE_LIMIT, BoundedCache, float_to_decimal
from obview.latency import LatencyStats, epoch_ms, latency_ms
from obview.params import host_port
from obview.venues import VenueConfig
from obview.venues.futu import codec
from obview.venues.futu.crypto import ENC_AES_CBC, ENC_NONE, RsaKey, SessionCipher, session_aes
from obview.venues.futu.pb import (
    InitConnect_pb2,
    KeepAlive_pb2,
    Notify_pb2,
    Qot_Common_pb2,
    Qot_GetOrderBook_pb2,
    Qot_GetStaticInfo_pb2,
    Qot_GetTicker_pb2,
    Qot_OrderBookHead_pb2,
    Qot_OrderBookRaw_pb2,
    Qot_Sub_pb2,
    Qot_UpdateTicker_pb2,
)
from obview.venues.futu.symbols import split_code
from obview.venues.futu.tickers import BadTicker, decode_tickers

log = logging.getLogger("obview.futu")

CLIENT_VERSION = 300
CLIENT_ID = "obview"
SUB_ORDER_BOOK = 2
SUB_TICKER = 4
RECENT_TICKERS = 100  # prints fetched with Qot_GetTicker at each (re)connect (max 1000)
BOOK_LEVELS = 40  # the most OpenD sends (SF right); it caps to what the right allows
REQUEST_TIMEOUT = 12.0  # the SDK's limit for a reply
CONNECT_TIMEOUT = 20.0
SUB_CHUNK = 100  # codes per Qot_Sub, as the SDK does
STALL_INTERVALS = 3  # silence longer than this many keep-alive intervals: reconnect
KEEPALIVE_DEFAULT = 10.0  # OpenD's default keepAliveInterval
KEEPALIVE_MAX = 600  # s; beyond it a dead peer would take half an hour to notice

QOT_UPDATE_ORDER_BOOK = codec.QOT_UPDATE_ORDER_BOOK
QOT_UPDATE_TICKER = codec.QOT_UPDATE_TICKER
_parse_push_head = Qot_OrderBookHead_pb2.Response.FromString
_parse_push = Qot_OrderBookRaw_pb2.Response.FromString
_parse_level = Qot_Common_pb2.OrderBook.FromString
_NOTIFY_TYPES = {2: "program status changed", 4: "quote rights changed",
                 6: "API quota changed", 7: "used quota changed"}


class BadPush(FeedError):
    """A book whose values break the push rules (docs/futu.md, "Push validation"): the
    push is dropped whole and counted; the framing is intact, so the session goes on."""


# Push rules (docs/futu.md, "Push validation"). OpenD sends at most 40 levels a side
# (SF right) and at most 1000 orders a level; the level cap leaves 50% margin, and both
# bound what one frame can cost.
MAX_LEVELS = 60
MAX_DETAILS = 1000
MAX_DECIMALS = 9  # digits after the point of a price or a high-precision volume
PRICE_LIMIT = Decimal(10) ** 12
VOLUME_LIMIT = Decimal(10) ** 18


def _exact(raw: float, what: str, limit: Decimal) -> Decimal:
    """The double's shortest round-trip decimal, if it is a sane figure: finite, not
    negative, below `limit`, at most MAX_DECIMALS places (5e-324 is not a size)."""
    if not isfinite(raw):
        raise BadPush(f"{what} {raw!r}")
    value = float_to_decimal(raw)
    if value < 0 or value >= limit or value.as_tuple().exponent < -MAX_DECIMALS:
        raise BadPush(f"{what} {raw!r}")
    return value


class LevelDecoder:
    """Turns encoded OrderBook levels into `Level`s, checking every value. Prices and
    volumes repeat from push to push, so their Decimals are cached (a float's shortest
    repr names one exact decimal), bounded by the shared policy (`obview.fmt.BoundedCache`)."""

    __slots__ = ("prices", "volumes", "details")

    def __init__(self, details: bool) -> None:
        self.prices: dict[float, Decimal] = BoundedCache(CACHE_LIMIT)
        self.volumes: dict[float | int, Decimal] = BoundedCache(CACHE_LIMIT)
        self.details = details

    def level(self, encoded: bytes) -> Level:
        """One level; BadPush if a value breaks the rules, DecodeError if unreadable."""
        row = _parse_level(encoded)
        if not row.IsInitialized():  # protobuf's parser does not check proto2's required
            raise BadPush("a level without its required fields")
        raw_price = row.price
        price = self.prices.get(raw_price)
        if price is None:
            price = _exact(raw_price, "price", PRICE_LIMIT)
            if not price:
                raise BadPush("price 0")
            self.prices[raw_price] = price
        raw_volume = row.hpVolume or row.volume  # hpVolume (a double) when OpenD sends it
        volume = self.volumes.get(raw_volume)
        if volume is None:
            if type(raw_volume) is float:
                volume = _exact(raw_volume, "volume", VOLUME_LIMIT)
            elif raw_volume < 0:
                raise BadPush(f"volume {raw_volume}")
            else:
                volume = Decimal(raw_volume)
            self.volumes[raw_volume] = volume
        orders = row.orederCount
        if orders < 0:
            raise BadPush(f"order count {orders}")
        detail = row.detailList
        if len(detail) > MAX_DETAILS:
            raise BadPush(f"{len(detail)} orders at one level (at most {MAX_DETAILS})")
        queue = None
        if self.details and detail:
            queue = {d.orderID: Decimal(d.volume) for d in detail}
            if min(queue.values()) < 0:
                raise BadPush("negative order volume")
        return Level(price, volume, orders, queue)


class SideState:
    """What one side of a book was built from: each level's encoded bytes and its `Level`
    (the very object in the book), position by position, best first.

    `plan` decodes and checks a push's side without touching the book (it raises
    BadPush or DecodeError); `commit` then applies it. A push changes the book only
    when both of its sides passed."""

    __slots__ = ("encoded", "levels")

    def __init__(self) -> None:
        self.encoded: list[bytes] | None = None  # None: the side was never built from a push
        self.levels: list[Level] = []

    def plan(self, encoded: list[bytes], decoder: LevelDecoder):
        """None (unchanged), ("update", pairs) or ("levels", new Levels)."""
        if len(encoded) > MAX_LEVELS:
            raise BadPush(f"{len(encoded)} levels on one side (at most {MAX_LEVELS})")
        old = self.encoded
        if old is None:  # positions unknown: rebuild
            old = []
        elif encoded == old:
            return None
        levels = self.levels
        decoded: dict[bytes, Level] = {}
        if old and len(encoded) == len(old):
            # Levels changed at unchanged prices (the common push): update those levels in
            # place; the side's keys and order stay as they are. A moved price ends this
            # and the side is rebuilt, reusing what was decoded.
            pairs = []
            for i in compress(range(len(encoded)), map(ne, encoded, old)):
                item = encoded[i]
                level = decoded[item] = decoder.level(item)
                current = levels[i]
                if level.price != current.price or not level.size:
                    break
                pairs.append((current, level))
            else:
                return ("update", pairs)
        reuse = dict(zip(old, levels, strict=True))
        reuse.update(decoded)
        new_levels = [reuse.get(item) or decoder.level(item) for item in encoded]
        if len({lv.price for lv in new_levels}) != len(new_levels):
            raise BadPush("the same price twice on one side")
        return ("levels", new_levels)

    def commit(self, side: BookSide, encoded: list[bytes], plan) -> None:
        """Make `side` exactly the levels `encoded` (a push is the complete top N)."""
        if plan is None:
            return
        kind, items = plan
        if kind == "update":
            for current, level in items:
                current.size = level.size
                current.orders = level.orders
                current.queue = level.queue
            self.encoded = encoded
            return
        new_levels = items
        if self.encoded and self._move(side, new_levels):
            self.encoded = encoded
            return
        side.replace(new_levels)  # keeps these very Level objects (the in-place path needs that)
        if all(lv.size for lv in new_levels):
            self.encoded = encoded
            self.levels = new_levels
        else:  # the side skipped empty levels: positions no longer line up, rebuild next time
            self.encoded = None
            self.levels = []

    def apply(self, side: BookSide, encoded: list[bytes], decoder: LevelDecoder) -> None:
        self.commit(side, encoded, self.plan(encoded, decoder))

    def _move(self, side: BookSide, new_levels: list[Level]) -> bool:
        """Prices moved: delete the prices that left, add the new ones, update the rest
        in place (cheaper than rebuilding the side). False when a full rebuild is needed."""
        by_price = {lv.price: lv for lv in new_levels}
        if len(by_price) != len(new_levels) or not all(lv.size for lv in new_levels):
            return False
        for level in self.levels:
            if level.price not in by_price:
                side.delete(level.price)
        get = side.get
        placed = []
        for level in new_levels:
            current = get(level.price)
            if current is None:
                side.set(level.price, level.size, level.orders, level.queue)
                current = get(level.price)
            elif current is not level:
                current.size = level.size
                current.orders = level.orders
                current.queue = level.queue
            placed.append(current)
        self.levels = placed
        return True


def _latency_ms(now: float, stamp: float) -> float | None:
    """Local receive time minus OpenD's receive stamp (the svrRecvTime*Timestamp double;
    the string beside it is the same instant as text). Absent or absurd: no stamp."""
    value = latency_ms(now, stamp)
    return None if value is None else round(value, 3)


def _fold(stats: LatencyStats, stamps: list[float], now: float) -> None:
    """Add one read's pushes to `stats` (see obview/latency.py for which stamps count)."""
    stats.fold(stamps, now)
    stamps.clear()


def last_latency(stream: Stream, s2c, now: float) -> None:
    """`latency_ms` of the newest push, as the JSON lines show it."""
    stream.extra["latency_ms"] = {
        "bid": _latency_ms(now, s2c.svrRecvTimeBidTimestamp),
        "ask": _latency_ms(now, s2c.svrRecvTimeAskTimestamp),
    }


def _venue_ts(s2c) -> int | None:
    """The later of the two sides' OpenD stamps, epoch ms (None when both are unstamped)."""
    bid = epoch_ms(s2c.svrRecvTimeBidTimestamp)
    ask = epoch_ms(s2c.svrRecvTimeAskTimestamp)
    if bid is None or (ask is not None and ask > bid):
        return ask
    return bid


def apply_levels(stream: Stream, sides: tuple[SideState, SideState], s2c,
                 decoder: LevelDecoder) -> None:
    """Make `stream.book` the order book of an S2C (3012 reply or 3013 push, raw view)."""
    book = stream.book
    bid_levels, ask_levels = s2c.orderBookBidList[:], s2c.orderBookAskList[:]
    bids = sides[0].plan(bid_levels, decoder)  # both sides checked before either applies
    asks = sides[1].plan(ask_levels, decoder)
    sides[0].commit(book.bids, bid_levels, bids)
    sides[1].commit(book.asks, ask_levels, asks)
    if not stream.name and s2c.name:
        stream.name = s2c.name
    book.touch(venue_ts=_venue_ts(s2c))


def sane_keepalive(announced: int) -> float:
    """OpenD's keepAliveInterval, or the documented default of 10 s when it is not a
    usable interval (<= 0, or so long a dead peer would go unnoticed; docs/futu.md)."""
    if 1 <= announced <= KEEPALIVE_MAX:
        return float(announced)
    if announced:
        log.warning("futu: OpenD announced keepAliveInterval %s; using %gs", announced,
                    KEEPALIVE_DEFAULT)
    return KEEPALIVE_DEFAULT


def _ret_text(reply) -> str:
    return reply.retMsg or f"retType {reply.retType}"


def _earlier_pushes(frames: list[tuple[int, int, bytes]], pos: int, security, first: int):
    """(body, receive index) of the 3013 pushes for `security` before frames[pos], newest
    first (frames[i] was received as index first + i + 1): what a read falls back on
    when its newest push for a code is bad."""
    key = (security.market, security.code)
    for i in range(pos - 1, -1, -1):
        proto_id, _, body = frames[i]
        if proto_id != QOT_UPDATE_ORDER_BOOK:
            continue
        try:
            head = _parse_push_head(body)
        except DecodeError:
            continue
        if not head.retType and (head.s2c.security.market, head.s2c.security.code) == key:
            yield body, first + i + 1


def new_stream(code: str) -> Stream:
    stream = Stream(code, OrderBook())
    stream.latency = {"bid": LatencyStats(), "ask": LatencyStats()}
    stream.extra["latency_ms"] = {"bid": None, "ask": None}
    return stream



def _without_session_key(frame: tuple[int, int, bytes]) -> tuple[int, int, bytes]:
    """An InitConnect reply for the journal, its session AES key field masked (as many
    `*`) and nothing else touched, whatever the key is. The journal holds the bodies
    decrypted, so the key would unlock nothing in it, but keys stay out of journals all
    the same (docs/journal.md, "Guarantees", Secrets). A reply that does not parse holds
    no key to mask and goes in as received."""
    proto_id, serial, body = frame
    try:
        reply = InitConnect_pb2.Response.FromString(body)
    except DecodeError:
        return frame
    if not reply.s2c.connAESKey:
        return frame
    reply.s2c.connAESKey = "*" * len(reply.s2c.connAESKey)
    return proto_id, serial, reply.SerializeToString()


class FutuFeed(Feed):
    """Order books of one or more codes from an OpenD gateway."""

    venue = "futu"
    wire = "tcp"
    channels = frozenset({"tcp"})
    capabilities = FeedCapabilities(latency=LatencyKind.RECEIVE,  # per-side receive stamps
                                    trades=TradeKind.MARKET)

    def __init__(self, cfg: VenueConfig) -> None:
        super().__init__()
        self.trades_enabled = cfg.trades
        self._ticker_live: set[str] = set()  # codes whose TICKER subscription OpenD accepted
        self.host = str(cfg.options.host or "127.0.0.1")
        self.port = int(cfg.options.port or 11111)
        self.address = host_port(self.host, self.port)
        self.details = cfg.details
        self.securities: dict[str, tuple[int, str]] = {}
        self._by_security: dict[tuple[int, str], Stream] = {}
        for code in cfg.symbols:
            market, short = split_code(code)
            stream = new_stream(code)
            self.streams[stream.key] = stream
            self.securities[code] = (market, short)
            self._by_security[(market, short)] = stream
        # (market, code) -> the stream and its pending bid/ask stamps, for the push hot path
        self._push_routes: dict[tuple[int, str], tuple[Stream, list, list]] = {
            key: (stream, [], []) for key, stream in self._by_security.items()
        }
        self.decoder = LevelDecoder(self.details)
        self._sides = {key: (SideState(), SideState()) for key in self.streams}
        self.buffer = codec.FrameBuffer()
        key = cfg.options.rsa_key
        if isinstance(key, (str, os.PathLike)):  # a path: read it here
            from obview.venues.futu.crypto import load_rsa_key

            key = load_rsa_key(key)
        self.rsa_key: RsaKey | None = key
        self._cipher: SessionCipher | None = None
        self._initialized = False  # this connection's InitConnect succeeded
        self.notice: str | None = None  # the last Notify from OpenD
        self.keepalive_interval: float | None = None
        self.server_version: int | None = None
        self._pending: dict[tuple[int, int], asyncio.Future] = {}
        self._serials = itertools.count(1)
        self._rx_index = 0  # frames received, in order: which of a reply and a push is newer
        self._reply_index = 0
        self._applied_at: dict[str, int] = {}  # stream key -> receive index of its book
        self._writer: asyncio.StreamWriter | None = None
        self._last_rx = time.monotonic()
        self._live: set[str] = set(self.streams)  # stream keys OpenD did not refuse
        self._resyncing: set[str] = set()  # streams whose last push was bad

    # -- session ---------------------------------------------------------------
    async def _session(self) -> None:
        self._reset_session()
        if self.transport is not None:
            await self._replay_session()
            return
        self.set_state(FeedState.CONNECTING if not self.reconnects else FeedState.RECONNECTING,
                       f"connecting to OpenD at {self.address}")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise FeedError(f"cannot connect to OpenD at {self.address}: {describe_error(exc)} "
                            "(is OpenD running? try --sim for the simulator)") from None
        await self._connected(reader, writer)

    async def _replay_session(self) -> None:
        """A recorded connection stands in for OpenD (docs/replay.md): its frames go
        through the same `_process` as live reads, grouped as they were read, and the same
        handshake sends its requests into the void and gets the recorded replies."""
        link = await self.transport.connection()
        self._writer = link.writer
        self._serials = itertools.count(1)
        link.deliver = self._replay_frames
        self._live = set(self.streams)
        if link.resumed:  # a replay that starts at a checkpoint: the handshake is behind us
            for stream in self.streams.values():
                self._resyncing.add(stream.key)  # the next push is taken whole
            await link.closed()
            return
        control = asyncio.create_task(self._handshake(), name="futu-replay-handshake")
        link.busy = lambda: not control.done()
        closing = asyncio.create_task(link.closed(), name="futu-replay-link")
        await self._until_closed(link.writer, closing, control)

    def _replay_frames(self, frames) -> None:
        """One recorded read. A reply takes the serial of the request waiting for it
        (serials are not recorded; the handshake asks one thing at a time)."""
        waiting = {pid: serial for pid, serial in self._pending}
        items = [(f.pid, waiting.get(f.pid, 0), f.b) for f in frames
                 if f.pid is not None and f.b is not None]
        if len(items) < len(frames):
            # damage: every Futu frame has a proto id and a binary body. Handed on as one
            # of no type with an empty body it passed as a push of no one's (a line
            # dropped, no bad frame counted), as the other venues count it
            self.count_bad_frame("a recorded frame without its proto id or body",
                                 len(frames) - len(items))
            if not items:
                return
        self._process(items, now=frames[0].w / 1e9)

    def _reset_session(self) -> None:
        self.buffer.clear()  # never carry a half frame into a new connection
        # a new connection gets a new AES key: until InitConnect answers, only RSA
        self._cipher = SessionCipher(self.rsa_key, hold=True) if self.rsa_key else None
        self.buffer.cipher = self._cipher
        self._initialized = False
        self._pending.clear()
        self._sides = {key: (SideState(), SideState()) for key in self.streams}
        self._applied_at = {}
        self._resyncing.clear()
        for _, bid_stamps, ask_stamps in self._push_routes.values():
            bid_stamps.clear()  # stamps of a session that broke mid-read
            ask_stamps.clear()
        self._serials = itertools.count(int(time.time()) % 10000 + 1)

    async def _connected(self, reader, writer) -> None:
        self._writer = writer
        self._last_rx = time.monotonic()
        self.record_connect(self.wire, self.address)
        reading = asyncio.create_task(self._read_loop(reader), name="futu-read")
        control = asyncio.create_task(self._control(), name="futu-control")
        await self._until_closed(writer, reading, control)

    async def _until_closed(self, writer, reading: asyncio.Task, control: asyncio.Task) -> None:
        try:
            done, _ = await asyncio.wait({reading, control},
                                         return_when=asyncio.FIRST_EXCEPTION)
            errors = [t.exception() for t in done if not t.cancelled() and t.exception()]
            fatal = [e for e in errors if isinstance(e, FatalFeedError)]
            if fatal or errors:
                raise (fatal or errors)[0]
        finally:
            for task in (reading, control):
                task.cancel()
            await asyncio.gather(reading, control, return_exceptions=True)
            self._fail_pending(FeedError("connection closed"))
            self._writer = None
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)
            self.buffer.clear()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        receive = self.receive
        while True:
            data = await reader.read(262144)
            if not data:
                raise FeedError(self._closed_reason())
            receive(data)

    def receive(self, data: bytes) -> None:
        """Bytes from the socket: frames, replies, pushes, books. Raises BadFrame (the
        stream is corrupt: the session ends) and never anything else for bad input."""
        try:
            frames = self.buffer.feed(data)
        except codec.BadFrame as exc:
            if (exc.proto_id == codec.INIT_CONNECT and not self._initialized
                    and exc.kind in ("sha1", "decrypt", "unencrypted")):
                raise self._init_mismatch(exc.kind) from None
            self.count_unjournaled_bad_frame(str(exc))  # (the tap records checked frames)
            raise
        if frames:
            # the watchdog's clock runs from the last whole frame, not the last byte: a
            # peer trickling a frame that never completes kept the session (and its
            # stale books) for ever; KeepAlive replies come every 0.8 interval
            self._last_rx = time.monotonic()
            tap = self.tap
            if tap is not None:  # the wire as decrypted, one stamp per read
                wire = frames
                if self._cipher is not None and not self._initialized:
                    wire = [_without_session_key(f) if f[0] == codec.INIT_CONNECT else f
                            for f in frames]
                tap.writer.frames(self.venue, self.conn, "tcp", wire, payload_at=2, pid_at=0)
            self._process(frames)

    def _closed_reason(self) -> str:
        if self._initialized:
            return "OpenD closed the connection"
        if self.rsa_key is not None:
            # An OpenD without rsa_private_key cannot check an RSA-sealed InitConnect.
            return (f"OpenD at {self.address} closed the connection before answering the "
                    "RSA-encrypted InitConnect (an OpenD without rsa_private_key does that: "
                    "then run without --rsa-key)")
        return f"OpenD at {self.address} closed the connection before answering InitConnect"

    def _init_mismatch(self, kind: str) -> FatalFeedError:
        """The InitConnect reply does not check out: the two ends disagree about
        encryption, which no retry can fix."""
        if self.rsa_key is None:
            return FatalFeedError(
                f"OpenD at {self.address} requires an encrypted connection (it has an "
                "rsa_private_key): give the same key with --rsa-key FILE or OBVIEW_FUTU_RSA_KEY")
        if kind == "unencrypted":
            return FatalFeedError(
                f"OpenD at {self.address} answered InitConnect unencrypted: it has no "
                "rsa_private_key, so run without --rsa-key / OBVIEW_FUTU_RSA_KEY")
        return FatalFeedError(
            f"OpenD at {self.address} answered InitConnect with a reply the RSA key in "
            f"{self.rsa_key.path} cannot decrypt: OpenD's rsa_private_key is another key")

    def _frame(self, proto_id: int, serial: int, body: bytes) -> bytes:
        return codec.encode_frame(proto_id, serial, body, cipher=self._cipher)

    def _process(self, frames: list[tuple[int, int, bytes]], now: float | None = None) -> None:
        """Every push is routed and its latency recorded; each book is then set once per
        read from its newest push. A 3013 push is a complete snapshot, so a push followed
        by another for the same code in the same read is superseded before anyone could
        see it: only the newest one's levels are read (catching up costs little)."""
        if now is None:
            now = time.time()
        newest: dict[Stream, tuple[object, bytes, int]] = {}
        self.messages += len(frames)
        index = self._rx_index
        # A read with one frame (a client keeping up) is parsed once, levels and all; in a
        # longer read each push's head is parsed first and only each code's newest in full.
        whole = len(frames) == 1
        parse = _parse_push if whole else _parse_push_head
        route = self._push_routes.get
        for proto_id, serial, body in frames:
            index += 1
            if proto_id == QOT_UPDATE_ORDER_BOOK:  # the hot path: keep it lean
                try:
                    response = parse(body)
                except DecodeError as exc:
                    self._rx_index = index
                    self.count_bad_frame(f"undecodable 3013 push: {exc}")
                    raise codec.BadFrame("undecodable order book push") from None
                if response.retType:
                    self.log_limited.warning("futu:push-error", "futu: order book push error %s: %s",
                                             response.retType, response.retMsg)
                    continue
                s2c = response.s2c
                security = s2c.security
                target = route((security.market, security.code))
                if target is None:  # a code we did not subscribe (another client's, or stale)
                    continue
                stream, bid_stamps, ask_stamps = target
                # every push's stamps, for the latency stats (folded in below)
                bid_stamps.append(s2c.svrRecvTimeBidTimestamp)
                ask_stamps.append(s2c.svrRecvTimeAskTimestamp)
                newest[stream] = (s2c, body, index)
                continue
            waiter = self._pending.pop((proto_id, serial), None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result((body, index))
            elif proto_id == QOT_UPDATE_TICKER:
                self._on_tickers(body)
            elif proto_id == codec.NOTIFY:
                self._on_notify(body)
            # anything else (KeepAlive replies, pushes we did not ask for) is skipped
        first = self._rx_index  # frames[i] has receive index first + i + 1
        self._rx_index = index
        for stream, (s2c, body, at) in newest.items():
            _, bid_stamps, ask_stamps = self._push_routes[self.securities[stream.symbol]]
            # pushes superseded within this read count as received: the newest carries them
            stream.pushes += len(bid_stamps) - 1
            _fold(stream.latency["bid"], bid_stamps, now)
            _fold(stream.latency["ask"], ask_stamps, now)
            earlier = None
            while True:
                try:
                    if not whole:
                        s2c = _parse_push(body).s2c
                    apply_levels(stream, self._sides[stream.key], s2c, self.decoder)
                    break
                except DecodeError as exc:
                    self.count_bad_frame(f"undecodable 3013 push: {exc}")
                    raise codec.BadFrame("undecodable order book push") from None
                except BadPush as exc:  # the book stays as the last valid push left it
                    reason = f"{stream.key}: bad order book push: {exc}"
                    self.count_bad_frame(reason)
                    # the push it superseded in this read is then the newest valid state
                    if earlier is None:
                        earlier = _earlier_pushes(frames, at - first - 1, s2c.security, first)
                    body, at = next(earlier, (None, 0))
                    if body is None:
                        break
            if body is None:
                self._resyncing.add(stream.key)
                self.unsync(stream, reason)
                continue
            last_latency(stream, s2c, now)
            self._applied_at[stream.key] = at
            if self._resyncing and stream.key in self._resyncing:
                self._resyncing.discard(stream.key)  # a push is a whole book: in sync again
                self.book_changed(stream, snapshot=True)
            else:
                self.book_changed(stream)

    def _tickers(self, stream: Stream, rows, where: str):
        """The trades of ticker rows, or None (counted bad) when a row breaks the rules."""
        try:
            return decode_tickers(rows, self.venue, stream.symbol, price_limit=PRICE_LIMIT,
                                  volume_limit=VOLUME_LIMIT, places=MAX_DECIMALS)
        except BadTicker as exc:
            self.count_bad_frame(f"{stream.key}: bad {where}: {exc}")
            return None

    def _on_tickers(self, body: bytes) -> None:
        """A 3011 push: the prints go on the stream's tape. A bad push is counted and
        dropped whole; the framing is intact and no book depends on it, so the session
        and the books go on."""
        try:
            response = Qot_UpdateTicker_pb2.Response.FromString(body)
        except DecodeError as exc:
            self.count_bad_frame(f"undecodable 3011 push: {exc}")
            return
        if response.retType:
            self.log_limited.warning("futu:ticker-error", "futu: ticker push error %s: %s",
                                     response.retType, response.retMsg)
            return
        security = response.s2c.security
        stream = self._by_security.get((security.market, security.code))
        if stream is None or not self.trades_enabled:
            return
        trades = self._tickers(stream, response.s2c.tickerList, "ticker push")
        if trades:
            self.trades_printed(stream, trades)

    def _on_notify(self, body: bytes) -> None:
        try:
            response = Notify_pb2.Response.FromString(body)
        except DecodeError:
            self.count_bad_frame("undecodable Notify")
            return
        s2c = response.s2c
        if s2c.HasField("event"):
            text = s2c.event.desc or f"gateway event {s2c.event.eventType}"
        elif s2c.HasField("connectStatus"):
            logged = s2c.connectStatus.qotLogined
            text = "quote server logged in" if logged else "quote server logged out"
            if not logged:  # the books stop: stale until each code's next push
                for stream in self.streams.values():
                    self.mark_stale(stream, "quote server logged out")
        else:
            text = _NOTIFY_TYPES.get(s2c.type, f"notice type {s2c.type}")
        self.notice = text
        self.set_state(self.state, f"OpenD: {text}")

    # -- requests --------------------------------------------------------------
    async def _request(self, proto_id: int, request, response_cls):
        writer = self._writer
        if writer is None:
            raise FeedError("not connected")
        serial = next(self._serials)
        waiter = asyncio.get_running_loop().create_future()
        self._pending[(proto_id, serial)] = waiter
        writer.write(self._frame(proto_id, serial, request.SerializeToString()))
        await writer.drain()
        try:
            body, index = await asyncio.wait_for(waiter, REQUEST_TIMEOUT)
        except TimeoutError:
            raise FeedError(f"OpenD did not answer request {proto_id} in "
                            f"{REQUEST_TIMEOUT:g}s") from None
        finally:
            self._pending.pop((proto_id, serial), None)
        try:
            response = response_cls.FromString(body)
        except DecodeError:
            if proto_id == codec.INIT_CONNECT:
                raise self._init_mismatch("decrypt") from None
            self.count_bad_frame(f"undecodable reply to {proto_id}")
            raise codec.BadFrame(f"undecodable reply to request {proto_id}") from None
        self._reply_index = index  # where the reply sat among the frames received
        return response

    def _fail_pending(self, exc: Exception) -> None:
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(exc)
                waiter.exception()  # retrieved: nobody may be waiting any more
        self._pending.clear()

    def _security(self, target, code: str) -> None:
        target.market, target.code = self.securities[code]

    async def _handshake(self) -> None:
        init = InitConnect_pb2.Request()
        c2s = init.c2s
        c2s.clientVer = CLIENT_VERSION
        c2s.clientID = CLIENT_ID
        c2s.recvNotify = True
        # As the SDK: with a key always ask for AES-CBC; the reply decides (an IV or not).
        c2s.packetEncAlgo = ENC_AES_CBC if self.rsa_key else ENC_NONE
        c2s.pushProtoFmt = 0
        c2s.programmingLanguage = "Python"
        reply = await self._request(codec.INIT_CONNECT, init, InitConnect_pb2.Response)
        if reply.retType != 0 or not reply.HasField("s2c"):
            # OpenD still starting, at its connection limit, ...: the base class retries
            # with backoff (the SDK retries every 6 s), showing OpenD's reason.
            raise FeedError(f"OpenD at {self.address} refused InitConnect: "
                            f"{reply.retMsg or f'retType {reply.retType}'}")
        self._start_encryption(reply.s2c)
        self._initialized = True
        self.keepalive_interval = sane_keepalive(reply.s2c.keepAliveInterval)
        self.server_version = reply.s2c.serverVer
        self.set_state(self.state, f"{self.address}: subscribing")

        codes = await self._subscribe(list(self.securities))

        for code in codes:
            request = Qot_GetOrderBook_pb2.Request()
            self._security(request.c2s.security, code)
            request.c2s.num = BOOK_LEVELS
            request.c2s.header.securityFirm = 0
            # the reply has the push's layout: read it through the same raw-level view
            reply = await self._request(codec.QOT_GET_ORDER_BOOK, request,
                                        Qot_OrderBookRaw_pb2.Response)
            if reply.retType != 0:
                raise FatalFeedError(f"order book of {code} refused: "
                                     f"{reply.retMsg or f'retType {reply.retType}'}")
            stream = self.streams[code]
            # A push that arrived after this reply is newer and just as complete: keep it.
            if self._applied_at.get(stream.key, -1) < self._reply_index:
                try:
                    apply_levels(stream, self._sides[stream.key], reply.s2c, self.decoder)
                except (DecodeError, BadPush) as exc:
                    self.count_bad_frame(f"bad level in order book reply of {code}: {exc}")
                    raise codec.BadFrame("bad order book reply") from None
                self._applied_at[stream.key] = self._reply_index
            self.book_changed(stream, snapshot=True)

        if self.trades_enabled:
            await self._start_tape(codes)

        info = Qot_GetStaticInfo_pb2.Request()
        info.c2s.market = 0
        info.c2s.secType = 0
        for code in codes:
            self._security(info.c2s.securityList.add(), code)
        reply = await self._request(codec.QOT_GET_STATIC_INFO, info,
                                    Qot_GetStaticInfo_pb2.Response)
        if reply.retType == 0:
            for item in reply.s2c.staticInfoList:
                security = item.basic.security
                stream = self._by_security.get((security.market, security.code))
                if stream is not None and item.basic.name:
                    stream.name = item.basic.name
        else:
            log.info("futu: static info refused: %s", reply.retMsg)

    def _start_encryption(self, s2c) -> None:
        """Install the connection's AES from the InitConnect reply, then read whatever
        arrived sealed with it meanwhile."""
        cipher = self._cipher
        if cipher is None:
            return
        iv = s2c.aesCBCiv if s2c.HasField("aesCBCiv") else None
        try:
            aes = session_aes(s2c.connAESKey, iv)
        except ValueError as exc:
            raise FeedError(f"OpenD sent an unusable AES key: {exc}") from None
        cipher.install(aes)
        self.receive(b"")

    async def _start_tape(self, codes: list[str]) -> None:
        """TICKER for the codes with books, in a Qot_Sub of its own: a code without the
        ticker right (or the quota for it) then keeps its book. Then the recent prints
        (Qot_GetTicker), oldest first; pushes that came meanwhile are not counted twice
        (the tape drops a sequence it has)."""
        live: list[str] = []
        for start in range(0, len(codes), SUB_CHUNK):
            chunk = codes[start:start + SUB_CHUNK]
            reply = await self._sub_request(chunk, SUB_TICKER)
            if reply.retType == 0:
                live += chunk
                continue
            for code in chunk:
                one = reply if len(chunk) == 1 else await self._sub_request([code], SUB_TICKER)
                if one.retType == 0:
                    live.append(code)
                else:
                    text = f"no trades: {_ret_text(one)}"
                    self.streams[code].extra["trades_error"] = text
                    log.warning("futu: %s: %s", code, text)
        self._ticker_live = set(live)
        for code in live:
            self.streams[code].extra.pop("trades_error", None)
            request = Qot_GetTicker_pb2.Request()
            self._security(request.c2s.security, code)
            request.c2s.maxRetNum = RECENT_TICKERS
            request.c2s.header.securityFirm = 0
            reply = await self._request(codec.QOT_GET_TICKER, request, Qot_GetTicker_pb2.Response)
            if reply.retType != 0:
                log.info("futu: recent trades of %s refused: %s", code, _ret_text(reply))
                continue
            stream = self.streams[code]
            trades = self._tickers(stream, reply.s2c.tickerList, "recent trades reply")
            if trades:
                self.trades_printed(stream, trades, snapshot=True)

    async def _sub_request(self, codes: list[str], sub_type: int = SUB_ORDER_BOOK):
        sub = Qot_Sub_pb2.Request()
        c2s = sub.c2s
        for code in codes:
            self._security(c2s.securityList.add(), code)
        c2s.subTypeList.append(sub_type)
        c2s.isSubOrUnSub = True
        c2s.isRegOrUnRegPush = True
        c2s.isFirstPush = True
        c2s.isSubOrderBookDetail = self.details and sub_type == SUB_ORDER_BOOK
        c2s.extendedTime = False
        c2s.session = 0
        c2s.header.securityFirm = 0
        return await self._request(codec.QOT_SUB, sub, Qot_Sub_pb2.Response)

    async def _subscribe(self, codes: list[str]) -> list[str]:
        """Subscribe `codes`; return those OpenD accepted. OpenD refuses a whole Qot_Sub
        when one code lacks its quote right or the quota runs out, so a refused batch is
        retried code by code: each refused code's stream carries OpenD's own message and
        the rest run (docs/futu.md, "Subscriptions, rights and quota")."""
        accepted: list[str] = []
        refused: dict[str, str] = {}
        for start in range(0, len(codes), SUB_CHUNK):
            chunk = codes[start:start + SUB_CHUNK]
            reply = await self._sub_request(chunk)
            if reply.retType == 0:
                accepted += chunk
                continue
            if len(chunk) == 1:
                refused[chunk[0]] = _ret_text(reply)
                continue
            for code in chunk:
                reply = await self._sub_request([code])
                if reply.retType == 0:
                    accepted.append(code)
                else:
                    refused[code] = shown_text(_ret_text(reply))  # (headless prints it)
        if self.tap is not None:
            for code in accepted:
                self.tap.writer.subscribe(self.venue, self.conn, code, details=self.details)
        for code in codes:
            stream = self.streams[code]
            stream.error = refused.get(code)
            if stream.error:
                stream.synced = False
                log.warning("futu: %s refused: %s", code, stream.error)
        self._live = {code for code in codes if code not in refused}
        if not accepted:
            if len(refused) == 1:
                raise FatalFeedError(f"subscription rejected: {next(iter(refused.values()))}")
            raise FatalFeedError("subscription rejected for every code: " + "; ".join(
                f"{code}: {text}" for code, text in refused.items()))
        if refused:
            self.set_state(self.state, f"{len(refused)} of {len(codes)} codes refused")
        return accepted

    def headless_streams(self) -> set[str]:
        """The streams headless output waits for and prints: the subscribed ones."""
        return self._live

    async def _control(self) -> None:
        """Handshake, then keep-alives and the silence watchdog until the session ends."""
        await self._handshake()
        interval = self.keepalive_interval or 10.0
        self.stale_after = interval  # a code silent this long while the link lives is stale
        every = 0.8 * interval
        next_keepalive = time.monotonic() + every
        while True:
            await asyncio.sleep(min(interval / 8, 1.0))
            now = time.monotonic()
            if now >= next_keepalive:
                next_keepalive = now + every
                alive = KeepAlive_pb2.Request()
                alive.c2s.time = int(time.time())
                if self._writer is not None:
                    self._writer.write(self._frame(
                        codec.KEEP_ALIVE, next(self._serials), alive.SerializeToString()))
            silence = now - self._last_rx
            if silence > STALL_INTERVALS * interval:
                raise FeedError(f"no complete frame from OpenD for {silence:.0f}s")
            # staleness of each code is the base feed's watchdog (Feed.check_stale)
