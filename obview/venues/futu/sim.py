"""An OpenD-compatible quote gateway for tests, demos and screenshots.

Speaks the real wire protocol (44-byte header, SHA-1, proto2 bodies) for InitConnect,
GetGlobalState, KeepAlive, Qot_Sub, Qot_RegQotPush, Qot_GetSubInfo, Qot_GetOrderBook,
Qot_GetStaticInfo, Qot_GetTicker (3010) and pushes Qot_UpdateOrderBook (3013) and, for
TICKER subscriptions, Qot_UpdateTicker (3011): the prints of each step go out before the
book push that shows the resting size they took (docs/futu.md, "Trades"). The books come from
`market.SimBook` (deterministic by seed). Unknown codes are rejected with retType -1.
The first push after a subscription carries empty svrRecvTime stamps, as OpenD's
cached first push does; later pushes carry market-local stamps, for HK codes only
(OpenD stamps only Hong Kong stocks; other books leave the fields out, which the SDK
shows as ''). Per-order details go only to a subscription that asked for them
(isSubOrderBookDetail) and only as far as the simulated rights allow: HK SF up to
1000 orders a level, US LV2 up to 40, none elsewhere. JP equities have no quote
right (Futu offers Japanese futures only), so JP codes are refused like `no_right`.
A Qot_Sub is refused whole when any of its codes is refused, as OpenD does.

Options and fault switches (the `faults` dict; `obview sim futu --fault NAME=VALUE`):

  rate=N            pushes per second per subscribed code (default 10; 0 = only the
                    first push after subscribing)
  levels=N          levels per side in pushes and replies (default 20, max 40)
  keepalive=S       keepAliveInterval announced in InitConnect (default 10 s)
  drop_after=N      close the connection after N pushes
  truncate_after=N  after N pushes send half of the next frame, then close
  bad_sha_after=N   the push after N pushes has a wrong SHA-1
  garbage_after=N   the push after N pushes has a garbage body (valid header and SHA-1)
  stall_after=N     after N pushes go silent on that connection (no replies, no pushes)
  fragment=N        write every frame in pieces of N bytes
  notify            send a Notify (1003) gateway event after each subscription
  unknown_push      send a push with an id clients do not handle before every 3013
  no_right=CODES    refuse subscriptions for these codes and/or markets, comma- or
                    plus-separated (`US`, `HK.00700+US.AAPL`), with OpenD's message
                    "No right to subscribe CODE"
  quota=N           subscription quota (default 1000 per simulator); a Qot_Sub that
                    would exceed it is refused whole
  rsa_key=FILE      encrypted OpenD (its rsa_private_key): InitConnect must come RSA-sealed
                    with this key, later bodies are AES-sealed (docs/futu.md, "Encryption")
  aes_ecb           with rsa_key: answer InitConnect without aesCBCiv, so bodies use Futu's
                    AES-ECB variant whatever the client asked for
  any_code          any well-formed code (HK.12345, US.XYZ, SH.600000) gets a generated,
                    deterministic listing, name and book instead of "Unknown stock"
                    (many-code demos and benchmarks); malformed codes are still refused
  refuse_init=N     refuse the first N InitConnects (retType -1, "connection limit"), as an
                    OpenD still starting or at its connection limit does

Before a successful InitConnect every other request is refused (retType -1). With rsa_key,
an InitConnect that does not decrypt with the key (a plaintext client, another key) is
answered by an RSA-sealed refusal and the connection is closed: the SDK sees "check sha
error" and retries, obview stops with "requires an encrypted connection". Without rsa_key
an RSA-sealed InitConnect fails its SHA-1 check, like any bad frame: the connection closes.

The count-based faults (drop, truncate, bad_sha, garbage, stall) fire once per
simulator, on the first connection that reaches N pushes, so a client can be seen to
recover. Pushes are counted per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import string
import time
from collections import deque

from obview.venues.futu import codec, crypto
from obview.venues.futu.market import CATALOGUE, LEVELS, Listing, SimBook, generated_listing
from obview.venues.futu.pb import (
    GetGlobalState_pb2,
    InitConnect_pb2,
    KeepAlive_pb2,
    Notify_pb2,
    Qot_Common_pb2,
    Qot_GetOrderBook_pb2,
    Qot_GetStaticInfo_pb2,
    Qot_GetSubInfo_pb2,
    Qot_GetTicker_pb2,
    Qot_RegQotPush_pb2,
    Qot_Sub_pb2,
    Qot_UpdateOrderBook_pb2,
    Qot_UpdateTicker_pb2,
)
from obview.venues.futu.symbols import MARKETS, join_code, split_code
from obview.venues.simkit import check_faults, fault_flag, fault_int, fault_number, ticks

log = logging.getLogger("obview.futu.sim")

SERVER_VERSION = 908
SUB_ORDER_BOOK = 2
SUB_TICKER = 4
TICKER_DIR_BID = 1  # TickerDirection_Bid: the buyer took the ask ("outer" trade)
TICKER_DIR_ASK = 2  # TickerDirection_Ask: the seller hit the bid
TICKER_TYPE_AUTOMATCH = 1
PUSH_DATA_REALTIME = 1
MAX_TICKERS = 1000  # Qot_GetTicker's maxRetNum cap
COUNT_FAULTS = ("drop_after", "truncate_after", "bad_sha_after", "garbage_after", "stall_after")
# the switches that stand alone; each other one needs its value, said here for the error
FLAG_FAULTS = {"notify", "unknown_push", "aes_ecb", "any_code"}
FAULT_VALUES = {
    "rate": "rate=N, pushes per second per code",
    "levels": "levels=N, levels per side (at most 40)",
    "keepalive": "keepalive=S, the keep-alive seconds InitConnect announces",
    "drop_after": "drop_after=N, close the connection after N pushes",
    "truncate_after": "truncate_after=N, half a frame and a close after N pushes",
    "bad_sha_after": "bad_sha_after=N, a wrong SHA-1 after N pushes",
    "garbage_after": "garbage_after=N, a garbage body after N pushes",
    "stall_after": "stall_after=N, silence after N pushes",
    "fragment": "fragment=N, every frame written in pieces of N bytes",
    "no_right": "no_right=CODES, the codes and/or markets refused (US, HK.00700+US.AAPL)",
    "quota": "quota=N, the subscription quota",
    "rsa_key": "rsa_key=FILE, the encrypted OpenD's private key",
    "refuse_init": "refuse_init=N, refuse the first N InitConnects",
}
KNOWN_FAULTS = FLAG_FAULTS | set(FAULT_VALUES)
# value kinds the CLI checks before starting (finite, >= 0)
NUMERIC_FAULTS = {"rate": "number", "levels": "int", "keepalive": "int", "fragment": "int",
                  "refuse_init": "int", "quota": "int", **{name: "int" for name in COUNT_FAULTS}}
# What the simulated account's quote rights allow per level (docs/futu.md, "Simulator
# fidelity"): HK SF up to 1000 orders, US LV2 up to 40; other markets get no details.
DETAIL_CAPS = {MARKETS["HK"]: 1000, MARKETS["US"]: 40}
STAMPED_MARKETS = {MARKETS["HK"]}  # "only supports Hong Kong stocks for the time being"
NO_RIGHT_MARKETS = {MARKETS["JP"]}  # JP equities: no quote right exists
UNHANDLED_PUSH_ID = 3005  # Qot_UpdateBasicQot: a push id obview does not subscribe to
LEVEL_CACHE_LIMIT = 50_000  # encoded levels kept for reuse across pushes


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_tag(message, name: str) -> bytes:
    """The key of a length-delimited field (wire type 2) of `message`."""
    return _varint(message.DESCRIPTOR.fields_by_name[name].number << 3 | 2)


_ASK_LIST_TAG = _field_tag(Qot_UpdateOrderBook_pb2.S2C, "orderBookAskList")
_BID_LIST_TAG = _field_tag(Qot_UpdateOrderBook_pb2.S2C, "orderBookBidList")
_S2C_TAG = _field_tag(Qot_UpdateOrderBook_pb2.Response, "s2c")
_RESPONSE_OK = Qot_UpdateOrderBook_pb2.Response(retType=0).SerializeToString()


class _Connection:
    """One client connection: its subscriptions and counters."""

    def __init__(self, sim: FutuSimulator, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, conn_id: int) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.conn_id = conn_id
        self.subs: dict[str, bool] = {}  # code -> order book details asked
        self.pushing: set[str] = set()
        self.ticker_subs: set[str] = set()  # codes subscribed with SubType TICKER
        self.ticker_pushing: set[str] = set()
        self.pushes = 0
        self.stalled = False
        self.closed = False
        self.serial = itertools.count(1)
        self.lock = asyncio.Lock()
        self.ready = False  # InitConnect succeeded: other requests are served
        self.cipher = crypto.SessionCipher(sim.rsa_key) if sim.rsa_key else None

    async def send(self, data: bytes) -> None:
        if self.closed or self.stalled:
            return
        async with self.lock:
            piece = self.sim.fragment
            try:
                if piece:
                    for start in range(0, len(data), piece):
                        self.writer.write(data[start:start + piece])
                        await self.writer.drain()
                else:
                    self.writer.write(data)
                    await self.writer.drain()
            except (ConnectionError, OSError):
                self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


class FutuSimulator:
    """The asyncio TCP server; `addresses` lists host:port it serves."""

    def __init__(self, seed: int = 1, faults: dict[str, str] | None = None,
                 rsa_key: str | crypto.RsaKey | None = None) -> None:
        faults = dict(faults or {})
        check_faults("futu", faults, KNOWN_FAULTS, NUMERIC_FAULTS, FLAG_FAULTS, FAULT_VALUES)
        self.seed = seed
        key = rsa_key if rsa_key is not None else faults.get("rsa_key") or None
        # KeyFileError is a ValueError: a usage error, like any bad switch
        self.rsa_key = crypto.load_rsa_key(key) if isinstance(key, str) else key
        self.aes_ecb = fault_flag(faults, "aes_ecb")
        if self.aes_ecb and self.rsa_key is None:
            raise ValueError("aes_ecb goes with rsa_key=FILE")
        self.rate = fault_number("futu", faults, "rate", 10.0)
        self.levels = max(1, min(LEVELS, fault_int("futu", faults, "levels", 20)))
        self.keepalive = max(1, fault_int("futu", faults, "keepalive", 10))
        self.fragment = fault_int("futu", faults, "fragment", 0)
        self.count_faults = {name: fault_int("futu", faults, name, 0)
                             for name in COUNT_FAULTS if faults.get(name, "").strip()}
        self.refuse_init = fault_int("futu", faults, "refuse_init", 0)
        self.quota = fault_int("futu", faults, "quota", 1000)
        try:
            self.no_right_markets, self.no_right_codes = _parse_no_right(
                faults.get("no_right", ""))
        except ValueError as exc:
            raise ValueError(f"bad futu sim fault value: {exc}") from None
        if self.quota < 0:
            raise ValueError(f"bad futu sim fault value: quota={self.quota}")
        self.no_right_markets |= NO_RIGHT_MARKETS
        self.notify = fault_flag(faults, "notify")
        self.unknown_push = fault_flag(faults, "unknown_push")
        self.any_code = fault_flag(faults, "any_code")
        self.fired: set[str] = set()
        self.quotes_down = False  # the quote server behind OpenD is logged out
        self.books: dict[str, SimBook] = {}
        self._level_cache: dict[tuple, bytes] = {}
        self.connections: list[_Connection] = []
        self.addresses: list[str] = []
        self.requests: deque[tuple[int, int]] = deque(maxlen=10000)  # (connID, proto id), for tests
        self.refusals: deque[str] = deque(maxlen=1000)  # why connections were refused, for tests
        self._conn_ids = itertools.count(7000001)
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task | None = None
        self._handlers: set[asyncio.Task] = set()

    # -- lifecycle -------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FutuSimulator:
        """Serve on host:port (0: any free port); returns the simulator."""
        self._server = await asyncio.start_server(self._serve, host, port)
        for sock in self._server.sockets:
            addr = sock.getsockname()
            self.addresses.append(f"{addr[0]}:{addr[1]}")
        self._ticker = asyncio.create_task(self._tick(), name="futu-sim-ticker")
        return self

    @property
    def port(self) -> int:
        return int(self.addresses[0].rsplit(":", 1)[1])

    async def close(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def listing(self, code: str) -> Listing | None:
        """What the simulator knows of `code`; None = "Unknown stock"."""
        listing = CATALOGUE.get(code)
        if listing is None and self.any_code:
            listing = generated_listing(code)
        return listing

    def book(self, code: str) -> SimBook:
        book = self.books.get(code)
        if book is None:
            book = self.books[code] = SimBook(code, self.seed, self.listing(code))
        return book

    async def quote_server(self, logged_in: bool) -> None:
        """Tests: OpenD loses (or regains) its quote server. It tells every client with a
        Notify of type 3 (connection status) and pushes nothing while logged out."""
        self.quotes_down = not logged_in
        notice = Notify_pb2.Response(retType=0)
        notice.s2c.type = 3  # NotifyType_ConnStatus
        notice.s2c.connectStatus.qotLogined = logged_in
        notice.s2c.connectStatus.trdLogined = False
        body = notice.SerializeToString()
        for conn in list(self.connections):
            await conn.send(codec.encode_frame(codec.NOTIFY, next(conn.serial), body))

    def drop_all(self) -> None:
        """Close every client connection (tests: a gateway restart)."""
        for conn in list(self.connections):
            conn.close()

    # -- market ticks ----------------------------------------------------------
    async def _tick(self) -> None:
        if self.rate <= 0:
            return
        interval = 1.0 / self.rate
        async for _ in ticks(interval):
            if self.quotes_down:
                continue
            started = time.monotonic()
            codes = sorted(self.books)
            for position, code in enumerate(codes):
                if position:
                    # instruments tick independently, not in lockstep: the codes' pushes
                    # are spread over the interval instead of arriving as one burst
                    due = started + interval * position / len(codes)
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                if self.quotes_down or code not in self.books:
                    break
                live = [c for c in self.connections if not c.closed]
                watchers = [c for c in live if code in c.pushing]
                tape = [c for c in live if code in c.ticker_pushing]
                if not watchers and not tape:
                    continue
                book = self.books[code]
                book.step()
                if book.trades and tape:  # the prints first, then the book they left
                    body = self._ticker_push_body(book, book.trades)
                    for conn in tape:
                        await conn.send(codec.encode_frame(
                            codec.QOT_UPDATE_TICKER, next(conn.serial), body, cipher=conn.cipher))
                bodies: dict[bool, bytes] = {}
                for conn in watchers:
                    details = conn.subs.get(code, False)
                    if details not in bodies:
                        bodies[details] = self._push_body(book, details, stamped=True)
                    await self._push(conn, bodies[details])

    async def _push(self, conn: _Connection, body: bytes) -> None:
        """Send one 3013 push, applying the fault switches."""
        if conn.closed or conn.stalled:
            return
        due = self._due_fault(conn)
        if due == "stall_after":
            conn.stalled = True
            return
        if due == "drop_after":
            conn.close()
            return
        if self.unknown_push:
            await conn.send(codec.encode_frame(UNHANDLED_PUSH_ID, next(conn.serial), b"\x08\x00",
                                               cipher=conn.cipher))
        frame = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, next(conn.serial), body,
                                   cipher=conn.cipher)
        if due == "truncate_after":
            await conn.send(frame[: max(codec.HEADER_SIZE + 1, len(frame) // 2)])
            conn.close()
            return
        if due == "bad_sha_after":
            frame = frame[:16] + bytes(20) + frame[36:]
        elif due == "garbage_after":
            garbage = b"\xff\xfe\xfd garbage \x00\x01" * 3
            frame = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, next(conn.serial), garbage,
                                       cipher=conn.cipher)
        conn.pushes += 1
        await conn.send(frame)

    def _due_fault(self, conn: _Connection) -> str | None:
        for name, after in self.count_faults.items():
            if name not in self.fired and conn.pushes >= after:
                self.fired.add(name)
                return name
        return None

    # -- message bodies ----------------------------------------------------------
    def _fill_book(self, s2c, book: SimBook, details: bool, stamped: bool, levels: int) -> None:
        s2c.security.market = book.market
        s2c.security.code = book.short_code
        s2c.name = book.listing.name
        bids, asks = book.top(levels)
        cap = DETAIL_CAPS.get(book.market, 0) if details else 0
        for rows, target in ((asks, s2c.orderBookAskList), (bids, s2c.orderBookBidList)):
            for price, volume, count, queue in rows:
                level = target.add(price=float(price), volume=volume, orederCount=count)
                if book.market == MARKETS["US"]:
                    level.hpVolume = float(volume)
                for order_id, order_volume in queue[:cap]:
                    level.detailList.add(orderID=order_id, volume=order_volume)
        if book.market not in STAMPED_MARKETS:
            return  # left out: the SDK then shows ''
        if stamped:
            bid_at, ask_at = book.changed_at["bid"], book.changed_at["ask"]
            s2c.svrRecvTimeBid = book.local_time(bid_at)
            s2c.svrRecvTimeBidTimestamp = math.floor(bid_at * 1000) / 1000  # ms, like OpenD
            s2c.svrRecvTimeAsk = book.local_time(ask_at)
            s2c.svrRecvTimeAskTimestamp = math.floor(ask_at * 1000) / 1000
        else:  # "sometimes zero": cached data pushed for the first time
            s2c.svrRecvTimeBid = ""
            s2c.svrRecvTimeBidTimestamp = 0.0
            s2c.svrRecvTimeAsk = ""
            s2c.svrRecvTimeAskTimestamp = 0.0

    def _fill_tickers(self, s2c, book: SimBook, trades, push: bool) -> None:
        s2c.security.market = book.market
        s2c.security.code = book.short_code
        s2c.name = book.listing.name
        us = book.market == MARKETS["US"]
        for trade in trades:
            row = s2c.tickerList.add(
                time=book.local_time(trade.at), sequence=trade.sequence,
                dir=TICKER_DIR_BID if trade.buy else TICKER_DIR_ASK,
                price=float(trade.price), volume=trade.volume,
                turnover=float(trade.price * trade.volume),
                type=TICKER_TYPE_AUTOMATCH,
                timestamp=math.floor(trade.at * 1000) / 1000,
            )
            if push:
                row.pushDataType = PUSH_DATA_REALTIME
            if us:
                row.hpVolume = float(trade.volume)

    def _ticker_push_body(self, book: SimBook, trades) -> bytes:
        response = Qot_UpdateTicker_pb2.Response(retType=0)
        self._fill_tickers(response.s2c, book, trades, push=True)
        return response.SerializeToString()

    def _push_body(self, book: SimBook, details: bool, stamped: bool) -> bytes:
        """The 3013 body, as `_fill_book` would make it, with each level's encoding
        reused while the level is unchanged: a step changes one level, and building a
        level's order details through protobuf is what made 100 codes with details cost
        the simulator more than a core (it then answered requests seconds late)."""
        s2c = Qot_UpdateOrderBook_pb2.S2C()
        self._fill_book(s2c, book, details, stamped, 0)  # everything but the levels
        bids, asks = book.top(self.levels)
        cap = DETAIL_CAPS.get(book.market, 0) if details else 0
        us = book.market == MARKETS["US"]
        parts = [s2c.SerializeToString()]
        for tag, rows in ((_ASK_LIST_TAG, asks), (_BID_LIST_TAG, bids)):
            for row in rows:
                parts.append(tag)
                parts.append(self._level_bytes(row, cap, us))
        body = b"".join(parts)
        return b"".join((_RESPONSE_OK, _S2C_TAG, _varint(len(body)), body))

    def _level_bytes(self, row: tuple, cap: int, us: bool) -> bytes:
        """One level, length-prefixed, as it sits in a repeated OrderBook field."""
        price, volume, count, queue = row
        key = (price, queue if cap else volume, count, cap, us)
        encoded = self._level_cache.get(key)
        if encoded is None:
            if len(self._level_cache) >= LEVEL_CACHE_LIMIT:
                self._level_cache.clear()
            level = Qot_Common_pb2.OrderBook(price=float(price), volume=volume, orederCount=count)
            if us:
                level.hpVolume = float(volume)
            for order_id, order_volume in queue[:cap]:
                level.detailList.add(orderID=order_id, volume=order_volume)
            data = level.SerializeToString()
            encoded = self._level_cache[key] = _varint(len(data)) + data
        return encoded

    # -- connections -------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = _Connection(self, reader, writer, next(self._conn_ids))
        self.connections.append(conn)
        buffer = codec.FrameBuffer(conn.cipher)
        try:
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    frames = buffer.feed(data)
                except codec.BadFrame as exc:
                    log.info("futu sim: bad frame from client: %s", exc)
                    self.refusals.append(f"bad frame: {exc}")
                    if (conn.cipher is not None and exc.proto_id == codec.INIT_CONNECT
                            and exc.kind in ("sha1", "decrypt", "unencrypted")):
                        await self._refuse_undecryptable(conn, exc.serial or 0)
                    break
                for proto_id, serial, body in frames:
                    if conn.stalled:
                        continue
                    self.requests.append((conn.conn_id, proto_id))
                    await self._handle(conn, proto_id, serial, body)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            conn.close()
            self.connections.remove(conn)
            if task is not None:
                self._handlers.discard(task)

    async def _reply(self, conn: _Connection, proto_id: int, serial: int, response) -> None:
        await conn.send(codec.encode_frame(proto_id, serial, response.SerializeToString(),
                                           cipher=conn.cipher))

    async def _refuse_undecryptable(self, conn: _Connection, serial: int) -> None:
        """An encrypted OpenD's answer to an InitConnect its key cannot open: a refusal
        sealed with its own key (a client without that key cannot read it), then close."""
        reply = InitConnect_pb2.Response(
            retType=-1, retMsg="InitConnect does not decrypt with rsa_private_key")
        await self._reply(conn, codec.INIT_CONNECT, serial, reply)
        conn.close()

    async def _handle(self, conn: _Connection, proto_id: int, serial: int, body: bytes) -> None:
        if not conn.ready and proto_id != codec.INIT_CONNECT:
            # OpenD serves nothing before InitConnect. Every Response starts with
            # retType/retMsg, so any module's Response will do.
            self.refusals.append(f"protocol {proto_id} before InitConnect")
            reply = KeepAlive_pb2.Response(retType=-1,
                                           retMsg="InitConnect must be the first request")
            await self._reply(conn, proto_id, serial, reply)
            return
        handler = self._HANDLERS.get(proto_id)
        if handler is None:
            # Every Response starts with retType/retMsg, so any module's Response will do.
            reply = KeepAlive_pb2.Response(retType=-1, retMsg=f"unsupported protocol {proto_id}")
            await self._reply(conn, proto_id, serial, reply)
            return
        request_cls, response_cls, method = handler
        request = request_cls()
        try:
            request.ParseFromString(body)
        except Exception:  # the client sent something we cannot read: say so, like OpenD
            await self._reply(conn, proto_id, serial,
                              response_cls(retType=-500, retMsg="invalid packet"))
            return
        response = response_cls(retType=0)
        after = await method(self, conn, request.c2s, response)
        if response.retType != 0:
            response.ClearField("s2c")
            after = None
        await self._reply(conn, proto_id, serial, response)
        for code in after or ():
            await self._push(conn, self._push_body(self.book(code), conn.subs[code], False))
        if proto_id == codec.QOT_SUB and response.retType == 0:
            if self.notify:
                notice = Notify_pb2.Response(retType=0)
                notice.s2c.type = 1
                notice.s2c.event.eventType = 0
                notice.s2c.event.desc = "simulated gateway event: quote server reconnected"
                await conn.send(codec.encode_frame(codec.NOTIFY, next(conn.serial),
                                                   notice.SerializeToString(),
                                                   cipher=conn.cipher))

    # Handlers fill `response` and may return codes to push right after the reply.
    async def _init_connect(self, conn, c2s, response) -> None:
        if self.refuse_init > 0:
            self.refuse_init -= 1
            self.refusals.append("InitConnect refused: connection limit")
            response.retType = -1
            response.retMsg = "Too many connections: the connection limit is reached"
            return
        algo = c2s.packetEncAlgo if c2s.HasField("packetEncAlgo") else crypto.ENC_FTAES_ECB
        if conn.cipher is not None and algo == crypto.ENC_AES_ECB:
            response.retType = -1  # its padding is not documented anywhere we could read
            response.retMsg = "packetEncAlgo 1 (AES_ECB) is not supported by this simulator"
            return
        # Each connection gets its own key (and IV), the same ones for the same seed.
        rng = random.Random(f"{self.seed}:{conn.conn_id}")
        alphabet = string.ascii_letters + string.digits
        aes_key = "".join(rng.choice(alphabet) for _ in range(16))
        response.s2c.serverVer = SERVER_VERSION
        response.s2c.loginUserID = 10086001
        response.s2c.connID = conn.conn_id
        response.s2c.connAESKey = aes_key
        response.s2c.keepAliveInterval = self.keepalive
        response.s2c.userAttribution = 1
        conn.ready = True
        if conn.cipher is None or algo == crypto.ENC_NONE:
            return  # plain OpenD, or a client that asked for no encryption after the RSA
        iv = None
        if algo == crypto.ENC_AES_CBC and not self.aes_ecb:
            iv = "".join(rng.choice(alphabet) for _ in range(16))
            response.s2c.aesCBCiv = iv
        # Sealing starts after this reply (InitConnect frames always use RSA).
        conn.cipher.install(crypto.session_aes(aes_key, iv))

    async def _global_state(self, conn, c2s, response) -> None:
        s2c = response.s2c
        s2c.marketHK = s2c.marketUS = s2c.marketSH = s2c.marketSZ = s2c.marketHKFuture = 5
        s2c.qotLogined = True
        s2c.trdLogined = False
        s2c.serverVer = SERVER_VERSION
        s2c.serverBuildNo = 5208
        s2c.time = int(time.time())
        s2c.localTime = time.time()
        s2c.programStatus.type = 10
        s2c.connID = conn.conn_id

    async def _keep_alive(self, conn, c2s, response) -> None:
        response.s2c.time = int(time.time())

    def _check_codes(self, securities, response) -> list[str] | None:
        codes = []
        for security in securities:
            code = join_code(security.market, security.code)
            if self.listing(code) is None:
                response.retType = -1
                response.retMsg = f"Unknown stock {code}"
                return None
            codes.append(code)
        return codes

    def _refuse_sub(self, conn, codes: list[str], sub_types: set[int], response) -> bool:
        """OpenD refuses a whole Qot_Sub if one code lacks its right or the quota would
        be exceeded; its message names the first code without its market prefix."""
        for code in codes:
            market, short = split_code(code)
            if market in self.no_right_markets or code in self.no_right_codes:
                response.retType = -1
                response.retMsg = f"No right to subscribe {short}"
                return True
        # OpenD's quota counts one per code and sub type
        held = {(c, SUB_ORDER_BOOK) for each in self.connections for c in each.subs}
        held |= {(c, SUB_TICKER) for each in self.connections for c in each.ticker_subs}
        wanted = held | {(c, t) for c in codes for t in sub_types}
        if len(wanted) > self.quota:
            response.retType = -1
            response.retMsg = (f"Subscription quota exceeded: {len(held)} of {self.quota} "
                               f"used, {len(wanted) - len(held)} more requested")
            return True
        return False

    async def _sub(self, conn, c2s, response) -> list[str] | None:
        codes = self._check_codes(c2s.securityList, response)
        if codes is None:
            return None
        sub_types = {t for t in c2s.subTypeList if t in (SUB_ORDER_BOOK, SUB_TICKER)}
        if not sub_types:
            return None
        books = SUB_ORDER_BOOK in sub_types
        tickers = SUB_TICKER in sub_types
        first_push = c2s.isFirstPush if c2s.HasField("isFirstPush") else True
        if not c2s.isSubOrUnSub:
            for code in codes:
                if books:
                    conn.subs.pop(code, None)
                    conn.pushing.discard(code)
                if tickers:
                    conn.ticker_subs.discard(code)
                    conn.ticker_pushing.discard(code)
            return None
        if self._refuse_sub(conn, codes, sub_types, response):
            return None
        register = c2s.isRegOrUnRegPush if c2s.HasField("isRegOrUnRegPush") else None
        for code in codes:
            self.book(code)
            if books:
                conn.subs[code] = bool(c2s.isSubOrderBookDetail)
            if tickers:
                conn.ticker_subs.add(code)
            if register is not None:
                for wanted, pushing in ((books, conn.pushing), (tickers, conn.ticker_pushing)):
                    if wanted and register:
                        pushing.add(code)
                    elif wanted:
                        pushing.discard(code)
        # the first push is the cached book; the tape is fetched with Qot_GetTicker
        if not books or not first_push:
            return None
        return [code for code in codes if code in conn.pushing]

    async def _reg_push(self, conn, c2s, response) -> list[str] | None:
        codes = self._check_codes(c2s.securityList, response)
        if codes is None:
            return None
        if SUB_TICKER in c2s.subTypeList:
            for code in codes:
                if code not in conn.ticker_subs:
                    response.retType = -1
                    response.retMsg = f"{code} is not subscribed"
                    return None
            for code in codes:
                if c2s.isRegOrUnReg:
                    conn.ticker_pushing.add(code)
                else:
                    conn.ticker_pushing.discard(code)
        if SUB_ORDER_BOOK not in c2s.subTypeList:
            return None
        pushed = []
        for code in codes:
            if code not in conn.subs:
                response.retType = -1
                response.retMsg = f"{code} is not subscribed"
                return None
            if c2s.isRegOrUnReg:
                conn.pushing.add(code)
                pushed.append(code)
            else:
                conn.pushing.discard(code)
        return pushed if c2s.isFirstPush else None

    async def _sub_info(self, conn, c2s, response) -> None:
        conns = self.connections if c2s.isReqAllConn else [conn]
        total = 0
        for each in conns:
            used = len(each.subs) + len(each.ticker_subs)
            info = response.s2c.connSubInfoList.add(usedQuota=used, isOwnConnData=each is conn)
            for sub_type, held in ((SUB_ORDER_BOOK, each.subs), (SUB_TICKER, each.ticker_subs)):
                if held:
                    sub = info.subInfoList.add(subType=sub_type)
                    for code in held:
                        market, short = split_code(code)
                        sub.securityList.add(market=market, code=short)
            total += used
        response.s2c.totalUsedQuota = total
        response.s2c.remainQuota = max(0, self.quota - total)

    async def _order_book(self, conn, c2s, response) -> None:
        codes = self._check_codes([c2s.security], response)
        if codes is None:
            return
        code = codes[0]
        if code not in conn.subs:
            response.retType = -1
            response.retMsg = f"Please subscribe to {code} ORDER_BOOK first"
            return
        levels = max(1, min(self.levels, c2s.num))
        self._fill_book(response.s2c, self.book(code), conn.subs[code], True, levels)

    async def _ticker(self, conn, c2s, response) -> None:
        """The most recent prints, oldest first, at most maxRetNum (and 1000)."""
        codes = self._check_codes([c2s.security], response)
        if codes is None:
            return
        code = codes[0]
        if code not in conn.ticker_subs:
            response.retType = -1
            response.retMsg = f"Please subscribe to {code} TICKER first"
            return
        book = self.book(code)
        count = max(0, min(MAX_TICKERS, c2s.maxRetNum))
        recent = list(book.tape)[-count:] if count else []
        self._fill_tickers(response.s2c, book, recent, push=False)

    async def _static_info(self, conn, c2s, response) -> None:
        codes = self._check_codes(c2s.securityList, response)
        if codes is None:
            return
        for code in codes:
            listing = self.listing(code)
            market, short = split_code(code)
            basic = response.s2c.staticInfoList.add().basic
            basic.security.market = market
            basic.security.code = short
            basic.id = listing.sec_id
            basic.lotSize = listing.lot
            basic.secType = 3
            basic.name = listing.name
            basic.listTime = listing.list_time
            basic.delisting = False
            basic.exchType = listing.exch_type

    _HANDLERS = {
        codec.INIT_CONNECT: (InitConnect_pb2.Request, InitConnect_pb2.Response, _init_connect),
        codec.GET_GLOBAL_STATE: (GetGlobalState_pb2.Request, GetGlobalState_pb2.Response,
                                 _global_state),
        codec.KEEP_ALIVE: (KeepAlive_pb2.Request, KeepAlive_pb2.Response, _keep_alive),
        codec.QOT_SUB: (Qot_Sub_pb2.Request, Qot_Sub_pb2.Response, _sub),
        codec.QOT_REG_QOT_PUSH: (Qot_RegQotPush_pb2.Request, Qot_RegQotPush_pb2.Response,
                                 _reg_push),
        codec.QOT_GET_SUB_INFO: (Qot_GetSubInfo_pb2.Request, Qot_GetSubInfo_pb2.Response,
                                 _sub_info),
        codec.QOT_GET_ORDER_BOOK: (Qot_GetOrderBook_pb2.Request, Qot_GetOrderBook_pb2.Response,
                                   _order_book),
        codec.QOT_GET_TICKER: (Qot_GetTicker_pb2.Request, Qot_GetTicker_pb2.Response, _ticker),
        codec.QOT_GET_STATIC_INFO: (Qot_GetStaticInfo_pb2.Request,
                                    Qot_GetStaticInfo_pb2.Response, _static_info),
    }


def _parse_no_right(text: str) -> tuple[set[int], set[str]]:
    """`US`, `HK.00700+US.AAPL`, `US,HK.00005` -> (markets, codes)."""
    from obview.venues.futu.symbols import check_symbol

    markets: set[int] = set()
    codes: set[str] = set()
    for item in text.replace("+", ",").split(","):
        item = item.strip()
        if not item:
            continue
        if "." in item:
            codes.add(check_symbol(item))
        elif item.upper() in MARKETS:
            markets.add(MARKETS[item.upper()])
        else:
            raise ValueError(f"no_right={text}: {item!r} is neither a market nor a code")
    return markets, codes


_ = Qot_Common_pb2  # the shared message types must be registered before the others


async def start_sim(host: str = "127.0.0.1", port: int = 0, seed: int = 1,
                    faults: dict[str, str] | None = None,
                    rsa_key: str | crypto.RsaKey | None = None) -> FutuSimulator:
    """Start a simulator; ValueError for unknown or malformed fault switches or key file."""
    sim = FutuSimulator(seed, faults, rsa_key)
    await sim.start(host, port)
    return sim
