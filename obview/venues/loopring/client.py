"""The Loopring depth feed: markets/tokens over REST, a depth subscription over
WebSocket, and the book via `DepthSync` (docs/loopring.md).

One session = one connection: fetch markets and tokens (once), check the market and
level, connect (v3: with a key from `/v3/ws/key`), subscribe, then read frames. The
snapshot is fetched by a side task while the reader keeps buffering; its failures end
the session so `Feed.run()` reconnects, except rejections, which are fatal. A second
side task verifies the book against a REST snapshot every `verify` seconds.

Every REST reply is read with a byte cap and a deadline, every WebSocket message with
`max_size`: what a server sends cannot grow memory without bound.
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
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode

from obview.book import OrderBook
from obview.errors import abridged, describe_error
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
    TradeKind,
    wall_now,
)
from obview.latency import IntervalStats
from obview.tls import LazyHttpClient, tls_context
from obview.venues import VenueConfig
from obview.venues.loopring import protocol
from obview.venues.loopring.credentials import API_KEY_ENV, ApiKey
from obview.venues.loopring.numbers import BadNumber
from obview.venues.loopring.protocol import (
    API_KEY_CODES,
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
    PushReader,
    SlotParser,
    SubReply,
    Token,
)
from obview.venues.loopring.sync import BadPush, DepthSync, Step, fast_path
from obview.venues.loopring.trades import (
    RECENT_TRADES,
    TRADES_PATH,
    TradesReply,
    decode_trade_push,
    decode_trades_reply,
    is_trade_topic,
    read_trade_frame,
    subscribe_trades_message,
)

log = logging.getLogger("obview.loopring")

# Request spacing per endpoint (documented limits: 3/s later v2, 5/s for each v3 endpoint).
MIN_REQUEST_INTERVAL = {V2: 0.34, V3: 0.2}
# Rejections that no retry can fix (unsupported market / level, bad argument, bad key).
FATAL_CODES = {100001, 108000, 108001} | API_KEY_CODES
MAX_LISTED_MARKETS = 12
# A depth reply of 50 levels a side is a few KiB and the token list some 100 KiB; a
# reply beyond this is hostile or broken (one that never ended reached 1.9 GB).
MAX_REPLY_BYTES = 4 * 2**20
REPLY_DEADLINE = 30.0  # seconds for a whole reply, however slowly it trickles in
# A push lists changed slots only (a v3 snapshot push at most 50 a side): tiny.
MAX_FRAME_BYTES = 2**20
DEFAULT_VERIFY = 60.0


class ReplyTooLarge(Exception):
    pass


class ReplyEncoded(Exception):
    """A reply compressed although identity was asked for (its Content-Encoding)."""


class LoopringFeed(Feed):
    venue = "loopring"
    wire = "ws"
    channels = frozenset({"ws", "rest"})

    def __init__(self, cfg: VenueConfig) -> None:
        super().__init__()
        options = cfg.options
        self.api = options.api or V3
        if self.api not in (V2, V3):
            raise ValueError(f"unknown Loopring API {self.api!r} (choose v2 or v3)")
        self.market = cfg.symbols[0]
        self.level = int(options.level or 0)
        if self.level < 0:
            raise ValueError(f"bad level {self.level}: levels start at 0")
        self.rest_url = (options.rest_url or DEFAULT_REST[self.api]).rstrip("/")
        self.ws_url = options.ws_url or DEFAULT_WS[self.api]
        self.depth_path = options.depth_path or protocol.depth_path(self.api)
        self.limit = int(options.limit or max(cfg.depth, 50))
        key = options.api_key
        self.api_key: ApiKey | None = ApiKey(key) if isinstance(key, str) and key else key or None
        self.first_push_wait = float(options.first_push_wait)
        self.ack_timeout = float(options.ack_timeout)
        self.refetch_delay = float(options.refetch_delay)
        self.refetch_cap = float(options.refetch_cap)
        interval = options.min_snapshot_interval
        self.min_request_interval = float(MIN_REQUEST_INTERVAL[self.api] if interval is None else interval)
        self.max_reply_bytes = int(options.max_reply_bytes or MAX_REPLY_BYTES)
        self.max_frame_bytes = int(options.max_frame_bytes or MAX_FRAME_BYTES)
        self.reply_deadline = float(options.reply_deadline or REPLY_DEADLINE)
        verify = options.verify
        self.verify = DEFAULT_VERIFY if verify is None else float(verify)
        if self.verify < 0:
            raise ValueError(f"bad verify interval {self.verify:g}: 0 (off) or more seconds")
        # recording starts this long before the check request, so that a snapshot the
        # API serves slightly stale can still be brought forward to the live version
        self.verify_lead = float(options.verify_lead)
        self.level_count: int | None = None  # orderbookAggLevels, once markets are known
        self.markets: dict[str, Market] | None = None
        self.tokens: dict[int, Token] = {}
        self.snapshots = 0  # snapshots applied
        self.too_old_snapshots = 0  # snapshots refetched because they predate the buffer
        self.rate_limited = 0  # HTTP 429 answers
        self.oversized = 0  # replies and frames over their size limit
        self.stream = Stream(self.market, OrderBook(), level=self.level)
        self.stream.extra.update(verified_at=None, verify_mismatches=0)
        self._restored_mismatches = 0  # a replay: the sync's mismatches at its checkpoint
        self._intervals = self.stream.latency["interval"] = IntervalStats()  # ms between pushes
        self._frame_mono = 0.0  # replay: the receive stamp of the message handled (s)
        self.streams[self.stream.key] = self.stream
        # trades: v3 only (the seed's v2 dialect has no trade topic; docs/loopring.md)
        self.capabilities = FeedCapabilities(
            latency=LatencyKind.INTERVAL,
            levels=LevelControl(lambda: self.level_count, lambda: self.level, self.change_level),
            trades=TradeKind.MARKET if self.api == V3 else TradeKind.NONE)
        self.address = f"{self.ws_url} ({self.api})"
        # identity: a compressed reply could expand past the byte cap within one chunk
        headers = {"Accept-Encoding": "identity"}
        if self.api_key is not None:
            headers["X-API-KEY"] = self.api_key.reveal()
        self._http = LazyHttpClient(timeout=10.0, headers=headers)
        self._ws: ClientConnection | None = None
        self._parser: SlotParser | None = None
        self._sync: DepthSync | None = None
        self._reader: PushReader | None = None
        self._fast: Callable[[str | bytes], Any] | None = None
        self._snapshot_task: asyncio.Task | None = None
        self._verify_task: asyncio.Task | None = None
        self._waking = False  # a replay: a wait on the journal's time is over, not yet run
        self._first_push = asyncio.Event()
        self._acked = asyncio.Event()
        self._failure: BaseException | None = None
        self._last_request: dict[str, float] = {}
        self._sequence = 0
        self._ws_key: str | None = None
        self._link = None  # replay: the recorded connection
        self.trades_enabled = cfg.trades and self.api == V3
        self.no_trades_reason = ("" if self.api == V3 else
                                 "no trades in the v2 API obview speaks (use --api v3)")
        self._trade_sequence: int | None = None  # the trade sub of this connection
        self._trades_task: asyncio.Task | None = None

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
        if self.api == V3:  # v2: the new depth sub replaces the old one
            await ws.send(protocol.unsubscribe_message(V3, self.market, old))
        await self._subscribe(ws)

    async def close(self) -> None:
        self._cancel_trades()
        self._cancel_snapshot()
        self._cancel_verify()
        await self._http.aclose()

    def redact(self, text: str) -> str:
        """`text` without the API key or the WebSocket key in it."""
        for secret in (self.api_key.reveal() if self.api_key else None, self._ws_key):
            if secret:
                text = text.replace(secret, "***")
        return text

    # -- session --------------------------------------------------------------------------
    async def _session(self) -> None:
        self.set_state(FeedState.CONNECTING, self.address)
        self._failure = None
        if self.transport is not None:
            await self._replay_session()
            return
        self.record_connect(self.wire, self.ws_url)  # REST replies go on the same number
        if self.markets is None:
            await self._load_reference()
        self._check_subscription()
        url = self.ws_url
        if self.api == V3:
            self._ws_key = await self._fetch_ws_key()
            url = _with_query(url, wsApiKey=self._ws_key)
        opened = False
        try:
            context = await tls_context("ws") if url.startswith("wss:") else None
            async with websockets.connect(url, open_timeout=10, max_size=self.max_frame_bytes,
                                          ssl=context) as ws:
                opened = True
                self._ws = ws
                try:
                    await self._read(ws)
                finally:
                    self._ws = None
                    self._trade_sequence = None
                    self._cancel_trades()
                    self._cancel_snapshot()
                    self._cancel_verify()
                    self.stream.book.clear()  # void: the next connection starts from step 1
        except websockets.ConnectionClosed as exc:
            if self._failure is None:
                if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self.oversized += 1
                    self.count_unjournaled_bad_frame(f"a message over {self.max_frame_bytes} bytes")
                    raise FeedError(f"a message over the {self.max_frame_bytes}-byte limit") from None
                raise FeedError(f"websocket: {self.redact(describe_error(exc))}") from None
        except websockets.WebSocketException as exc:
            if self._failure is None:
                raise FeedError(f"websocket: {self.redact(describe_error(exc))}") from None
        except OSError as exc:
            if opened:
                raise
            # the WebSocket's own host named: with only --rest-url given, the WebSocket
            # still goes to the live API, and the line said "unknown host" of no host
            where = urlsplit(url).netloc or url
            raise FeedError(f"cannot connect to the WebSocket at {where}: "
                            f"{self.redact(describe_error(exc))}") from exc
        if self._failure is not None:
            raise self._failure

    async def _replay_session(self) -> None:
        """A recorded session stands in for the venue (docs/replay.md): the same REST
        decoding, subscription and `on_frame` as live, fed from the journal; waits that
        live took on the clock (rate limits, the first push) are the journal's own."""
        link = self._link = await self.transport.connection()
        link.busy = self._replay_busy
        self._ws = link.socket
        # the push interval as the venue pushed them: on the journal's receive stamps, as
        # Futu's latency is (before any subscription binds the mark)
        self._intervals.stamp_with(self._frame_seconds)
        try:
            if link.resumed:  # from a checkpoint: the book and its version are restored
                if self._parser is not None:
                    self.new_subscription()
            else:
                if self.markets is None:
                    await self._load_reference()
                self._check_subscription()
                if self.api == V3:
                    self._ws_key = await self._fetch_ws_key()
                await self._subscribe(link.socket)
            link.take = self._replay_message
            try:
                await link.closed()
            except FeedError:
                if self._failure is not None:
                    raise self._failure from None
                raise
        finally:
            self._ws = None
            self._cancel_snapshot()
            self._cancel_verify()
            self.stream.book.clear()

    def _replay_busy(self) -> bool:
        task = self._snapshot_task
        return self._sync is None or (task is not None and not task.done()) or self._waking

    def _frame_seconds(self) -> float:
        """The journal's monotonic receive stamp (s) of the message being replayed."""
        return self._frame_mono

    def _replay_message(self, frame) -> bool:
        """One recorded message, as `_read` handles one live; True when the feed needs
        the loop's turns before the next (see `ReplayLink.take`)."""
        if self._reader is None:  # resumed without the markets: nothing can be decoded
            return False
        self._frame_mono = frame.m / 1e9
        embedded = frame.j  # embedded JSON: its bytes in the journal, uncopied
        if embedded:
            self.on_frame(embedded)
        else:
            text = frame.data()
            if text == HEARTBEAT_PING:
                self.messages += 1
                return False
            self.on_frame(text)
        if self._failure is not None:
            self._link.close("session ended")
            return True
        return self._replay_busy()

    def checkpoint_context(self, stream: Stream) -> dict[str, Any] | None:
        """The market and its base token: read once a feed's life, from the first
        connection's replies, so a rotated part or a later seek point holds neither.
        And the verification figures shown then (when last verified, the mismatches:
        `vf`), which a replay starting there shows (a seek kept those of the timeline
        it left: "verified 0 s ago" at the journal's start, where live had not yet).
        And the feed's counts (`ct`: snapshots applied, refetched as too old, 429s,
        oversized replies), which a seek kept from the timeline left too."""
        extra = stream.extra
        context: dict[str, Any] = {"vf": [extra.get("verified_at"),
                                          extra.get("verify_mismatches") or 0,
                                          self._sync.mismatches if self._sync else 0],
                                   "ct": [self.snapshots, self.too_old_snapshots,
                                          self.rate_limited, self.oversized]}
        market = self.markets.get(self.market) if self.markets else None
        base = self.tokens.get(market.baseTokenId) if market is not None else None
        if base is not None:
            context.update(market=msgspec.to_builtins(market), base=msgspec.to_builtins(base))
        return context

    def seeked(self) -> None:
        self.stream.extra.update(verified_at=None, verify_mismatches=0)
        self._restored_mismatches = 0
        self.snapshots = self.too_old_snapshots = self.rate_limited = self.oversized = 0

    def restore_context(self, stream: Stream, context: dict[str, Any]) -> None:
        """A replay that starts at a checkpoint before it read the markets: its slot
        parser, and its resumed session's subscription, from the checkpoint's context;
        later connections then go on without the reference load live did not repeat.
        The verification figures of then in any case (not as written: as a start's)."""
        figures = context.get("vf")
        if (type(figures) is list and len(figures) == 3
                and (figures[0] is None or type(figures[0]) is int)
                and all(type(n) is int and n >= 0 for n in figures[1:])):
            stream.extra.update(verified_at=figures[0], verify_mismatches=figures[1])
            self._restored_mismatches = figures[2]  # the sync's own, for `restore_book`
        counts = context.get("ct")
        if type(counts) is list and len(counts) == 4 and all(
                type(n) is int and n >= 0 for n in counts):
            (self.snapshots, self.too_old_snapshots, self.rate_limited,
             self.oversized) = counts
        if self.markets is not None:
            return
        if "market" not in context or "base" not in context:
            return  # (not known yet when it was taken) this book waits for a snapshot
        # Present but not what a checkpoint holds: damage. Passed by as absent, the
        # book waited for a snapshot a checkpoint's journal never brings, and a replay
        # from here printed nothing and exited 0.
        try:
            market = msgspec.convert(context["market"], Market)
            base = msgspec.convert(context["base"], Token)
        except (TypeError, msgspec.ValidationError) as exc:
            raise ValueError(f"its context: {exc}") from None
        if market.market != self.market or market.baseTokenId != base.tokenId:
            raise ValueError(f"its context names market {abridged(market.market)} of base "
                             f"token {market.baseTokenId}, with base token {base.tokenId}")
        self.markets = {market.market: market}
        self.tokens = {base.tokenId: base}
        try:
            self._check_subscription()
        except FatalFeedError:
            self.markets, self.tokens = None, {}
            return
        if self._ws is not None:  # the resumed session, which had no parser to subscribe with
            self.new_subscription()

    def resumable(self, stream: Stream, line) -> bool:
        """Only at a checkpoint that holds the book at a version: a book being synced
        waits for a snapshot that the pushes buffered before the checkpoint bring
        forward, and before its first sync the markets may not be read yet (no `ckp`,
        so no `cx`). A checkpoint that fell due at a gap's line was taken after the
        sync had emptied the book and before the stream was marked unsynced: its empty
        book has no version, which `restore_book` cannot go on from."""
        return line is not None and line.ver is not None

    def restore_book(self, stream: Stream, book: OrderBook) -> None:
        """From a checkpoint: the book at its version; pushes after it apply as live. A
        replay that starts before the markets were ever read (no slot parser yet, and no
        context in the checkpoint: a journal written before it had one) cannot decode
        pushes."""
        if self._sync is None or self._parser is None or book.version is None:
            return
        self._sync.resume(book.version, book.bids.iter_levels(), book.asks.iter_levels())
        # the next mismatch counts on from the subscription's count of then, as live's did
        self._sync.mismatches = self._restored_mismatches
        stream.book.touch(book.venue_ts, book.version)
        stream.stale = False
        self.book_changed(stream, snapshot=True)

    async def _read(self, ws: ClientConnection) -> None:
        await self._subscribe(ws)
        tap = self.tap
        async for frame in ws:
            if tap is not None:  # the wire, before decoding
                tap.writer.frame(self.venue, self.conn, "ws", frame)
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
        if self.trades_enabled and self._trade_sequence is None:
            self._sequence += 1
            self._trade_sequence = self._sequence
            await ws.send(subscribe_trades_message(self.market, self._sequence))
            self._trades_task = asyncio.get_running_loop().create_task(
                self._fetch_recent_trades(), name="loopring-trades")
        if self.verify > 0 and (self._verify_task is None or self._verify_task.done()):
            self._verify_task = asyncio.get_running_loop().create_task(
                self._verify_loop(), name="loopring-verify")

    def new_subscription(self) -> None:
        """Step 1 for the current level: new reader, empty buffer, fresh book."""
        self._cancel_snapshot()
        if self.tap is not None and self.conn is not None:
            self.tap.writer.subscribe(self.venue, self.conn, self.market, level=self.level)
        self._reader = PushReader(self.market, self.level, self._parser)
        self._sync = DepthSync(self.stream.book, self._parser)
        self._fast = fast_path(self._reader, self._sync)
        # the fast path, then the push-interval mark and the notification, in one function
        # that binds what it reads once (`Feed.push_reader`), since it runs for every frame
        self.on_frame = self.push_reader(  # type: ignore[method-assign]
            self.stream, self._fast, self._not_fast, self._intervals)
        self._first_push = asyncio.Event()
        self._acked = asyncio.Event()
        self._intervals.restart()

    def on_frame(self, frame: str | bytes) -> None:
        """One WebSocket frame (not the heartbeat). Every subscription rebinds this name
        on the instance to its `Feed.push_reader` function, which does the same for its
        reader; before the first one there is nothing a frame could be read with."""
        self.messages += 1

    def _not_fast(self, frame: str | bytes, declined: BadPush | None) -> None:
        if declined is not None:  # our push with a bad value: the fast path has resynced
            self._bad_push(declined.reason, Step.RESYNC)
        else:
            self._full_path(frame)

    def _full_path(self, frame: str | bytes) -> None:
        """A frame the fast path declined: read and checked whole, then dispatched."""
        kind, payload = self._reader.read(frame)
        if kind is FrameKind.PUSH:
            self._on_push(payload)
        elif kind is FrameKind.MALFORMED:
            self._bad_push(payload, self._sync.on_bad_push())
        elif kind is FrameKind.UNDECODABLE:
            # not even JSON: it may have been anything, so no resync (a lost push of ours
            # shows as a gap at the next one)
            self.count_bad_frame(f"undecodable frame: {payload}")
        elif kind is FrameKind.SUB_REPLY:
            if payload.sequence is not None and payload.sequence == self._trade_sequence:
                self._on_trade_sub_reply(payload)
            else:
                self._on_sub_reply(payload)
        elif self.trades_enabled:
            self._on_trades(frame)
        # other FOREIGN frames (not an object, another topic) are ignored

    # -- trades -----------------------------------------------------------------------------
    def _on_trades(self, frame: str | bytes) -> None:
        """A `trade` push of our market goes on the tape; a bad one is counted and dropped
        whole (no book depends on it: no resync)."""
        push = read_trade_frame(frame)
        if push is None or not is_trade_topic(push.topic, self.market):
            return
        try:
            trades = decode_trade_push(push, self.market, self._parser.decimals)
        except BadNumber as exc:
            self.count_bad_frame(f"trade push: {exc}")
            return
        if trades:
            self.trades_printed(self.stream, trades)

    def _on_trade_sub_reply(self, reply: SubReply) -> None:
        if reply.op != "sub" or reply.result.status.lower() == "ok":
            self.stream.extra.pop("trades_error", None)
            return
        error = reply.result.error
        text = f"error {error.code if error else '?'}: {error.message if error else ''}".strip()
        self.stream.extra["trades_error"] = f"trade topic refused ({text})"
        log.warning("%s: trade subscription refused (%s); the book goes on", self.market, text)

    async def _fetch_recent_trades(self) -> None:
        """The market's recent prints (REST), once per connection: the tape's snapshot.
        Pushes that crossed it are not counted twice (the tape drops ids it has). A
        failure costs only these prints: the session goes on."""
        try:
            status, body = await self._get(TRADES_PATH, {"market": self.market,
                                                         "limit": RECENT_TRADES})
            reply = protocol.decode_reply(self.api, status, body, TradesReply)
            trades = decode_trades_reply(reply, self.market, self._parser.decimals)
        except asyncio.CancelledError:
            raise
        except (BadNumber, ProtocolError) as exc:
            self.count_bad_frame(f"recent trades reply: {exc}")
            return
        except (ApiError, FeedError) as exc:
            log.warning("%s: recent trades not fetched: %s", self.market, self.redact(str(exc)))
            return
        if trades:
            self.trades_printed(self.stream, trades, snapshot=True)

    def _cancel_trades(self) -> None:
        task, self._trades_task = self._trades_task, None
        if task is not None and not task.done():
            task.cancel()

    def _bad_push(self, reason: str, step: Step) -> None:
        self.count_bad_frame(f"{self._topic_text()}: {reason}")
        if step is Step.RESYNC:
            log.info("%s: resync (bad push: %s)", self._topic_text(), reason)
            self.unsync(self.stream, f"bad push: {reason}")
        self._ensure_snapshot()

    def _note_push(self) -> None:
        self._intervals.mark(time.monotonic())

    def _on_push(self, update: protocol.DepthPush) -> None:
        self._note_push()
        sync = self._sync
        local = sync.local
        step = sync.on_push(update)
        if step is Step.APPLIED:
            self._publish_push(update)
        elif step is Step.BUFFERED:
            self._first_push.set()
            self._ensure_snapshot()
        elif step is Step.RESYNC:
            reason = f"gap: push {update.start}-{update.end} after version {local}"
            if self.tap is not None:
                self.tap.writer.gap(self.venue, self.market, local, update.start, reason)
            log.info("%s: resync (%s)", self._topic_text(), reason)
            self.unsync(self.stream, reason)
            self._ensure_snapshot()
        elif step is Step.VERIFIED:
            self._publish_push(update)
            self._verified()
        elif step is Step.MISMATCH:
            self._mismatch()

    def _publish_push(self, update: protocol.DepthPush) -> None:
        stream = self.stream
        stream.book.touch(update.ts, self._sync.local)
        self.book_changed(stream)

    def _topic_text(self) -> str:
        """The subscription as this dialect names it: v3's `orderbook` topic, v2's
        `depth&M&L` (a v3 rejection had named the v2 form, which no v3 page mentions)."""
        reader = self._reader
        if self.api == V3:
            return f"orderbook {reader.market} level {reader.level}"
        return reader.topic

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
            f"subscription to {self._topic_text()} rejected (error {code}: {message})")

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

    def _cancel_verify(self) -> None:
        task, self._verify_task = self._verify_task, None
        if task is not None and not task.done():
            task.cancel()

    async def _snapshot_loop(self, sync: DepthSync) -> None:
        try:
            if not sync.buffer and self.transport is None:
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
            while sync is self._sync and not sync.synced:
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
                if self.transport is None:  # replay: the next reply comes when it came
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the reader owns the session: hand it over and end it
            await self._end_session(exc, "depth snapshot")

    async def _end_session(self, exc: BaseException, what: str) -> None:
        self._failure = exc if isinstance(exc, FatalFeedError | FeedError) else FeedError(
            f"{what}: {self.redact(describe_error(exc))}")
        ws = self._ws
        if ws is not None:
            await ws.close()

    # -- verification -----------------------------------------------------------------------
    async def _verify_loop(self) -> None:
        """Every `verify` seconds: record pushes, fetch a snapshot, compare (sync.py)."""
        try:
            while True:
                await self._wait(self.verify)
                await self._verify_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._end_session(exc, "verification")

    async def _wait(self, seconds: float) -> None:
        """`seconds` of the venue's time: in a replay, of the journal's, so a replay at
        any speed asks for its checks when the recorded session did (on this machine's
        clock a fast replay was over before its first check was asked for)."""
        replay = self.capabilities.replay
        if replay is None:
            await asyncio.sleep(seconds)
            return
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)
                self._waking = True  # busy: the player gives the loop turns until we run

        # (a seek forgets the timer, and it ends this session, which cancels the wait)
        replay.call_at(replay.clock().wall + int(seconds * 1e9), wake)
        try:
            await woken
        finally:
            self._waking = False

    async def _verify_once(self) -> None:
        sync = self._sync
        if sync is None or not sync.start_check():
            return  # not synced (or just resynced): the next round tries again
        try:
            if self.verify_lead > 0:
                await self._wait(self.verify_lead)
            snapshot = await self._fetch_depth(check=True)
        except BaseException:
            sync.cancel_check()
            raise
        if sync is not self._sync:
            return
        step = sync.on_check_snapshot(snapshot)
        if step is Step.VERIFIED:
            self._verified()
        elif step is Step.MISMATCH:
            self._mismatch()
        elif step is Step.CHECK_VOID:
            log.info("%s: verification inconclusive (snapshot %d older than the pushes "
                     "recorded for it); retrying next round", self.market, snapshot.version)

    def _verified(self) -> None:
        # a replay: when the check was answered then
        self.stream.extra["verified_at"] = int(wall_now(self.capabilities.replay) * 1000)

    def _mismatch(self) -> None:
        sync = self._sync
        self.stream.extra["verify_mismatches"] = sync.mismatches
        # (the topic names the market: "orderbook LRC-ETH level 0", "depth&LRC-ETH&0")
        log.warning("%s: verification mismatch #%d at %s; resyncing", self._topic_text(),
                    sync.mismatches, sync.mismatch)
        self.count_bad_frame(f"book differs from the venue's snapshot at {sync.mismatch}")
        self.unsync(self.stream, f"verification mismatch at {sync.mismatch}")
        self._ensure_snapshot()

    async def _fetch_depth(self, check: bool = False) -> protocol.DepthSnapshot:
        params = {"market": self.market, "level": self.level, "limit": self.limit}
        status, body = await self._get(self.depth_path, params, tag="check" if check else None)
        try:
            return protocol.decode_depth(self.api, status, body, self._parser, self.limit)
        except ApiError as exc:
            raise self._api_failure("depth", exc) from None
        except ProtocolError as exc:
            self.count_bad_frame(f"depth reply: {exc}")
            raise FeedError(f"bad depth reply: {exc}") from None

    # -- REST -------------------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any] | None = None,
                   tag: str | None = None) -> tuple[int, bytes]:
        """GET within the endpoint's rate limit, backing off while the venue answers 429;
        the body is read up to `max_reply_bytes` (more is a bad reply, retried). `tag`
        marks the journal line (a verification's snapshot is not a resync's)."""
        backoff = Backoff(self.refetch_delay, self.refetch_cap)
        replay = self.transport is not None
        while True:
            wait = self._last_request.get(path, 0.0) + self.min_request_interval - time.monotonic()
            if wait > 0 and not replay:
                await asyncio.sleep(wait)
            self._last_request[path] = time.monotonic()
            try:
                async with asyncio.timeout(None if replay else self.reply_deadline):
                    if replay:
                        status, headers, body = await self._replayed_reply(path, tag)
                    else:
                        status, headers, body = await self._read_reply(path, params)
                        self._record_reply(path, params, tag, status, body)
            except ReplyTooLarge:
                self.oversized += 1
                self.count_bad_frame(f"{path}: reply over {self.max_reply_bytes} bytes")
                raise FeedError(f"{path}: reply over the {self.max_reply_bytes}-byte limit") from None
            except ReplyEncoded as exc:
                self.count_bad_frame(f"{path}: reply in Content-Encoding {exc}, not asked for")
                raise FeedError(f"{path}: a compressed reply ({exc}), not asked for") from None
            except TimeoutError:
                raise FeedError(f"{path}: no complete reply in {self.reply_deadline:g}s") from None
            except httpx.HTTPError as exc:
                raise FeedError(f"{path}: {self.redact(describe_error(exc))}") from None
            if status != 429:
                return status, body
            self.rate_limited += 1
            retry_after = _retry_after(headers.get("Retry-After"))
            pause = max(backoff.next_delay(), retry_after or 0.0)
            self.set_state(FeedState.RESYNCING if self.markets else FeedState.CONNECTING,
                           f"rate limited (HTTP 429); retrying in {pause:.2f}s")
            if not replay:
                await asyncio.sleep(pause)

    def _record_reply(self, path: str, params: dict[str, Any] | None, tag: str | None,
                      status: int, body: bytes) -> None:
        tap = self.tap
        if tap is None:
            return
        if path == WS_KEY_PATH:  # the session's key is a secret: masked before it is written
            with contextlib.suppress(Exception):
                tap.add_secret(protocol.decode_ws_key(status, body))
        url = path + ("?" + urlencode(params) if params else "") + (f"#{tag}" if tag else "")
        tap.rest(self.conn, body, url, status)

    async def _replayed_reply(self, path: str, tag: str | None):
        frame = await self._link.request(path + (f"#{tag}" if tag else ""))
        body = frame.payload()
        return frame.st or 200, {}, body.encode() if isinstance(body, str) else body

    async def _read_reply(self, path: str, params: dict[str, Any] | None
                          ) -> tuple[int, httpx.Headers, bytes]:
        cap = self.max_reply_bytes
        client = await self._http.get()
        async with client.stream("GET", self.rest_url + path, params=params) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > cap:
                raise ReplyTooLarge
            # httpx decodes any Content-Encoding it is sent, asked for or not: one 64 kB
            # chunk of zstd decoded to 2 GB before the cap could look (docs/loopring.md,
            # "Limits"). The bytes are read raw, and a compressed reply is a bad one.
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding != "identity":
                raise ReplyEncoded(repr(encoding[:40]))
            chunks = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > cap:
                    raise ReplyTooLarge
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

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

    async def _fetch_ws_key(self) -> str:
        try:
            return protocol.decode_ws_key(*await self._get(WS_KEY_PATH))
        except ApiError as exc:
            raise self._api_failure("ws key", exc) from None
        except ProtocolError as exc:
            raise FeedError(f"bad {WS_KEY_PATH} reply: {exc}") from None

    def _api_failure(self, what: str, exc: ApiError) -> Exception:
        text = self.redact(str(exc))
        if exc.code in API_KEY_CODES:
            where = ("set in " + API_KEY_ENV) if self.api_key else ("none set; see " + API_KEY_ENV)
            return FatalFeedError(f"API key missing or rejected ({what} request: {text}; {where})")
        if exc.code in FATAL_CODES:
            return FatalFeedError(f"{what} request rejected ({text})")
        return FeedError(f"{what} request failed ({text})")

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




def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
