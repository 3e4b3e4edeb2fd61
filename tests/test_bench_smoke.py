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
