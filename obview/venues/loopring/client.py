"""The Loopring depth feed: markets/tokens over REST, a depth subscription over
WebSocket, and the spec §7 book via `DepthSync`.

One session = one connection: fetch markets and tokens (once), check the market and
level, connect (v3: with a key from `/v3/ws/key`), subscribe, then read frames. The
snapshot is fetched by a side task while the reader keeps buffering; its failures end
the session so `Feed.run()` reconnects, except rejections, which are fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from obview.book import OrderBook
from obview.feed import (
    Backoff,
    FatalFeedError,
    Feed,
    FeedCapabilities,
    FeedError,
    FeedState,
    LatencyKind,
    LevelControl,
    Stream,
)
from obview.latency import LatencyStats
from obview.venues import VenueConfig
from obview.venues.loopring import protocol
from obview.venues.loopring.protocol import (
    DEFAULT_REST,
    DEFAULT_WS,
    HEARTBEAT_PING,
    HEARTBEAT_PONG,
    V2,
    V3,
    WS_KEY_PATH,
    ApiError,
    FrameKind,
    Market,
    ProtocolError,
    Push,
    PushReader,
    SlotParser,
    SubReply,
    Token,
)
from obview.venues.loopring.sync import DepthSync, Step, fast_path

log = logging.getLogger("obview.loopring")

# Depth request spacing per API generation (documented limits: 3/s later v2, 5/s v3).
MIN_SNAPSHOT_INTERVAL = {V2: 0.34, V3: 0.2}
# Rejections that no retry can fix (unsupported market / level, bad argument, bad key).
FATAL_CODES = {100001, 104001, 104002, 108000, 108001}
MAX_LISTED_MARKETS = 12


class LoopringFeed(Feed):
    venue = "loopring"

    def __init__(self, cfg: VenueConfig) -> None:
        super().__init__()
        options = cfg.options
        self.api = options.get("api") or V2
        if self.api not in (V2, V3):
            raise ValueError(f"unknown Loopring API {self.api!r} (choose v2 or v3)")
        self.market = cfg.symbols[0]
        self.level = int(options.get("level") or 0)
        if self.level < 0:
            raise ValueError(f"bad level {self.level}: levels start at 0")
        self.rest_url = (options.get("rest_url") or DEFAULT_REST[self.api]).rstrip("/")
        self.ws_url = options.get("ws_url") or DEFAULT_WS[self.api]
        self.depth_path = options.get("depth_path") or protocol.depth_path(self.api)
        self.limit = int(options.get("limit") or max(cfg.depth, 50))
        self.api_key: str | None = options.get("api_key")  # X-API-KEY, only if configured
        self.first_push_wait = float(options.get("first_push_wait", 0.5))
        self.ack_timeout = float(options.get("ack_timeout", 10.0))
        self.refetch_delay = float(options.get("refetch_delay", 0.25))
        self.refetch_cap = float(options.get("refetch_cap", 5.0))
        self.min_snapshot_interval = float(
            options.get("min_snapshot_interval", MIN_SNAPSHOT_INTERVAL[self.api]))
        self.level_count: int | None = None  # orderbookAggLevels, once markets are known
        self.markets: dict[str, Market] | None = None
        self.tokens: dict[int, Token] = {}
        self.snapshots = 0  # snapshots applied
        self.too_old_snapshots = 0  # snapshots refetched because they predate the buffer
        self.rate_limited = 0  # HTTP 429 answers
        self.stream = Stream(self.market, OrderBook(), level=self.level)
        self._intervals = self.stream.latency["interval"] = LatencyStats()  # ms between pushes
        self.streams[self.stream.key] = self.stream
        self.capabilities = FeedCapabilities(latency=LatencyKind.INTERVAL, levels=LevelControl(
            lambda: self.level_count, lambda: self.level, self.change_level))
        self.address = f"{self.ws_url} ({self.api})"
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None
        self._parser: SlotParser | None = None
        self._sync: DepthSync | None = None
        self._reader: PushReader | None = None
        self._fast: Callable[[str | bytes], Push | None] | None = None
        self._snapshot_task: asyncio.Task | None = None
        self._first_push = asyncio.Event()
        self._acked = asyncio.Event()
        self._failure: BaseException | None = None
        self._last_push_mono: float | None = None
        self._last_depth_request = 0.0
        self._sequence = 0

    # -- public ---------------------------------------------------------------------------
    async def change_level(self, level: int) -> None:
        """Switch the aggregation level: a new subscription and a fresh book."""
        if self.level_count is not None and not 0 <= level < self.level_count:
            raise ValueError(self._level_error(level))
        if level < 0:
            raise ValueError(f"bad level {level}: levels start at 0")
        old = self.level
        self.level = level
        self.stream.level = level
        self.unsync(self.stream, f"level {old} -> {level}", resync=False)
        ws = self._ws
        if ws is None or self._reader is None:
            self._cancel_snapshot()
            self._sync = None  # the next session subscribes anew
            self.stream.book.clear()
            return
        if self.api == V3:  # v2: the new depth sub replaces the old one (spec §3)
            await ws.send(protocol.unsubscribe_message(V3, self.market, old))
        await self._subscribe(ws)

    async def close(self) -> None:
        self._cancel_snapshot()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # -- session --------------------------------------------------------------------------
    async def _session(self) -> None:
        self.set_state(FeedState.CONNECTING, self.address)
        self._failure = None
        if self.markets is None:
            await self._load_reference()
        self._check_subscription()
        url = self.ws_url
        if self.api == V3:
            url = _with_query(url, wsApiKey=await self._ws_key())
        try:
            async with websockets.connect(url, open_timeout=10, max_size=2**24) as ws:
                self._ws = ws
                try:
                    await self._read(ws)
                finally:
                    self._ws = None
                    self._cancel_snapshot()
                    self.stream.book.clear()  # void: the next connection starts from step 1
        except websockets.WebSocketException as exc:
            if self._failure is None:
                raise FeedError(f"websocket: {protocol_error_text(exc)}") from None
        if self._failure is not None:
            raise self._failure

    async def _read(self, ws: ClientConnection) -> None:
        await self._subscribe(ws)
        async for frame in ws:
            if frame == HEARTBEAT_PING:
                self.messages += 1
                await ws.send(HEARTBEAT_PONG)  # only ever in answer to a ping
                continue
            self.on_frame(frame)
            if self._failure is not None:
                return

    async def _subscribe(self, ws: ClientConnection) -> None:
        self.new_subscription()
        self._sequence += 1
        await ws.send(protocol.subscribe_message(self.api, self.market, self.level, self._sequence))
        self._ensure_snapshot()  # waits for the ack (or a push) before fetching

    def new_subscription(self) -> None:
        """Step 1 for the current level: new reader, empty buffer, fresh book."""
        self._cancel_snapshot()
        self._reader = PushReader(self.market, self.level, self._parser)
        self._sync = DepthSync(self.stream.book, self._parser)
        self._fast = fast_path(self._reader, self._sync)
        self._first_push = asyncio.Event()
        self._acked = asyncio.Event()
        self._last_push_mono = None

    def on_frame(self, frame: str | bytes) -> None:
        """One WebSocket frame (not the heartbeat)."""
        self.messages += 1
        push = self._fast(frame)  # the next push of a synced book: applied already
        if push is not None:
            self._note_push()
            self.book_changed(self.stream)
            return
        kind, payload = self._reader.read(frame)  # the full path decides
        if kind is FrameKind.PUSH:
            self._on_push(payload)
        elif kind is FrameKind.MALFORMED:
            # dropped whole; the next push fails the continuity check and resyncs
            self.count_bad_frame(f"{self._reader.topic}: {payload}")
        elif kind is FrameKind.SUB_REPLY:
            self._on_sub_reply(payload)
        # FOREIGN frames (not JSON, not an object, another topic) are ignored

    def _note_push(self) -> None:
        now = time.monotonic()
        if self._last_push_mono is not None:
            self._intervals.add((now - self._last_push_mono) * 1000.0)
        self._last_push_mono = now

    def _on_push(self, update: Push) -> None:
        self._note_push()
        sync = self._sync
        local = sync.local
        step = sync.on_push(update)
        if step is Step.APPLIED:
            stream = self.stream
            stream.book.touch(update.ts, sync.local)
            self.book_changed(stream)
        elif step is Step.BUFFERED:
            self._first_push.set()
            self._ensure_snapshot()
        elif step is Step.RESYNC:
            reason = f"gap: push {update.start}-{update.end} after version {local}"
            log.info("%s %s: resync (%s)", self.market, self._reader.topic, reason)
            self.unsync(self.stream, reason)
            self._ensure_snapshot()

    def _on_sub_reply(self, reply: SubReply) -> None:
        if reply.op != "sub":
            return
        if reply.result.status.lower() == "ok":
            self._acked.set()
            return
        error = reply.result.error
        code = error.code if error else "?"
        message = error.message if error and error.message else "illegal topic or parameters"
        self._failure = FatalFeedError(
            f"subscription to {self._reader.topic} rejected (error {code}: {message})")

    # -- snapshots --------------------------------------------------------------------------
    def _ensure_snapshot(self) -> None:
        task = self._snapshot_task
        if task is None or task.done():
            self._snapshot_task = asyncio.get_running_loop().create_task(
                self._snapshot_loop(self._sync), name="loopring-snapshot")

    def _cancel_snapshot(self) -> None:
        task, self._snapshot_task = self._snapshot_task, None
        if task is not None and not task.done():
            task.cancel()

    async def _snapshot_loop(self, sync: DepthSync) -> None:
        try:
            if not sync.buffer:
                # step 3: after the sub ack, ideally once a push is buffered; a quiet
                # market gets its snapshot after a short wait anyway
                first_push = asyncio.ensure_future(self._first_push.wait())
                acked = asyncio.ensure_future(self._acked.wait())
                try:
                    await asyncio.wait({first_push, acked}, timeout=self.ack_timeout,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    acked.cancel()
                if not first_push.done():
                    if not self._acked.is_set():
                        first_push.cancel()
                        raise FeedError(f"no reply to the subscription in {self.ack_timeout:g}s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(first_push, self.first_push_wait)
            backoff = Backoff(self.refetch_delay, self.refetch_cap)
            while sync is self._sync:
                snapshot = await self._fetch_depth()
                if sync is not self._sync:
                    return  # level changed meanwhile
                step = sync.on_snapshot(snapshot)
                if step is Step.SYNCED:
                    self.snapshots += 1
                    self.stream.book.touch(snapshot.ts, sync.local)
                    self.book_changed(self.stream, snapshot=True)
                    return
                if step is not Step.TOO_OLD:
                    return
                self.too_old_snapshots += 1
                delay = backoff.next_delay()
                self.set_state(FeedState.RESYNCING,
                               f"snapshot {snapshot.version} older than the buffered pushes; "
                               f"refetching in {delay:.2f}s")
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the reader owns the session: hand it over and end it
            self._failure = exc if isinstance(exc, FatalFeedError | FeedError) else FeedError(
                f"depth snapshot: {protocol_error_text(exc)}")
            ws = self._ws
            if ws is not None:
                await ws.close()

    async def _fetch_depth(self) -> protocol.DepthSnapshot:
        wait = self._last_depth_request + self.min_snapshot_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        params = {"market": self.market, "level": self.level, "limit": self.limit}
        status, body = await self._get(self.depth_path, params, depth=True)
        try:
            return protocol.decode_depth(self.api, status, body, self._parser)
        except ApiError as exc:
            raise self._api_failure("depth", exc) from None
        except ProtocolError as exc:
            self.count_bad_frame(f"depth reply: {exc}")
            raise FeedError(f"bad depth reply: {exc}") from None

    # -- REST -------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"X-API-KEY": self.api_key} if self.api_key else None
            self._http = httpx.AsyncClient(timeout=10.0, headers=headers)
        return self._http

    async def _get(self, path: str, params: dict[str, Any] | None = None,
                   depth: bool = False) -> tuple[int, bytes]:
        """GET, backing off while the venue answers 429."""
        backoff = Backoff(self.refetch_delay, self.refetch_cap)
        while True:
            if depth:
                self._last_depth_request = time.monotonic()
            try:
                response = await self._client().get(self.rest_url + path, params=params)
            except httpx.HTTPError as exc:
                raise FeedError(f"{path}: {protocol_error_text(exc)}") from None
            if response.status_code != 429:
                return response.status_code, response.content
            self.rate_limited += 1
            retry_after = _retry_after(response.headers.get("Retry-After"))
            pause = max(backoff.next_delay(), retry_after or 0.0)
            self.set_state(FeedState.RESYNCING if self.markets else FeedState.CONNECTING,
                           f"rate limited (HTTP 429); retrying in {pause:.2f}s")
            await asyncio.sleep(pause)

    async def _load_reference(self) -> None:
        try:
            markets = protocol.decode_markets(
                self.api, *await self._get(protocol.markets_path(self.api)))
            tokens = protocol.decode_tokens(self.api, *await self._get(protocol.tokens_path(self.api)))
        except ApiError as exc:
            raise self._api_failure("markets", exc) from None
        except ProtocolError as exc:
            raise FeedError(f"bad markets/tokens reply: {exc}") from None
        self.tokens = {token.tokenId: token for token in tokens}
        self.markets = {market.market: market for market in markets}

    async def _ws_key(self) -> str:
        try:
            return protocol.decode_ws_key(*await self._get(WS_KEY_PATH))
        except ApiError as exc:
            raise self._api_failure("ws key", exc) from None
        except ProtocolError as exc:
            raise FeedError(f"bad {WS_KEY_PATH} reply: {exc}") from None

    def _api_failure(self, what: str, exc: ApiError) -> Exception:
        if exc.code in FATAL_CODES:
            return FatalFeedError(f"{what} request rejected ({exc})")
        return FeedError(f"{what} request failed ({exc})")

    # -- markets and levels ---------------------------------------------------------------
    def _check_subscription(self) -> None:
        """Market known, level in [0, orderbookAggLevels): checked before subscribing."""
        assert self.markets is not None
        market = self.markets.get(self.market)
        if market is None:
            raise FatalFeedError(unknown_market_message(self.market, list(self.markets)))
        self.level_count = market.orderbookAggLevels
        if not 0 <= self.level < self.level_count:
            raise FatalFeedError(self._level_error(self.level))
        base = self.tokens.get(market.baseTokenId)
        if base is None:
            raise FatalFeedError(f"{self.market}: base token {market.baseTokenId} not in the token list")
        if self._parser is None or self._parser.decimals != base.decimals:
            self._parser = protocol.SlotParser(base.decimals)

    def _level_error(self, level: int) -> str:
        count = self.level_count
        return (f"level {level} is not valid for {self.market}: "
                f"valid levels are 0..{count - 1} (orderbookAggLevels {count})")


def unknown_market_message(market: str, valid: list[str]) -> str:
    """The error for an unknown market: every valid one, closest first."""
    ranked = sorted(valid, key=lambda name: (-difflib.SequenceMatcher(None, market, name).ratio(), name))
    shown = ", ".join(ranked[:MAX_LISTED_MARKETS])
    more = len(ranked) - MAX_LISTED_MARKETS
    if more > 0:
        shown += f" (and {more} more)"
    return f"unknown market {market!r}; valid markets, closest first: {shown}"


def protocol_error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
