"""The journal benchmark keeps running (tiny workload)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, obview_env


def test_journal_bench_runs() -> None:
    out = subprocess.run(
        [sys.executable, "bench/journal_bench.py", "--frames", "200", "--rounds", "1",
         "--hour-rates", "2", "--seeks", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True, env=obview_env(),
    ).stdout
    assert out.count("recording adds") == 3  # Loopring on_frame and via websockets, Futu
    assert "target <= 25%" in out and "target <= 500 ms" in out
