"""Seeded bthub frame fuzzing over a real loopback WebSocket (docs/bthub.md, "Fuzzing").

`make_frames(seed, count)` writes a mix of valid frames (books of three counterparties
and the aggregated book, numbers in every form the hub may write, orders, risk rows,
other symbols' pushes, `pong`) and frames that are bad by construction (numbers the
hub never writes, negative volumes, prices <= 0, duplicate levels, wrong types, cut
JSON, deep nesting, binary, unknown events). It also returns the oracle: how many bad
frames were sent and the last valid state of every book. `run_fuzz` sends them from a
hostile hub to a real `BthubFeed` and returns what the feed ended with.

    python -m tests.bthub.fuzz --frames 100000 --seed 7     # on demand, prints figures
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

SYM = "BTCUSDT"
CPS = ("okex", "binance", "huobi")
BAD_PRICE_TEXTS = ("1e2", "99.", ".5", "+98", " 1", "1 ", "NaN", "Infinity", "-Infinity", "1_0",
                   "0x10", "1,5", "", "--1", "1e", "007", "\u0661", "1E+999999", "1" * 90)
_encode = msgspec.json.encode


@dataclass
class Oracle:
    bad: int = 0  # frames that must be counted bad
    books: dict[str, list[tuple]] = field(default_factory=dict)  # stream key -> sorted levels
    orders: set[str] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)  # frames sent per kind, for figures


def _value(rng: random.Random, low: int = 1) -> Decimal:
    """A positive decimal with 0-12 places, sane magnitude."""
    places = rng.randint(0, 12)
    return Decimal(rng.randint(low, 10**9)).scaleb(-places)


def _written(rng: random.Random, value: Decimal) -> msgspec.Raw | str:
    """One of the forms the hub may use for `value`: a string (plain, or BigDecimal's
    exponent form) or a JSON number (the same texts, or with a lower-case e)."""
    plain = format(value, "f")
    java = str(value)
    form = rng.randrange(5)
    if form == 0:
        return plain
    if form == 1:
        return java
    if form == 2:
        return msgspec.Raw(plain.encode())
    if form == 3:
        return msgspec.Raw(java.encode())
    sci = f"{value:e}"  # e.g. 1.234500e-7: a valid JSON number
    return msgspec.Raw(sci.encode())


def _side(rng: random.Random, sourced: bool, is_bid: bool) -> tuple[list[dict], list[tuple]]:
    """Wire levels and the levels a correct client keeps (volume > 0), sorted."""
    wire, kept, used = [], [], set()
    for _ in range(rng.randint(0, 8)):
        cp = rng.choice(CPS) if sourced else None
        price = _value(rng)
        if (price, cp) in used:
            continue
        used.add((price, cp))
        volume = Decimal(0) if rng.random() < 0.1 else _value(rng)
        level: dict[str, Any] = {"price": _written(rng, price), "volume": _written(rng, volume)}
        if sourced:
            level = {"cp": cp, **level}
        wire.append(level)
        if volume > 0:
            kept.append((price, volume, cp))
    rng.shuffle(wire)  # the client must not trust the order
    return wire, sorted(kept)


def _book_frame(rng: random.Random, aggregated: bool, cp: str, symbol: str = SYM):
    bids, kept_bids = _side(rng, aggregated, True)
    asks, kept_asks = _side(rng, aggregated, False)
    data: dict[str, Any] = {"symbol": symbol, "bids": bids, "asks": asks}
    if aggregated:
        event = "API_AGGREGATED_QUOTE"
    else:
        event = "API_QUOTE"
        data.update(cp=cp, commission=_written(rng, _value(rng)))
    return {"event": event, "data": data}, kept_bids + [("ask", *lv) for lv in kept_asks]


def _spoil(rng: random.Random, frame: dict[str, Any]) -> dict[str, Any] | str | bytes:
    """A copy of a valid book frame made bad in one way that is bad by the rules."""
    data = frame["data"]
    levels = [lv for side in ("bids", "asks") for lv in data[side]]
    how = rng.randrange(11)
    if how == 0 and levels:
        rng.choice(levels)["price"] = rng.choice(BAD_PRICE_TEXTS)
    elif how == 1 and levels:
        rng.choice(levels)["volume"] = rng.choice(("-1", "-0.5", msgspec.Raw(b"-2"), "NaN", "1e2"))
    elif how == 2 and levels:
        rng.choice(levels)["price"] = rng.choice(("0", "-5", msgspec.Raw(b"0"), msgspec.Raw(b"-1.5")))
    elif how == 3 and any(_volume(lv) > 0 for lv in levels):
        side = rng.choice([s for s in ("bids", "asks") if any(_volume(lv) > 0 for lv in data[s])])
        twin = dict(next(lv for lv in data[side] if _volume(lv) > 0))
        price = twin["price"]
        text = price if isinstance(price, str) else bytes(price).decode()
        twin["price"] = format(Decimal(text), "f") + ("0" if "." in format(Decimal(text), "f") else ".0")
        twin["volume"] = "1"  # the same price (and cp) again, written differently
        data[side].append(twin)
    elif how == 4:
        data["asks"] = {"price": "1"}
    elif how == 5:
        data["symbol"] = 7
    elif how == 6:
        text = _encode(frame).decode()
        return text[: rng.randint(1, len(text) - 1)]
    elif how == 7:
        return _encode({**frame, "data": {**data, "x": msgspec.Raw(b"[" * 50_000 + b"]" * 50_000)}}).decode()
    elif how == 8:
        return b"\x00" + _encode(frame)
    elif how == 9:
        return _encode({"event": "API_" + rng.choice(("NEWS", "QUOTES", "")), "data": data}).decode()
    else:
        if levels:
            rng.choice(levels)["price"] = rng.choice((True, None, {}, [], msgspec.Raw(b'"1"x')))
        else:
            data["bids"] = [1]
    return frame


def _volume(level: dict[str, Any]) -> Decimal:
    volume = level["volume"]
    return Decimal(volume if isinstance(volume, str) else bytes(volume).decode())


ORDER_IDS = 300  # orders are re-pushed from a pool: fewer than the feed's cap


def make_frames(seed: int, count: int) -> tuple[list[str | bytes], Oracle]:
    rng = random.Random(seed)
    oracle = Oracle()
    frames: list[str | bytes] = []

    def sent(kind: str, payload: str | bytes) -> None:
        frames.append(payload)
        oracle.kinds[kind] = oracle.kinds.get(kind, 0) + 1

    order_no = 0
    while len(frames) < count:
        roll = rng.random()
        if roll < 0.55:
            aggregated = rng.random() < 0.4
            cp = rng.choice(CPS)
            frame, kept = _book_frame(rng, aggregated, cp)
            key = SYM if aggregated else f"{SYM}@{cp}"
            if rng.random() < 0.35:
                spoiled = _spoil(rng, frame)
                oracle.bad += 1
                sent("bad book", spoiled if isinstance(spoiled, str | bytes) else _encode(spoiled).decode())
            else:
                oracle.books[key] = kept
                sent("book", _encode(frame).decode())
        elif roll < 0.65:
            frame, _ = _book_frame(rng, rng.random() < 0.5, rng.choice(CPS), symbol="ETHUSDT")
            sent("other symbol", _encode(frame).decode())  # valid, not ours: changes nothing
        elif roll < 0.8:
            order_no += 1
            order_id = str(10**17 + order_no % ORDER_IDS)
            data = {"orderId": order_id, "symbol": SYM, "status": rng.choice((1, 3, 4, "EXECUTED")),
                    "side": rng.choice((1, -1, "BUY")), "orderVolume": _written(rng, _value(rng)),
                    "executeVolume": _written(rng, _value(rng))}
            if rng.random() < 0.3:
                data["pendingVolume"] = rng.choice(("1e2", "NaN", True, "1..2"))
                oracle.bad += 1
                sent("bad order", _encode({"event": "API_ORDER", "data": data}).decode())
            else:
                oracle.orders.add(order_id)
                sent("order", _encode({"event": "API_ORDER", "data": data}).decode())
        elif roll < 0.9:
            row = {"book": "A", "cp": rng.choice(CPS), "symbol": SYM,
                   "openVolume": _written(rng, _value(rng)), "openAmount": _written(rng, _value(rng))}
            if rng.random() < 0.3:
                del row["cp"]
                oracle.bad += 1
                sent("bad risk", _encode({"event": "API_RISK_POSITION", "data": [row]}).decode())
            else:
                sent("risk", _encode({"event": "API_RISK_POSITION", "data": [row]}).decode())
        else:
            sent("text", rng.choice(("pong", "PONG", "ok")))  # ignored, not counted
    return frames, oracle


def book_levels(feed: Any, key: str) -> list[tuple] | None:
    stream = feed.streams.get(key)
    if stream is None:
        return None
    sourced = stream.book.bids.sourced
    bids = sorted((lv.price, lv.size, lv.source if sourced else None)
                  for lv in stream.book.bids.iter_levels())
    asks = sorted((lv.price, lv.size, lv.source if sourced else None)
                  for lv in stream.book.asks.iter_levels())
    return bids + [("ask", *lv) for lv in asks]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Outcome:
    frames: int
    oracle: Oracle
    feed: Any
    connections: int
    seconds: float
    rss_before: float
    rss_after: float
    errors: list[str]


async def run_fuzz(seed: int, count: int, timeout: float = 600.0) -> Outcome:
    from obview.feed import FeedState
    from obview.venues import config
    from obview.venues.bthub.client import BthubFeed
    from tests.bthub.hostile import HostileHub

    frames, oracle = make_frames(seed, count)
    done = asyncio.Event()

    async def script(ws, number):
        if number > 1:
            return  # a reconnect is a failure the outcome shows; send nothing more
        for i, frame in enumerate(frames):
            await ws.send(frame)
            if i % 256 == 0:
                await asyncio.sleep(0)
        done.set()
        await asyncio.Future()

    rss_before = rss_mb()
    started = time.monotonic()
    errors: list[str] = []
    async with HostileHub(script, cps=CPS) as hub:
        feed = BthubFeed(config("bthub", [SYM], url=hub.url, user="fuzz", password="fuzz-password", book="A"))

        def watch(event: Any) -> None:
            if feed.state in (FeedState.ERROR, FeedState.RECONNECTING) or "internal error" in feed.status_text:
                errors.append(f"{feed.state.value}: {feed.status_text}")

        feed.add_listener(watch)
        task = asyncio.create_task(feed.run())
        try:
            deadline = time.monotonic() + timeout
            while feed.messages < len(frames) and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.01)
            # the last coalesced record flush runs too (a failure there shows in `errors`)
            while feed._flush_scheduled and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.01)
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await feed.close()
        connections = hub.connections
    return Outcome(len(frames), oracle, feed, connections, time.monotonic() - started,
                   rss_before, rss_mb(), errors)


def check(outcome: Outcome) -> list[str]:
    """Every way the run fell short of the rules; empty when it is right."""
    feed, oracle = outcome.feed, outcome.oracle
    problems = []
    if feed.messages != outcome.frames:
        problems.append(f"received {feed.messages} of {outcome.frames} frames")
    if outcome.connections != 1 or outcome.errors:
        problems.append(f"{outcome.connections} connections; {outcome.errors[:3]}")
    if feed.bad_frames != oracle.bad:
        problems.append(f"bad frames counted {feed.bad_frames}, sent {oracle.bad}")
    for key, expected in oracle.books.items():
        if book_levels(feed, key) != expected:
            problems.append(f"book {key} differs from the last valid state sent")
    if set(feed.orders) != oracle.orders:
        problems.append(f"orders: kept {len(feed.orders)}, valid sent {len(oracle.orders)}")
    if any(not key.startswith(SYM) for key in feed.streams):
        problems.append("a stream of another symbol")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description="bthub frame fuzzing over loopback")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    outcome = asyncio.run(run_fuzz(args.seed, args.frames))
    problems = check(outcome)
    print(f"frames {outcome.frames} in {outcome.seconds:.1f}s; bad sent {outcome.oracle.bad}, "
          f"counted {outcome.feed.bad_frames}; kinds {outcome.oracle.kinds}")
    print(f"RSS {outcome.rss_before:.0f} MB -> {outcome.rss_after:.0f} MB; "
          f"orders kept {len(outcome.feed.orders)}, streams {sorted(outcome.feed.streams)}")
    print("OK" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
