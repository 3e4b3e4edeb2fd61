"""Official-SDK cross-check (docs/futu.md "Simulator fidelity"): futu-api against `obview sim futu` sees exactly the
books and names the simulator sent. The SDK runs in its own process (see sdk_probe.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from obview.venues.futu.market import book_sequence
from tests.conftest import ROOT, obview_env

# Only look for futu-api: importing it here would clash with obview's protobuf modules.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("futu") is None,
                                reason="futu-api is a test dependency")

SEED = 7
LEVELS = 20
PUSHES = 6


def expected(code: str, details: bool) -> list:
    """Every book the simulator can send for `code`, as the SDK presents it."""
    books = []
    for bids, asks in book_sequence(code, SEED, 3000, LEVELS):
        def rows(side):
            return [[float(price), volume, count,
                     [[oid, vol] for oid, vol in queue] if details else []]
                    for price, volume, count, queue in side]
        books.append((rows(bids), rows(asks)))
    return books


def positions(seen: list[dict], books: list) -> list[int]:
    """Where each book the SDK saw sits in the simulator's sequence (must be increasing)."""
    found, start = [], 0
    for book in seen:
        key = (book["Bid"], book["Ask"])
        index = next(i for i in range(start, len(books)) if books[i] == key)
        found.append(index)
        start = index
    return found


def test_sdk_sees_exactly_what_the_simulator_sent(tmp_path: Path):
    sim = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "futu", "--port", "0", "--seed", str(SEED),
         "--fault", "rate=30", "--fault", f"levels={LEVELS}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=obview_env(), cwd=ROOT,
    )
    try:
        line = sim.stdout.readline()
        assert "serving" in line, sim.stderr.read()
        host, port = line.split()[-1].rsplit(":", 1)
        env = obview_env(HOME=str(tmp_path))
        env["PYTHONPATH"] = ""  # the SDK process must not see obview's generated modules
        probe = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("sdk_probe.py")), host, port,
             str(PUSHES)],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])

    assert seen["sub_hk"][0] == 0 and seen["sub_us"][0] == 0
    assert seen["names"] == {"HK.00700": "腾讯控股", "US.AAPL": "苹果"}
    assert seen["lot_sizes"] == {"HK.00700": 100, "US.AAPL": 1}
    assert seen["sub_unknown"][0] != 0 and "Unknown stock HK.99999" in seen["sub_unknown"][1]

    hk_books, us_books = expected("HK.00700", True), expected("US.AAPL", False)
    hk, us = seen["pushes"]["HK.00700"], seen["pushes"]["US.AAPL"]
    assert len(hk) >= PUSHES and len(us) >= PUSHES
    assert positions(hk, hk_books)[0] == 0  # the first push is the book at subscription
    assert positions(us, us_books)[0] == 0
    assert all(b["name"] == "腾讯控股" for b in hk)
    assert hk[0]["svr_recv_time_bid"] == ""  # the cached first push is unstamped
    assert all(len(b["svr_recv_time_bid"]) == 23 for b in hk[1:])  # 2025-04-07 05:00:52.266
    for book in hk:  # SF queues: counts and volumes add up
        for _, volume, count, queue in book["Bid"] + book["Ask"]:
            assert len(queue) == count and sum(v for _, v in queue) == volume
    ret, book = seen["get_order_book"]
    assert ret == 0
    positions([book], hk_books)


TRADE_PRINTS = 8


def replayed_prints(code: str) -> dict[int, tuple]:
    """Every print the simulator can make for `code` in its first 6000 steps, by sequence."""
    from obview.venues.futu.market import SimBook

    book, prints = SimBook(code, SEED), {}
    for _ in range(6000):
        book.step()
        for trade in book.trades:
            prints[trade.sequence] = (float(trade.price), float(trade.volume),
                                      "BUY" if trade.buy else "SELL")
    return prints


def test_sdk_ticker_handler_receives_the_simulators_prints(tmp_path: Path):
    sim = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "futu", "--port", "0", "--seed", str(SEED),
         "--fault", "rate=40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=obview_env(), cwd=ROOT,
    )
    try:
        line = sim.stdout.readline()
        assert "serving" in line, sim.stderr.read()
        host, port = line.split()[-1].rsplit(":", 1)
        env = obview_env(HOME=str(tmp_path))
        env["PYTHONPATH"] = ""
        probe = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("sdk_ticker_probe.py")), host, port,
             str(TRADE_PRINTS)],
            capture_output=True, text=True, timeout=90, env=env, cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])

    assert seen["rt_before_sub"][0] != 0  # OpenD serves ticks of subscribed codes only
    assert seen["sub"][0] == 0
    for code in ("HK.00700", "US.AAPL"):
        prints = replayed_prints(code)
        pushed = seen["pushes"][code]
        assert len(pushed) >= TRADE_PRINTS
        sequences = [row["sequence"] for row in pushed]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        for row in pushed:
            assert (row["price"], row["volume"], row["ticker_direction"]) == prints[row["sequence"]]
            assert row["turnover"] == pytest.approx(row["price"] * row["volume"])
            assert row["type"] == "AUTO_MATCH" and row["push_data_type"] == "REALTIME"
            assert len(row["time"]) == 23  # 2026-01-02 10:00:00.000, market time
    ret, recent = seen["rt_ticker"]
    assert ret == 0 and 0 < len(recent) <= 50
    sequences = [row["sequence"] for row in recent]
    assert sequences == sorted(sequences)  # oldest first, like OpenD
    hk = replayed_prints("HK.00700")
    assert all((r["price"], r["volume"], r["ticker_direction"]) == hk[r["sequence"]]
               for r in recent)
    assert {r["sequence"] for r in seen["pushes"]["HK.00700"]} & set(sequences)
