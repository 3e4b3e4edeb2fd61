"""Loopring simulator: REST and WebSocket on one loopback port, v2 and v3 dialects.

One `websockets` server: plain GETs (REST) are answered from `process_request`,
upgrades on `/v2/ws` and `/v3/ws?wsApiKey=KEY` become depth subscriptions.
The market model (books, versions, number forms) is `obview.venues.loopring.market`.

Fault switches (`faults` dict, values are text; `obview sim loopring --fault NAME=V`):

    rate=P            pushes per second per market (default 10; 0 = only on `advance()`)
    skip=N            drop every N-th push of each subscription (a gap)
    stale_snapshot=N  the first N depth replies are `stale_by` versions old (default 5)
    stale_by=K        how old a stale snapshot is
    delay_snapshot=S  depth replies are computed on arrival and sent S seconds later
    lag=S             every WebSocket frame reaches the client S seconds late
    malformed=N       every N-th push of each subscription is replaced by a broken push
                      for the same topic, preceded by junk frames a client must ignore
                      (not JSON, a JSON array, another market's push)
    drop_after=N      abort each WebSocket connection after N pushes
    reject_sub        answer every subscription with error 104107
    http429=N         the first N depth requests get HTTP 429
    rate_limit=R      more than R depth requests in one second get HTTP 429
    ping=S            text `ping` every S seconds (default 30); `pong_timeout=S` (default
                      120) closes a connection that stops answering; more pongs than pings
                      also close it (v3 rule)
    truth             record the full book at every version (`truth()`); unbounded memory
    api_key=K         v2 REST requires `X-API-KEY: K` (the v2 docs: every call); a missing
                      key is answered 104001, a wrong one 104002. v3 REST does not ask
                      for it on markets, tokens and depth (their pages list no header)
    numbers=F         how slot values are written: `text` (default, as documented),
                      `exp` (exponent form, "2.5E-4", "1.5E+21") or `json` (JSON numbers)
    lose_slot=N       every N-th push leaves out one changed slot; versions stay
                      contiguous, so only verification against a snapshot can notice

Paths: `/v3/ws?wsApiKey=KEY` (after `GET /v3/ws/key`) speaks v3, the default; `/v2/ws`
speaks the 2020 draft of the seed page (`{"op":"sub","args":["depth&M&L"]}`).

Trades (v3; docs/loopring.md, "Trades"): about a fifth of the versions are prints instead
of order changes (their own seeded generator): a taker takes size at the best bid or ask,
all of the level or part of it. A v3 client subscribed to `{"topic":"trade","market":M}`
gets each push's prints in a `trade` push just before the depth push whose range holds
their versions, and `GET /api/v3/trade?market=M&limit=N` answers the newest N prints
(newest first, at most 1000 held).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from obview.venues.loopring.market import (
    MARKETS,
    NUMBER_FORMS,
    TAPE_KEEP,
    TOKENS,
    MarketSim,
    RawSide,
    SimTrade,
    write_slot,
)
from obview.venues.loopring.protocol import SUB_REJECTED, V2, V3
from obview.venues.simkit import (
    check_faults,
    fault_choice,
    fault_flag,
    fault_int,
    fault_number,
    json_response,
    ticks,
)

_encode = msgspec.json.Encoder().encode

# the switches that stand alone; each other one needs its value, said here for the error
FLAG_FAULTS = {"reject_sub", "truth"}
FAULT_VALUES = {
    "rate": "rate=P, pushes per second per market",
    "skip": "skip=N, drop every N-th push (a gap)",
    "stale_snapshot": "stale_snapshot=N, the first N depth replies are stale",
    "stale_by": "stale_by=K, how many versions old a stale snapshot is",
    "delay_snapshot": "delay_snapshot=S, depth replies sent S seconds late",
    "lag": "lag=S, every WebSocket frame S seconds late",
    "malformed": "malformed=N, every N-th push broken",
    "drop_after": "drop_after=N, abort each connection after N pushes",
    "http429": "http429=N, the first N depth requests get HTTP 429",
    "rate_limit": "rate_limit=R, depth requests a second before HTTP 429",
    "ping": "ping=S, seconds between pings",
    "pong_timeout": "pong_timeout=S, seconds without a pong before the close",
    "api_key": "api_key=K, the X-API-KEY v2 REST requires",
    "numbers": "numbers=exp|json|text, how slot values are written",
    "lose_slot": "lose_slot=N, every N-th push leaves out a changed slot",
}
KNOWN_FAULTS = FLAG_FAULTS | set(FAULT_VALUES)
# value kinds the CLI checks before starting (finite, >= 0)
NUMERIC_FAULTS = {"rate": "number", "delay_snapshot": "number", "lag": "number", "ping": "number",
                  "pong_timeout": "number", "skip": "int", "stale_snapshot": "int", "stale_by": "int",
                  "malformed": "int", "drop_after": "int", "http429": "int", "rate_limit": "int",
                  "lose_slot": "int"}
TRADE_TOPIC_REJECTED = 104109  # "Invalid topic or parameters" of the trade topic


@dataclass(eq=False)
class Client:
    """One WebSocket connection and its subscription."""

    ws: ServerConnection
    api: str
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    market: str | None = None
    level: int | None = None
    trade_market: str | None = None  # v3 `trade` topic subscribed
    pushes: int = 0  # pushes counted for faults (sent, skipped or broken)
    queued: int = 0  # frames handed to the sender
    handled: int = 0  # frames the sender is done with (sent, or discarded by a drop)
    sent: int = 0
    pings: int = 0
    pongs: int = 0
    last_pong: float = field(default_factory=time.monotonic)


class LoopringSimulator:
    """The simulator. `await start()`, then `addresses`, `rest_url`, `ws_url(api)`."""

    def __init__(self, seed: int = 1, faults: dict[str, str] | None = None) -> None:
        faults = dict(faults or {})
        check_faults("loopring", faults, KNOWN_FAULTS, NUMERIC_FAULTS, FLAG_FAULTS, FAULT_VALUES)
        self.host = "127.0.0.1"
        self.port = 0
        self.seed = seed
        self.faults = faults
        self.rate = fault_number("loopring", faults, "rate", 10.0)
        self.skip = fault_int("loopring", faults, "skip", 0)
        self.stale_snapshots = fault_int("loopring", faults, "stale_snapshot", 0)
        self.stale_by = fault_int("loopring", faults, "stale_by", 5)
        self.delay_snapshot = fault_number("loopring", faults, "delay_snapshot", 0.0)
        self.lag = fault_number("loopring", faults, "lag", 0.0)
        self.malformed = fault_int("loopring", faults, "malformed", 0)
        self.drop_after = fault_int("loopring", faults, "drop_after", 0)
        self.reject_sub = fault_flag(faults, "reject_sub")
        self.http429 = fault_int("loopring", faults, "http429", 0)
        self.rate_limit = fault_int("loopring", faults, "rate_limit", 0)
        self.api_key = faults.get("api_key") or None
        self.numbers = fault_choice("loopring", faults, "numbers", NUMBER_FORMS, "text")
        self.lose_slot = fault_int("loopring", faults, "lose_slot", 0)
        self.ping_interval = fault_number("loopring", faults, "ping", 30.0)
        self.pong_timeout = fault_number("loopring", faults, "pong_timeout", 120.0)
        record = fault_flag(faults, "truth")
        self.markets = {spec.name: MarketSim(spec, seed, record) for spec in MARKETS}
        self.clients: set[Client] = set()
        self.ws_keys: set[str] = set()
        self.stats: dict[str, int] = dict.fromkeys(
            ("connections", "depth_requests", "http429", "stale_snapshots", "skipped",
             "malformed", "dropped", "pings", "pongs", "unsolicited_pongs",
             "subscriptions", "rejected_subs", "frames_sent", "lost_slots", "key_refused",
             "trade_subscriptions", "trade_requests"), 0)
        self._depth_times: list[float] = []
        self._server: Server | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> LoopringSimulator:
        """Serve on host:port (0: any free port); returns the simulator."""
        self.host, self.port = host, port
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._process_request,
            ping_interval=None, server_header="obview-loopring-sim",
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.rate > 0:
            self._spawn(self._ticker())
        return self

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, api: str = V3) -> str:
        return f"ws://{self.host}:{self.port}/{api}/ws"

    @property
    def addresses(self) -> list[str]:
        return [self.rest_url, self.ws_url(V3), self.ws_url(V2)]

    # -- for tests ------------------------------------------------------------------------
    def version(self, market: str) -> int:
        return self.markets[market].version

    def truth(self, market: str, level: int, version: int) -> dict[str, list[list[Any]]]:
        """The full book of (market, level) at `version` (needs the `truth` fault)."""
        return self.markets[market].truth(level, version)

    def advance(self, market: str, pushes: int = 1) -> None:
        """Move `market` on by `pushes` pushes and send them to its subscribers."""
        for _ in range(pushes):
            self._push(self.markets[market])

    def pushed_version(self, market: str) -> int:
        """End version of the last push made (the live book may be a little ahead)."""
        return self.markets[market].pending_start - 1

    def idle(self) -> bool:
        """Every frame queued so far has been written (or discarded by a drop)."""
        return all(c.queued == c.handled for c in self.clients)

    def subscribers(self, market: str | None = None) -> int:
        return sum(1 for c in self.clients if c.market and (market is None or c.market == market))

    # -- the market clock ------------------------------------------------------------------
    async def _ticker(self) -> None:
        async for _ in ticks(1.0 / self.rate):
            for market in self.markets.values():
                self._push(market)

    def _push(self, market: MarketSim) -> None:
        start, end, touched = market.next_push()
        trades = market.take_trades(end)
        if trades:  # the prints first, then the depth push that shows what they took
            watching = [c for c in self.clients if c.trade_market == market.spec.name]
            if watching:
                frame = self._trade_frame(market, trades)
                for client in watching:
                    self._send(client, frame)
        subscribers = [c for c in self.clients if c.market == market.spec.name]
        if not subscribers:
            return
        raw_bids, raw_asks = market.history[end]
        frames: dict[tuple[str, int], str] = {}
        for client in subscribers:
            key = (client.api, client.level)
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = self._push_frame(
                    market, client.api, client.level, start, end, touched, raw_bids, raw_asks)
            self._deliver_push(client, market, frame)

    def _push_frame(self, market: MarketSim, api: str, level: int, start: int, end: int,
                    touched: list[tuple[bool, int]], raw_bids: RawSide, raw_asks: RawSide) -> str:
        sides: dict[bool, list[list[str]]] = {True: [], False: []}
        seen: set[tuple[bool, int]] = set()
        for is_bid, tick in touched:
            bucket = market.bucket(tick, is_bid, level)
            if (is_bid, bucket) in seen:
                continue
            seen.add((is_bid, bucket))
            size, volume, orders = market.slot(raw_bids if is_bid else raw_asks, is_bid, level, bucket)
            sides[is_bid].append(
                write_slot(market.price_text(bucket, level, False), size, volume, orders, self.numbers))
        name = market.spec.name
        topic: Any = (
            {"topic": "orderbook", "market": name, "level": level} if api == V3
            else f"depth&{name}&{level}"
        )
        # the documented example: startVersion a number, endVersion a string
        return _encode({
            "topic": topic, "ts": time.time_ns() // 1_000_000,
            "startVersion": start, "endVersion": str(end),
            "data": {"bids": sides[True], "asks": sides[False]},
        }).decode()

    def _trade_frame(self, market: MarketSim, trades: list[SimTrade]) -> str:
        rows = [[str(t.at_ms), str(t.trade_id), "buy" if t.buy else "sell", str(t.size),
                 market.price_of(t.tick), str(t.size // 1000)] for t in trades]
        return _encode({"topic": {"topic": "trade", "market": market.spec.name},
                        "ts": time.time_ns() // 1_000_000, "data": rows}).decode()

    def _deliver_push(self, client: Client, market: MarketSim, frame: str) -> None:
        client.pushes += 1
        n = client.pushes
        if self.lose_slot and n % self.lose_slot == 0:
            frame = self._lose_slot(frame)
        if self.skip and n % self.skip == 0:
            self.stats["skipped"] += 1
            return
        if self.malformed and n % self.malformed == 0:
            self.stats["malformed"] += 1
            other = next(m for m in MARKETS if m.name != market.spec.name).name
            for junk in ("not json {", "[1, 2, 3]", frame.replace(market.spec.name, other)):
                self._send(client, junk)
            frame = self._break(frame, n)
        self._send(client, frame)
        if self.drop_after and n >= self.drop_after:
            self.stats["dropped"] += 1
            client.market = None
            self._send(client, None)  # abort after what is queued

    def _lose_slot(self, frame: str) -> str:
        obj = msgspec.json.decode(frame)
        data = obj["data"]
        side = "bids" if data["bids"] else "asks"
        if data[side]:
            data[side].pop()
            self.stats["lost_slots"] += 1
        return _encode(obj).decode()

    def _break(self, frame: str, n: int) -> str:
        obj = msgspec.json.decode(frame)
        variant = n // max(1, self.malformed) % 4
        if variant == 0:
            del obj["endVersion"]
        elif variant == 1:
            obj["startVersion"] = "12x"
        elif variant == 2:
            obj["data"]["bids"] = [["0.1", "-5", "0", "1"]]  # a negative size
        else:
            obj["data"] = {"bids": [["1", "2", "3"]], "asks": "none"}
        return _encode(obj).decode()

    def _send(self, client: Client, frame: str | None) -> None:
        client.queued += 1
        client.outbox.put_nowait((time.monotonic() + self.lag, frame))

    # -- WebSocket --------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        api = V3 if ws.request.path.startswith("/v3/") else V2
        client = Client(ws, api)
        self.clients.add(client)
        self.stats["connections"] += 1
        sender = self._spawn(self._sender(client))
        pinger = self._spawn(self._pinger(client))
        try:
            async for message in ws:
                if message == "pong":
                    client.pongs += 1
                    client.last_pong = time.monotonic()
                    self.stats["pongs"] += 1
                    if client.pongs > client.pings:
                        self.stats["unsolicited_pongs"] += 1
                        await ws.close(1008, "more pongs than pings")
                        return
                    continue
                self._on_request(client, message)
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            client.handled = client.queued
            sender.cancel()
            pinger.cancel()

    async def _sender(self, client: Client) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                due, frame = await client.outbox.get()
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if frame is None:
                    client.handled = client.queued
                    client.ws.transport.abort()  # a dropped connection, no close frame
                    return
                await client.ws.send(frame)
                client.sent += 1
                client.handled += 1
                self.stats["frames_sent"] += 1

    async def _pinger(self, client: Client) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if time.monotonic() - client.last_pong > self.pong_timeout:
                await client.ws.close(1000, "no pong")
                return
            client.pings += 1
            self.stats["pings"] += 1
            self._send(client, "ping")

    def _on_request(self, client: Client, message: str | bytes) -> None:
        try:
            request = msgspec.json.decode(message)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict):
            self._reply(client, {"op": None}, 104115, "message not understood")
            return
        op = request.get("op")
        if op not in ("sub", "unSub"):
            self._reply(client, request, 104101, f"unsupported op {op!r}")
            return
        if client.api == V3 and _trade_topics(request):
            self._on_trade_request(client, request, op)
            return
        topics = self._topics(client.api, request)
        if topics is None or not topics:
            self._reply(client, request, 104100 if topics == [] else 104107, "illegal topic")
            return
        if op == "unSub":
            client.market = client.level = None
            self._reply(client, request, 0)
            return
        if len(topics) != 1:
            self._reply(client, request, 104103, "one depth topic per request")
            return
        market, level = topics[0]
        spec = self.markets.get(market)
        if self.reject_sub or spec is None or not 0 <= level < spec.spec.levels:
            self.stats["rejected_subs"] += 1
            self._reply(client, request, SUB_REJECTED, "illegal topic or parameters")
            return
        self.stats["subscriptions"] += 1
        client.market, client.level = market, level  # replaces an earlier depth sub
        self._reply(client, request, 0)

    def _on_trade_request(self, client: Client, request: dict, op: str) -> None:
        markets = [topic.get("market") for topic in request["topics"]]
        if op == "unSub":
            client.trade_market = None
            self._reply(client, request, 0)
            return
        if len(markets) != 1 or markets[0] not in self.markets:
            self.stats["rejected_subs"] += 1
            self._reply(client, request, TRADE_TOPIC_REJECTED, "Invalid topic or parameters")
            return
        self.stats["trade_subscriptions"] += 1
        client.trade_market = markets[0]
        self._reply(client, request, 0)

    def _topics(self, api: str, request: dict) -> list[tuple[str, int]] | None:
        out = []
        if api == V2:
            args = request.get("args")
            if not isinstance(args, list):
                return None
            for arg in args:
                parts = arg.split("&") if isinstance(arg, str) else []
                if request.get("op") == "unSub" and parts[:1] == ["depth"]:
                    out.append(("", 0))
                    continue
                if len(parts) != 3 or parts[0] != "depth" or not parts[2].isdigit():
                    return None
                out.append((parts[1], int(parts[2])))
            return out
        topics = request.get("topics")
        if not isinstance(topics, list):
            return None
        for topic in topics:
            if not isinstance(topic, dict) or topic.get("topic") != "orderbook":
                return None
            level = topic.get("level", 0)
            if not isinstance(level, int) or not isinstance(topic.get("market"), str):
                return None
            out.append((topic["market"], level))
        return out

    def _reply(self, client: Client, request: dict, code: int, message: str = "") -> None:
        reply: dict[str, Any] = {"op": request.get("op")}
        if client.api == V2:
            reply["args"] = request.get("args")
        else:
            reply["topics"] = request.get("topics")
            if "sequence" in request:
                reply["sequence"] = request["sequence"]
        if code == 0:
            reply["result"] = {"status": "ok" if client.api == V2 else "OK"}
        else:
            reply["result"] = {"status": "failed", "error": {"code": code, "message": message}}
        self._send(client, _encode(reply).decode())

    # -- REST -------------------------------------------------------------------------------
    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path in ("/v2/ws", "/v3/ws"):
            if path == "/v3/ws" and query.get("wsApiKey") not in self.ws_keys:
                return self._http(connection, HTTPStatus.UNAUTHORIZED, {"error": "wsApiKey"})
            return None  # the WebSocket handshake goes ahead
        if path == "/v3/ws/key":
            key = secrets.token_hex(16)
            self.ws_keys.add(key)
            return self._http(connection, HTTPStatus.OK, {"key": key})
        api = V3 if path.startswith("/api/v3/") else V2 if path.startswith("/api/v2/") else None
        if api is None:
            return self._http(connection, HTTPStatus.NOT_FOUND, {"error": "not found"})
        if api == V2 and self.api_key is not None:
            given = request.headers.get("X-API-KEY")
            if given != self.api_key:
                self.stats["key_refused"] += 1
                return self._error(connection, api, 104001 if not given else 104002,
                                   "Empty ApiKey" if not given else "Invalid ApiKey")
        endpoint = path[len("/api/v2"):]
        if endpoint == "/exchange/markets":
            markets = [
                {"market": m.name, "baseTokenId": m.base.token_id, "quoteTokenId": m.quote.token_id,
                 "precisionForPrice": m.precision, "orderbookAggLevels": m.levels, "enabled": True}
                for m in MARKETS
            ]
            return self._ok(connection, api, {"markets": markets} if api == V3 else markets)
        if endpoint == "/exchange/tokens":
            tokens = [
                {"tokenId": t.token_id, "symbol": t.symbol, "name": t.symbol,
                 "address": f"0x{t.token_id:040x}", "decimals": t.decimals,
                 "precision": t.precision, "enabled": True}
                for t in TOKENS
            ]
            return self._ok(connection, api, tokens)
        if endpoint == "/depth":
            return await self._depth(connection, api, query)
        if endpoint == "/trade" and api == V3:
            return self._trades(connection, query)
        return self._http(connection, HTTPStatus.NOT_FOUND, {"error": "not found"})

    async def _depth(self, connection: ServerConnection, api: str, query: dict[str, str]) -> Response:
        self.stats["depth_requests"] += 1
        now = time.monotonic()
        # a sliding one-second window over the requests served (refused ones are free)
        self._depth_times = [t for t in self._depth_times if now - t < 1.0]
        if self.stats["depth_requests"] <= self.http429 or (
                self.rate_limit and len(self._depth_times) >= self.rate_limit):
            self.stats["http429"] += 1
            response = self._http(connection, HTTPStatus.TOO_MANY_REQUESTS, {"error": "slow down"})
            response.headers["Retry-After"] = "0"
            return response
        self._depth_times.append(now)
        market = self.markets.get(query.get("market", ""))
        if market is None:
            return self._error(connection, api, 108000, "unsupported market")
        level_text, limit_text = query.get("level", "0"), query.get("limit", "50")
        if not level_text.isdigit() or not limit_text.isdigit():
            return self._error(connection, api, 100001, "invalid argument")
        level, limit = int(level_text), int(limit_text)
        if level >= market.spec.levels:
            return self._error(connection, api, 108001, "unsupported depth level")
        version = market.version
        if self.stats["stale_snapshots"] < self.stale_snapshots:
            self.stats["stale_snapshots"] += 1
            if version - self.stale_by in market.history:
                version -= self.stale_by
        raw_bids, raw_asks = market.history[version]
        body: dict[str, Any] = {
            # v3 sends the version as a string: clients must take both
            "version": version if api == V2 else str(version),
            "timestamp": time.time_ns() // 1_000_000,
            "bids": market.depth_entries(raw_bids, True, level, limit, True, self.numbers),
            "asks": market.depth_entries(raw_asks, False, level, limit, True, self.numbers),
        }
        if api == V3:
            body["market"] = market.spec.name
        response = self._ok(connection, api, body)
        if self.delay_snapshot:
            await asyncio.sleep(self.delay_snapshot)
        return response

    def _trades(self, connection: ServerConnection, query: dict[str, str]) -> Response:
        self.stats["trade_requests"] += 1
        market = self.markets.get(query.get("market", ""))
        if market is None:
            return self._error(connection, V3, 108000, "unsupported market")
        limit_text = query.get("limit", "20")
        if not limit_text.isdigit():
            return self._error(connection, V3, 100001, "invalid argument")
        limit = min(int(limit_text), TAPE_KEEP)
        name = market.spec.name
        recent = list(market.tape)[-limit:][::-1] if limit else []
        rows = [[str(t.at_ms), str(t.trade_id), "BUY" if t.buy else "SELL", str(t.size),
                 market.price_of(t.tick), name, str(t.size // 1000)] for t in recent]
        return self._ok(connection, V3, {"totalNum": len(market.tape), "trades": rows})

    def _ok(self, connection: ServerConnection, api: str, payload: Any) -> Response:
        if api == V2:
            payload = {"resultInfo": {"code": 0, "message": "SUCCESS"}, "data": payload}
        return self._http(connection, HTTPStatus.OK, payload)

    def _error(self, connection: ServerConnection, api: str, code: int, message: str) -> Response:
        body = {"resultInfo": {"code": code, "message": message}}
        status = HTTPStatus.OK if api == V2 else HTTPStatus.BAD_REQUEST
        return self._http(connection, status, body)

    @staticmethod
    def _http(connection: ServerConnection, status: HTTPStatus, payload: Any) -> Response:
        return json_response(status, payload)


def _trade_topics(request: dict) -> bool:
    """A v3 request whose topics are all `trade` topics."""
    topics = request.get("topics")
    return (isinstance(topics, list) and bool(topics)
            and all(isinstance(t, dict) and t.get("topic") == "trade" for t in topics))


async def start_sim(host: str, port: int, seed: int, faults: dict[str, str]) -> LoopringSimulator:
    return await LoopringSimulator(seed, faults).start(host, port)
