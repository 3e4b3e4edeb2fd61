"""The TUI benchmark still runs (tiny size), so it cannot rot."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, obview_env


def test_tui_bench_smoke():
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
