"""Ctrl-C and `q` end the TUI within a second even while a venue floods it (a real
terminal: tmux). The headless side is in tests/test_headless.py."""

from __future__ import annotations

import shlex
import shutil
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.tui.test_tui_tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


FLOODS = {"futu": "futu HK.00700 HK.00005 US.AAPL --sim --fault rate=2000",
          "bthub": "bthub BTCUSDT --sim --fault rate=2000"}


@pytest.mark.parametrize("venue", sorted(FLOODS))
@pytest.mark.parametrize("key", ["q", "C-c"])
def test_tui_quits_within_a_second_under_a_flood(key, venue):
    env = f"-u COLUMNS -u LINES PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color"
    command = (f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
               f"-m obview {FLOODS[venue]}; "
               "echo OBVIEW_EXIT=$?; sleep 60")
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: "spread" in s, 30, "the ladder")
        tmux.keys(key)
        pressed = time.monotonic()
        screen = tmux.wait_for(lambda s: "OBVIEW_EXIT=" in s, 10, "exit")
        took = time.monotonic() - pressed
        assert "Traceback" not in screen
        assert "OBVIEW_EXIT=0" in screen or "OBVIEW_EXIT=130" in screen
        assert took < 1.0, f"{key} took {took:.2f}s"
    finally:
        tmux.close()
