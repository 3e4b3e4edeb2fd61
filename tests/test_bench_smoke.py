"""Benchmarks must keep running: each runs once with a tiny workload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
