"""bthub feed: REST login, then one WebSocket carrying books, orders and risk (spec §2-§8).

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
import ssl
import time
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from obview.book import Level, OrderBook
from obview.events import RecordsChanged
from obview.feed import (
    FatalFeedError,
    Feed,
    FeedCapabilities,
    FeedError,
    FeedState,
    RecordKind,
    Stream,
    describe_error,
)
from obview.fmt import dec_str
from obview.venues.bthub.models import Order, RiskRow
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
REJECTED_RESULTS = {"UNAUTHORIZED", "REJECTED", "INVALID_DATA", "INVALID_REQUEST"}
PING_INTERVAL = 30.0  # spec §4 [decision]: well under the documented 30 minutes
STALE_AFTER = 10.0  # spec §8 [decision]
INSECURE_NOTE = "TLS NOT VERIFIED (--insecure)"

log = logging.getLogger("obview.bthub")
# websockets logs each handshake request line (with the token) at debug level: the
# client gets its own logger, filtered and held at info.
_ws_logger = logging.getLogger("obview.bthub.websockets")
_ws_logger.setLevel(logging.INFO)
install_filter("httpx", "httpcore", "websockets", "websockets.client", "asyncio",
               "obview.feed", "obview.bthub", "obview.bthub.websockets")


def _display_url(url: str) -> str:
    """The base URL for screens: no userinfo, no query, no fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def websocket_url(base_url: str, token: str, ws_url: str | None = None) -> str:
    """Spec §1: the configured WebSocket URL, else derived from the REST base (https -> wss,
    http -> ws, path /api/realtime); the token goes in the query either way."""
    parts = urlsplit(ws_url or base_url)
    scheme = parts.scheme.lower()
    if ws_url is None:
        scheme = {"https": "wss", "http": "ws"}.get(scheme, "")
    if scheme not in ("ws", "wss"):
        raise ValueError(f"bad bthub URL scheme {parts.scheme!r}")
    path = parts.path if ws_url else REALTIME_PATH
    return urlunsplit((scheme, parts.netloc, path, f"X-API-TOKEN={quote(token, safe='')}", ""))


