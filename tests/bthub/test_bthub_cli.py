"""`obview bthub` through the real CLI: headless books, orders and risk, login rejection,
credentials from a private config file, and secrets kept out of every output."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obview.venues.bthub.market import CPS
from obview.venues.bthub.sim import DEMO_PASSWORD, DEMO_USER, TOKEN_PREFIX
from tests.conftest import ROOT, obview_env, run_obview

FAST = ("--fault", "rate=100")


def one_json(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_dump_json_is_the_aggregated_book_with_sources():
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--dump", "json", "--depth", "10")
    assert done.returncode == 0, done.stderr
    book = one_json(done.stdout)
    assert book["venue"] == "bthub" and book["symbol"] == "BTCUSDT" and book["synced"]
    assert "source" not in book
    for side in ("bids", "asks"):
        assert len(book[side]) == 10
        for level in book[side]:
            assert len(level) == 5 and level[3] is None and level[4] in CPS
    assert {level[4] for level in book["bids"] + book["asks"]} == set(CPS)


def test_dump_json_with_cp_gives_that_counterparty_book():
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--dump", "json", "--cp", "okex")
    assert done.returncode == 0, done.stderr
    book = one_json(done.stdout)
    assert book["source"] == "okex" and book["commission"] == "0.001"
    assert all(len(level) == 3 for level in book["bids"] + book["asks"])
    assert len(book["bids"]) == 5


def test_stream_json_orders():
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--stream", "json", "--orders", "--count", "6")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 6
    for record in records:
        assert record["kind"] == "order" and record["order_id"].isdigit()
        assert record["side"] in ("BUY", "SELL")
        executed = sum(float(c["execute_volume"]) for c in record["cp_orders"])  # display check only
        assert abs(executed - float(record["execute_volume"])) < 1e-9


def test_stream_json_risk_of_a_book():
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--stream", "json", "--risk", "--book", "B",
                      "--count", "3")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == 3 and all(r["kind"] == "risk" and r["book"] == "B" for r in records)
    assert {"venue": "bthub", "kind": "risk", "book": "B", "cp": "binance", "symbol": "BTCUSDT10",
            "open_volume": "-0.07104", "open_amount": "266.4288716965"} in records


def test_rejected_login_exits_1_with_one_line_and_no_retry_loop():
    started = time.monotonic()
    done = run_obview("bthub", "BTCUSDT", "--sim", "--fault", "reject_login", "--dump", "json")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "obview: bthub: login rejected (UNAUTHORIZED)\n"
    assert time.monotonic() - started < 10


def test_unknown_symbol_exits_1_listing_valid_symbols():
    done = run_obview("bthub", "DOGEUSDT", "--sim", "--dump", "json")
    assert done.returncode == 1
    assert done.stderr == "obview: bthub: unknown symbol DOGEUSDT (valid: BTCUSDT, ETHUSDT)\n"


def test_missing_credentials_is_a_usage_error(tmp_path):
    done = run_obview("bthub", "BTCUSDT", "--dump", "json", XDG_CONFIG_HOME=str(tmp_path))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "OBVIEW_BTHUB_PASSWORD" in done.stderr


# -- a simulator in its own process, for the paths that need a real URL -----------------------
@pytest.fixture
def sim_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "bthub", "--port", "0", "--fault", "rate=100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=obview_env(), cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("obview sim bthub serving http://127.0.0.1:"), line + proc.stderr.read()
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def write_config(home: Path, mode: int, text: str) -> Path:
    path = home / "obview" / "bthub.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_credentials_from_a_private_config_file(tmp_path, sim_url):
    write_config(tmp_path, 0o600, f'user = "{DEMO_USER}"\npassword = "{DEMO_PASSWORD}"\n')
    done = run_obview("bthub", "BTCUSDT", "--url", sim_url, "--dump", "json",
                      XDG_CONFIG_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout)["synced"]


def test_wrong_credentials_against_a_real_url_are_rejected_once(tmp_path, sim_url):
    done = run_obview("bthub", "BTCUSDT", "--url", sim_url, "--dump", "json",
                      OBVIEW_BTHUB_USER="demo", OBVIEW_BTHUB_PASSWORD="not-the-password",
                      XDG_CONFIG_HOME=str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == "obview: bthub: login rejected (UNAUTHORIZED)\n"


def test_group_readable_config_file_is_refused(tmp_path):
    path = write_config(tmp_path, 0o640, 'user = "demo"\npassword = "Pw-FILE-SECRET-9"\n')
    done = run_obview("bthub", "BTCUSDT", "--dump", "json", XDG_CONFIG_HOME=str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == (f"obview: refusing {path}: other users can access it (mode 640); "
                           f"run: chmod 600 {path}\n")
    assert "Pw-FILE-SECRET-9" not in done.stderr


# -- secrets -------------------------------------------------------------------------------
def test_password_and_token_never_leak(tmp_path):
    password = "Pw-LEAKCHECK-20261121"
    log_file = tmp_path / "obview.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "bthub", "BTCUSDT", "--sim", "--book", "B",
         "--stream", "json", "--count", "60", "--log-file", str(log_file),
         "--fault", "rate=200", "--fault", "drop_after=40", "--fault", "malformed=4",
         "--fault", "token_ttl=0.3", "--fault", "refuse_ws=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        stdin=subprocess.DEVNULL,
        env=obview_env(OBVIEW_BTHUB_USER="leak-user", OBVIEW_BTHUB_PASSWORD=password),
    )
    try:
        first = proc.stdout.readline()
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        # read through the same buffered files: communicate() would skip what readline buffered
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    log_text = log_file.read_text()
    outputs = {"stdout": first + out, "stderr": err, "log file": log_text, "command line": cmdline}
    for name, text in outputs.items():
        assert password not in text, f"password leaked into {name}"
        assert TOKEN_PREFIX not in text, f"token leaked into {name}"
    # the log did see the secret-bearing URLs, masked
    assert "password=***" in log_text
    assert "X-API-TOKEN=***" in log_text
    assert "bad frame" in log_text and "logged in" in log_text and "session ended" in log_text
    assert len((first + out).splitlines()) == 60


# -- counterparties, symbols, the credentials file ------------------------------------------
def test_unknown_counterparty_is_a_usage_error_listing_the_known_ones():
    started = time.monotonic()
    done = run_obview("bthub", "BTCUSDT", "--sim", "--cp", "kraken", "--dump", "json")
    assert done.returncode == 2
    assert done.stderr == ("obview: bthub: unknown counterparty 'kraken' "
                           "(known: okex, binance, huobi)\n")
    assert time.monotonic() - started < 8  # not the 10 s (or --timeout) wait of before


def test_orders_of_two_symbols_carry_their_symbol_and_no_other():
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--stream", "json", "--orders",
                      "--count", "12")
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["symbol"] for line in done.stdout.splitlines()} == {"BTCUSDT"}
    done = run_obview("bthub", "BTCUSDT", "ETHUSDT", "--sim", "--fault", "rate=400", "--stream",
                      "json", "--orders", "--count", "60")
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["symbol"] for line in done.stdout.splitlines()} == {"BTCUSDT", "ETHUSDT"}


def test_risk_rows_of_the_requested_symbol_only():
    done = run_obview("bthub", "ETHUSDT", "--sim", *FAST, "--book", "A", "--stream", "json",
                      "--risk", "--count", "5")
    assert done.returncode == 0, done.stderr
    symbols = {json.loads(line)["symbol"] for line in done.stdout.splitlines()}
    assert symbols and all(s.startswith("ETHUSDT") for s in symbols)


def test_a_fifo_as_credentials_file_is_refused_at_once(tmp_path):
    import os

    path = tmp_path / "obview" / "bthub.toml"
    path.parent.mkdir(parents=True)
    os.mkfifo(path, 0o600)
    started = time.monotonic()
    done = run_obview("bthub", "BTCUSDT", "--dump", "json", "--timeout", "3",
                      XDG_CONFIG_HOME=str(tmp_path), timeout=20)
    assert done.returncode == 1
    assert done.stderr == f"obview: refusing {path}: not a regular file\n"
    assert time.monotonic() - started < 3


def test_cp_help_says_what_the_tui_does_with_it():
    """--help said --cp shows one counterparty's book "instead of the aggregated one":
    headless does, but the TUI keeps every book's tab and opens on that counterparty's
    (test_bthub_screen.test_cp_opens_on_that_counterpartys_ladder). The help says both;
    and headless, the dump is that counterparty's book alone."""
    done = run_obview("bthub", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "headless, instead of the aggregated one; the TUI opens on its tab" in text, text
    done = run_obview("bthub", "BTCUSDT", "--sim", *FAST, "--cp", "okex", "--dump", "json")
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout)["source"] == "okex"
