"""The headless contract (issue 2 §5) through the real CLI against the futu simulator."""

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
    assert all(queue == [] for *_, queue in us["bids"])  # no per-order data for US


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
    result = run_obview("futu", "HK.00700", "HK.99999", "--sim", "--dump", "json",
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
