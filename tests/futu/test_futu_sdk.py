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
