"""The bthub feed against the simulator over real loopback sockets: login, books, orders,
risk, staleness and every fault switch."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections import Counter
from decimal import Decimal

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from obview.events import FeedFailed, RecordsChanged, StatusChanged
from obview.feed import Backoff, FeedState
from obview.venues import config
from obview.venues.bthub.client import INSECURE_NOTE, BthubFeed, websocket_url
from obview.venues.bthub.market import CPS
from obview.venues.bthub.redact import redact
from obview.venues.bthub.sim import DEMO_PASSWORD, DEMO_USER, TOKEN_PREFIX, BthubSimulator
from tests.conftest import wait_until

SYM = "BTCUSDT"


@contextlib.asynccontextmanager
async def hub(faults: dict[str, str] | None = None, *, run: bool = True, user: str = DEMO_USER,
              password: str = DEMO_PASSWORD, ssl_context: ssl.SSLContext | None = None,
              url: str | None = None, **feed_kw):
    """A simulator on 127.0.0.1:0 and a feed running against it; both closed afterwards."""
    sim = await BthubSimulator(seed=7, faults=faults or {}).start(ssl_context=ssl_context)
    feed = BthubFeed(config("bthub", [SYM], url=url or sim.url, user=user, password=password, **feed_kw))
    feed.backoff = Backoff(initial=0.02, cap=0.1)
    events: list = []
    statuses: list[tuple[FeedState, str]] = []  # as they were when announced

    def listen(event) -> None:
        events.append(event)
        if isinstance(event, StatusChanged):
            statuses.append((event.feed.state, event.feed.status_text))

    feed.add_listener(listen)
    feed.events, feed.statuses = events, statuses  # type: ignore[attr-defined]
    task = asyncio.create_task(feed.run()) if run else None
    feed.run_task = task  # type: ignore[attr-defined]
    try:
        yield sim, feed
    finally:
        feed.stop()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await feed.close()
        await sim.close()


def levels(side) -> list[tuple]:
    return [(lv.price, lv.size, lv.source) for lv in side.iter_levels()]


def cp_books_match_sim(feed: BthubFeed, sim: BthubSimulator) -> bool:
    for cp in CPS:
        stream = feed.streams.get(f"{SYM}@{cp}")
        if stream is None:
            return False
        bids, asks = sim.market.books[(SYM, cp)]
        if [(p, v) for p, v, _ in levels(stream.book.bids)] != bids:
            return False
        if [(p, v) for p, v, _ in levels(stream.book.asks)] != asks:
            return False
    bids, asks = sim.market.merged(SYM)
    agg = feed.streams[SYM].book
    return Counter(levels(agg.bids)) == Counter(bids) and Counter(levels(agg.asks)) == Counter(asks)


def merge_of_cp_books(feed: BthubFeed) -> tuple[Counter, Counter]:
    bids, asks = Counter(), Counter()
    for cp in CPS:
        book = feed.streams[f"{SYM}@{cp}"].book
        bids.update((lv.price, lv.size, cp) for lv in book.bids.iter_levels())
        asks.update((lv.price, lv.size, cp) for lv in book.asks.iter_levels())
    return bids, asks


def synced(feed: BthubFeed) -> bool:
    return feed.state is FeedState.SYNCED and len(feed.streams) == 4


# -- login ---------------------------------------------------------------------------------------
async def test_login_ok_subscribes_everything_and_syncs():
    async with hub({"rate": "0"}, book="B") as (sim, feed):
        await wait_until(lambda: synced(feed) and ("B", "binance", "BTCUSDT10") in feed.risk,
                         message="synced with risk rows")
        assert sim.logins == 1 and sim.upgrades == 1
        assert set(sim.commands) == {f"subscribe:apiAggregatedQuote:{SYM}", f"subscribe:apiQuote:{SYM}",
                                     "subscribe:apiOrder", "subscribe:apiRiskPosition:all:B"}
        assert feed.cps == list(CPS) and feed.price_scale(SYM) == 5 and feed.price_scale("X") is None
        assert feed.address == sim.url and feed.bad_frames == 0


async def test_rejected_login_stops_without_retrying():
    async with hub({"rate": "0"}, password="wrong-password") as (sim, feed):
        await wait_until(lambda: feed.state is FeedState.ERROR, message="fatal error")
        failures = [e for e in feed.events if isinstance(e, FeedFailed)]
        assert [f.reason for f in failures] == ["login rejected (UNAUTHORIZED)"]
        assert feed.status_text == "login rejected (UNAUTHORIZED)"
        # run() returns: a feed that scheduled a retry instead would still be running
        await wait_until(feed.run_task.done, 5, "run() to return after the fatal error")
        assert sim.logins == 1 and sim.rejected_logins == 1 and sim.upgrades == 0


async def test_reject_login_switch_is_fatal_even_with_good_credentials():
    async with hub({"rate": "0", "reject_login": ""}) as (sim, feed):
        await wait_until(lambda: feed.state is FeedState.ERROR, message="fatal error")
        assert sim.logins == 1 and "login rejected" in feed.status_text


async def test_transient_login_errors_are_retried():
    async with hub({"rate": "0", "login_errors": "2"}) as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced after login errors")
        assert sim.logins == 3 and feed.reconnects == 2


async def test_login_request_shape_and_token_check_on_upgrade():
    async with hub({"rate": "0"}, run=False) as (sim, feed):
        async with httpx.AsyncClient() as http:
            reply = await http.post(f"{sim.url}/api/v1/operator/login",
                                    params={"loginId": DEMO_USER, "password": DEMO_PASSWORD})
            assert reply.status_code == 200 and reply.json()["result"] == "SUCCESS"
            token = reply.json()["data"]["token"]
            assert token.startswith(TOKEN_PREFIX) and reply.json()["type"] == "API"
            symbols = await http.get(f"{sim.url}/api/v1/market/symbols", headers={"X-API-TOKEN": token})
            assert [s["name"] for s in symbols.json()["data"]] == ["BTCUSDT", "ETHUSDT"]
            unauthorised = await http.get(f"{sim.url}/api/v1/market/symbols")
            assert unauthorised.status_code == 401
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(websocket_url(sim.url, "not-a-token")):
                pass
        assert refused.value.response.status_code == 401
        async with connect(websocket_url(sim.url, token)) as ws:
            await ws.send("ping")
            assert await ws.recv() == "pong"


async def test_unknown_symbol_is_fatal_and_lists_valid_ones():
    sim = await BthubSimulator(1, {"rate": "0"}).start()
    feed = BthubFeed(config("bthub", ["DOGEUSDT"], url=sim.url, user=DEMO_USER, password=DEMO_PASSWORD))
    try:
        await asyncio.wait_for(feed.run(), 5)
        assert feed.state is FeedState.ERROR
        assert feed.status_text == "unknown symbol DOGEUSDT (valid: BTCUSDT, ETHUSDT)"
    finally:
        await feed.close()
        await sim.close()


async def test_symbols_unavailable_carries_on():
    async with hub({"rate": "0", "no_symbols": ""}) as (_sim, feed):
        await wait_until(lambda: synced(feed), message="synced without the symbol list")
        assert feed.symbol_info == {}


# -- books ---------------------------------------------------------------------------------------
async def test_aggregated_book_is_the_merge_of_the_cp_books_and_crosses_sometimes():
    crossed = 0
    async with hub({"rate": "0", "cross": "0.3"}) as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced")
        for _ in range(30):
            sim.tick()
            await wait_until(lambda: cp_books_match_sim(feed, sim), message="books caught up")
            bids, asks = merge_of_cp_books(feed)
            agg = feed.streams[SYM].book
            assert Counter(levels(agg.bids)) == bids and Counter(levels(agg.asks)) == asks
            prices = [lv.price for lv in agg.bids.iter_levels()]
            assert prices == sorted(prices, reverse=True)
            crossed += agg.crossed()
        assert 0 < crossed < 30, "the simulated books should cross sometimes, not always"
        for cp in CPS:
            stream = feed.streams[f"{SYM}@{cp}"]
            assert stream.source == cp and stream.key == f"{SYM}@{cp}"
            # round robin, except that a crossing venue re-quotes next (one-update crosses)
            assert stream.updates >= 5 and not stream.book.bids.sourced
        assert sum(feed.streams[f"{SYM}@{cp}"].updates for cp in CPS) == 30
        assert feed.streams[SYM].updates == 30 and feed.bad_frames == 0


def _crossed_share(seed: int, faults: dict[str, str], ticks: int = 2000) -> float:
    sim = BthubSimulator(seed, {"rate": "0", **faults})
    crossed = 0
    for _ in range(ticks):
        sim.market.tick()
        crossed += sum(sim.market.crossed(s) for s in ("BTCUSDT", "ETHUSDT"))
    return crossed / (2 * ticks)


@pytest.mark.parametrize("faults, low, high", [({}, 0.01, 0.03), ({"cross": "0.2"}, 0.17, 0.23),
                                               ({"cross": "0"}, 0, 0)])
def test_the_demo_book_crosses_only_as_often_as_asked(faults, low, high):
    shares = [_crossed_share(seed, faults) for seed in (1, 2)]
    assert all(low <= share <= high for share in shares), shares
    assert _crossed_share(1, faults) == shares[0]  # the same seed, the same market


async def test_numbers_as_json_numbers_give_the_same_books_and_orders():
    async with hub({"rate": "0", "numbers": "json", "cross": "0.3"}, book="B") as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced")
        for _ in range(12):
            sim.tick()
            await wait_until(lambda: cp_books_match_sim(feed, sim), message="books caught up")
        frame = sim.market.quote_frame(SYM, "okex")
        assert '"price":"' not in frame and '"price":' in frame
        ours = {oid: o for oid, o in sim.market.orders.items() if o["symbol"] == SYM}
        await wait_until(lambda: all(
            oid in feed.orders and feed.orders[oid].execute_volume == Decimal(o["executeVolume"])
            for oid, o in ours.items()), message="orders caught up")
        assert feed.bad_frames == 0


def test_unknown_number_form_or_cross_share_is_refused():
    with pytest.raises(ValueError, match="numbers"):
        BthubSimulator(1, {"numbers": "floats"})
    for bad in ("1.5", "-0.1", "often"):
        with pytest.raises(ValueError, match="cross"):
            BthubSimulator(1, {"cross": bad})


async def test_same_seed_same_books():
    first, second = BthubSimulator(3, {"rate": "0"}), BthubSimulator(3, {"rate": "0"})
    for _ in range(20):
        first.market.tick()
        second.market.tick()
    assert first.market.books == second.market.books
    assert first.market.aggregated_frame(SYM) == second.market.aggregated_frame(SYM)
    assert first.market.snapshot(("order",)) == second.market.snapshot(("order",))
    assert first.market.snapshot(("risk", "B")) == second.market.snapshot(("risk", "B"))


async def test_staleness_marks_streams_and_recovers_on_next_push():
    async with hub({"rate": "0"}, stale_after=0.15) as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced")
        # each stream goes stale on its own clock (its last push), the feed with the first
        await wait_until(lambda: all(s.stale for s in feed.streams.values()), message="all stale")
        assert feed.state is FeedState.STALE
        assert feed.streams[SYM].book.bids  # values kept
        sim.tick()  # one counterparty and the aggregated book: the other two stay stale
        await wait_until(lambda: not feed.streams[SYM].stale, message="aggregated fresh")
        assert feed.state is FeedState.STALE
        assert sum(s.stale for s in feed.streams.values()) == 2
        for _ in CPS[1:]:
            sim.tick()
        await wait_until(lambda: feed.state is FeedState.SYNCED, message="fresh again")
        assert not any(s.stale for s in feed.streams.values())


async def test_ping_is_sent_and_pong_is_not_a_bad_frame():
    async with hub({"rate": "0"}, ping_interval=0.02) as (sim, feed):
        await wait_until(lambda: sim.pings >= 3, message="pings")
        await wait_until(lambda: feed.messages > 10, message="frames")
        assert feed.bad_frames == 0


# -- orders and risk -----------------------------------------------------------------------------
async def test_orders_and_risk_match_the_simulator_exactly():
    async with hub({"rate": "200"}, book="B") as (sim, feed):
        await wait_until(lambda: len(feed.orders) >= 6, message="orders")
        sim.pause()
        ours = {oid: o for oid, o in sim.market.orders.items() if o["symbol"] == SYM}
        assert len(ours) < len(sim.market.orders), "the simulator trades other symbols too"
        await wait_until(lambda: all(
            feed.orders.get(oid) is not None
            and feed.orders[oid].execute_volume == Decimal(o["executeVolume"])
            and feed.orders[oid].status != ""
            for oid, o in ours.items()), message="orders caught up")
        await wait_until(lambda: all(
            feed.risk.get(key) is not None and feed.risk[key].open_volume == row[0]
            for key, row in sim.market.risk.items() if key[0] == "B" and feed.owns_symbol(key[2])),
            message="risk caught up")
        # another symbol's orders and risk rows are not this feed's
        assert set(feed.orders) == set(ours)
        assert all(feed.owns_symbol(key[2]) for key in feed.risk)
        assert any(key[2].startswith("ETH") for key in sim.market.risk)
        finished = 0
        for order_id, wire in ours.items():
            order = feed.orders[order_id]
            assert order.order_volume == Decimal(wire["orderVolume"])
            children = list(order.cp_orders.values())
            fills = [ex for child in children for ex in child.executions.values()]
            assert order.execute_volume == sum((c.execute_volume for c in children), Decimal(0))
            assert order.execute_volume == sum((ex.volume for ex in fills), Decimal(0))
            assert order.execute_amount == sum((ex.amount for ex in fills), Decimal(0))
            assert order.pending_volume == order.order_volume - order.execute_volume
            assert all(ex.amount == ex.price * ex.volume for ex in fills)
            assert order.side in ("BUY", "SELL") and order.order_type == "MARKET"
            if order.status == "EXECUTED":
                finished += 1
                assert order.result in ("FILLED", "PARTIAL")
                assert (order.result == "FILLED") == (order.pending_volume == 0)
        assert finished >= 2
        for (book, cp, symbol), (volume, amount) in sim.market.risk.items():
            if book == "B" and feed.owns_symbol(symbol):
                row = feed.risk[(book, cp, symbol)]
                assert (row.open_volume, row.open_amount) == (volume, amount)
        assert all(key[0] == "B" for key in feed.risk)
        kinds = {e.kind for e in feed.events if isinstance(e, RecordsChanged)}
        assert kinds == {"orders", "risk"}


# -- fault switches --------------------------------------------------------------------------------
async def test_malformed_frames_are_counted_and_state_stays_right():
    async with hub({"rate": "0", "malformed": "2"}, book="B") as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced")
        for _ in range(9):
            sim.tick()
        await wait_until(lambda: cp_books_match_sim(feed, sim), message="books caught up")
        await wait_until(lambda: feed.bad_frames == sim.malformed_sent, message="all bad frames seen")
        assert sim.malformed_sent >= 9  # every kind went by at least once
        bids, asks = merge_of_cp_books(feed)
        agg = feed.streams[SYM].book
        assert Counter(levels(agg.bids)) == bids and Counter(levels(agg.asks)) == asks
        assert all(lv.size != Decimal(999999) for lv in agg.bids.iter_levels())
        assert feed.state is FeedState.SYNCED and feed.reconnects == 0


async def test_dropped_connection_marks_stale_relogs_in_and_resubscribes():
    async with hub({"rate": "100", "drop_after": "25"}, book="B") as (sim, feed):
        # the client's own count: the simulator counts a drop before the client notices it
        await wait_until(lambda: feed.reconnects >= 3 and synced(feed), timeout=10,
                         message="several drops and synced again")
        assert sim.drops >= 3 and sim.logins == sim.upgrades >= 4
        assert any(state is FeedState.RECONNECTING and "retry in" in text
                   for state, text in feed.statuses)
        assert sim.commands.count("subscribe:apiOrder") == sim.upgrades
        assert sim.commands.count("subscribe:apiRiskPosition:all:B") == sim.upgrades


async def test_disconnect_marks_books_stale_until_the_next_push():
    async with hub({"rate": "0", "drop_after": "12"}) as (sim, feed):
        seen_at_drop: list[tuple[bool, bool]] = []  # (all stale, values kept) when it dropped

        def on_status(event) -> None:
            if isinstance(event, StatusChanged) and event.feed.state is FeedState.RECONNECTING:
                streams = event.feed.streams.values()
                seen_at_drop.append((all(s.stale for s in streams), all(s.book.bids for s in streams)))

        feed.add_listener(on_status)
        await wait_until(lambda: synced(feed), message="synced")
        for _ in range(10):
            sim.tick()
        await wait_until(lambda: sim.drops >= 1, message="drop")
        await wait_until(lambda: sim.upgrades >= 2 and synced(feed), message="resynced")
        assert seen_at_drop and seen_at_drop[0] == (True, True)
        assert not any(s.stale for s in feed.streams.values())
        # stale books after a reconnect are "reconnecting", not the watchdog's STALE
        assert not any(state is FeedState.STALE for state, _ in feed.statuses)


async def test_expired_token_forces_a_fresh_login():
    async with hub({"rate": "50", "token_ttl": "0.3"}) as (sim, feed):
        await wait_until(lambda: sim.logins >= 3 and synced(feed), timeout=10,
                         message="re-logins after token expiry")
        assert feed.state is not FeedState.ERROR
        # every connection used its own fresh token
        assert sim.upgrades == len([t for t in sim.tokens.values() if t.uses]) >= 2


async def test_token_good_for_one_connection_and_refused_upgrades_relogin():
    async with hub({"rate": "50", "token_uses": "1", "refuse_ws": "2", "drop_after": "30"}) as (sim, feed):
        await wait_until(lambda: sim.drops >= 2 and synced(feed), timeout=10,
                         message="reconnected after refusals and drops")
        assert sim.refused_upgrades == 2
        assert sim.logins == sim.upgrades + sim.refused_upgrades  # one login per attempt
        assert all(t.uses <= 1 for t in sim.tokens.values())


# -- URLs, TLS, secrets ------------------------------------------------------------------------------
def test_websocket_url_derivation():
    assert websocket_url("https://demo.bthub.com:444", "t/k+n") == \
        "wss://demo.bthub.com:444/api/realtime?X-API-TOKEN=t%2Fk%2Bn"
    assert websocket_url("http://127.0.0.1:8080/", "abc") == "ws://127.0.0.1:8080/api/realtime?X-API-TOKEN=abc"
    assert websocket_url("https://h", "abc", "wss://other:9/rt") == "wss://other:9/rt?X-API-TOKEN=abc"
    with pytest.raises(ValueError):
        websocket_url("ftp://h", "abc")


def test_redact_masks_tokens_passwords_and_userinfo():
    text = ("wss://h:444/api/realtime?X-API-TOKEN=abcdef isn't a valid URI; "
            "POST https://u:pw@h/api/v1/operator/login?loginId=alice&password=s3cr%40t")
    clean = redact(text)
    assert "abcdef" not in clean and "s3cr" not in clean and "u:pw" not in clean
    assert "X-API-TOKEN=***" in clean and "password=***" in clean


async def test_status_texts_never_carry_secrets():
    password = "Pw-STATUS-CHECK-41"
    async with hub({"rate": "100", "drop_after": "20", "malformed": "3", "token_ttl": "0.4",
                    "password": password}, password=password) as (sim, feed):
        await wait_until(lambda: sim.drops >= 2 and sim.logins >= 3, timeout=10, message="churn")
        texts = [feed.address] + [text for _, text in feed.statuses]
        for text in texts:
            assert password not in text and TOKEN_PREFIX not in text


def _self_signed(tmp_path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


async def test_tls_is_verified_by_default_and_insecure_says_so(tmp_path):
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with hub({"rate": "0"}, ssl_context=context) as (sim, feed):
        assert sim.url.startswith("https://")
        # an untrusted certificate is fatal at once: retrying cannot make it trusted
        await wait_until(lambda: feed.state is FeedState.ERROR, message="a refused TLS attempt")
        assert "CERTIFICATE_VERIFY_FAILED" in feed.status_text or "certificate" in feed.status_text
        assert sim.logins == 0 and feed.reconnects == 0
    async with hub({"rate": "0"}, ssl_context=context, insecure=True) as (sim, feed):
        await wait_until(lambda: synced(feed), message="synced over unverified TLS")
        assert INSECURE_NOTE in feed.status_text and INSECURE_NOTE in feed.address
        assert sim.upgrades == 1
