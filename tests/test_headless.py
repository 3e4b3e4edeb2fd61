"""The headless contract (docs/feeds.md), end to end against the simulators on loopback:
dump at sync, unbounded streams, closed stdout, causes known at once, Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from tests.conftest import ROOT, obview_env, run_obview

SIM_ARGS = {
    "futu": ["futu", "HK.00700", "--sim"],
    "loopring": ["loopring", "LRC-ETH", "--sim"],
    "bthub": ["bthub", "BTCUSDT", "--sim"],
}


def _start(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "obview", *args], env=obview_env(), cwd=ROOT,
                            stdin=subprocess.DEVNULL, **popen)


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("venue", sorted(SIM_ARGS))
def test_dump_on_a_quiet_market_prints_at_sync(venue):
    # rate=0: after the first state nothing changes, so there is no update to wait for
    started = time.monotonic()
    result = run_obview(*SIM_ARGS[venue], "--fault", "rate=0", "--dump", "json", timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    books = [json.loads(line) for line in result.stdout.splitlines()]
    assert books and all(b["synced"] and b["venue"] == venue for b in books)
    assert all(b["bids"] and b["asks"] for b in books)
    assert elapsed < 2.0, f"{venue} dump took {elapsed:.2f}s"


def test_dump_count_zero_is_valid_and_count_n_waits_for_n_updates():
    zero = run_obview(*SIM_ARGS["futu"], "--fault", "rate=0", "--dump", "json", "--count", "0",
                      timeout=30)
    assert zero.returncode == 0, zero.stderr
    synced_at = json.loads(zero.stdout)["version"]  # the push counter at the sync
    three = run_obview(*SIM_ARGS["futu"], "--fault", "rate=50", "--dump", "json", "--count", "3",
                       timeout=30)
    assert three.returncode == 0, three.stderr
    assert json.loads(three.stdout)["version"] >= synced_at + 3


def test_stream_without_count_outlives_timeout_and_ends_on_ctrl_c():
    proc = _start(*SIM_ARGS["futu"], "--stream", "json", "--timeout", "1",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        lines = 0
        # read until a line arrives well after --timeout: the stream was not cut at 1 s
        while time.monotonic() - started < 2.0:
            line = proc.stdout.readline()
            assert line, f"stream ended early: {proc.wait(5)} {proc.stderr.read()}"
            lines += 1
            assert json.loads(line)["synced"] is True
        assert proc.poll() is None and lines > 10
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        proc.stdout.read()
        code = proc.wait(5)
        assert time.monotonic() - interrupted < 1.0
        assert code == 130
        assert proc.stderr.read().strip() == "obview: interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("venue", ["futu", "bthub"])
def test_ctrl_c_ends_within_a_second_under_a_flood(venue):
    flood = {"futu": ["futu", "HK.00700", "HK.00005", "US.AAPL", "--sim", "--fault", "rate=2000"],
             "bthub": ["bthub", "BTCUSDT", "--sim", "--fault", "rate=2000"]}[venue]
    proc = _start(*flood, "--stream", "json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):  # the flood is flowing
            assert proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        proc.stdout.read()  # keep draining: a blocked writer must not be what ends it
        code = proc.wait(5)
        assert time.monotonic() - interrupted < 1.0, time.monotonic() - interrupted
        assert code == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("venue", sorted(SIM_ARGS))
def test_closed_stdout_ends_at_once_quietly(venue):
    started = time.monotonic()
    proc = _start(*SIM_ARGS[venue], "--fault", "rate=20", "--stream", "json",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-2"], stdin=proc.stdout, stdout=subprocess.PIPE)
    proc.stdout.close()  # only head reads the pipe now
    try:
        out, _ = head.communicate(timeout=10)
        code = proc.wait(10)
        elapsed = time.monotonic() - started
        assert len(out.splitlines()) == 2
        assert code == 0
        assert proc.stderr.read() == b""
        assert elapsed < 2.0, f"{venue}: {elapsed:.2f}s"
    finally:
        for p in (proc, head):
            if p.poll() is None:
                p.kill()
                p.wait()


def _refused_args(venue: str, port: int) -> list[str]:
    return {
        "futu": ["futu", "HK.00700", "--port", str(port)],
        "loopring": ["loopring", "LRC-ETH", "--rest-url", f"http://127.0.0.1:{port}",
                     "--ws-url", f"ws://127.0.0.1:{port}/ws"],
        "bthub": ["bthub", "BTCUSDT", "--url", f"http://127.0.0.1:{port}"],
    }[venue]


def _unknown_host_args(venue: str) -> list[str]:
    host = "obview-test.invalid"  # .invalid never resolves (RFC 2606)
    return {
        "futu": ["futu", "HK.00700", "--host", host],
        "loopring": ["loopring", "LRC-ETH", "--rest-url", f"http://{host}", "--ws-url", f"ws://{host}/ws"],
        "bthub": ["bthub", "BTCUSDT", "--url", f"http://{host}"],
    }[venue]


@pytest.mark.parametrize("cause", ["refused", "unknown host"])
@pytest.mark.parametrize("venue", sorted(SIM_ARGS))
@pytest.mark.parametrize("mode", ["--dump", "--stream"])
def test_cause_known_at_once_is_one_line_within_two_seconds(venue, cause, mode):
    args = _refused_args(venue, _closed_port()) if cause == "refused" else _unknown_host_args(venue)
    env = obview_env(OBVIEW_BTHUB_USER="u", OBVIEW_BTHUB_PASSWORD="p")
    started = time.monotonic()
    result = run_obview(*args, mode, "json", timeout=30, env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    want = "refused" if cause == "refused" else ("not known", "unknown host", "resolution")
    assert any(w in lines[0] for w in ([want] if isinstance(want, str) else want)), lines[0]
    assert "retry in" not in lines[0] and "timed out" not in lines[0]
    assert result.stdout == ""
    assert elapsed < 2.0, f"{elapsed:.2f}s: {lines[0]}"


def test_log_file_records_every_reconnect_with_its_reason(tmp_path):
    for venue, fault in (("futu", "drop_after=5"), ("loopring", "drop_after=5")):
        log = tmp_path / f"{venue}.log"
        result = run_obview(*SIM_ARGS[venue], "--fault", "rate=50", "--fault", fault,
                            "--stream", "json", "--count", "30", "--log-file", str(log), timeout=60)
        assert result.returncode == 0, result.stderr
        text = log.read_text()
        assert f"{venue}: session ended (" in text and "reconnect #1 in" in text, text[-2000:]


def test_repeated_bad_frames_are_rate_limited_in_the_log(tmp_path):
    log = tmp_path / "bthub.log"
    result = run_obview(*SIM_ARGS["bthub"], "--fault", "rate=500", "--fault", "malformed=1",
                        "--stream", "json", "--count", "300", "--log-file", str(log), timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in log.read_text().splitlines() if "bad frame" in line or "bad-frame" in line]
    suppressed = sum(int(line.split(": ")[-1].split()[0]) for line in lines if "suppressed" in line)
    assert suppressed > 50  # many bad frames went by ...
    assert len(lines) <= 7  # ... and the log kept the first five and a summary or two


def test_bad_frames_and_reconnects_are_said_on_stderr_and_the_stream_goes_on():
    """Headless said nothing of a corrupt push and the reconnect it caused (exit 0, the
    lines, an empty stderr): only the log knew. Now one stderr line, with the totals."""
    result = run_obview(*SIM_ARGS["futu"], "--fault", "garbage_after=3", "--stream", "json",
                        "--count", "40", timeout=60)
    assert result.returncode == 0, result.stderr
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 40
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("obview: warning: futu: 1 bad frame, 1 reconnect so far (")
    assert lines[0].endswith("; the books resync and go on")


def test_a_flood_of_bad_frames_is_one_stderr_line_with_the_count(tmp_path):
    log = tmp_path / "bthub.log"
    result = run_obview(*SIM_ARGS["bthub"], "--fault", "rate=500", "--fault", "malformed=1",
                        "--stream", "json", "--count", "300", "--log-file", str(log), timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 300
    bad = log.read_text().count("bad frame")
    assert bad >= 1
    # at most one line every 10 s a feed: this run's few seconds are the first line, and
    # the totals the limit held back when the run ends
    first, totals = result.stderr.splitlines()
    assert first == "obview: warning: bthub: 1 bad frame so far; the books resync and go on"
    held_back = int(re.fullmatch(r"obview: warning: bthub: (\d+) bad frames in all", totals)[1])
    assert held_back > 50


def test_crossed_and_locked_are_flagged_as_received():
    from obview.book import OrderBook
    from obview.feed import Feed, Stream
    from obview.headless import book_json

    feed = Feed()
    cases = {(Decimal(10), Decimal(11)): (False, False), (Decimal(11), Decimal(11)): (False, True),
             (Decimal(12), Decimal(11)): (True, False)}
    for (bid, ask), (crossed, locked) in cases.items():
        stream = Stream("AAA", OrderBook())
        stream.book.replace([(bid, Decimal(1), 1)], [(ask, Decimal(1), 1)])
        obj = book_json(feed, stream, depth=5, details=False)
        assert (obj["crossed"], obj["locked"]) == (crossed, locked)
        assert obj["bids"][0][0] == str(bid)  # shown as received, never fixed


def test_stream_lines_flag_crossed_books_as_the_levels_show():
    result = run_obview(*SIM_ARGS["bthub"], "--fault", "rate=200", "--stream", "json",
                        "--count", "200", timeout=60)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        book = json.loads(line)
        bid = Decimal(book["bids"][0][0]) if book["bids"] else None
        ask = Decimal(book["asks"][0][0]) if book["asks"] else None
        both = bid is not None and ask is not None
        assert book["crossed"] == (both and bid > ask)
        assert book["locked"] == (both and bid == ask)


async def test_untrusted_certificate_is_fatal_at_once(tmp_path):

    from obview.headless import HeadlessFailure, run_headless
    from obview.venues import config

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def silent(reader, writer):
        with contextlib.suppress(Exception):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    configs = [
        config("bthub", ["BTCUSDT"], url=f"https://127.0.0.1:{port}", user="u", password="p"),
        config("loopring", ["LRC-ETH"], api="v2", rest_url=f"https://127.0.0.1:{port}",
               ws_url=f"wss://127.0.0.1:{port}/ws"),
    ]
    try:
        for cfg in configs:
            started = time.monotonic()
            with pytest.raises(HeadlessFailure) as failure:
                await run_headless([cfg], "stream", None, 30.0, out=open(os.devnull, "w"))  # noqa: SIM115
            assert time.monotonic() - started < 2.0
            assert "certificate" in str(failure.value).lower(), failure.value
    finally:
        server.close()


async def test_without_fail_fast_a_refused_connection_is_retried_and_said():
    # what the TUI does: it keeps retrying and shows why and when

    from obview.feed import FeedState
    from obview.venues import config
    from obview.venues.futu.client import FutuFeed
    from tests.conftest import wait_until

    feed = FutuFeed(config("futu", ["HK.00700"], port=_closed_port()))
    feed.backoff.initial = 0.02
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.reconnects >= 3, 5, "retries")
        assert feed.state is FeedState.RECONNECTING
        assert "connection refused" in feed.status_text and "retry in" in feed.status_text
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("venue", sorted(SIM_ARGS))
def test_closed_pipe_ends_a_quiet_stream_too(venue):
    # rate=0: the first book is the only line, so no later write can fail: the reader
    # going away has to be noticed on its own
    proc = _start(*SIM_ARGS[venue], "--fault", "rate=0", "--stream", "json",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=proc.stdout, stdout=subprocess.PIPE)
    proc.stdout.close()
    try:
        out, _ = head.communicate(timeout=10)
        reader_gone = time.monotonic()  # `head` has its line and has exited
        code = proc.wait(10)
        assert json.loads(out)["synced"] is True
        assert code == 0 and proc.stderr.read() == b""
        # noticed at once (the pipe's fd is watched), not by a poll; timed from the
        # reader's exit, not from a start-up that a busy machine makes slow
        assert time.monotonic() - reader_gone < 1.0
    finally:
        for p in (proc, head):
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("args", [("futu", "HK.00700", "--sim", "--stream", "json"),
                                  ("demo", "--dump", "json")])
def test_a_stdout_that_cannot_be_written_ends_the_run_in_one_line(args):
    """`> file` on a full disk: the failed write reached the feed as its session's error,
    so it reconnected for ever, printing nothing anywhere (a --dump timed out blaming
    the venue)."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "obview", *args], stdout=full,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                              timeout=60, env=obview_env(), cwd=ROOT)
    assert (done.returncode, done.stderr) == (
        1, "obview: cannot write stdout: No space left on device\n")