class BthubFeed(Feed):
    venue = "bthub"
    capabilities = FeedCapabilities(records=(RecordKind.ORDERS, RecordKind.RISK))

    def __init__(
        self,
        symbols: Iterable[str],
        base_url: str,
        user: str,
        password: str,
        *,
        cp: str | None = None,
        book: str | None = None,
        insecure: bool = False,
        ping_interval: float = PING_INTERVAL,
        stale_after: float = STALE_AFTER,
        timeout: float = 10.0,
        ws_url: str | None = None,
    ) -> None:
        super().__init__()
        self.ws_url = ws_url  # spec §1: configurable; derived from base_url when None
        websocket_url(base_url, "check", ws_url)  # a bad scheme is a config error, now
        self.symbols = list(dict.fromkeys(symbols))
        self.base_url = base_url.rstrip("/")
        self._user = user
        self._password = password
        self.cp = cp
        self.risk_book = book
        self.insecure = insecure
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.timeout = timeout
        self.orders: dict[str, Order] = {}
        self.risk: dict[tuple[str, str, str], RiskRow] = {}
        self.records = {RecordKind.ORDERS: self.orders, RecordKind.RISK: self.risk}
        self.cps: list[str] = []  # from /market/cps when available
        self.symbol_info: dict[str, dict[str, Any]] = {}  # name -> scales, from /market/symbols
        self.logins = 0
        self._symbols_checked = False
        self._http: httpx.AsyncClient | None = None
        self._ws: ClientConnection | None = None  # the live connection, for set_risk_book
        add_secret(password)
        secure = urlsplit(self.base_url).scheme.lower() == "https"
        self.address = _display_url(self.base_url) + (f" {INSECURE_NOTE}" if insecure and secure else "")
        for symbol in self.symbols:
            self.streams[symbol] = Stream(symbol, OrderBook(sourced=True))

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
        """Every command sent when a connection opens (spec §4)."""
        commands = []
        for symbol in self.symbols:
            commands.append(f"subscribe:apiAggregatedQuote:{symbol}")
            commands.append(f"subscribe:apiQuote:{symbol}")
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

    def count_bad_frame(self, reason: str) -> None:
        super().count_bad_frame(redact(reason))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- session -----------------------------------------------------------------------
    async def _session(self) -> None:
        try:
            await self._connect_and_read()
        except (FatalFeedError, asyncio.CancelledError):
            raise
        except Exception as exc:
            reason = self._session_error(exc)
            log.info("bthub: session ended: %s", reason)
            raise FeedError(reason) from None
        finally:
            # Spec §8: keep the last values, visibly marked, until the next push.
            for stream in self.streams.values():
                stream.stale = True

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

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                verify=not self.insecure, timeout=self.timeout, follow_redirects=False
            )
        return self._http

    async def _connect_and_read(self) -> None:
        self.set_state(self.state, f"logging in to {self.address}")
        token = await self.login()
        if not self._symbols_checked:
            await self._check_symbols(token)
        url = websocket_url(self.base_url, token, self.ws_url)
        log.debug("bthub: opening %s", redact(url))
        ssl_context = None
        if url.startswith("wss:"):
            ssl_context = ssl.create_default_context()
            if self.insecure:
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
        async with connect(
            url,
            ssl=ssl_context,
            open_timeout=self.timeout,
            max_size=2**24,
            logger=_ws_logger,
            compression=None,
        ) as ws:
            log.info("bthub: connected to %s", self.address)
            for command in self.subscriptions():
                await ws.send(command)
            self._ws = ws
            self.set_state(self.state, f"subscribed at {self.address}")
            helpers = [
                asyncio.create_task(self._pinger(ws), name="bthub-ping"),
                asyncio.create_task(self._stale_watch(), name="bthub-stale"),
            ]
            try:
                async for message in ws:
                    self.on_frame(message)
            finally:
                self._ws = None
                for task in helpers:
                    task.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)

    async def set_risk_book(self, book: str | None) -> None:
        """Follow another risk book (None: none). The same book again changes nothing;
        the next connection subscribes whatever is current (spec §8)."""
        if book == self.risk_book:
            return
        old, self.risk_book = self.risk_book, book
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            if old:
                await ws.send(f"unsubscribe:apiRiskPosition:all:{old}")
            if book:
                await ws.send(f"subscribe:apiRiskPosition:all:{book}")

    async def login(self) -> str:
        """POST the login (spec §2) and return the token; rejection is fatal, the rest transient."""
        self.logins += 1
        url = httpx.URL(self.base_url + LOGIN_PATH,
                        params={"loginId": self._user, "password": self._password})
        log.debug("bthub: login POST %s", redact(str(url)))
        try:
            reply = await self._client().post(url)
        except httpx.HTTPError as exc:
            raise FeedError(f"login failed: {redact(describe_error(exc))}") from None
        result, data = None, None
        try:
            body = msgspec.json.decode(reply.content)
        except msgspec.DecodeError:
            body = None
        if isinstance(body, dict):
            result, data = body.get("result"), body.get("data")
        if reply.status_code in (401, 403) or result in REJECTED_RESULTS:
            why = result if isinstance(result, str) else f"HTTP {reply.status_code}"
            raise FatalFeedError(f"login rejected ({why})")
        if not 200 <= reply.status_code < 300:
            raise FeedError(f"login failed: HTTP {reply.status_code}")
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

    async def _rest_data(self, path: str, token: str) -> Any:
        """`data` of an authenticated GET, or None when it is unavailable (never fatal)."""
        try:
            reply = await self._client().get(self.base_url + path, headers={"X-API-TOKEN": token})
            body = msgspec.json.decode(reply.content)
        except (httpx.HTTPError, msgspec.DecodeError) as exc:
            log.info("bthub: %s unavailable: %s", path, redact(describe_error(exc)))
            return None
        if reply.status_code != 200 or not isinstance(body, dict) or body.get("result") != "SUCCESS":
            log.info("bthub: %s unavailable (HTTP %d)", path, reply.status_code)
            return None
        return body.get("data")

    async def _check_symbols(self, token: str) -> None:
        """Spec §3: unknown symbols are fatal when the hub lists its symbols; else carry on."""
        listed = await self._rest_data(SYMBOLS_PATH, token)
        if isinstance(listed, list):
            for entry in listed:
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
        cps = await self._rest_data(CPS_PATH, token)
        if isinstance(cps, list):
            self.cps = [c["name"] for c in cps if isinstance(c, dict) and isinstance(c.get("name"), str)]
        self._symbols_checked = True

    async def _pinger(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            await ws.send("ping")

    async def _stale_watch(self) -> None:
        period = max(0.01, min(1.0, self.stale_after / 4))
        while True:
            await asyncio.sleep(period)
            self.check_stale()

    def check_stale(self) -> None:
        """Mark streams without an update for `stale_after` seconds (values kept)."""
        now = time.monotonic()
        newly = []
        for stream in self.streams.values():
            seen = stream.book.recv_mono
            if not stream.stale and seen is not None and now - seen > self.stale_after:
                stream.stale = True
                newly.append(stream.key)
        if newly:
            self._show_staleness()

    def _show_staleness(self) -> None:
        stale = [s.key for s in self.streams.values() if s.stale]
        if stale:
            self.set_state(FeedState.STALE, f"no update for {self.stale_after:g}s: {', '.join(stale)}")

    # -- frames --------------------------------------------------------------------------
    def on_frame(self, message: str | bytes) -> None:
        """Apply one received frame, or drop and count it. Never raises on bad input."""
        self.messages += 1
        try:
            update = decode_frame(message)
        except BadFrame as exc:
            self.count_bad_frame(str(exc))
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

    def _apply_book(self, stream: Stream, bids: list[Level], asks: list[Level]) -> None:
        stream.book.replace(bids, asks)  # full snapshot per push (spec §5 [decision])
        stream.book.touch()
        stream.stale = False
        feed_was_stale = self.state is FeedState.STALE
        self.book_changed(stream, snapshot=not stream.synced)
        # Only the watchdog makes the feed STALE; after a reconnect the books are stale too,
        # but the state says "reconnecting" until every book has been pushed again.
        if feed_was_stale:
            if any(s.stale for s in self.streams.values()):
                self._show_staleness()
            elif self.state is FeedState.STALE:
                self.set_state(FeedState.SYNCED if all(s.synced for s in self.streams.values())
                               else FeedState.CONNECTING)

    def _apply_aggregated(self, update: AggregatedUpdate) -> None:
        stream = self.streams.get(update.symbol)
        if stream is None:
            return  # not ours: a stray push is not a bad frame
        self._apply_book(
            stream,
            [Level(p, v, 0, None, cp) for p, v, cp in update.bids],
            [Level(p, v, 0, None, cp) for p, v, cp in update.asks],
        )

    def _apply_quote(self, update: QuoteUpdate) -> None:
        if update.symbol not in self.symbols:
            return
        key = f"{update.symbol}@{update.cp}"
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(update.symbol, OrderBook(), source=update.cp)
        if update.commission is not None:
            stream.extra["commission"] = dec_str(update.commission)
        self._apply_book(
            stream,
            [Level(p, v) for p, v in update.bids],
            [Level(p, v) for p, v in update.asks],
        )

    def _apply_order(self, pushed: Order) -> None:
        kept = self.orders.get(pushed.order_id)
        merged = merge_order(kept, pushed)
        if merged != kept:
            self.orders[merged.order_id] = merged
            self.emit(RecordsChanged(self, "orders", [merged]))

    def _apply_risk(self, rows: list[RiskRow]) -> None:
        changed = []
        for row in rows:
            key = (row.book, row.cp, row.symbol)
            kept = self.risk.get(key)
            if kept is not None:
                if row.open_volume is None:
                    row.open_volume = kept.open_volume
                if row.open_amount is None:
                    row.open_amount = kept.open_amount
            if row != kept:
                self.risk[key] = row
                changed.append(row)
        if changed:
            self.emit(RecordsChanged(self, "risk", changed))
