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


@pytest.fixture
def obview() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_obview
