"""A hostile bthub hub for tests: real loopback sockets, frames chosen by the test.

It answers the REST calls obview makes (login, symbols, cps) like the real hub, then
sends on every WebSocket connection whatever the test's `script(ws, connection_no)`
coroutine sends. `endless_login=True` makes the login reply a body that never ends.
Close codes received from clients are recorded in `close_codes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

Script = Callable[[ServerConnection, int], Awaitable[None]]
CPS = ("okex", "binance", "huobi")


class HostileHub:
    def __init__(self, script: Script | None = None, *, cps: tuple[str, ...] = CPS,
                 symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), endless_login: bool = False,
                 cps_body: bytes | None = None, gzip_if_asked: bool = False) -> None:
        self.script = script
        # compress REST replies when the request allows gzip, as a web server set to
        # compress JSON does (nginx's gzip_types application/json)
        self.gzip_if_asked = gzip_if_asked
        self.accept_encodings: list[str | None] = []
        self.cps = cps
        self.symbols = symbols
        self.endless_login = endless_login
        self.cps_body = cps_body
        self.connections = 0
        self.logins = 0
        self.close_codes: list[int | None] = []
        self.login_bytes_sent = 0
        self._server = None
        self._raw_server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> HostileHub:
        if self.endless_login:
            self._raw_server = await asyncio.start_server(self._endless, "127.0.0.1", 0)
            port = self._raw_server.sockets[0].getsockname()[1]
        else:
            self._server = await serve(self._handler, "127.0.0.1", 0, compression=None,
                                       process_request=self._process_request, max_size=2**20)
            port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for server in (self._server, self._raw_server):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 5)

    # -- REST ---------------------------------------------------------------------------
    @staticmethod
    def _reply(status: int, body: bytes) -> Response:
        headers = Headers([("Content-Type", "application/json"),
                           ("Content-Length", str(len(body))), ("Connection", "close")])
        return Response(status, HTTPStatus(status).phrase, headers, body)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        reply = self._rest(request)
        if reply is None:
            return None
        asked = request.headers.get("Accept-Encoding")
        self.accept_encodings.append(asked)
        if self.gzip_if_asked and asked and "gzip" in asked:
            body = gzip.compress(reply.body)
            headers = Headers([("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
                               ("Content-Length", str(len(body))), ("Connection", "close")])
            reply = Response(reply.status_code, reply.reason_phrase, headers, body)
        return reply

    def _rest(self, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        ok = {"result": "SUCCESS", "type": "API"}
        if path == "/api/v1/operator/login":
            self.logins += 1
            token = "hostiletoken-" + secrets.token_urlsafe(16)
            return self._reply(200, msgspec.json.encode({"data": {"token": token}, **ok}))
        if path == "/api/v1/market/symbols":
            data = [{"name": s, "tradingPriceScale": 5, "tradingVolumeScale": 5} for s in self.symbols]
            return self._reply(200, msgspec.json.encode({"data": data, **ok}))
        if path == "/api/v1/market/cps":
            if self.cps_body is not None:
                return self._reply(200, self.cps_body)
            data = [{"name": cp, "tradingEnabled": True} for cp in self.cps]
            return self._reply(200, msgspec.json.encode({"data": data, **ok}))
        if path == "/api/realtime":
            return None
        return self._reply(404, b'{"result":"INVALID_REQUEST","type":"API"}')

    async def _endless(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP 200 with a chunked body that never ends (until the client goes away)."""
        self.logins += 1
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"[" * 65536
            frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
            while True:
                writer.write(frame)
                self.login_bytes_sent += len(chunk)
                await writer.drain()
        writer.close()

    # -- WebSocket ------------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        task = asyncio.create_task(self.script(ws, number)) if self.script else None
        try:
            async for _ in ws:  # commands are accepted and ignored
                pass
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def quote(symbol: str, cp: str, bids: list, asks: list, numbers: bool = False) -> str:
    def side(levels: list) -> list[dict]:
        if numbers:
            return [{"price": msgspec.Raw(p.encode()), "volume": msgspec.Raw(v.encode())}
                    for p, v in levels]
        return [{"price": p, "volume": v} for p, v in levels]

    return msgspec.json.encode({"event": "API_QUOTE", "data": {
        "symbol": symbol, "cp": cp, "commission": "0.001", "bids": side(bids), "asks": side(asks)}}
    ).decode()


def order(order_id: str, symbol: str = "BTCUSDT", status: int | str = 4) -> str:
    return msgspec.json.encode({"event": "API_ORDER", "data": {
        "orderId": order_id, "symbol": symbol, "status": status, "side": 1,
        "orderVolume": "1", "executeVolume": "1", "pendingVolume": "0"}}).decode()


class HubThread:
    """A HostileHub on its own thread and event loop, as a real server is its own
    process: a flood it sends does not share the client's loop."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        import threading

        self._args, self._kw = args, kw
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-hub", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.hub: HostileHub | None = None

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with HostileHub(*self._args, **self._kw) as hub:
            self.hub = hub
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> HostileHub:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("hostile hub did not start")
        assert self.hub is not None
        return self.hub

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
