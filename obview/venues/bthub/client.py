"""bthub feed: REST login, then one WebSocket carrying books, orders and risk (docs/bthub.md).

Each session logs in afresh (a token never serves two connections), checks the symbols
once, opens `…/api/realtime?X-API-TOKEN=…`, sends every subscription at once (no acks
exist), sends a text `ping` on a timer and applies pushes until the connection ends.
`Feed.run` does the reconnect loop; a rejected login raises `FatalFeedError` to stop it.

Streams: `SYMBOL` is the aggregated book (levels keyed by (price, cp), crossing shown
as received); `SYMBOL@cp` is one counterparty's book, created when that cp first
pushes. Every push is a full snapshot that replaces the book.

Secrets: the password travels in the login query string and the token in the WebSocket
URL. Neither is ever put in a log line, a status text, an error or `address`: every
text that leaves this module goes through `redact`, and the loggers of httpx and
websockets (which print request URLs at debug/info level) get a redacting filter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from obview.book import BookSide, Level, OrderBook
from obview.events import RecordsChanged
from obview.feed import (
    FatalFeedError,
    Feed,
    FeedCapabilities,
    FeedError,
    FeedState,
    RecordKind,
    SessionRestart,
    Stream,
    TradeKind,
    describe_error,
)
from obview.fmt import dec_str
from obview.tls import LazyHttpClient, tls_context
from obview.trades import BUY, SELL, Trade
from obview.venues import VenueConfig
from obview.venues.bthub.models import Order, RiskRow
from obview.venues.bthub.options import BthubOptions
from obview.venues.bthub.protocol import (
    AggregatedUpdate,
    BadFrame,
    OrderUpdate,
    QuoteUpdate,
    RiskUpdate,
    decode_frame,
    merge_order,
)
from obview.venues.bthub.redact import add_secret, install_filter, redact

LOGIN_PATH = "/api/v1/operator/login"
SYMBOLS_PATH = "/api/v1/market/symbols"
CPS_PATH = "/api/v1/market/cps"
REALTIME_PATH = "/api/realtime"
SYMBOL_TOPICS = ("apiAggregatedQuote", "apiQuote")  # per symbol (docs/bthub.md "Session")
REJECTED_RESULTS = {"UNAUTHORIZED", "REJECTED", "INVALID_DATA", "INVALID_REQUEST"}
INSECURE_NOTE = "TLS NOT VERIFIED (--insecure)"
# Bounds on what a server can make us hold (docs/bthub.md, "Limits").
MAX_REPLY_BYTES = 4 * 2**20  # one REST reply; real ones are a few KiB
MAX_FRAME_BYTES = 4 * 2**20  # one WebSocket message; a 100-level aggregated book is ~20 KiB
MAX_ORDERS = 500  # kept orders; finished ones are evicted first (a screen's worth, and more)
MAX_RISK_ROWS = 2000
MAX_CPS = 64  # counterparties followed (per /market/cps, or first seen when it is unknown)
MAX_CP_NAME = 64
YIELD_EVERY = 32  # frames applied between two yields to the event loop
RECORDS_EVERY = 0.2  # seconds between two announcements of changed orders / risk rows
MAX_COMMISSION_TEXT = 64  # a checkpoint's commission longer than this is damage
CLOSE_TIMEOUT = 0.25  # seconds to wait for the server's close frame on quit (a flood delays it)
FINISHED = frozenset({"EXECUTED", "EXPIRED", "REJECTED", "CANCELLED", "INTERRUPTED"})


class ReplyTooLarge(FeedError):
    """A REST reply over MAX_REPLY_BYTES: a bad reply, the session is retried."""

log = logging.getLogger("obview.bthub")
# websockets logs each handshake request line (with the token) at debug level: the
# client gets its own logger, filtered and held at info.
_ws_logger = logging.getLogger("obview.bthub.websockets")
_ws_logger.setLevel(logging.INFO)
install_filter("httpx", "httpcore", "websockets", "websockets.client", "asyncio",
               "obview.feed", "obview.bthub", "obview.bthub.websockets")


def _limit(name: str, value: int | None, default: int) -> int:
    """A configured size limit (docs/bthub.md "Limits"); below 1 KiB no real reply fits."""
    if not value:
        return default
    if int(value) < 1024:
        raise ValueError(f"bad {name} {int(value)}: at least 1024")
    return int(value)


def _display_url(url: str) -> str:
    """The base URL for screens: no userinfo, no query, no fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def websocket_url(base_url: str, token: str, ws_url: str | None = None) -> str:
    """The configured WebSocket URL, else derived from the REST base (https -> wss,
    http -> ws, path /api/realtime); the token goes in the query either way."""
    parts = urlsplit(ws_url or base_url)
    scheme = parts.scheme.lower()
    if ws_url is None:
        scheme = {"https": "wss", "http": "ws"}.get(scheme, "")
    if scheme not in ("ws", "wss"):
        raise ValueError(f"bad bthub URL scheme {parts.scheme!r}")
    path = parts.path if ws_url else REALTIME_PATH
    return urlunsplit((scheme, parts.netloc, path, f"X-API-TOKEN={quote(token, safe='')}", ""))


