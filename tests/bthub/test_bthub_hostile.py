"""A hostile hub over loopback: endless replies, oversized frames, order and counterparty
floods, and how obview closes. Memory stays bounded, bad input is counted, quit is quick."""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import termios
import time

from obview.events import RecordsChanged
from obview.feed import Backoff
from obview.venues import config
from obview.venues.bthub import client
from obview.venues.bthub.client import BthubFeed
from tests.bthub.hostile import HostileHub, HubThread, order, quote
from tests.conftest import ROOT, obview_env, press_to_quit, wait_until

SYM = "BTCUSDT"
BOOK = ([("100", "1")], [("101", "2")])


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextlib.asynccontextmanager
async def running(hub: HostileHub, symbols=(SYM,), **kw):
    feed = BthubFeed(config("bthub", list(symbols), url=hub.url, user="user", password="hostile-password", **kw))
    feed.backoff = Backoff(initial=0.02, cap=0.1)
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.close()


async def test_a_login_reply_that_never_ends_is_cut_counted_and_retried():
    async with HostileHub(endless_login=True) as hub:
        before = rss_mb()
        async with running(hub) as feed:
            texts = []
            feed.add_listener(lambda e: texts.append(feed.status_text))
            feed.max_reply_bytes = 1 * 2**20
            await wait_until(lambda: hub.logins >= 3, timeout=20, message="three login attempts")
            assert feed.bad_frames >= 2 and feed.reconnects >= 2
            assert any("login failed: reply over 1048576 bytes; retry in" in t for t in texts)
        assert rss_mb() - before < 60  # before: 200 MB/s, to 4.1 GB


async def test_a_hub_that_compresses_when_asked_gets_asked_for_identity():
    """httpx asks for gzip, deflate and zstd by default, but the replies are read raw
    (so the byte cap counts what came): behind a server that compresses JSON when
    allowed, the login reply was gzip bytes ('login failed: reply is not JSON', for
    ever). Asked for identity, the hub sends plain JSON and the books come."""
    async def script(ws, number):
        await ws.send(quote(SYM, "okex", *BOOK))
        await asyncio.Future()

    async with HostileHub(script, gzip_if_asked=True) as hub, running(hub) as feed:
        await wait_until(lambda: feed.streams.get(f"{SYM}@okex")
                         and feed.streams[f"{SYM}@okex"].synced, timeout=10,
                         message="the okex book")
        assert feed.bad_frames == 0 and hub.logins == 1
        assert set(hub.accept_encodings) == {"identity"}


async def test_an_oversized_cps_reply_is_a_bad_reply_and_the_session_is_retried():
    body = b'{"result":"SUCCESS","type":"API","data":[' + b'{"name":"x"},' * 400_000 + b'{"name":"y"}]}'
    async with HostileHub(cps_body=body) as hub, running(hub) as feed:
        await wait_until(lambda: feed.bad_frames >= 2 and hub.logins >= 2, timeout=20,
                         message="bad replies counted, sessions retried")
        assert hub.connections == 0


async def test_an_oversized_frame_is_counted_and_the_connection_retried():
    async def script(ws, number):
        await ws.send(quote(SYM, "okex", *BOOK))
        if number == 1:
            await ws.send('{"event":"API_QUOTE","data":{"pad":"' + "x" * (5 * 2**20) + '"}}')
        await asyncio.Future()

    async with HostileHub(script) as hub, running(hub) as feed:
        await wait_until(lambda: hub.connections >= 2 and feed.streams.get(f"{SYM}@okex")
                         and feed.streams[f"{SYM}@okex"].synced, timeout=20,
                         message="a second connection, the book back")
        assert feed.bad_frames == 1 and hub.close_codes[0] == 1009
        assert feed.max_frame_bytes == client.MAX_FRAME_BYTES < 5 * 2**20


