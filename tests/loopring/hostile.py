"""A hostile Loopring v3 server for the fuzz suite: REST (a minimal HTTP/1.1 server on
asyncio streams, so it can also send a reply that never ends) and a WebSocket that
sends a seeded mix of valid pushes, broken pushes of ours, junk and random JSON.

The server is the ground truth: it labels every frame it sends (valid / bad /
undecodable / ignored) and records its book at every version, in the form
`tests.loopring.conftest.normalised` writes a client's book.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import random
import struct
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection, serve

from obview.fmt import dec_str

MARKET = "LRC-ETH"
DECIMALS = 18
TOPIC = {"topic": "orderbook", "market": MARKET, "level": 0}
_encode = msgspec.json.encode

MARKETS = {"markets": [{"market": MARKET, "baseTokenId": 1, "quoteTokenId": 0,
                        "precisionForPrice": 6, "orderbookAggLevels": 3, "enabled": True}]}
TOKENS = [{"tokenId": 0, "symbol": "ETH", "decimals": 18, "precision": 6},
          {"tokenId": 1, "symbol": "LRC", "decimals": DECIMALS, "precision": 3}]
BID_TICKS = list(range(240, 250))  # prices 0.000240 .. 0.000249
ASK_TICKS = list(range(251, 261))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class HostileServer:
    """`await start()`; then `rest_url`, `ws_url`, `run(frames)` sends that many frames."""

    def __init__(self, seed: int = 1, depth_reply: str = "normal", big_frame_every: int = 0) -> None:
        self.rng = random.Random(seed)
        # "normal" | "endless" | "zstd-bomb" | "gzip-bomb" | "not-utf8" (a valid depth
        # reply with a Latin-1 byte in a key no client reads)
        self.depth_reply = depth_reply
        self.depth_bodies: list[bytes] = []  # the depth replies sent, as sent
        self.big_frame_every = big_frame_every
        # (made here, before a test measures the client's RSS: 64 MB pass through it)
        self._gzip_bomb = gzip.compress(b" " * (64 << 20)) if depth_reply == "gzip-bomb" else b""
        self.version = 1000
        self.bids: dict[int, tuple[int, int]] = {}
        self.asks: dict[int, tuple[int, int]] = {}
        self.history: dict[int, dict] = {}
        self.labels = {"valid": 0, "bad": 0, "undecodable": 0, "ignored": 0, "big": 0}
        self.depth_requests = 0
        self.clients: list[ServerConnection] = []
        self.subscribed = asyncio.Event()
        for _ in range(12):
            self._change()
        self._record()
        self._rest = None
        self._ws = None

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> HostileServer:
        self._rest = await asyncio.start_server(self._http, "127.0.0.1", 0)
        self._ws = await serve(self._handle, "127.0.0.1", 0, max_size=2**24, ping_interval=None)
        return self

    async def close(self) -> None:
        for server in (self._rest, self._ws):
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._rest.sockets[0].getsockname()[1]}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.sockets[0].getsockname()[1]}/v3/ws"

    # -- the book -----------------------------------------------------------------------
    def _change(self) -> tuple[bool, int]:
        rng = self.rng
        is_bid = rng.random() < 0.5
        side = self.bids if is_bid else self.asks
        tick = rng.choice(BID_TICKS if is_bid else ASK_TICKS)
        if tick in side and rng.random() < 0.3:
            del side[tick]
        else:
            side[tick] = (rng.randint(1, 10**6) * 10**rng.randint(0, 18), rng.randint(1, 9))
        self.version += 1
        return is_bid, tick

    def _record(self) -> None:
        def rows(side, reverse):
            return [[dec_str(Decimal(t).scaleb(-6)), dec_str(Decimal(u).scaleb(-DECIMALS)), n]
                    for t, (u, n) in sorted(side.items(), reverse=reverse)]
        self.history[self.version] = {"bids": rows(self.bids, True), "asks": rows(self.asks, False)}
        while len(self.history) > 3_000:  # recent versions only: the server stays bounded
            del self.history[next(iter(self.history))]

    def _price_text(self, tick: int) -> Any:
        roll = self.rng.random()
        value = Decimal(tick).scaleb(-6)
        if roll < 0.1:
            return f"{value:E}"  # exponent form
        if roll < 0.15:
            return msgspec.Raw(str(value).encode())  # a JSON number
        if roll < 0.3:
            return f"{value:.8f}"  # trailing zeros
        return str(value)

    def _size_text(self, units: int) -> Any:
        roll = self.rng.random()
        if roll < 0.1 and units:
            return f"{Decimal(units):E}"
        if roll < 0.15:
            return units  # a JSON integer
        return str(units)

    def _slots(self, side: dict, ticks) -> list[list[Any]]:
        out = []
        for tick in ticks:
            units, orders = side.get(tick, (0, 0))
            out.append([self._price_text(tick), self._size_text(units), "0", str(orders)])
        return out

    def valid_push(self) -> bytes:
        start = self.version + 1
        touched: dict[bool, set[int]] = {True: set(), False: set()}
        for _ in range(self.rng.randint(1, 3)):
            is_bid, tick = self._change()
            touched[is_bid].add(tick)
        self._record()
        return _encode({"topic": TOPIC, "ts": 1_700_000_000_000, "startVersion": start,
                        "endVersion": str(self.version),
                        "data": {"bids": self._slots(self.bids, sorted(touched[True])),
                                 "asks": self._slots(self.asks, sorted(touched[False]))}})

    def bad_push(self) -> bytes:
        """A push of ours (the next versions) with one bad value: the book must not change."""
        rng = self.rng
        start, end = self.version + 1, self.version + 1
        good = ["0.000245", "1500", "0", "1"]
        slot = list(good)
        kind = rng.randrange(14)
        obj: dict[str, Any] = {"topic": TOPIC, "ts": 1, "startVersion": start, "endVersion": str(end)}
        bids: list[Any] = [slot]
        if kind == 0:
            slot[1] = "5000000000000000.5"
        elif kind == 1:
            slot[1] = rng.choice(["-5", "1.5", "4.1E-9", "7.0", "", "x", "1_000", " 5", "+5"])
        elif kind == 2:
            slot[0] = rng.choice(["NaN", "Infinity", "-1", "0", "0.000", ".5", "5.", "+98", "1e999", ""])
        elif kind == 3:
            obj["endVersion"] = rng.choice([f"{end}.0", "1e3", "x", -1, 1.5, None])
        elif kind == 4:
            bids = [good, ["0.00024500", "7", "0", "1"]]  # one price twice, two spellings
        elif kind == 5:
            slot[1] = "1" * 5000  # longer than int() reads
        elif kind == 6:
            slot[1] = "1E+5000"
        elif kind == 7:
            bids = [["0.000245", "1", "0"]]
        elif kind == 8:
            slot[3] = rng.choice(["-1", "1.5", "x", None])
        elif kind == 9:
            slot[1] = msgspec.Raw(b"5000000000000000.5")
        elif kind == 10:
            obj["startVersion"] = rng.choice([f"{start}.0", "x", [start]])
        elif kind == 11:
            bids = "none"
        elif kind == 12:
            slot[0] = msgspec.Raw(b"1e-400")
        else:
            obj["endVersion"] = str(start - 2)  # end < start
        obj["data"] = {"bids": bids, "asks": []}
        return _encode(obj)

    def junk(self) -> tuple[str, bytes | str]:
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            return "undecodable", "not json {"
        if kind == 1:
            return "undecodable", b"[" * 200_000 + b"]" * 200_000  # RecursionError in msgspec
        if kind == 2:
            return "undecodable", b'{"topic": ' + b"[" * 100_000
        if kind == 3:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            try:
                msgspec.json.decode(data)
            except Exception:
                return "undecodable", data
            return "ignored", data
        if kind == 4:
            other = dict(TOPIC, market="LRC-USDT")
            return "ignored", _encode({"topic": other, "startVersion": 1, "endVersion": 2,
                                       "data": {"bids": [["1", "-1", "0", "1"]], "asks": []}})
        if kind == 5:
            return "ignored", _encode(self._random_json(4))
        if kind == 6:
            return "ignored", "[1, 2, 3]"
        return "ignored", _encode({"op": "unSub", "result": {"status": "ok"}})

    def _random_json(self, depth: int) -> Any:
        rng = self.rng
        roll = rng.randrange(7 if depth else 4)
        if roll == 0:
            return rng.randint(-10**30, 10**30)
        if roll == 1:
            return rng.choice(["", "ping", "orderbook", "LRC-ETH", "\u0663", "1e3"])
        if roll == 2:
            return rng.choice([None, True, False, 1.5])
        if roll == 3:
            return msgspec.Raw(rng.choice([b"1e308", b"-0.0", b"123456789012345678901234567890.5"]))
        if roll == 4:
            return [self._random_json(depth - 1) for _ in range(rng.randint(0, 4))]
        keys = ["topic", "startVersion", "endVersion", "data", "bids", "asks", "ts", "x"]
        obj = {k: self._random_json(depth - 1) for k in rng.sample(keys, rng.randint(0, 5))}
        if "topic" in obj and rng.random() < 0.5:
            obj["topic"] = dict(TOPIC, market="ETH-USDT")  # never ours
        return obj

    # -- sending -----------------------------------------------------------------------
    async def run(self, frames: int, synced=None) -> None:
        """Send `frames` frames to the subscribed client, then one valid push. After a
        bad push, wait (up to 5 s) for `synced(labels)`: the client resyncs, and frames sent
        meanwhile would only be buffered, so the fast path would rarely be exercised."""
        await asyncio.wait_for(self.subscribed.wait(), 10)
        ws = self.clients[-1]
        rng = self.rng
        for n in range(1, frames + 1):
            roll = rng.random()
            if self.big_frame_every and n % self.big_frame_every == 0:
                label, frame = "big", b" " * (2**21)
            elif roll < 0.82:
                label, frame = "valid", self.valid_push()
            elif roll < 0.9:
                label, frame = "bad", self.bad_push()
            else:
                label, frame = self.junk()
            self.labels[label] += 1
            try:
                await ws.send(frame)
            except Exception:
                await asyncio.wait_for(self._next_client(ws), 10)
                ws = self.clients[-1]
            if label == "bad" and synced is not None:
                for _ in range(5000):
                    if synced(self.labels):
                        break
                    await asyncio.sleep(0.001)
            elif n % 64 == 0:
                await asyncio.sleep(0)  # let the client's snapshot requests through
        self.labels["valid"] += 1
        await self.clients[-1].send(self.valid_push())

    async def _next_client(self, old: ServerConnection) -> None:
        while self.clients[-1] is old or not self.subscribed.is_set():
            await asyncio.sleep(0.01)

    async def _handle(self, ws: ServerConnection) -> None:
        self.subscribed.clear()
        self.clients.append(ws)
        async for message in ws:
            request = msgspec.json.decode(message)
            await ws.send(_encode({"op": request.get("op"), "sequence": request.get("sequence"),
                                   "topics": request.get("topics"), "result": {"status": "OK"}}))
            self.subscribed.set()

    # -- REST -------------------------------------------------------------------------
    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            url = urlsplit(target)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path == "/api/v3/exchange/markets":
                await self._reply(writer, MARKETS)
            elif url.path == "/api/v3/exchange/tokens":
                await self._reply(writer, TOKENS)
            elif url.path == "/v3/ws/key":
                await self._reply(writer, {"key": "hostile"})
            elif url.path == "/api/v3/depth":
                self.depth_requests += 1
                if self.depth_reply == "endless":
                    await self._endless(writer)
                elif self.depth_reply.endswith("-bomb"):
                    await self._bomb(writer, self.depth_reply[:-5])
                else:
                    depth = _encode(self._depth(int(query.get("limit", "50"))))
                    if self.depth_reply == "not-utf8":
                        depth = depth[:-1] + b',"note":"caf\xe9"}'
                    self.depth_bodies.append(depth)
                    await self._reply(writer, msgspec.Raw(depth))
            else:
                await self._reply(writer, {"resultInfo": {"code": 100000, "message": "?"}}, 404)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _depth(self, limit: int) -> dict:
        bids = sorted(self.bids, reverse=True)[:limit]
        asks = sorted(self.asks)[:limit]
        return {"version": self.version, "timestamp": 1_700_000_000_000, "market": MARKET,
                "bids": self._slots(self.bids, bids), "asks": self._slots(self.asks, asks)}

    async def _reply(self, writer: asyncio.StreamWriter, payload: Any, status: int = 200) -> None:
        body = _encode(payload)
        writer.write(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def _bomb(self, writer: asyncio.StreamWriter, encoding: str) -> None:
        """A depth reply of 32 kB that decodes to 1 GB (zstd: RLE blocks, 4 bytes for 128
        KiB each; gzip: 64 kB to 64 MB), sent with that Content-Encoding whatever was asked."""
        if encoding == "zstd":
            block = ((128 << 10) << 3 | 1 << 1).to_bytes(3, "little") + b" "
            body = struct.pack("<I", 0xFD2FB528) + bytes([0x00, 0x58]) + block * (1 << 13)
        else:
            body = self._gzip_bomb
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     f"Content-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def _endless(self, writer: asyncio.StreamWriter) -> None:
        """A depth reply that never ends: no length, bytes for as long as anyone reads."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                     b'{"version": 1, "bids": [')
        chunk = b'["0.000245", "1500", "0", "1"], ' * 2048
        while True:
            writer.write(chunk)
            await writer.drain()
