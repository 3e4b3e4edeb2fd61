"""bthub simulator's market model: quotes per counterparty, orders, risk. No I/O: the
server (`obview.venues.bthub.sim`) pushes the frames it produces.

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
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from obview.fmt import dec_str, fixed

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
