"""Benchmarks must keep running: each runs once with a tiny workload."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, obview_env


def test_book_bench_runs():
    out = subprocess.run(
        [sys.executable, "bench/book_bench.py", "--updates", "2000", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "obview book (Decimal):" in out
    assert "ratio obview / C extension:" in out


def test_futu_decode_bench_runs():
    out = subprocess.run(
        [sys.executable, "bench/futu_decode.py", "--frames", "50", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "(b)/(a) time ratio:" in out and "(c)/(b) time ratio:" in out


def test_loopring_push_bench_runs():
    out = subprocess.run(
        [sys.executable, "bench/loopring_push.py", "--pushes", "200", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert out.count("ratio (b)/(a)") == 2


def test_tui_bench_runs():
    proc = subprocess.run(
        [sys.executable, "bench/tui_bench.py", "--duration", "0.5", "--rate", "2000",
         "--books", "2", "--orders", "100", "--paint-timeout", "10"],
        capture_output=True, text=True, timeout=90, cwd=ROOT, env=obview_env(),
    )
    assert proc.returncode == 0, proc.stderr
    for label in ("ladder redraw CPU", "frames per second", "push-to-paint",
                  "keypress-to-paint", "process CPU share", "RSS", "obview --help",
                  "first book painted"):
        assert label in proc.stdout
    assert "n/a" not in proc.stdout  # the first-paint launch painted a book


def test_trades_bench_runs():
    out = subprocess.run(
        [sys.executable, "bench/trades_bench.py", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True, env=obview_env(),
    ).stdout
    assert out.count("us/print") == 2
