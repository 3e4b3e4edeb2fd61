"""A hostile OpenD for tests: real Futu framing on a loopback socket, crafted pushes.

It answers the handshake like OpenD (InitConnect with whatever keepAliveInterval the test
wants, Qot_Sub, Qot_GetOrderBook with the last valid book it pushed, KeepAlive) and then
sends whatever frames the test hands it, byte for byte. It counts what it wrote per
connection so a test can wait until the client has read everything (`FuzzFeed`).
"""

from __future__ import annotations

import asyncio
import contextlib

from obview.feed import FeedError
from obview.venues import config
from obview.venues.futu import codec
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.pb import (
    InitConnect_pb2,
    KeepAlive_pb2,
    Qot_GetOrderBook_pb2,
    Qot_Sub_pb2,
    Qot_UpdateOrderBook_pb2,
)

CODE = "HK.00700"
MARKET, SHORT = 1, "00700"


def push_body(bids, asks, security=(MARKET, SHORT), ret_type=0) -> bytes:
    """A 3013 body from rows (price float, volume int, count int, details, hpVolume|None)."""
    response = Qot_UpdateOrderBook_pb2.Response(retType=ret_type)
    fill(response.s2c, bids, asks, security)
    return response.SerializeToString()


def fill(s2c, bids, asks, security=(MARKET, SHORT)) -> None:
    s2c.security.market, s2c.security.code = security
    for rows, target in ((bids, s2c.orderBookBidList), (asks, s2c.orderBookAskList)):
        for price, volume, count, details, hp in rows:
            level = target.add(price=price, volume=volume, orederCount=count)
            if hp is not None:
                level.hpVolume = hp
            for order_id, order_volume in details:
                level.detailList.add(orderID=order_id, volume=order_volume)


class HostileOpenD:
    def __init__(self, keepalive: int = 10, sub_ret: tuple[int, str] = (0, "")) -> None:
        self.keepalive = keepalive
        self.sub_ret = sub_ret
        self.book_body: bytes = push_body([], [])  # what Qot_GetOrderBook answers (S2C layout)
        self.connections = 0
        self.inits = 0
        self.written = 0  # bytes written on the current connection
        self.ready = asyncio.Event()  # the current connection has its book: push phase
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server:
            self._server.close()
        if self._writer:
            self._writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        self.written += len(data)
        writer.write(data)
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()

    async def _serve(self, reader, writer) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        if self._writer is not None:
            self._writer.close()
        self.ready.clear()
        self.connections += 1
        self.written = 0
        self._writer = writer
        buffer = codec.FrameBuffer()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for proto_id, serial, body in buffer.feed(data):
                    await self._answer(writer, proto_id, serial, body)
        except (ConnectionError, OSError, codec.BadFrame, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _answer(self, writer, proto_id: int, serial: int, body: bytes) -> None:
        if writer is not self._writer:
            return
        if proto_id == codec.INIT_CONNECT:
            self.inits += 1
            reply = InitConnect_pb2.Response(retType=0)
            s2c = reply.s2c
            s2c.serverVer, s2c.loginUserID, s2c.connID = 908, 1, self.connections
            s2c.connAESKey, s2c.keepAliveInterval = "0123456789ABCDEF", self.keepalive
            data = reply.SerializeToString()
        elif proto_id == codec.QOT_SUB:
            request = Qot_Sub_pb2.Request.FromString(body)
            ret, msg = self.sub_ret
            data = Qot_Sub_pb2.Response(retType=ret, retMsg=msg).SerializeToString()
            del request
        elif proto_id == codec.QOT_GET_ORDER_BOOK:
            push = Qot_UpdateOrderBook_pb2.Response.FromString(self.book_body)
            reply = Qot_GetOrderBook_pb2.Response(retType=0)
            reply.s2c.ParseFromString(push.s2c.SerializePartialToString())
            data = reply.SerializePartialToString()
        elif proto_id == codec.KEEP_ALIVE:
            data = KeepAlive_pb2.Response(retType=0, s2c={"time": 1}).SerializeToString()
        else:  # static info and the rest: refused, as OpenD may
            data = KeepAlive_pb2.Response(retType=-1, retMsg="not here").SerializeToString()
        await self.send(codec.encode_frame(proto_id, serial, data))
        if proto_id == codec.QOT_GET_ORDER_BOOK:
            self.ready.set()


class FuzzFeed(FutuFeed):
    """A FutuFeed that tells the test how many bytes it has consumed on this connection
    and whether the connection broke; nothing else differs."""

    def __init__(self, port: int, details: bool = True) -> None:
        super().__init__(config("futu", [CODE], details=details, host="127.0.0.1", port=port))
        self.backoff.initial = 0.02
        self.sessions = 0
        self.session_bytes = 0
        self.broke = False
        self.progress = asyncio.Event()

    async def _session(self) -> None:
        self.sessions += 1
        self.session_bytes = 0
        self.broke = False
        await super()._session()

    def receive(self, data: bytes) -> None:
        self.session_bytes += len(data)
        try:
            super().receive(data)
        except FeedError:
            self.broke = True
            raise
        finally:
            self.progress.set()


async def caught_up(feed: FuzzFeed, server: HostileOpenD, timeout: float = 10.0) -> None:
    """Until the client has consumed every byte written on the server's current
    connection, that connection is in its push phase and the client's is unbroken (a
    broken one is replaced first: reconnect, handshake, book)."""
    async def wait() -> None:
        while not (server.ready.is_set() and not feed.broke
                   and feed.sessions == server.connections
                   and feed.session_bytes == server.written):
            await _tick(feed)

    try:
        await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        raise AssertionError(
            f"client not caught up after {timeout}s: sessions {feed.sessions}/"
            f"{server.connections}, bytes {feed.session_bytes}/{server.written}, broke "
            f"{feed.broke}, ready {server.ready.is_set()}, {feed.state.value}: "
            f"{feed.status_text}") from None


async def _tick(feed: FuzzFeed) -> None:
    feed.progress.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed.progress.wait(), 0.02)
