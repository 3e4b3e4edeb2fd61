"""Smoke test: the decode benchmark still runs (tiny size; the numbers are not checked)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_futu_decode_benchmark_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "futu_decode.py"), "--frames", "30", "--rounds", "1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    for label in ("(a)", "(b)", "(c)", "(d)", "(b)/(a)", "(c)/(b)", "(d)/(b)"):
        assert label in result.stdout