_FILL_SIDES = {"BUY": BUY, "SELL": SELL}


class BthubFeed(Feed):
    venue = "bthub"
    wire = "ws"
    channels = frozenset({"ws", "rest"})
    # the tape: the account's fills from API_ORDER, never the market's prints; a level
    # is a counterparty's price and size, with no order count
    capabilities = FeedCapabilities(records=(RecordKind.ORDERS, RecordKind.RISK),
                                    trades=TradeKind.OWN, order_counts=False)

    def __init__(self, cfg: VenueConfig) -> None:
        super().__init__()
        self.trades_enabled = True  # apiOrder is subscribed anyway: own fills cost nothing
        o: BthubOptions = cfg.options
        symbols, base_url, user, password = cfg.symbols, o.url, o.user or "", o.password or ""
        cp, book, insecure, ws_url = o.cp, o.book, o.insecure, o.ws_url
        ping_interval, stale_after, timeout = o.ping_interval, o.stale_after, o.timeout
        self.ws_url = ws_url  # configurable; derived from base_url when None (docs/bthub.md "Session")
        websocket_url(base_url, "check", ws_url)  # a bad scheme is a config error, now
        self.symbols = list(dict.fromkeys(symbols))
        self._symbol_set = frozenset(self.symbols)
        self.base_url = base_url.rstrip("/")
        self._user = user
        self._password = password
        self.cp = cp
        self.risk_book = book
        if not book:  # risk rows come only for a book followed (docs/bthub.md): no risk tab
            self.capabilities = replace(type(self).capabilities, records=(RecordKind.ORDERS,))
        self.insecure = insecure
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.timeout = timeout
        self.orders: dict[str, Order] = {}  # only the requested symbols', oldest first
        self._finished: dict[str, None] = {}  # ids of finished orders, in finishing order
        self.orders_evicted = 0
        self.risk: dict[tuple[str, str, str], RiskRow] = {}
        self.records = {RecordKind.ORDERS: self.orders, RecordKind.RISK: self.risk}
        self.cps: list[str] = []  # from /market/cps when available
        self.max_reply_bytes = _limit("max_reply_bytes", o.max_reply_bytes, MAX_REPLY_BYTES)
        self.max_frame_bytes = _limit("max_frame_bytes", o.max_frame_bytes, MAX_FRAME_BYTES)
        self._pending_records: dict[str, dict[Any, Any]] = {}  # coalesced RecordsChanged
        self._flush_scheduled = False
        self._last_flush = 0.0
        self._flush_due = 0  # replay: the journal time (ns) the announcement is due
        self.symbol_info: dict[str, dict[str, Any]] = {}  # name -> scales, from /market/symbols
        self.logins = 0
        self._symbols_checked = False
        # identity: replies are read raw, so the byte cap counts what came (a compressed
        # one could expand past it within a chunk); httpx's default asks for gzip, and a
        # hub compressing JSON when asked sent a login reply nothing here could read
        self._http = LazyHttpClient(insecure=insecure, timeout=timeout,
                                    follow_redirects=False,
                                    headers={"Accept-Encoding": "identity"})
        self._ws: ClientConnection | None = None  # the live connection
        add_secret(password)
        secure = urlsplit(self.base_url).scheme.lower() == "https"
        self.address = _display_url(self.base_url) + (f" {INSECURE_NOTE}" if insecure and secure else "")
        if cp:  # first, so the screen opens on the book that was asked for
            for symbol in self.symbols:
                self.streams[f"{symbol}@{cp}"] = Stream(symbol, OrderBook(), source=cp)
        for symbol in self.symbols:
            self.streams[symbol] = Stream(symbol, OrderBook(sourced=True))

    @property
    def symbol_column(self) -> bool:
        """Records tables and lines need a symbol column: more than one symbol is shown."""
        return len(self.symbols) > 1

    def owns_symbol(self, symbol: str) -> bool:
        """A record's symbol is one of ours: the same name, or the name with a numeric
        suffix as risk rows write it (`BTCUSDT10`, docs/bthub.md "Symbols, orders and risk")."""
        if symbol in self._symbol_set:
            return True
        stem = symbol.rstrip("0123456789")
        return stem != symbol and stem in self._symbol_set

    # -- what headless shows ---------------------------------------------------------
    def headless_streams(self) -> set[str]:
        if self.cp:
            return {f"{symbol}@{self.cp}" for symbol in self.symbols}
        return set(self.symbols)

    def price_scale(self, symbol: str) -> int | None:
        """Decimals of the symbol's prices per /market/symbols, None when not known."""
        scale = self.symbol_info.get(symbol, {}).get("tradingPriceScale")
        return scale if isinstance(scale, int) and not isinstance(scale, bool) else None

    def subscriptions(self) -> list[str]:
        """Every command sent when a connection opens (docs/bthub.md "Session")."""
        commands = []
        for symbol in self.symbols:
            commands += [f"subscribe:{topic}:{symbol}" for topic in SYMBOL_TOPICS]
        commands.append("subscribe:apiOrder")
        if self.risk_book:
            commands.append(f"subscribe:apiRiskPosition:all:{self.risk_book}")
        return commands

    # -- status ------------------------------------------------------------------------
    def set_state(self, state: FeedState, text: str = "") -> None:
        text = redact(text)
        if self.insecure and INSECURE_NOTE not in text:
            text = f"{text} · {INSECURE_NOTE}" if text else INSECURE_NOTE
        super().set_state(state, text)

    def count_bad_frame(self, reason: str, frames: int = 1) -> None:
        super().count_bad_frame(redact(reason), frames)

    async def close(self) -> None:
        """Close the live WebSocket with 1000 (normal) and the HTTP client. Cancelling
        the read loop alone would close with 1011: the library's `async with` takes any
        exception, cancellation included, for an internal error."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await _close_normally(ws)
        await self._http.aclose()

    # -- session -----------------------------------------------------------------------
    async def _session(self) -> None:
        try:
            await self._connect_and_read()
        except (FatalFeedError, SessionRestart, asyncio.CancelledError):
            raise  # (a restart, a replay's seek, is no lost connection: Feed counts none)
        except Exception as exc:
            if isinstance(exc, websockets.ConnectionClosed) and exc.sent is not None \
                    and exc.sent.code == 1009:
                self.count_unjournaled_bad_frame(f"frame over {self.max_frame_bytes} bytes")
            reason = self._session_error(exc)
            log.info("bthub: session ended: %s", reason)
            raise FeedError(reason) from None
        finally:
            self._flush_records()
            # the books stay shown, marked stale until their next push: the base feed does it

    @staticmethod
    def _session_error(exc: Exception) -> str:
        """One redacted line: library errors may embed the URL, i.e. the token."""
        if isinstance(exc, FeedError):
            return redact(str(exc))
        if isinstance(exc, websockets.InvalidStatus):
            return f"WebSocket refused: HTTP {exc.response.status_code}"
        if isinstance(exc, websockets.ConnectionClosed):
            return redact(f"connection lost: {describe_error(exc)}")
        if isinstance(exc, OSError | EOFError | TimeoutError | websockets.WebSocketException):
            return redact(describe_error(exc))
        # a bug: keep the traceback in the log (redacted) and let Feed.run retry
        log.error("bthub: session failed: %s", redact(traceback.format_exc()))
        return f"internal error: {redact(describe_error(exc))}"

    async def _replay_session(self) -> None:
        """A recorded session stands in for the hub (docs/replay.md): the same login and
        symbol checks read the recorded replies; the frames go to the same `on_frame`."""
        link = self._link = await self.transport.connection()
        link.busy = self._replay_busy
        if not link.resumed:
            await self.login()
            if not self._symbols_checked:
                await self._check_symbols("")
        self._ws = link.socket
        link.take = self._replay_message
        try:
            await link.closed()
        finally:
            self._ws = None

    def _replay_busy(self) -> bool:
        return self._ws is None  # logging in, checking the symbols

    def _replay_message(self, frame) -> bool:
        """One recorded message; True while the session needs the loop's turns (see
        `ReplayLink.take`)."""
        self.on_frame(frame.payload())
        return self._replay_busy()

    async def _connect_and_read(self) -> None:
        self.set_state(self.state, f"logging in to {self.address}")
        if self.transport is not None:
            await self._replay_session()
            return
        self.record_connect(self.wire, self.address)  # the REST replies go on the same number
        token = await self.login()
        if not self._symbols_checked:
            await self._check_symbols(token)
        url = websocket_url(self.base_url, token, self.ws_url)
        log.debug("bthub: opening %s", redact(url))
        ssl_context = await tls_context("ws", self.insecure) if url.startswith("wss:") else None
        ws = await connect(
            url,
            ssl=ssl_context,
            open_timeout=self.timeout,
            close_timeout=CLOSE_TIMEOUT,
            max_size=self.max_frame_bytes,
            logger=_ws_logger,
            compression=None,
        )
        helpers: list[asyncio.Task] = []
        try:
            log.info("bthub: connected to %s", self.address)
            for command in self.subscriptions():
                await ws.send(command)
            if self.tap is not None:  # what this connection asked for, in the journal
                for symbol in self.symbols:
                    self.tap.writer.subscribe(self.venue, self.conn, symbol,
                                              topics=list(SYMBOL_TOPICS),
                                              risk_book=self.risk_book)
            self._ws = ws
            self.set_state(self.state, f"subscribed at {self.address}")
            helpers = [
                asyncio.create_task(self._pinger(ws), name="bthub-ping"),
            ]
            applied = 0
            tap = self.tap
            async for message in ws:
                if tap is not None:  # the wire, before decoding
                    tap.writer.frame(self.venue, self.conn, "ws", message)
                self.on_frame(message)
                applied += 1
                if applied % YIELD_EVERY == 0:
                    # Frames already buffered are handed over without suspending: give
                    # the app (keys, quit, painting) its turn under any flood.
                    await asyncio.sleep(0)
        finally:
            self._ws = None
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await _close_normally(ws)

    async def login(self) -> str:
        """POST the login (docs/bthub.md "Session") and return the token; rejection is fatal, the rest transient."""
        self.logins += 1
        url = httpx.URL(self.base_url + LOGIN_PATH,
                        params={"loginId": self._user, "password": self._password})
        log.debug("bthub: login POST %s", redact(str(url)))
        try:
            status, content = await self._request("POST", url)
        except ReplyTooLarge as exc:
            self.count_bad_frame(f"login reply: {exc}")
            raise FeedError(f"login failed: {exc}") from None
        except (httpx.HTTPError, TimeoutError) as exc:
            raise FeedError(f"login failed: {redact(describe_error(exc))}") from None
        result, data = None, None
        body = _json_body(content)
        if self.tap is not None:
            # the token is a secret: registered with the journal before its reply is written
            found = body.get("data") if isinstance(body, dict) else None
            if isinstance(found, dict) and isinstance(found.get("token"), str):
                self.tap.add_secret(found["token"])
            self._record(LOGIN_PATH, status, content)
        if isinstance(body, dict):
            result, data = body.get("result"), body.get("data")
        if status in (401, 403) or result in REJECTED_RESULTS:
            why = result if isinstance(result, str) else f"HTTP {status}"
            raise FatalFeedError(f"login rejected ({why})")
        if not 200 <= status < 300:
            raise FeedError(f"login failed: HTTP {status}")
        if body is None:
            raise FeedError("login failed: reply is not JSON")
        if result != "SUCCESS":
            raise FeedError(f"login failed: result {str(result)[:40]}")
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise FeedError("login failed: no token in the reply")
        add_secret(token)
        log.info("bthub: logged in to %s", self.address)
        return token

    def _record(self, path: str, status: int, content: bytes) -> None:
        """A REST reply into the journal (the path only: the login query has the password)."""
        if self.tap is not None and self.transport is None:
            self.tap.rest(self.conn, content, path, status)

    async def _request(self, method: str, url: httpx.URL | str,
                       headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) of one request, read up to `max_reply_bytes` and within
        `timeout` as a whole: a reply that never ends is cut, not accumulated."""
        if self.transport is not None:  # replay: the recorded reply to this path
            frame = await self._link.request(httpx.URL(str(url)).path)
            body = frame.payload()
            return frame.st or 200, body.encode() if isinstance(body, str) else body
        limit = self.max_reply_bytes
        async with asyncio.timeout(self.timeout):
            client = await self._http.get()
            async with client.stream(method, url, headers=headers) as reply:
                declared = reply.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise ReplyTooLarge(f"reply of {declared} bytes (limit {limit})")
                chunks, size = [], 0
                async for chunk in reply.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise ReplyTooLarge(f"reply over {limit} bytes")
                    chunks.append(chunk)
                return reply.status_code, b"".join(chunks)

    async def _rest_data(self, path: str, token: str) -> Any:
        """`data` of an authenticated GET, or None when it is unavailable (never fatal;
        an oversized reply is a bad reply: counted, and the session is retried)."""
        try:
            status, content = await self._request("GET", self.base_url + path,
                                                  headers={"X-API-TOKEN": token})
        except ReplyTooLarge as exc:
            self.count_bad_frame(f"{path}: {exc}")
            raise
        except (httpx.HTTPError, TimeoutError) as exc:
            log.info("bthub: %s unavailable: %s", path, redact(describe_error(exc)))
            return None
        self._record(path, status, content)
        body = _json_body(content)
        if status != 200 or not isinstance(body, dict) or body.get("result") != "SUCCESS":
            log.info("bthub: %s unavailable (HTTP %d)", path, status)
            return None
        return body.get("data")

    async def _check_symbols(self, token: str) -> None:
        """Unknown symbols are fatal when the hub lists its symbols; else carry on.
        The counterparty list bounds which cps become streams (docs/bthub.md, "Limits")."""
        listed = await self._rest_data(SYMBOLS_PATH, token)
        if isinstance(listed, list):
            for entry in listed[:10_000]:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    self.symbol_info[entry["name"]] = {
                        k: entry.get(k) for k in ("tradingPriceScale", "tradingVolumeScale")
                    }
            if self.symbol_info:
                unknown = [s for s in self.symbols if s not in self.symbol_info]
                if unknown:
                    valid = sorted(self.symbol_info)
                    shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
                    raise FatalFeedError(f"unknown symbol {', '.join(unknown)} (valid: {shown})")
        await self._load_cps(token)
        if self.cp and self.cps and self.cp not in self.cps:
            raise FatalFeedError(self.unknown_cp_message())
        self._symbols_checked = True

    async def _load_cps(self, token: str) -> None:
        cps = await self._rest_data(CPS_PATH, token)
        if isinstance(cps, list):
            names = [c["name"] for c in cps if isinstance(c, dict) and _sane_cp(c.get("name"))]
            self.cps = list(dict.fromkeys(names))[:MAX_CPS]
            if len(names) > MAX_CPS:
                log.warning("bthub: %d counterparties listed; following the first %d",
                            len(names), MAX_CPS)

    def unknown_cp_message(self) -> str:
        return f"unknown counterparty {self.cp!r} (known: {', '.join(self.cps)})"

    async def check_cp(self, within: float = 5.0) -> None:
        """Before the feed runs: an unknown `cp` is a usage error (ValueError), told at
        once. If the hub cannot be asked now, the session checks it later (fatally)."""
        if not self.cp:
            return
        try:
            async with asyncio.timeout(within):
                token = await self.login()
                await self._load_cps(token)
        except (FeedError, FatalFeedError, TimeoutError, OSError, httpx.HTTPError) as exc:
            log.info("bthub: counterparty check skipped: %s", redact(describe_error(exc)))
            return
        if self.cps and self.cp not in self.cps:
            raise ValueError(self.unknown_cp_message())

    async def _pinger(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await ws.send("ping")

    # -- frames --------------------------------------------------------------------------
    def on_frame(self, message: str | bytes) -> None:
        """Apply one received frame, or drop and count it. Never raises on bad input."""
        self.messages += 1
        try:
            update = decode_frame(message)
        except BadFrame as exc:
            self.count_bad_frame(str(exc))
            return
        except Exception as exc:  # whatever a decoder may still raise: bad, never fatal
            log.debug("bthub: undecodable frame", exc_info=True)
            self.count_bad_frame(f"undecodable frame ({type(exc).__name__})")
            return
        if update is None:
            return
        if isinstance(update, AggregatedUpdate):
            self._apply_aggregated(update)
        elif isinstance(update, QuoteUpdate):
            self._apply_quote(update)
        elif isinstance(update, OrderUpdate):
            self._apply_order(update.order)
        elif isinstance(update, RiskUpdate):
            self._apply_risk(update.rows)

    def _fresh_sides(self, bids: list[Level], asks: list[Level],
                     sourced: bool) -> tuple[BookSide, BookSide] | None:
        """Both sides built anew; None (frame counted bad) when a side lists the same
        price (per cp when sourced) twice: the side's dict then holds fewer levels."""
        fresh_bids, fresh_asks = BookSide(True, sourced), BookSide(False, sourced)
        fresh_bids.replace(bids)
        fresh_asks.replace(asks)
        if len(fresh_bids) != len(bids) or len(fresh_asks) != len(asks):
            self.count_bad_frame("the same price twice in one side of a book")
            return None
        return fresh_bids, fresh_asks

    def _apply_book(self, stream: Stream, sides: tuple[BookSide, BookSide]) -> None:
        book = stream.book
        book.bids, book.asks = sides  # full snapshot per push (docs/bthub.md "Frames")
        book.touch()
        self.book_changed(stream, snapshot=not stream.synced)  # clears the stream's staleness

    def _apply_aggregated(self, update: AggregatedUpdate) -> None:
        sides = self._fresh_sides([Level(p, v, 0, None, cp) for p, v, cp in update.bids],
                                  [Level(p, v, 0, None, cp) for p, v, cp in update.asks], True)
        if sides is None:
            return
        stream = self.streams.get(update.symbol)
        if stream is None:
            return  # not ours: a stray push is not a bad frame
        self._apply_book(stream, sides)

    def _apply_quote(self, update: QuoteUpdate) -> None:
        sides = self._fresh_sides([Level(p, v) for p, v in update.bids],
                                  [Level(p, v) for p, v in update.asks], False)
        if sides is None or update.symbol not in self._symbol_set:
            return
        key = f"{update.symbol}@{update.cp}"
        stream = self.streams.get(key)
        if stream is None:
            refusal = self._refuse_cp(update.cp)
            if refusal:
                self.count_bad_frame(refusal)
                return
            stream = self._add_source(update.symbol, update.cp)
        if update.commission is not None:
            stream.extra["commission"] = dec_str(update.commission)
        self._apply_book(stream, sides)

    def _refuse_cp(self, cp: str) -> str:
        """Why a counterparty gets no stream ("" = it may have one): not listed by the
        hub, an unusable name, or over the cap (docs/bthub.md, "Limits")."""
        if self.cps:
            return "" if cp in self.cps else f"counterparty {cp[:MAX_CP_NAME]!r} is not listed by the hub"
        if not _sane_cp(cp):
            return "unusable counterparty name"
        followed = {s.source for s in self.streams.values() if s.source is not None}
        if cp not in followed and len(followed) >= MAX_CPS:
            return f"more than {MAX_CPS} counterparties"
        return ""

    def _apply_order(self, pushed: Order) -> None:
        kept = self.orders.get(pushed.order_id)
        if kept is None and not self.owns_symbol(pushed.symbol):
            return  # another symbol's order (or none named): not shown here
        merged = merge_order(kept, pushed)
        if merged == kept:
            return
        if kept is None:
            self._make_room_for_order()
        self._own_fills(kept, merged)
        self.orders[merged.order_id] = merged
        if merged.status in FINISHED:
            self._finished[merged.order_id] = None
        else:
            self._finished.pop(merged.order_id, None)
        self._queue_records("orders", merged.order_id, merged)

    def _own_fills(self, kept: Order | None, merged: Order) -> None:
        """The order's executions not seen before go on its symbol's tape as own fills
        (docs/bthub.md, "Trades"); an execution without a price or volume is skipped."""
        stream = self.streams.get(merged.symbol)
        if stream is None:
            return
        seen: set[str] = set()
        if kept is not None:
            for child in kept.cp_orders.values():
                seen.update(child.executions)
        mono, recv_ts = time.monotonic(), int(time.time() * 1000)
        fills = []
        for child in merged.cp_orders.values():
            for ex in child.executions.values():
                if ex.exec_id in seen or not ex.price or ex.volume is None or ex.volume <= 0:
                    continue
                fills.append(Trade(
                    mono, ex.price, ex.volume, _FILL_SIDES.get(ex.side or merged.side),
                    venue=self.venue, symbol=merged.symbol, venue_ts=ex.time_ms,
                    recv_ts=recv_ts, turnover=ex.amount, sequence=ex.exec_id, own=True,
                    source=ex.cp or child.cp or None))
        if fills:
            fills.sort(key=lambda t: t.venue_ts or 0)
            self.trades_printed(stream, fills)

    def _make_room_for_order(self) -> None:
        """At the cap, evict the oldest finished order, else the oldest of all."""
        while len(self.orders) >= MAX_ORDERS:
            victim = next(iter(self._finished), None) or next(iter(self.orders))
            self._finished.pop(victim, None)
            del self.orders[victim]
            self.orders_evicted += 1

    def _apply_risk(self, rows: list[RiskRow]) -> None:
        for row in rows:
            if not self.owns_symbol(row.symbol):
                continue
            key = (row.book, row.cp, row.symbol)
            kept = self.risk.get(key)
            if kept is None and len(self.risk) >= MAX_RISK_ROWS:
                self.count_bad_frame(f"more than {MAX_RISK_ROWS} risk rows")
                return
            if kept is not None:
                if row.open_volume is None:
                    row.open_volume = kept.open_volume
                if row.open_amount is None:
                    row.open_amount = kept.open_amount
            if row != kept:
                self.risk[key] = row
                self._queue_records("risk", key, row)

    # -- replay seeks -------------------------------------------------------------------
    def checkpoint_context(self, stream: Stream) -> dict[str, Any] | None:
        """A source's commission as its last quote gave it (`cm`): a replay starting
        there shows it before the source's next quote, as live did."""
        commission = stream.extra.get("commission")
        return None if commission is None else {"cm": commission}

    def checkpoint_stream(self, key: str) -> Stream | None:
        # a source's book is made when its first quote comes: a replay starting at a
        # checkpoint (a --from) had none yet, and its book there was passed by
        stream = self.streams.get(key)
        symbol, _, cp = key.partition("@")
        if stream is None and cp and symbol in self._symbol_set and not self._refuse_cp(cp):
            stream = self._add_source(symbol, cp)
        return stream

    def _add_source(self, symbol: str, cp: str) -> Stream:
        """A counterparty's own book of `symbol`, made at its first quote (or restored)."""
        stream = self.streams[f"{symbol}@{cp}"] = Stream(symbol, OrderBook(), source=cp)
        return stream

    def restore_context(self, stream: Stream, context: dict[str, Any]) -> None:
        commission = context.get("cm")
        if type(commission) is str and len(commission) <= MAX_COMMISSION_TEXT:
            with contextlib.suppress(ArithmeticError, ValueError):
                value = Decimal(commission)
                if value.is_finite():  # (else damage: as a start's, none)
                    stream.extra["commission"] = dec_str(value)

    def seeked(self) -> None:
        # the commissions of the timeline left: a source shows none until its quote (or
        # the checkpoint) gives it back, as at the start live (home from the end had
        # shown the end's)
        for stream in self.streams.values():
            stream.extra.pop("commission", None)

    def forget_records(self) -> None:
        self._finished.clear()  # (ids of orders forgotten: eviction would find none)
        self.orders_evicted = 0  # (a checkpoint's orders give back the count of then)
        self._pending_records.clear()
        # the seek forgot the timer of the announcement due (its session's end announces
        # too, which is what reset this: not left to it)
        self._flush_scheduled = False
        super().forget_records()

    def records_context(self, kind: str) -> dict[str, Any] | None:
        if kind != RecordKind.ORDERS:
            return None
        # the order the finished orders finished in (eviction at the cap takes the first),
        # which is not the orders' own order when several are open at once
        return {"fin": list(self._finished), "ev": self.orders_evicted}

    def restore_records(self, kind: str, rows: list[Any], context: Any = None) -> None:
        # the restore announces every row itself: nothing of the timeline left is due
        self._pending_records.pop(kind, None)
        super().restore_records(kind, rows, context)
        if kind == RecordKind.ORDERS:
            fin, evicted = _orders_context(context)
            finished = [oid for oid, order in self.orders.items() if order.status in FINISHED]
            # in the order they finished in, as live's eviction takes them; a finished
            # order the context does not list (none: a journal written before it) after
            # those, in the orders' order
            listed = set(fin) & set(finished)
            self._finished = dict.fromkeys(
                [oid for oid in dict.fromkeys(fin) if oid in listed]
                + [oid for oid in finished if oid not in listed])
            self.orders_evicted = evicted

    # -- coalesced record events ------------------------------------------------------------
    def _queue_records(self, kind: str, key: Any, row: Any) -> None:
        """Changed rows are announced at once after a quiet spell, then at most every
        RECORDS_EVERY seconds with the latest state of each row: under an order flood a
        screen rebuilds its table a few times a second, not once per push. In a replay on
        the journal's time, as live did on the clock: on this machine's clock a replay
        at max speed merged a whole session's order events into a handful of lines."""
        self._pending_records.setdefault(kind, {})[key] = row
        if self._flush_scheduled:
            return
        replay = self.capabilities.replay
        if replay is not None:
            self._flush_scheduled = True
            now = replay.clock().wall
            due = int((self._last_flush + RECORDS_EVERY) * 1e9)
            if not now < due <= now + int(RECORDS_EVERY * 1e9):
                # before the next line (live: the next loop turn); also after a seek back
                # to before the last announcement
                due = now
            self._flush_due = due
            replay.call_at(due, self._flush_records)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a direct call): announce at once
            self._flush_records()
            return
        self._flush_scheduled = True
        wait = self._last_flush + RECORDS_EVERY - time.monotonic()
        if wait > 0:
            loop.call_later(wait, self._flush_records)
        else:
            loop.call_soon(self._flush_records)

    def _flush_records(self) -> None:
        self._flush_scheduled = False
        replay = self.capabilities.replay
        # (in a replay the journal's clock stands at the line before the one due, where
        # live's clock had reached the time due)
        self._last_flush = (time.monotonic() if replay is None
                            else max(replay.clock().wall, self._flush_due) / 1e9)
        pending, self._pending_records = self._pending_records, {}
        for kind, rows in pending.items():
            self.emit(RecordsChanged(self, kind, list(rows.values())))


def _orders_context(context: Any) -> tuple[list[str], int]:
    """The finishing order and the evicted count of a `rec` line's `cx` (see
    `BthubFeed.records_context`); what is missing or not as written: none, 0."""
    if not isinstance(context, dict):
        return [], 0
    fin = context.get("fin")
    evicted = context.get("ev")
    if not isinstance(fin, list) or not all(isinstance(oid, str) for oid in fin):
        fin = []
    # (past 64 bits no session evicted so many: damage, shown as a count of 2**70)
    if type(evicted) is not int or not 0 <= evicted <= (1 << 63) - 1:
        evicted = 0
    return fin, evicted


def _sane_cp(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_CP_NAME and name.isprintable()


def _json_body(content: bytes) -> Any:
    """A REST body as JSON, or None when it is not JSON (a deep nesting included)."""
    try:
        return msgspec.json.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return None


async def _close_normally(ws: ClientConnection) -> None:
    """Close with 1000, waiting at most CLOSE_TIMEOUT for the server; never raises."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await ws.close(1000)