async def test_quitting_closes_the_websocket_with_1000():
    async def script(ws, number):
        await ws.send(quote(SYM, "okex", *BOOK))
        await asyncio.Future()

    async with HostileHub(script) as hub:
        async with running(hub) as feed:
            await wait_until(lambda: f"{SYM}@okex" in feed.streams, message="a push")
        # `running` cancels the feed task (as the TUI and headless do), then closes the feed
        await wait_until(lambda: hub.close_codes, message="the close seen by the hub")
        assert hub.close_codes == [1000]  # before: 1011 (cancellation taken for an error)


async def test_an_order_flood_is_capped_finished_orders_going_first():
    total = client.MAX_ORDERS * 3

    async def script(ws, number):
        await ws.send(order("open-1", status=3))  # an unfinished order stays
        for i in range(total):
            await ws.send(order(f"{i}", status=1 if i % 10 == 0 else 4))
        await ws.send(order("last", status=3))
        await asyncio.Future()

    async with HostileHub(script) as hub, running(hub) as feed:
        await wait_until(lambda: "last" in feed.orders, timeout=30, message="the flood through")
        assert len(feed.orders) == client.MAX_ORDERS
        assert "open-1" in feed.orders
        assert feed.orders_evicted == total + 2 - client.MAX_ORDERS
        # fewer unfinished orders than the cap: every one of them is still there
        assert all(feed.orders[str(i)].status == "PENDING" for i in range(0, total, 10))


async def test_orders_and_risk_of_other_symbols_are_not_kept():
    async def script(ws, number):
        await ws.send(order("eth", symbol="ETHUSDT"))
        await ws.send(order("btc", symbol=SYM))
        await ws.send('{"event":"API_RISK_POSITION","data":['
                      '{"book":"A","cp":"okex","symbol":"ETHUSDT","openVolume":"1"},'
                      '{"book":"A","cp":"okex","symbol":"BTCUSDT10","openVolume":"2"},'
                      '{"book":"A","cp":"okex","symbol":"BTCUSDTX","openVolume":"3"}]}')
        await asyncio.Future()

    async with HostileHub(script) as hub, running(hub, book="A") as feed:
        records = []
        feed.add_listener(lambda e: records.append(e) if isinstance(e, RecordsChanged) else None)
        await wait_until(lambda: feed.risk, message="risk")
        assert set(feed.orders) == {"btc"} and list(feed.risk) == [("A", "okex", "BTCUSDT10")]
        assert not feed.symbol_column


async def test_invented_counterparties_are_ignored_and_counted():
    invented = 5000

    async def script(ws, number):
        for i in range(invented):
            await ws.send(quote(SYM, f"cp{i}", *BOOK))
        await ws.send(quote(SYM, "huobi", *BOOK))
        await asyncio.Future()

    async with HostileHub(script) as hub, running(hub) as feed:
        await wait_until(lambda: f"{SYM}@huobi" in feed.streams, timeout=30, message="huobi")
        assert set(feed.streams) == {SYM, f"{SYM}@huobi"}
        assert feed.bad_frames == invented


async def test_without_a_cps_list_counterparties_are_capped():
    async def script(ws, number):
        for i in range(client.MAX_CPS + 50):
            await ws.send(quote(SYM, f"cp{i}", *BOOK))
        await ws.send(quote(SYM, "cp0", [("99", "1")], []))
        await asyncio.Future()

    body = b'{"result":"INTERNAL_ERROR","type":"API"}'
    async with HostileHub(script, cps_body=body) as hub, running(hub) as feed:
        await wait_until(lambda: feed.streams.get(f"{SYM}@cp0") is not None
                         and feed.streams[f"{SYM}@cp0"].book.best_bid() == 99, timeout=30,
                         message="the last push")
        assert len(feed.streams) == 1 + client.MAX_CPS and feed.bad_frames == 50


