"""The OpenD quote client: one TCP connection carrying the order books of several codes.

Per session (spec §4, §8, §9): InitConnect (plain, packetEncAlgo -1) first; then Qot_Sub
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
import time
from decimal import Decimal
from itertools import compress
from operator import ne

from google.protobuf.message import DecodeError

from obview.book import BookSide, Level, OrderBook
from obview.feed import (
    FatalFeedError,
    Feed,
    FeedCapabilities,
    FeedError,
    FeedState,
    LatencyKind,
    Stream,
)
from obview.fmt import float_to_decimal
from obview.latency import LatencyStats
from obview.venues import VenueConfig
from obview.venues.futu import codec
from obview.venues.futu.pb import (
    InitConnect_pb2,
    KeepAlive_pb2,
    Notify_pb2,
    Qot_Common_pb2,
    Qot_GetOrderBook_pb2,
    Qot_GetStaticInfo_pb2,
    Qot_OrderBookHead_pb2,
    Qot_OrderBookRaw_pb2,
    Qot_Sub_pb2,
)
from obview.venues.futu.symbols import split_code

log = logging.getLogger("obview.futu")

CLIENT_VERSION = 300
CLIENT_ID = "obview"
SUB_ORDER_BOOK = 2
BOOK_LEVELS = 40  # the most OpenD sends (SF right); it caps to what the right allows
REQUEST_TIMEOUT = 12.0  # the SDK's limit for a reply
CONNECT_TIMEOUT = 20.0
SUB_CHUNK = 100  # codes per Qot_Sub, as the SDK does
STALL_INTERVALS = 3  # silence longer than this many keep-alive intervals: reconnect

QOT_UPDATE_ORDER_BOOK = codec.QOT_UPDATE_ORDER_BOOK
_parse_push_head = Qot_OrderBookHead_pb2.Response.FromString
_parse_push = Qot_OrderBookRaw_pb2.Response.FromString
_parse_level = Qot_Common_pb2.OrderBook.FromString
_NOTIFY_TYPES = {2: "program status changed", 4: "quote rights changed",
                 6: "API quota changed", 7: "used quota changed"}


class LevelDecoder:
    """Turns encoded OrderBook levels into `Level`s. Prices and volumes repeat from push
    to push, so their Decimals are cached (a float's shortest repr names one exact decimal)."""

    __slots__ = ("prices", "volumes", "details")

    def __init__(self, details: bool) -> None:
        self.prices: dict[float, Decimal] = {}
        self.volumes: dict[float | int, Decimal] = {}
        self.details = details

    def clear_if_large(self) -> None:
        if len(self.prices) > 50_000:
            self.prices.clear()
        if len(self.volumes) > 50_000:
            self.volumes.clear()

    def level(self, encoded: bytes) -> Level:
        row = _parse_level(encoded)
        raw_price = row.price
        price = self.prices.get(raw_price)
        if price is None:
            price = self.prices[raw_price] = float_to_decimal(raw_price)
        raw_volume = row.hpVolume or row.volume  # hpVolume (a double) when OpenD sends it
        volume = self.volumes.get(raw_volume)
        if volume is None:
            volume = self.volumes[raw_volume] = (
                float_to_decimal(raw_volume) if type(raw_volume) is float else Decimal(raw_volume)
            )
        queue = None
        if self.details:
            detail = row.detailList
            if detail:
                queue = {d.orderID: Decimal(d.volume) for d in detail}
        return Level(price, volume, row.orederCount, queue)


class SideState:
    """What one side of a book was built from: each level's encoded bytes and its `Level`
    (the very object in the book), position by position, best first."""

    __slots__ = ("encoded", "levels")

    def __init__(self) -> None:
        self.encoded: list[bytes] | None = None  # None: the side was never built from a push
        self.levels: list[Level] = []

    def apply(self, side: BookSide, encoded: list[bytes], decoder: LevelDecoder) -> None:
        """Make `side` exactly the levels `encoded` (a push is the complete top N)."""
        old = self.encoded
        if old is None:  # positions unknown: rebuild
            old = []
        elif encoded == old:
            return
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
                for current, level in pairs:
                    current.size = level.size
                    current.orders = level.orders
                    current.queue = level.queue
                self.encoded = encoded
                return
        reuse = dict(zip(old, levels, strict=True))
        reuse.update(decoded)
        new_levels = [reuse.get(item) or decoder.level(item) for item in encoded]
        if old and self._move(side, new_levels):
            self.encoded = encoded
            return
        side.replace(new_levels)  # keeps these very Level objects (the in-place path needs that)
        if all(lv.size for lv in new_levels):
            self.encoded = encoded
            self.levels = new_levels
        else:  # the side skipped empty levels: positions no longer line up, rebuild next time
            self.encoded = None
            self.levels = []


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
    the string beside it is the same instant as text). Absent or zero: no stamp."""
    if stamp <= 0:
        return None
    return round((now - stamp) * 1000.0, 3)


def _fold(stats: LatencyStats, stamps: list[float], now: float) -> None:
    """Add one read's pushes to `stats`, as `add` would one by one: local receive time minus
    OpenD's svrRecvTime*Timestamp, in ms; an absent or zero stamp counts as unstamped."""
    samples = [(now - stamp) * 1000.0 for stamp in stamps if stamp > 0]
    stats.total += len(stamps)
    stats.unstamped += len(stamps) - len(samples)
    stats.samples.extend(samples)
    stamps.clear()


