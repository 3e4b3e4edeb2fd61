"""Logs where users look: the platform's log folder when no --log-file, rotated, redacted."""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import subprocess
import sys

import pytest

from obview import logs
from obview.tui.app import ObviewApp
from obview.venues import config
from tests.conftest import ROOT, obview_env, press_to_quit, run_obview, wait_until
from tests.support.fake_feed import FakeFeed


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_venue_warnings_go_to_the_platform_log_folder(tmp_path):
    state = tmp_path / "state"
    done = run_obview("bthub", "BTCUSDT", "--sim", "--fault", "malformed=3", "--stream", "json",
                      "--count", "20", XDG_STATE_HOME=str(state))
    assert done.returncode == 0, done.stderr
    text = (state / "obview" / "log" / "obview.log").read_text()
    assert " WARNING obview.feed: bthub: bad frame #1" in text, text
    assert " DEBUG " not in text and " INFO " not in text  # warnings and errors only
    assert "demo-secret" not in text  # the simulator login's password


def test_log_file_option_still_takes_everything(tmp_path):
    state, path = tmp_path / "state", tmp_path / "debug.log"
    done = run_obview("futu", "HK.00700", "--sim", "--dump", "json", "--log-file", str(path),
                      XDG_STATE_HOME=str(state))
    assert done.returncode == 0, done.stderr
    assert path.exists()
    assert not (state / "obview" / "log" / "obview.log").exists()


@pytest.fixture
def fresh_logging(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(logs, "_errors", 0)
    monkeypatch.setattr(logs, "_where", None)
    logger = logging.getLogger("obview")
    handlers, level = list(logger.handlers), logger.level
    # start with none: a test that ran the CLI in this worker before left its handlers,
    # and their error counters made "1 error logged" read "4 errors logged"
    logger.handlers[:] = []
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_a_log_file_that_cannot_be_made_is_one_line_exit_1(tmp_path):
    """No folder for it, or a file where its folder should be: one line, exit 1, as for
    --record and export's OUT (it had been a usage error, exit 2), and nothing runs."""
    plain = tmp_path / "plain"
    plain.write_text("a file, not a folder\n")
    for where, why in ((tmp_path / "gone" / "x.log", "No such file or directory"),
                       (plain / "x.log", "Not a directory")):
        done = run_obview("futu", "HK.00700", "--sim", "--dump", "json", "--log-file", str(where))
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr.splitlines() == [f"obview: cannot write --log-file {where}: {why}"]


def test_default_log_redacts_secrets(fresh_logging, tmp_path, monkeypatch):
    from obview import config

    path = logs.setup(None)
    monkeypatch.setenv("OBVIEW_LOOPRING_API_KEY", "key-never-logged-5521")
    assert config.secret("loopring", "api_key") == "key-never-logged-5521"
    logging.getLogger("obview.loopring").error("GET /api/v3/depth X-API-KEY: %s", "key-never-logged-5521")
    text = path.read_text()
    assert "X-API-KEY: ***" in text and "key-never-logged-5521" not in text


def test_default_log_rotates(fresh_logging, tmp_path):
    path = logs.setup(None)
    assert path == tmp_path / "state" / "obview" / "log" / "obview.log"
    handler = next(h for h in fresh_logging.handlers if isinstance(h, logging.handlers.RotatingFileHandler))
    assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == logs.BACKUPS
    line = "x" * 1000
    for _ in range(2 * logs.MAX_BYTES // 1000):
        logging.getLogger("obview.feed").warning(line)
    assert path.exists() and path.with_name("obview.log.1").exists()
    assert not path.with_name(f"obview.log.{logs.BACKUPS + 1}").exists()
    assert path.stat().st_size <= logs.MAX_BYTES


async def test_status_bar_says_where_errors_are_logged(fresh_logging):
    logs.setup(None)
    assert logs.status_note() == ""
    cfg = config("futu", ["HK.00700"])
    app = ObviewApp([cfg], [FakeFeed("futu", ("HK.00700",), seed=1)])
    async with app.run_test(size=(120, 30)) as pilot:
        logging.getLogger("obview.futu").error("futu: session failed")
        await wait_until(lambda: "1 error logged:" in str(app.status_bar.render()),
                         message="the status bar's log note")
        assert "obview.log" in str(app.status_bar.render())
        await press_to_quit(app, pilot)


def test_a_run_that_ends_in_error_says_why_in_its_log_too(tmp_path):
    """The log of a run that failed stopped without the reason (a Loopring key refused:
    an empty log), which only the terminal had seen."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs Linux's /dev/full")
    log = tmp_path / "run.log"
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "obview", "futu", "HK.00700", "--sim",
                               "--stream", "json", "--log-file", str(log)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=obview_env(),
                              cwd=ROOT, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    reason = done.stderr.strip().removeprefix("obview: ")
    assert log.read_text().splitlines()[-1].endswith(f"ERROR obview: ended: {reason}")
