"""Through the real `obview` command: headless dump, errors as one line with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

from tests.conftest import ROOT, run_obview


def test_dump_json_has_level_version_and_human_sizes():
    result = run_obview("loopring", "LRC-ETH", "--sim", "--dump", "json")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["venue"] == "loopring" and obj["symbol"] == "LRC-ETH" and obj["level"] == 0
    assert isinstance(obj["version"], int) and obj["version"] > 0 and obj["synced"] is True
    assert obj["bids"] and obj["asks"]
    for price, size, orders in obj["bids"] + obj["asks"]:
        assert "E" not in price + size and not size.endswith(".") and isinstance(orders, int)
        assert Decimal(size) < 10**9  # human LRC, not 18-decimal base units
    assert Decimal(obj["bids"][0][0]) < Decimal(obj["asks"][0][0])


def test_dump_json_v3():
    result = run_obview("loopring", "LRC-USDT", "--sim", "--api", "v3", "--level", "1",
                        "--dump", "json", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["symbol"] == "LRC-USDT" and obj["level"] == 1
    # level 1 of a 4-decimal market: prices on a 0.001 grid
    assert all(len(price.partition(".")[2]) <= 3 for price, _s, _n in obj["bids"] + obj["asks"])


def _one_line_error(result) -> str:
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unknown_market_exit_1_lists_closest_first():
    result = run_obview("loopring", "LRC-ETX", "--sim", "--dump", "json", "--timeout", "20")
    assert result.returncode == 1
    line = _one_line_error(result)
    assert line.startswith("obview: loopring: unknown market 'LRC-ETX'; valid markets, "
                           "closest first: LRC-ETH, ")


def test_bad_level_exit_1_and_negative_level_exit_2():
    result = run_obview("loopring", "LRC-ETH", "--level", "4", "--sim", "--dump", "json")
    assert result.returncode == 1
    assert "valid levels are 0..3" in _one_line_error(result)
    result = run_obview("loopring", "LRC-ETH", "--level", "-1", "--sim", "--dump", "json")
    assert result.returncode == 2 and _one_line_error(result).startswith("obview: ")


def test_subscription_rejected_104107_exit_1():
    result = run_obview("loopring", "LRC-ETH", "--sim", "--fault", "reject_sub", "--dump", "json",
                        "--timeout", "20")
    assert result.returncode == 1
    assert "104107" in _one_line_error(result)


def test_obview_sim_loopring_serves_rest_and_websocket():
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "loopring", "--port", "0", "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline().split()
        assert line[:3] == ["obview", "sim", "loopring"]
        rest = next(word for word in line if word.startswith("http://127.0.0.1:"))
        assert any(word.endswith("/v2/ws") for word in line)
        reply = httpx.get(f"{rest}/api/v2/exchange/markets", timeout=5).json()
        assert reply["resultInfo"]["code"] == 0
        assert "LRC-ETH" in [m["market"] for m in reply["data"]]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unknown_sim_fault_is_refused():
    result = run_obview("loopring", "LRC-ETH", "--sim", "--fault", "skipp=3", "--dump", "json")
    assert result.returncode != 0
    assert "unknown loopring simulator fault skipp" in result.stderr