def last_latency(stream: Stream, s2c, now: float) -> None:
    """`latency_ms` of the newest push, as the JSON lines show it."""
    stream.extra["latency_ms"] = {
        "bid": _latency_ms(now, s2c.svrRecvTimeBidTimestamp),
        "ask": _latency_ms(now, s2c.svrRecvTimeAskTimestamp),
    }


def _venue_ts(s2c) -> int | None:
    """The later of the two sides' OpenD stamps, epoch ms (None when both are unstamped)."""
    stamp = max(s2c.svrRecvTimeBidTimestamp, s2c.svrRecvTimeAskTimestamp)
    return int(stamp * 1000) if stamp > 0 else None


def apply_levels(stream: Stream, sides: tuple[SideState, SideState], s2c,
                 decoder: LevelDecoder) -> None:
    """Make `stream.book` the order book of an S2C (3012 reply or 3013 push, raw view)."""
    book = stream.book
    sides[0].apply(book.bids, s2c.orderBookBidList[:], decoder)
    sides[1].apply(book.asks, s2c.orderBookAskList[:], decoder)
    if not stream.name and s2c.name:
        stream.name = s2c.name
    book.touch(venue_ts=_venue_ts(s2c))


def new_stream(code: str) -> Stream:
    stream = Stream(code, OrderBook())
    stream.latency = {"bid": LatencyStats(), "ask": LatencyStats()}
    stream.extra["latency_ms"] = {"bid": None, "ask": None}
    return stream


