"""Shared test helpers: run the real `obview` command, wait for conditions (never sleep)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the user's config or write logs into the real home: point the
    platform folders (config, logs) at a session tmp dir, for this process and children."""
    base = tmp_path_factory.mktemp("user-dirs")
    saved = dict(os.environ)
    os.environ.update({
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_STATE_HOME": str(base / "state"),
        "XDG_DATA_HOME": str(base / "data"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    })
    os.environ.pop("OBVIEW_CONFIG", None)
    for name in [n for n in os.environ if n.startswith(("OBVIEW_FUTU_", "OBVIEW_LOOPRING_"))]:
        os.environ.pop(name)
    yield base
    os.environ.clear()
    os.environ.update(saved)


IDLE_CAP_S = 0.25


@pytest.fixture(autouse=True, scope="session")
def _short_idle_cap():
    """Pilot's `pause()` and `press()` wait until the process's CPU goes idle, capped at 1 s.
    With a simulator in the same process it never goes idle, so every pause cost the whole
    second (a 24 s screen test spent 1.8 s waiting for data). A 0.25 s cap leaves an idle app
    exactly as before; a test that needs data still waits for it by condition (`wait_until`)."""
    import textual.app
    import textual.pilot
    from textual._wait import SLEEP_GRANULARITY, wait_for_idle

    async def capped(min_sleep: float = SLEEP_GRANULARITY, max_sleep: float = 1.0) -> None:
        await wait_for_idle(min_sleep, min(max_sleep, IDLE_CAP_S))

    saved = textual.app.wait_for_idle, textual.pilot.wait_for_idle
    textual.app.wait_for_idle = textual.pilot.wait_for_idle = capped
    yield
    textual.app.wait_for_idle, textual.pilot.wait_for_idle = saved


def obview_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("OBVIEW_BTHUB_USER", None)
    env.pop("OBVIEW_BTHUB_PASSWORD", None)
    env.update(extra)
    return env


def run_obview(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
               **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m obview ARGS` to completion; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "obview", *args],
        capture_output=True, text=True, timeout=timeout,
        env=env or obview_env(**extra_env), cwd=ROOT, stdin=subprocess.DEVNULL,
    )


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0,
                     message: str = "condition") -> None:
    """Poll `predicate` on the event loop until true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(0.005)


async def press_to_quit(app, pilot, key: str = "q", timeout: float = 10.0) -> None:
    """Press `key` and wait until the app has ended. Not `await pilot.press(key)`: after
    a key Pilot waits, with no timeout, for the animator to finish, and an animation
    that starts while the app shuts down (a tab underline, a table scrolling) leaves it
    waiting for ever: now and then a test ran into its 120 s limit in CI."""
    press = asyncio.create_task(pilot.press(key))
    try:
        await wait_until(lambda: not app.is_running, timeout, f"{key!r} ends the app")
    finally:
        press.cancel()
        await asyncio.gather(press, return_exceptions=True)


@pytest.fixture
def obview() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_obview
