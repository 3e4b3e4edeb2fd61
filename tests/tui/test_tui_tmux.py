"""`obview demo` in a real terminal (tmux): prices shown, cursor, drilldown, clean quit."""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT


def _venues_ready() -> bool:
    for venue in ("futu", "loopring", "bthub"):
        try:
            module = importlib.import_module(f"obview.venues.{venue}")
        except ImportError:
            return False
        if not hasattr(module, "open_feed"):
            return False
    return True


pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed"),
    pytest.mark.skipif(not _venues_ready(), reason="venue feeds not merged yet"),
]


class Tmux:
    """A private tmux server (own socket) running one command in a 120x40 pane."""

    def __init__(self, command: str) -> None:
        self.socket = f"obview-test-{uuid.uuid4().hex[:8]}"
        self._run("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "120", "-y", "40", command)

    def _run(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)
        return proc.stdout

    def keys(self, *keys: str) -> None:
        self._run("send-keys", "-t", "t", *keys)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "t")

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "screen") -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.05)  # polling interval, not synchronisation

    def close(self) -> None:
        self._run("kill-server")


def test_demo_in_a_real_terminal():
    # pytest exports COLUMNS/LINES (80x24); the app must measure the real pane instead
    env = f"-u COLUMNS -u LINES PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color"
    command = (f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
               f"-m obview demo; echo OBVIEW_EXIT=$?; sleep 60")
    tmux = Tmux(command)
    try:
        screen = tmux.wait_for(lambda s: "spread" in s and "▶ bid 1 @" in s and "BTCUSDT" in s,
                               30, "ladder and every tab")
        assert "HK.00700" in screen and "LRC-ETH" in screen and "US.AAPL" in screen
        assert re.search(r"\b\d{2,4}\.\d+\s+[\d,]+", screen), "no price/size rows"
        tmux.keys("Down")
        tmux.wait_for(lambda s: "▶ bid 2 @" in s, 10, "cursor on bid 2")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "level size" in s and "[queue]" in s, 10, "drilldown")
        tmux.keys("Escape")
        tmux.wait_for(lambda s: "spread" in s and "▶ bid 2 @" in s, 10, "back to ladder")
        tmux.keys("q")
        screen = tmux.wait_for(lambda s: "OBVIEW_EXIT=" in s, 15, "exit")
        assert "OBVIEW_EXIT=0" in screen
        assert "Traceback" not in screen
    finally:
        tmux.close()




def test_a_recorded_tui_session_says_where_its_journal_went(tmp_path):
    # --record FOLDER names the journal for its start: once the screen is gone, the one
    # line left says which file holds the session (it said nothing at all)
    folder = tmp_path / "rec"
    folder.mkdir()
    env = f"-u COLUMNS -u LINES PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color"
    command = (f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
               f"-m obview futu HK.00700 --sim --record {shlex.quote(str(folder))}/; "
               f"echo OBVIEW_EXIT=$?; sleep 60")
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: "spread" in s and "▶ bid 1 @" in s, 30, "the ladder")
        tmux.keys("q")
        screen = tmux.wait_for(lambda s: "OBVIEW_EXIT=" in s, 15, "exit")
        assert "OBVIEW_EXIT=0" in screen
        journals = list(folder.iterdir())
        assert len(journals) == 1 and journals[0].name.startswith("obview-")
        assert f"obview: recorded to {journals[0]}" in screen.replace("\n", "")
    finally:
        tmux.close()