def _flood_script(kind: str, sent: list[int] | None = None):
    """A hub that floods orders or counterparties; `sent[0]` counts the frames sent."""
    sent = [0] if sent is None else sent

    async def script(ws, number):
        await ws.send(quote(SYM, "okex", *BOOK))
        i = 0
        while True:
            i += 1
            sent[0] = i
            await ws.send(order(str(i), status=1) if kind == "orders" else quote(SYM, f"c{i}", *BOOK))
    return script


async def _obview_under_flood(hub: HubThread, stdout) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obview", "bthub", SYM, "--url", hub.url, "--stream", "json",
        "--orders", stdout=stdout, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL, cwd=ROOT,
        env=obview_env(OBVIEW_BTHUB_USER="u", OBVIEW_BTHUB_PASSWORD="hostile-pw"))


async def _interrupt(proc: asyncio.subprocess.Process) -> float:
    """Ctrl-C; how long obview took to exit (it must: the wait is bounded)."""
    started = time.monotonic()
    try:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
        return time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _drain(stdout: asyncio.StreamReader, printed: list[int]) -> None:
    """A reader that keeps up, as a script's would: counts the lines."""
    while chunk := await stdout.read(65536):
        printed[0] += chunk.count(b"\n")


async def test_ctrl_c_ends_headless_within_a_second_under_a_flood():
    for kind in ("orders", "cps"):
        sent = [0]
        with HubThread(_flood_script(kind, sent), cps=()) as hub:
            proc = await _obview_under_flood(hub, asyncio.subprocess.PIPE)
            printed = [0]
            reading = asyncio.create_task(_drain(proc.stdout, printed))
            try:
                if kind == "orders":
                    await wait_until(lambda seen=printed: seen[0] >= 1, timeout=20,
                                     message="a line")
                else:
                    # the flood well under way: 20,000 counterparties sent
                    await wait_until(lambda sent=sent: sent[0] >= 20_000, timeout=20,
                                     message="a flood")
                elapsed = await _interrupt(proc)
            finally:
                reading.cancel()
            assert proc.returncode == 130, kind
            assert elapsed < 1.0, (kind, elapsed)


async def test_ctrl_c_ends_headless_whose_reader_stopped_reading():
    """Stdout is a pipe its reader no longer reads, full, and obview blocked writing to it
    (under a flood of orders). Ctrl-C still ends it at once, with 130 (it used to hang
    until the reader read again: docs/feeds.md)."""
    read_end, write_end = os.pipe()
    try:
        capacity = fcntl.fcntl(read_end, fcntl.F_GETPIPE_SZ)
        with HubThread(_flood_script("orders"), cps=()) as hub:
            proc = await _obview_under_flood(hub, write_end)
            os.close(write_end)
            write_end = -1

            def unread() -> int:
                buf = array.array("i", [0])
                fcntl.ioctl(read_end, termios.FIONREAD, buf)
                return buf[0]

            # full: the next line does not fit, so obview's write is blocked
            await wait_until(lambda: unread() > capacity - 2048, timeout=20, message="pipe full")
            elapsed = await _interrupt(proc)
        assert proc.returncode == 130
        assert elapsed < 1.0, elapsed
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


async def test_q_ends_the_tui_within_a_second_under_a_flood():
    import pytest

    app_module = pytest.importorskip("obview.tui.app")

    with HubThread(_flood_script("orders")) as hub:
        feed = BthubFeed(config("bthub", [SYM], url=hub.url, user="user", password="hostile-password"))
        app = app_module.ObviewApp([config("bthub", [SYM])], feeds=[feed])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(lambda: len(feed.orders) >= client.MAX_ORDERS, timeout=20, message="a flood")
            started = time.monotonic()
            # (a table animating as the app shut down under the flood once left a plain
            # `pilot.press` waiting for ever: see press_to_quit)
            await press_to_quit(app, pilot)
            elapsed = time.monotonic() - started
        assert elapsed < 1.0, elapsed
