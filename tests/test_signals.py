"""SIGTERM (kill, timeout, a service manager) and SIGHUP (the terminal closed) end obview
as Ctrl-C does: a recording closed whole, the terminal given back; an ignored SIGHUP
(nohup) stays ignored."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from obview.journal import End, JournalReader
from tests.conftest import ROOT, obview_env
from tests.tui.test_tui_tmux import Tmux

STREAM = ["futu", "HK.00700", "--sim", "--stream", "json"]


def _streaming(args: list[str], **popen) -> subprocess.Popen:
    """obview streaming JSON lines, once it has printed three of them."""
    proc = subprocess.Popen([sys.executable, "-m", "obview", *args], cwd=ROOT,
                            env=obview_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    for _ in range(3):
        assert proc.stdout.readline(), proc.stderr.read()
    return proc


def _closed_whole(path) -> bool:
    reader = JournalReader(path)
    lines = list(reader)
    assert not reader.truncated, "the journal ends abruptly"
    return isinstance(lines[-1], End)  # the writer's last line: closed, not cut


def _ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("parent", ["a terminal", "a script's background job"])
def test_sigterm_ends_a_headless_recording_whole(tmp_path, parent):
    """A shell script's `obview ... &` starts obview with SIGINT ignored (so does
    `nohup` under some shells): Ctrl-C's path is then closed, and SIGTERM must still end
    it whole (it went on streaming for ever)."""
    journal = tmp_path / "j.ndjson.zst"
    popen = {"preexec_fn": _ignoring_sigint} if parent != "a terminal" else {}
    proc = _streaming([*STREAM, "--record", str(journal)], **popen)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and err.strip().endswith("obview: interrupted"), err
    assert "Traceback" not in err
    assert _closed_whole(journal)


def test_an_ignored_sighup_stays_ignored(tmp_path):
    proc = _streaming(STREAM, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        proc.send_signal(signal.SIGHUP)
        for _ in range(3):  # still streaming
            assert proc.stdout.readline(), proc.stderr.read()
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
@pytest.mark.parametrize("how", ["SIGTERM", "hang-up"])
def test_the_tui_killed_or_hung_up_gives_the_terminal_back_and_closes_its_journal(
        tmp_path, how):
    journal = tmp_path / "j.ndjson.zst"
    pid_file = tmp_path / "pid"
    env = f"-u COLUMNS -u LINES PYTHONPATH={shlex.quote(str(ROOT))} TERM=xterm-256color"
    # `exec` in a subshell that writes its pid first: the pid is obview's own
    run = (f"sh -c 'echo $$ > {shlex.quote(str(pid_file))}; exec env {env} "
           f"{shlex.quote(sys.executable)} -m obview futu HK.00700 --sim "
           f"--record {shlex.quote(str(journal))}'")
    tmux = Tmux(f"cd {shlex.quote(str(ROOT))} && {run}; echo OBVIEW_EXIT=$?; sleep 60")
    try:
        tmux.wait_for(lambda s: "spread" in s, 30, "the ladder")
        if how == "SIGTERM":
            subprocess.run(["kill", "-TERM", pid_file.read_text().strip()], check=True)
            screen = tmux.wait_for(lambda s: "OBVIEW_EXIT=" in s, 10, "exit")
            # the shell's line is readable: out of the alternate screen, nothing left of it
            assert "Traceback" not in screen and "spread" not in screen
        else:
            tmux.close()  # the terminal goes: obview gets SIGHUP
        pid = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while _alive(pid):
            assert time.monotonic() < deadline, "obview still running"
            time.sleep(0.05)  # polling interval, not synchronisation
        assert _closed_whole(journal)
    finally:
        tmux.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # (a zombie has ended)
    except FileNotFoundError:
        return False
