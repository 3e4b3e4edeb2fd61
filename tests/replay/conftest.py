"""Journals recorded from the simulators by the real command, shared by the replay tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_obview

# Derived from the local receive clock: they differ between a live run and its replay.
LOCAL_STAMPS = ("recv_ts", "latency_ms")


def without_local_stamps(text: str) -> dict:
    obj = json.loads(text)
    for key in LOCAL_STAMPS:
        obj.pop(key, None)
    return obj


def record(path: Path, *args: str, count: int = 150) -> list[str]:
    """Run a venue command with --record and --stream json; its printed lines."""
    done = run_obview(*args, "--stream", "json", "--count", str(count), "--record", str(path))
    assert done.returncode == 0, done.stderr
    assert path.exists()
    lines = done.stdout.splitlines()
    assert len(lines) == count
    return lines


@pytest.fixture(scope="session")
def futu_journal(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("journals") / "futu.ndjson.zst"
    return path, record(path, "futu", "HK.00700", "US.AAPL", "--sim", "--details")
