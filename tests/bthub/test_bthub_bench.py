"""The bthub frame benchmark keeps running: once, with a tiny workload."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_bthub_frames_bench_runs():
    out = subprocess.run(
        [sys.executable, "bench/bthub_frames.py", "--frames", "60", "--levels", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert "frames: 60 x 9 levels a side" in out
    assert "ratio decode + apply / json.loads:" in out
