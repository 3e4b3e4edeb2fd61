"""bthub simulator: REST login and market calls plus the realtime WebSocket, on one port.

Serves plain http/ws on loopback (no TLS), with the real wire shapes (docs/bthub.md):

- `POST /api/v1/operator/login?loginId=U&password=P` -> `{"data":{"token":...},"result":"SUCCESS","type":"API"}`;
  bad credentials -> HTTP 401 `{"result":"UNAUTHORIZED","type":"API"}`.
  **Demo credentials: user `demo`, password `demo-secret`** (`DEMO_USER`, `DEMO_PASSWORD`).
- `GET /api/v1/market/cps`, `/api/v1/market/symbols`, `/api/v1/risk/books`,
  `/api/v1/risk/positions?book=B` with header `X-API-TOKEN` (401 without a valid one).
- `GET /api/realtime?X-API-TOKEN=T`: the WebSocket; the upgrade is refused with HTTP 401
  unless T is a live token. Text commands `subscribe:apiQuote:SYM`,
  `subscribe:apiAggregatedQuote:SYM`, `subscribe:apiOrder`, `subscribe:apiRiskPosition:all:BOOK`
  (and `unsubscribe:…`); `ping` is answered with the text `pong`. Each subscription first
  gets the current state, then pushes. Unknown symbols and books stay silent, as the hub documents no error reply.

The market model (quotes, orders, risk, crossing share) is `obview.venues.bthub.market`.

Settings and fault switches (the `faults` dict, `--fault NAME[=VALUE]`):

- `rate=R`          ticks per second (default 10); `rate=0`: nothing after the first state
- `user=U`, `password=P`  the accepted credentials (default: the demo ones)
- `reject_login`    every login is answered HTTP 401 UNAUTHORIZED
- `login_errors=N`  the first N logins answer HTTP 500 INTERNAL_ERROR (transient)
- `refuse_ws=N`     the first N WebSocket upgrades are refused with HTTP 401
- `token_ttl=S`     a token expires S seconds after its login: upgrades with it are refused
                    and connections opened with it are closed (code 1008) when it expires
- `token_uses=N`    a token opens at most N WebSocket connections
- `malformed=N`     after every Nth frame sent on a connection, an invalid frame follows
                    (cycling: bad JSON, missing data, a quote with a bad number after a
                    poisoned level, unknown event, binary, non-object, missing cp,
                    order without id, risk data not an array)
- `drop_after=N`    each connection is cut (TCP abort, no close frame) after N frames
- `no_symbols`      `/api/v1/market/symbols` answers 404 (clients must carry on)
- `numbers=json`    prices, volumes, amounts and commissions as JSON numbers (the docs
                    type them "number"), exact text kept; `numbers=strings` is the default
- `cross=P`         share of aggregated updates that are crossed or locked (default 0.02)

More in docs/bthub.md ("Simulator").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from obview.fmt import dec_str
from obview.venues.bthub.market import (
    CPS,
    CROSS_SHARE,
    PRICE_SCALE,
    RISK_BOOKS,
    SYMBOLS,
    VOLUME_SCALE,
    Market,
)
from obview.venues.bthub.redact import install_filter
from obview.venues.simkit import (
    check_faults,
    fault_choice,
    fault_flag,
    fault_int,
    fault_number,
    json_response,
    ticks,
)

log = logging.getLogger("obview.bthub.sim")
install_filter("obview.bthub.sim")  # its debug lines carry request paths, tokens included

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-secret"
TOKEN_PREFIX = "bthubsimtoken-"  # recognisable, so tests can prove no token leaks

MALFORMED = (
    "{not json",
    '{"event":"API_QUOTE"}',
    # a valid-looking first level, then a bad number: applying it partially would show 999999
    '{"event":"API_AGGREGATED_QUOTE","data":{"symbol":"BTCUSDT","bids":[{"cp":"okex",'
    '"price":"1","volume":"999999"},{"cp":"okex","price":"0.5","volume":"1.2.3"}],"asks":[]}}',
    '{"event":"API_SOMETHING","data":{}}',
    b"\x00\x01binary",
    '["API_QUOTE"]',
    '{"event":"API_QUOTE","data":{"symbol":"BTCUSDT","asks":[],"bids":[{"price":"1","volume":"999999"}]}}',
    '{"event":"API_ORDER","data":{"symbol":"BTCUSDT","status":4}}',
    '{"event":"API_RISK_POSITION","data":{"book":"B","cp":"okex","symbol":"BTCUSDT"}}',
)


# -- server ------------------------------------------------------------------------------------
@dataclass
class _Token:
    issued: float
    uses: int = 0


@dataclass(eq=False)
class _Session:
    ws: ServerConnection
    token: str
    topics: set[tuple[str, ...]] = field(default_factory=set)
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=5000))
    sent: int = 0
    malformed: int = 0


# the switches that stand alone; each other one needs its value, said here for the error
FLAG_FAULTS = {"reject_login", "no_symbols"}
FAULT_VALUES = {
    "rate": "rate=R, ticks per second",
    "user": "user=U, the user the login accepts",
    "password": "password=P, the password the login accepts",
    "login_errors": "login_errors=N, the first N logins answer HTTP 500",
    "refuse_ws": "refuse_ws=N, the first N WebSocket upgrades are refused",
    "token_ttl": "token_ttl=S, a token's lifetime in seconds",
    "token_uses": "token_uses=N, the connections a token opens at most",
    "malformed": "malformed=N, an invalid frame after every N-th frame",
    "drop_after": "drop_after=N, cut each connection after N frames",
    "numbers": "numbers=json|strings, how decimals are written",
    "cross": "cross=P, the share of crossed or locked updates (0 to 1)",
}
KNOWN_FAULTS = FLAG_FAULTS | set(FAULT_VALUES)
# value kinds the CLI checks before starting (finite, >= 0)
NUMERIC_FAULTS = {"rate": "number", "token_ttl": "number", "login_errors": "int", "refuse_ws": "int",
                  "token_uses": "int", "malformed": "int", "drop_after": "int",
                  "cross": "number"}


class BthubSimulator:
    """The whole hub on one loopback port. Counters are public for tests."""

    def __init__(self, seed: int = 1, faults: dict[str, str] | None = None) -> None:
        faults = dict(faults or {})
        check_faults("bthub", faults, KNOWN_FAULTS, NUMERIC_FAULTS, FLAG_FAULTS, FAULT_VALUES)
        self.faults = faults
        numbers = fault_choice("bthub", faults, "numbers", ("strings", "json"), "strings")
        cross = fault_number("bthub", faults, "cross", CROSS_SHARE)
        if not 0 <= cross <= 1:
            raise ValueError(f"bad bthub simulator fault cross={faults['cross']!r}: "
                             "expected a share from 0 to 1")
        self.market = Market(seed, cross, numbers == "json")
        self.rate = fault_number("bthub", faults, "rate", 10.0)
        self.token_ttl = fault_number("bthub", faults, "token_ttl", None)
        self.user = faults.get("user") or DEMO_USER
        self.password = faults.get("password") or DEMO_PASSWORD
        self.reject_login = fault_flag(faults, "reject_login")
        self.login_errors = fault_int("bthub", faults, "login_errors", 0)
        self.refuse_ws = fault_int("bthub", faults, "refuse_ws", 0)
        self.token_uses = fault_int("bthub", faults, "token_uses", None)
        self.malformed_every = fault_int("bthub", faults, "malformed", None)
        self.drop_after = fault_int("bthub", faults, "drop_after", None)
        self.no_symbols = fault_flag(faults, "no_symbols")
        self.tokens: dict[str, _Token] = {}
        self.sessions: set[_Session] = set()
        # counters
        self.logins = 0
        self.rejected_logins = 0
        self.upgrades = 0
        self.refused_upgrades = 0
        self.malformed_sent = 0
        self.drops = 0
        self.pings = 0
        self.commands: list[str] = []
        self.addresses: list[str] = []
        self.port = 0
        self._server: Server | None = None
        self._ticker: asyncio.Task | None = None
        self._paused = False

    async def start(self, host: str = "127.0.0.1", port: int = 0,
                    ssl_context: ssl.SSLContext | None = None) -> BthubSimulator:
        """Serve on host:port (0: any free port); `ssl_context` for https/wss (tests only)."""
        self._server = await serve(
            self._handler, host, port, process_request=self._process_request,
            compression=None, logger=log, max_size=2**16, ssl=ssl_context,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if ssl_context is not None else "http"
        self.addresses = [f"{scheme}://{host}:{self.port}"]
        if self.rate > 0:
            self._ticker = asyncio.create_task(self._tick_loop(), name="bthub-sim-ticker")
        return self

    @property
    def url(self) -> str:
        return self.addresses[0]

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def pause(self) -> None:
        self._paused = True

    def tick(self) -> None:
        """One market step, pushed to every subscriber (tests drive it with rate=0)."""
        for topic, frame in self.market.tick():
            for session in list(self.sessions):
                if topic in session.topics:
                    self._enqueue(session, frame)

    async def _tick_loop(self) -> None:
        async for _ in ticks(1.0 / self.rate):
            if not self._paused:
                self.tick()

    # -- HTTP -------------------------------------------------------------------------------
    @staticmethod
    def _json(connection: ServerConnection, status: int, body: Any) -> Response:
        return json_response(status, body)

    def _valid_token(self, token: str | None) -> bool:
        info = self.tokens.get(token or "")
        if info is None:
            return False
        return self.token_ttl is None or time.monotonic() - info.issued < self.token_ttl

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        path = parts.path.rstrip("/")
        if path == "/api/v1/operator/login":
            if request.method != "POST":
                return self._json(connection, 405, {"result": "INVALID_REQUEST", "type": "API"})
            return self._login(connection, query)
        if request.method != "GET":
            return self._json(connection, 405, {"result": "INVALID_REQUEST", "type": "API"})
        if path == "/api/realtime":
            token = (query.get("X-API-TOKEN") or [""])[0]
            info = self.tokens.get(token)
            refused = not self._valid_token(token) or (
                self.token_uses is not None and info is not None and info.uses >= self.token_uses)
            if not refused and self.refused_upgrades < self.refuse_ws:
                refused = True
            if refused:
                self.refused_upgrades += 1
                return self._json(connection, 401, {"result": "UNAUTHORIZED", "type": "API"})
            info.uses += 1
            self.upgrades += 1
            return None
        if not self._valid_token(request.headers.get("X-API-TOKEN")):
            return self._json(connection, 401, {"result": "UNAUTHORIZED", "type": "API"})
        data = self._rest(path, query)
        if data is None:
            return self._json(connection, 404, {"result": "INVALID_REQUEST", "type": "API"})
        return self._json(connection, 200, {"data": data, "result": "SUCCESS", "type": "API"})

    def _login(self, connection: ServerConnection, query: dict[str, list[str]]) -> Response:
        self.logins += 1
        if self.logins <= self.login_errors:
            return self._json(connection, 500, {"result": "INTERNAL_ERROR", "type": "API"})
        user = (query.get("loginId") or [""])[0]
        password = (query.get("password") or [""])[0]
        if self.reject_login or user != self.user or password != self.password:
            self.rejected_logins += 1
            return self._json(connection, 401, {"result": "UNAUTHORIZED", "type": "API"})
        token = TOKEN_PREFIX + secrets.token_urlsafe(96)
        self.tokens[token] = _Token(time.monotonic())
        return self._json(connection, 200, {"data": {"token": token}, "result": "SUCCESS", "type": "API"})

    def _rest(self, path: str, query: dict[str, list[str]]) -> Any:
        market = self.market
        if path == "/api/v1/market/cps":
            return [{"name": cp, "tradingEnabled": True} for cp in CPS]
        if path == "/api/v1/market/symbols" and not self.no_symbols:
            return [{"name": name, "tradingMaxVolume": "100", "tradingMinVolume": "0.01",
                     "tradingPriceScale": PRICE_SCALE, "tradingVolumeScale": VOLUME_SCALE}
                    for name in SYMBOLS]
        if path == "/api/v1/risk/books":
            return [{"name": book} for book in RISK_BOOKS]
        if path == "/api/v1/risk/positions":
            book = (query.get("book") or [""])[0]
            return [{"book": b, "cp": cp, "symbol": s, "openVolume": dec_str(v), "openAmount": dec_str(a)}
                    for (b, cp, s), (v, a) in sorted(market.risk.items()) if b == book]
        return None

    # -- WebSocket ---------------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query) if ws.request else {}
        token = (query.get("X-API-TOKEN") or [""])[0]
        session = _Session(ws, token)
        self.sessions.add(session)
        tasks = [asyncio.create_task(self._writer(session))]
        if self.token_ttl is not None:
            tasks.append(asyncio.create_task(self._expire(session)))
        try:
            async for message in ws:
                if isinstance(message, str):
                    self._command(session, message.strip())
        except ConnectionClosed:
            pass
        finally:
            self.sessions.discard(session)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _expire(self, session: _Session) -> None:
        info = self.tokens[session.token]
        await asyncio.sleep(max(0.0, info.issued + (self.token_ttl or 0) - time.monotonic()))
        await session.ws.close(1008, "token expired")

    def _command(self, session: _Session, text: str) -> None:
        self.commands.append(text)
        if text == "ping":
            self.pings += 1
            self._enqueue(session, "pong")
            return
        verb, _, rest = text.partition(":")
        parts = rest.split(":")
        topic: tuple[str, ...] | None = None
        if parts[0] == "apiQuote" and len(parts) == 2:
            topic = ("quote", parts[1])
        elif parts[0] == "apiAggregatedQuote" and len(parts) == 2:
            topic = ("agg", parts[1])
        elif parts[0] == "apiOrder" and len(parts) == 1:
            topic = ("order",)
        elif parts[0] == "apiRiskPosition" and len(parts) == 3 and parts[1] == "all":
            topic = ("risk", parts[2])
        if topic is None:
            return  # unknown commands: silence, as the real hub documents no error reply
        if verb == "subscribe" and topic not in session.topics:
            session.topics.add(topic)
            for frame in self.market.snapshot(topic):
                self._enqueue(session, frame)
        elif verb == "unsubscribe":
            session.topics.discard(topic)

    def _enqueue(self, session: _Session, frame: str) -> None:
        try:
            session.queue.put_nowait(frame)
        except asyncio.QueueFull:  # a client that cannot keep up is cut off
            session.ws.transport.abort()

    async def _writer(self, session: _Session) -> None:
        ws = session.ws
        while True:
            frame = await session.queue.get()
            try:
                await ws.send(frame)
                session.sent += 1
                if self.malformed_every and session.sent % self.malformed_every == 0:
                    await ws.send(MALFORMED[self.malformed_sent % len(MALFORMED)])
                    session.malformed += 1
                    self.malformed_sent += 1
                if self.drop_after and session.sent >= self.drop_after:
                    self.drops += 1
                    ws.transport.abort()  # no close frame: the TCP connection just ends
                    return
            except ConnectionClosed:
                return

