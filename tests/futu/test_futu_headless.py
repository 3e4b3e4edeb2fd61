"""The headless contract (docs/feeds.md) through the real CLI against the futu simulator."""

from __future__ import annotations

import json
import socket
import time
from decimal import Decimal

from tests.conftest import run_obview


def _normalised(text: str) -> bool:
    return isinstance(text, str) and "e" not in text.lower() and (
        "." not in text or not text.endswith(("0", ".")))


def test_dump_json_shape():
    result = run_obview("futu", "HK.00700", "US.AAPL", "--sim", "--dump", "json", "--depth", "5",
                        "--details", "--fault", "rate=40")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["symbol"] for o in objects] == ["HK.00700", "US.AAPL"]
    hk, us = objects
    assert hk["name"] == "腾讯控股" and us["name"] == "苹果"
    for obj in objects:
        assert obj["venue"] == "futu" and obj["level"] is None and obj["synced"] is True
        assert isinstance(obj["version"], int) and obj["version"] >= 2  # push counter
        assert isinstance(obj["recv_ts"], int)
        assert set(obj["latency_ms"]) == {"bid", "ask"}
        assert len(obj["bids"]) == 5 and len(obj["asks"]) == 5  # --depth cap
        bids = [Decimal(row[0]) for row in obj["bids"]]
        asks = [Decimal(row[0]) for row in obj["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)  # best first
        assert bids[0] < asks[0]
        for price, size, orders, queue in obj["bids"] + obj["asks"]:
            assert _normalised(price) and _normalised(size) and isinstance(orders, int)
            assert isinstance(queue, list)
    for _price, size, orders, queue in hk["bids"] + hk["asks"]:
        assert len(queue) == orders
        assert sum(Decimal(volume) for _, volume in queue) == Decimal(size)
    # US LV2 per-order data: at most 40 orders a level (HK SF: up to 1000)
    for _price, size, orders, queue in us["bids"] + us["asks"]:
        assert len(queue) == min(orders, 40)
        assert sum(Decimal(volume) for _, volume in queue) <= Decimal(size)


def test_stream_json_count_3_prints_three_lines():
    result = run_obview("futu", "HK.00700", "--sim", "--stream", "json", "--count", "3",
                        "--fault", "rate=40")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    versions = [json.loads(line)["version"] for line in lines]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert all(len(json.loads(line)["bids"][0]) == 3 for line in lines)  # no --details


def test_rejected_code_exits_1_with_the_servers_message():
    # only when no requested code could be subscribed (one refused code among good ones:
    # test_refused_code_gets_its_own_stderr_line_and_the_rest_print)
    result = run_obview("futu", "HK.99999", "--sim", "--dump", "json",
                        "--timeout", "20")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Unknown stock HK.99999" in lines[0]


def test_cannot_connect_exits_1_within_the_timeout_naming_host_and_port():
    with socket.socket() as sock:  # a free port, then closed: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = run_obview("futu", "HK.00700", "--port", str(port), "--dump", "json",
                        "--timeout", "2")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0] and "--sim" in lines[0]
    assert elapsed < 2 + 8  # the timeout plus interpreter start-up


def test_refused_code_gets_its_own_stderr_line_and_the_rest_print():
    result = run_obview("futu", "HK.00700", "US.AAPL", "HK.99999", "--sim", "--dump", "json",
                        "--fault", "rate=40", "--fault", "no_right=US.AAPL", timeout=30)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["symbol"] for o in objects] == ["HK.00700"]
    lines = result.stderr.strip().splitlines()
    assert sorted(lines) == ["obview: futu: HK.99999: Unknown stock HK.99999",
                             "obview: futu: US.AAPL: No right to subscribe AAPL"], result.stderr


def test_every_code_refused_exits_1_with_one_line():
    result = run_obview("futu", "US.AAPL", "JP.7203", "--sim", "--dump", "json",
                        "--fault", "no_right=US", timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "US.AAPL: No right to subscribe AAPL" in lines[0]
    assert "JP.7203: No right to subscribe 7203" in lines[0]


def test_stream_json_trades_prints_one_exact_line_per_print():
    result = run_obview("futu", "HK.00700", "US.AAPL", "--sim", "--stream", "json", "--trades",
                        "--count", "12", "--fault", "rate=60")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 12
    for obj in lines:
        assert obj["type"] == "trade" and obj["venue"] == "futu"
        assert obj["symbol"] in ("HK.00700", "US.AAPL")
        assert obj["side"] in ("buy", "sell")
        for key in ("price", "size", "turnover"):
            assert _normalised(obj[key]), obj
        assert Decimal(obj["price"]) > 0 and Decimal(obj["size"]) > 0
        assert Decimal(obj["turnover"]) == Decimal(obj["price"]) * Decimal(obj["size"])
        assert isinstance(obj["venue_ts"], int) and isinstance(obj["recv_ts"], int)
        assert obj["sequence"].isdigit() and obj["kind"] == "Automatch"
    for code in ("HK.00700", "US.AAPL"):
        sequences = [int(o["sequence"]) for o in lines if o["symbol"] == code]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_trades_flag_goes_with_stream_json():
    result = run_obview("futu", "HK.00700", "--sim", "--dump", "json", "--trades")
    assert result.returncode == 2 and "--trades goes with --stream json" in result.stderr
