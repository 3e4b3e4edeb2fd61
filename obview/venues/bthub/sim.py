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

Market: BTCUSDT and ETHUSDT quoted by okex, binance and huobi. A seeded random walk moves
a common mid; each counterparty's quote drifts around it independently but is kept clear
of the others' best prices (arbitrage), except in a share `cross` of the updates, where
one venue's bid reaches another's ask for exactly one update. Each tick re-quotes one counterparty and pushes its `API_QUOTE` and the
symbol's `API_AGGREGATED_QUOTE`, which is exactly the merge of the three current books
(same values, written at the symbol's 5-decimal scale). Every fourth tick an order
progresses: a parent order split over counterparties, fills whose volumes and amounts add
up to the child and parent figures, ending FILLED or PARTIAL (the rest expired); each fill
moves the risk row (book, cp, symbol). Orders alternate the enum forms: codes, names,
codes in strings.

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
import random
import secrets
import ssl
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from obview.fmt import dec_str, fixed
from obview.venues import check_faults
from obview.venues.bthub.redact import install_filter

log = logging.getLogger("obview.bthub.sim")
install_filter("obview.bthub.sim")  # its debug lines carry request paths, tokens included

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-secret"
TOKEN_PREFIX = "bthubsimtoken-"  # recognisable, so tests can prove no token leaks
CPS = ("okex", "binance", "huobi")
COMMISSION = {"okex": "0.0010", "binance": "0.0001", "huobi": "0.0020"}
RISK_BOOKS = ("A", "B")
QUOTE_TICK = Decimal("0.0001")  # per-counterparty quotes carry 4 decimals
PRICE_SCALE = 5  # the symbols' scale: aggregated levels are written with 5 decimals
VOLUME_SCALE = 5
VOLUME_UNIT = Decimal(1).scaleb(-VOLUME_SCALE)
LEVELS = 5
ORDER_EVERY = 4  # ticks between order steps
CROSS_SHARE = 0.02  # default share of crossed/locked aggregated updates (`cross=P`)
# Fields written as JSON numbers under `numbers=json` (the docs type them "number");
# risk rows keep strings, as the docs type openAmount/openVolume "string".
NUMBER_FIELDS = frozenset({"price", "volume", "commission", "executeAmount", "executeVolume",
                           "executePrice", "orderVolume", "pendingVolume"})
SIM_EPOCH_MS = 1_763_712_000_000  # 2025-11-21 08:00 UTC: order times are simulated, not wall clock

_encode = msgspec.json.Encoder().encode
_encode_numbers = msgspec.json.Encoder(decimal_format="number").encode


@dataclass
class SymbolSpec:
    name: str
    mid_ticks: int  # in QUOTE_TICK units
    walk: int  # max mid move per tick, ticks
    drift: int  # max counterparty offset move, ticks
    half_spread: tuple[int, int]
    gap: tuple[int, int]  # distance between levels
    volume_units: tuple[int, int]  # in VOLUME_UNIT


SYMBOLS = {
    "BTCUSDT": SymbolSpec("BTCUSDT", 54_000_000, 3000, 9000, (1500, 6000), (500, 6000), (100, 200_000)),
    "ETHUSDT": SymbolSpec("ETHUSDT", 1_800_000, 200, 600, (100, 400), (50, 400), (1000, 2_000_000)),
}


def _price(ticks: int) -> Decimal:
    return ticks * QUOTE_TICK


def _ticks(price: Decimal) -> int:
    return int(price / QUOTE_TICK)


class Market:
    """Deterministic books, orders and risk; `tick()` returns the frames it produced."""

    def __init__(self, seed: int, cross: float = CROSS_SHARE, numbers_json: bool = False) -> None:
        self.rng = random.Random(seed)
        self.cross = cross  # share of aggregated updates that come out crossed or locked
        self.numbers_json = numbers_json
        self._crossing: dict[str, str] = {}  # symbol -> the cp whose book crosses the others
        self.tick_count = 0
        self._clock_steps = 0
        self.mid = {name: spec.mid_ticks for name, spec in SYMBOLS.items()}
        self.offset = {(s, cp): 0 for s in SYMBOLS for cp in CPS}
        # (symbol, cp) -> (bids, asks), each a list of (price, volume), best first
        self.books: dict[tuple[str, str], tuple[list, list]] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # orderId -> wire dict (cumulative)
        self.active: list[str] = []
        self.order_count = 0
        self.risk: dict[tuple[str, str, str], list[Decimal]] = {
            ("B", "binance", "BTCUSDT10"): [Decimal("-0.071040000000"), Decimal("266.428871696500")],
        }
        for symbol in SYMBOLS:
            for cp in CPS:
                self._requote(symbol, cp)
        for _ in range(12):  # some history, so a first snapshot already shows orders
            self._order_step()

    # -- books -----------------------------------------------------------------------
    def _requote(self, symbol: str, cp: str, cross: bool = False) -> None:
        """A new book for (symbol, cp) around the mid. Venues stay arbitraged: the book is
        moved clear of the other venues' best prices, unless `cross` asks for a book
        whose best bid reaches another venue's best ask (docs/bthub.md, "Simulator")."""
        spec, rng = SYMBOLS[symbol], self.rng
        off = self.offset[(symbol, cp)]
        off = off * 3 // 4 + rng.randint(-spec.drift, spec.drift)  # mean-reverting drift
        self.offset[(symbol, cp)] = off
        center = self.mid[symbol] + off
        half = rng.randint(*spec.half_spread)
        bid, ask = center - half, center + half
        others = [self.books[(symbol, o)] for o in CPS if o != cp and (symbol, o) in self.books]
        if others:
            lowest_ask = min(_ticks(book[1][0][0]) for book in others)
            highest_bid = max(_ticks(book[0][0][0]) for book in others)
            if cross:
                through = max(bid, lowest_ask + rng.randint(0, spec.half_spread[0]))
                bid, ask = through, max(ask, through + half)
            else:
                bid = min(bid, lowest_ask - 1 - rng.randint(0, spec.half_spread[0]))
                ask = max(ask, highest_bid + 1 + rng.randint(0, spec.half_spread[0]))
        bids, asks = [], []
        for _ in range(LEVELS):
            bids.append((_price(bid), rng.randint(*spec.volume_units) * VOLUME_UNIT))
            asks.append((_price(ask), rng.randint(*spec.volume_units) * VOLUME_UNIT))
            bid -= rng.randint(*spec.gap)
            ask += rng.randint(*spec.gap)
        self.books[(symbol, cp)] = (bids, asks)

    def quote_frame(self, symbol: str, cp: str) -> str:
        bids, asks = self.books[(symbol, cp)]

        def side(levels: list) -> list[dict[str, str]]:
            return [{"price": dec_str(p), "volume": dec_str(v)} for p, v in levels]

        return _frame("API_QUOTE", {"asks": side(asks), "bids": side(bids),
                                    "commission": COMMISSION[cp], "cp": cp, "symbol": symbol},
                      self.numbers_json)

    def merged(self, symbol: str) -> tuple[list, list]:
        """The aggregated book: every counterparty's levels, equal prices kept apart."""
        bids = [(p, v, cp) for cp in CPS for p, v in self.books[(symbol, cp)][0]]
        asks = [(p, v, cp) for cp in CPS for p, v in self.books[(symbol, cp)][1]]
        bids.sort(key=lambda lv: (-lv[0], lv[2]))
        asks.sort(key=lambda lv: (lv[0], lv[2]))
        return bids, asks

    def aggregated_frame(self, symbol: str) -> str:
        bids, asks = self.merged(symbol)

        def side(levels: list) -> list[dict[str, str]]:
            return [{"cp": cp, "price": fixed(p, PRICE_SCALE), "volume": fixed(v, VOLUME_SCALE)}
                    for p, v, cp in levels]

        return _frame("API_AGGREGATED_QUOTE", {"asks": side(asks), "bids": side(bids), "symbol": symbol},
                      self.numbers_json)

    def crossed(self, symbol: str) -> bool:
        bids, asks = self.merged(symbol)
        return bool(bids and asks and bids[0][0] >= asks[0][0])

    def clock_ms(self) -> int:
        """Simulated epoch ms: a tick is 100 ms; the same seed gives the same times."""
        self._clock_steps += 1
        return SIM_EPOCH_MS + self.tick_count * 100 + self._clock_steps % 100

    # -- orders and risk -------------------------------------------------------------------
    def _new_order(self) -> str:
        rng = self.rng
        self.order_count += 1
        symbol = "BTCUSDT" if self.order_count % 3 else "ETHUSDT"
        spec = SYMBOLS[symbol]
        order_id = str(rng.randrange(10**17, 10**18 * 9))
        volume = rng.randint(spec.volume_units[0] * 5, spec.volume_units[1] // 4) * VOLUME_UNIT
        shares = _split(volume, rng.randint(1, 3), rng)
        cps = rng.sample(CPS, len(shares))
        now = str(self.clock_ms())
        children = []
        for cp, share in zip(cps, shares, strict=True):
            children.append({
                "commission": "0.0100", "cp": cp, "cpOrderId": str(rng.randrange(10**17, 10**18 * 9)),
                "executeAmount": "0", "executeTime": "0", "executeVolume": "0", "executions": [],
                "orderComment": f"{order_id}.0", "orderResult": 1, "orderTime": now,
                "orderType": 5, "orderVolume": dec_str(share), "pendingVolume": dec_str(share),
                "side": 0, "status": 1, "symbol": symbol, "timeInForce": 1,
            })
        side = rng.choice((1, -1))
        for child in children:
            child["side"] = side
        self.orders[order_id] = {
            "cpOrders": children, "executeAmount": "0", "executeTime": "0", "executeVolume": "0",
            "orderId": order_id, "orderResult": 1, "orderTime": now, "orderType": 5,
            "orderVolume": dec_str(volume), "pendingVolume": dec_str(volume), "side": side,
            "status": 1, "symbol": symbol, "timeInForce": 1,
            "_book": rng.choice(RISK_BOOKS), "_form": self.order_count % 3,
            "_partial": rng.random() < 0.3,
        }
        self.active.append(order_id)
        return order_id

    def _order_step(self) -> tuple[str | None, list[tuple[str, str, str]]]:
        """Progress one order; returns its id and the risk rows that moved."""
        if not self.active:
            return self._new_order(), []
        rng = self.rng
        order = self.orders[self.active[0]]
        open_children = [c for c in order["cpOrders"] if c["status"] in (1, 3)]
        child = open_children[0]
        pending = Decimal(child["pendingVolume"])
        if order["_partial"] and len(open_children) == 1 and child["executions"]:
            child["status"], child["orderResult"] = 5, 5  # the rest expired
            return self._finish(order), []
        units = int(pending / VOLUME_UNIT)
        volume = min(pending, rng.randint(max(1, units // 3), units) * VOLUME_UNIT)
        bids, asks = self.books[(order["symbol"], child["cp"])]
        price = (asks if order["side"] == 1 else bids)[0][0]
        amount = price * volume
        exec_time = str(self.clock_ms())
        child["executions"].append({
            "cp": child["cp"], "cpExecutionid": str(rng.randrange(10**17, 10**18 * 9)),
            "executeAmount": dec_str(amount), "executeComment": "CommissionAsset: USDT",
            "executePrice": dec_str(price), "executeTime": exec_time,
            "executeVolume": dec_str(volume), "side": order["side"], "symbol": order["symbol"],
        })
        child["executeVolume"] = dec_str(Decimal(child["executeVolume"]) + volume)
        child["executeAmount"] = dec_str(Decimal(child["executeAmount"]) + amount)
        child["pendingVolume"] = dec_str(pending - volume)
        child["executeTime"] = exec_time
        child["status"] = 4 if pending == volume else 3
        child["orderResult"] = 3 if pending == volume else 5
        order["executeVolume"] = dec_str(Decimal(order["executeVolume"]) + volume)
        order["executeAmount"] = dec_str(Decimal(order["executeAmount"]) + amount)
        order["pendingVolume"] = dec_str(Decimal(order["orderVolume"]) - Decimal(order["executeVolume"]))
        order["executeTime"] = exec_time
        order["status"], order["orderResult"] = 3, 5
        key = (order["_book"], child["cp"], order["symbol"])
        row = self.risk.setdefault(key, [Decimal(0), Decimal(0)])
        row[0] += volume * order["side"]
        row[1] -= amount * order["side"]
        if not any(c["status"] in (1, 3) for c in order["cpOrders"]):
            self._finish(order)
        return order["orderId"], [key]

    def _finish(self, order: dict[str, Any]) -> str:
        filled = Decimal(order["pendingVolume"]) == 0
        order["status"], order["orderResult"] = 4, 3 if filled else 5
        self.active.remove(order["orderId"])
        return order["orderId"]

    def order_frame(self, order_id: str) -> str:
        order = self.orders[order_id]
        form = order["_form"]
        data = {k: _enum_form(k, v, form) for k, v in order.items() if not k.startswith("_")}
        data["cpOrders"] = [
            {k: _enum_form(k, v, form) for k, v in child.items() if k != "executions"}
            | {"executions": [{k: _enum_form(k, v, form) for k, v in ex.items()}
                              for ex in child["executions"]]}
            for child in order["cpOrders"]
        ]
        return _frame("API_ORDER", data, self.numbers_json)

    def risk_frame(self, book: str, keys: list[tuple[str, str, str]] | None = None) -> str | None:
        keys = [k for k in (keys if keys is not None else sorted(self.risk)) if k[0] == book]
        if not keys:
            return None
        rows = [{"book": b, "cp": cp, "openAmount": fixed(self.risk[(b, cp, s)][1], 12),
                 "openVolume": fixed(self.risk[(b, cp, s)][0], 12), "symbol": s}
                for b, cp, s in keys]
        return _frame("API_RISK_POSITION", rows)

    def order_book_of(self, order_id: str) -> str:
        return self.orders[order_id]["_book"]

    # -- time --------------------------------------------------------------------------------
    def tick(self) -> list[tuple[tuple[str, ...], str]]:
        """Advance one step; returns (topic, frame) pairs to push to subscribers."""
        self.tick_count += 1
        out: list[tuple[tuple[str, ...], str]] = []
        turn = CPS[self.tick_count % len(CPS)]
        for symbol, spec in SYMBOLS.items():
            self.mid[symbol] += self.rng.randint(-spec.walk, spec.walk)
            # a crossing venue re-quotes next, so a cross lasts one update
            cp = self._crossing.pop(symbol, None) or turn
            cross = self.rng.random() < self.cross
            self._requote(symbol, cp, cross)
            if cross:
                self._crossing[symbol] = cp
            out.append((("quote", symbol), self.quote_frame(symbol, cp)))
            out.append((("agg", symbol), self.aggregated_frame(symbol)))
        if self.tick_count % ORDER_EVERY == 0:
            order_id, moved = self._order_step()
            if order_id is not None:
                out.append((("order",), self.order_frame(order_id)))
                book = self.order_book_of(order_id)
                frame = self.risk_frame(book, moved) if moved else None
                if frame is not None:
                    out.append((("risk", book), frame))
        return out

    def snapshot(self, topic: tuple[str, ...]) -> list[str]:
        """What a new subscription gets first: the current state of that topic."""
        kind = topic[0]
        if kind == "quote" and topic[1] in SYMBOLS:
            return [self.quote_frame(topic[1], cp) for cp in CPS]
        if kind == "agg" and topic[1] in SYMBOLS:
            return [self.aggregated_frame(topic[1])]
        if kind == "order":
            return [self.order_frame(order_id) for order_id in self.orders]
        if kind == "risk":
            frame = self.risk_frame(topic[1])
            return [frame] if frame else []
        return []


_ENUM_NAMES = {
    "side": {1: "BUY", -1: "SELL"},
    "status": {1: "PENDING", 3: "EXCUTING", 4: "EXECUTED", 5: "EXPIRED"},
    "orderType": {3: "LIMIT", 5: "MARKET"},
    "timeInForce": {1: "IOC"},
    "orderResult": {1: "NONE", 3: "FILLED", 5: "PARTIAL"},
}


def _enum_form(key: str, value: Any, form: int) -> Any:
    """Orders alternate the enum forms seen across revisions: code, name, code in a string."""
    names = _ENUM_NAMES.get(key)
    if names is None or form == 0:
        return value
    return names.get(value, str(value)) if form == 1 else str(value)


def _split(total: Decimal, parts: int, rng: random.Random) -> list[Decimal]:
    units = int(total / VOLUME_UNIT)
    if parts == 1 or units < parts:
        return [total]
    cuts = sorted(rng.sample(range(1, units), parts - 1))
    edges = [0, *cuts, units]
    return [(b - a) * VOLUME_UNIT for a, b in zip(edges, edges[1:], strict=False)]


def _frame(event: str, data: Any, numbers_json: bool = False) -> str:
    if numbers_json:  # Decimal(text) keeps the text: 0.00100 stays 0.00100, as a number
        return _encode_numbers({"event": event, "data": _as_numbers(data)}).decode()
    return _encode({"event": event, "data": data}).decode()


def _as_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: Decimal(v) if k in NUMBER_FIELDS and isinstance(v, str) else _as_numbers(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_as_numbers(v) for v in value]
    return value


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


KNOWN_FAULTS = {"rate", "user", "password", "reject_login", "login_errors", "refuse_ws", "token_ttl",
                "token_uses", "malformed", "drop_after", "no_symbols", "numbers", "cross"}
# value kinds the CLI checks before starting (finite, >= 0)
NUMERIC_FAULTS = {"rate": "number", "token_ttl": "number", "login_errors": "int", "refuse_ws": "int",
                  "token_uses": "int", "malformed": "int", "drop_after": "int",
                  "cross": "number"}


def _int_fault(faults: dict[str, str], name: str, default: int | None = None) -> int | None:
    if name not in faults:
        return default
    try:
        return int(faults[name] or 1)
    except ValueError:
        raise ValueError(f"bad fault {name}={faults[name]!r}: expected an integer") from None


class BthubSimulator:
    """The whole hub on one loopback port. Counters are public for tests."""

    def __init__(self, seed: int = 1, faults: dict[str, str] | None = None) -> None:
        faults = dict(faults or {})
        check_faults("bthub", faults, KNOWN_FAULTS, NUMERIC_FAULTS)
        self.faults = faults
        numbers = faults.get("numbers", "strings") or "json"
        if numbers not in ("strings", "json"):
            raise ValueError(f"bad fault numbers={numbers!r}: expected json or strings")
        try:
            cross = float(faults.get("cross", CROSS_SHARE) or CROSS_SHARE)
        except ValueError:
            cross = -1.0
        if not 0 <= cross <= 1:
            raise ValueError(f"bad fault cross={faults['cross']!r}: expected a share from 0 to 1")
        self.market = Market(seed, cross, numbers == "json")
        try:
            self.rate = float(faults.get("rate", "10") or 10)
            self.token_ttl = float(faults["token_ttl"]) if faults.get("token_ttl") else None
        except ValueError:
            raise ValueError("bad fault rate/token_ttl: expected a number") from None
        self.user = faults.get("user") or DEMO_USER
        self.password = faults.get("password") or DEMO_PASSWORD
        self.reject_login = "reject_login" in faults
        self.login_errors = _int_fault(faults, "login_errors", 0)
        self.refuse_ws = _int_fault(faults, "refuse_ws", 0)
        self.token_uses = _int_fault(faults, "token_uses")
        self.malformed_every = _int_fault(faults, "malformed")
        self.drop_after = _int_fault(faults, "drop_after")
        self.no_symbols = "no_symbols" in faults
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

    def resume(self) -> None:
        self._paused = False

    def tick(self) -> None:
        """One market step, pushed to every subscriber (tests drive it with rate=0)."""
        for topic, frame in self.market.tick():
            for session in list(self.sessions):
                if topic in session.topics:
                    self._enqueue(session, frame)

    async def _tick_loop(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if not self._paused:
                self.tick()

    # -- HTTP -------------------------------------------------------------------------------
    @staticmethod
    def _json(connection: ServerConnection, status: int, body: Any) -> Response:
        payload = _encode(body)
        headers = Headers([("Content-Type", "application/json"),
                           ("Content-Length", str(len(payload))), ("Connection", "close")])
        return Response(status, HTTPStatus(status).phrase, headers, payload)

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