class FutuFeed(Feed):
    """Order books of one or more codes from an OpenD gateway."""

    venue = "futu"
    capabilities = FeedCapabilities(latency=LatencyKind.RECEIVE)  # per-side receive stamps

    def __init__(self, cfg: VenueConfig) -> None:
        super().__init__()
        self.host = str(cfg.options.get("host") or "127.0.0.1")
        self.port = int(cfg.options.get("port") or 11111)
        self.address = f"{self.host}:{self.port}"
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

    # -- session ---------------------------------------------------------------
    async def _session(self) -> None:
        self.buffer.clear()  # never carry a half frame into a new connection
        self._pending.clear()
        self._sides = {key: (SideState(), SideState()) for key in self.streams}
        self._applied_at = {}
        for _, bid_stamps, ask_stamps in self._push_routes.values():
            bid_stamps.clear()  # stamps of a session that broke mid-read
            ask_stamps.clear()
        self._serials = itertools.count(int(time.time()) % 10000 + 1)
        self.set_state(FeedState.CONNECTING if not self.reconnects else FeedState.RECONNECTING,
                       f"connecting to OpenD at {self.address}")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (
                "connection refused" if isinstance(exc, ConnectionRefusedError)
                else (exc.strerror or str(exc)))
            raise FeedError(f"cannot connect to OpenD at {self.address}: {reason} "
                            "(is OpenD running? try --sim for the simulator)") from None
        self._writer = writer
        self._last_rx = time.monotonic()
        reading = asyncio.create_task(self._read_loop(reader), name="futu-read")
        control = asyncio.create_task(self._control(), name="futu-control")
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
                raise FeedError("OpenD closed the connection")
            self._last_rx = time.monotonic()
            receive(data)

    def receive(self, data: bytes) -> None:
        """Bytes from the socket: frames, replies, pushes, books. Raises BadFrame (the
        stream is corrupt: the session ends) and never anything else for bad input."""
        try:
            frames = self.buffer.feed(data)
        except codec.BadFrame as exc:
            self.count_bad_frame(str(exc))
            raise
        if frames:
            self._process(frames)

    def _dispatch(self, proto_id: int, serial: int, body: bytes) -> None:
        """One frame (tests and fuzzing)."""
        self._process([(proto_id, serial, body)])

    def _process(self, frames: list[tuple[int, int, bytes]]) -> None:
        """Every push is routed and its latency recorded; each book is then set once per
        read from its newest push. A 3013 push is a complete snapshot, so a push followed
        by another for the same code in the same read is superseded before anyone could
        see it: only the newest one's levels are read (catching up costs little)."""
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
                    log.warning("futu: order book push error %s: %s",
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
            elif proto_id == codec.NOTIFY:
                self._on_notify(body)
            # anything else (KeepAlive replies, pushes we did not ask for) is skipped
        self._rx_index = index
        for stream, (s2c, body, at) in newest.items():
            _, bid_stamps, ask_stamps = self._push_routes[self.securities[stream.symbol]]
            # pushes superseded within this read count as received: the newest carries them
            stream.pushes += len(bid_stamps) - 1
            _fold(stream.latency["bid"], bid_stamps, now)
            _fold(stream.latency["ask"], ask_stamps, now)
            try:
                if not whole:
                    s2c = _parse_push(body).s2c
                apply_levels(stream, self._sides[stream.key], s2c, self.decoder)
            except DecodeError as exc:
                self.count_bad_frame(f"undecodable 3013 push: {exc}")
                raise codec.BadFrame("undecodable order book push") from None
            last_latency(stream, s2c, now)
            self._applied_at[stream.key] = at
            self.book_changed(stream)

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
        writer.write(codec.encode_frame(proto_id, serial, request.SerializeToString()))
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
                raise FatalFeedError(
                    "cannot read OpenD's InitConnect reply: OpenD has RSA encryption "
                    "enabled; not supported") from None
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
        c2s.packetEncAlgo = -1
        c2s.pushProtoFmt = 0
        c2s.programmingLanguage = "Python"
        reply = await self._request(codec.INIT_CONNECT, init, InitConnect_pb2.Response)
        if reply.retType != 0 or not reply.HasField("s2c"):
            raise FatalFeedError(f"OpenD at {self.address} refused the connection: "
                                 f"{reply.retMsg or f'retType {reply.retType}'}")
        self.keepalive_interval = float(reply.s2c.keepAliveInterval or 10)
        self.server_version = reply.s2c.serverVer
        self.set_state(self.state, f"{self.address}: subscribing")

        codes = list(self.securities)
        for start in range(0, len(codes), SUB_CHUNK):
            sub = Qot_Sub_pb2.Request()
            c2s = sub.c2s
            for code in codes[start:start + SUB_CHUNK]:
                self._security(c2s.securityList.add(), code)
            c2s.subTypeList.append(SUB_ORDER_BOOK)
            c2s.isSubOrUnSub = True
            c2s.isRegOrUnRegPush = True
            c2s.isFirstPush = True
            c2s.isSubOrderBookDetail = self.details
            c2s.extendedTime = False
            c2s.session = 0
            c2s.header.securityFirm = 0
            reply = await self._request(codec.QOT_SUB, sub, Qot_Sub_pb2.Response)
            if reply.retType != 0:
                raise FatalFeedError(f"subscription rejected: "
                                     f"{reply.retMsg or f'retType {reply.retType}'}")

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
                except DecodeError as exc:
                    self.count_bad_frame(f"undecodable level in order book reply: {exc}")
                    raise codec.BadFrame("undecodable order book level") from None
                self._applied_at[stream.key] = self._reply_index
            self.book_changed(stream, snapshot=True)

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

    async def _control(self) -> None:
        """Handshake, then keep-alives and the silence watchdog until the session ends."""
        await self._handshake()
        self.decoder.clear_if_large()
        interval = self.keepalive_interval or 10.0
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
                    self._writer.write(codec.encode_frame(
                        codec.KEEP_ALIVE, next(self._serials), alive.SerializeToString()))
            silence = now - self._last_rx
            if silence > STALL_INTERVALS * interval:
                raise FeedError(f"no data from OpenD for {silence:.0f}s")
            if silence > interval:
                if self.state is not FeedState.STALE:
                    for stream in self.streams.values():
                        stream.stale = True
                    self.set_state(FeedState.STALE, f"no data from OpenD for {silence:.0f}s")
            elif self.state is FeedState.STALE:
                for stream in self.streams.values():
                    stream.stale = False
                synced = all(s.synced for s in self.streams.values())
                self.set_state(FeedState.SYNCED if synced else FeedState.RESYNCING)
