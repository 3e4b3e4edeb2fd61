"""Journals recorded from the simulators by the real command, shared by the replay tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_obview

# Derived from the local receive clock: they differ between a live run and its replay
# (by the live decoding at most: a replay measures both at the journal's receive stamp,
# the same in every replay, so replays are compared with each other whole).
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


@pytest.fixture(scope="session")
def loopring_trades_journal(tmp_path_factory) -> Path:
    """A Loopring (v3) session with its trade topic, by the real command."""
    path = tmp_path_factory.mktemp("journals") / "loopring-trades.ndjson.zst"
    record(path, "loopring", "LRC-ETH", "--sim", "--fault", "rate=50", "--trades", count=200)
    return path


async def _record_in_process(path: Path, cfg, trades: int, checkpoint_every: float,
                             frame_bytes: int, timeout: float) -> None:
    import asyncio
    import contextlib
    from functools import partial

    from obview.events import TradesPrinted
    from obview.journal import JournalWriter
    from obview.record import Recording
    from obview.venues import load
    from tests.conftest import wait_until

    async with contextlib.AsyncExitStack() as stack:
        feed = await load(cfg.venue).open_feed(cfg, stack)
        recording = Recording(path, [cfg], checkpoint_every=checkpoint_every,
                              writer_factory=partial(JournalWriter, frame_bytes=frame_bytes))
        recording.attach(feed)
        seen = [0]
        feed.add_listener(lambda e: seen.__setitem__(0, seen[0] + len(e.trades))
                          if isinstance(e, TradesPrinted) else None)
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: seen[0] >= trades, timeout, f"{trades} prints")
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            recording.close()
            await feed.close()


@pytest.fixture(scope="session")
def checkpointed_journal(tmp_path_factory) -> Path:
    """A dense Futu session with prints, recorded from the simulator through the same
    tap as --record, with a checkpoint (and seek point) every 2 s rather than every 10 s
    and 1 MiB: a short journal with many places a seek starts from."""
    import asyncio

    from obview.venues import config

    path = tmp_path_factory.mktemp("journals") / "futu-dense.ndjson.zst"
    cfg = config("futu", ["HK.00700", "US.AAPL"], sim=True, seed=3, faults={"rate": "100"},
                 trades=True)
    asyncio.run(_record_in_process(path, cfg, trades=1500, checkpoint_every=2.0,
                                   frame_bytes=32_000, timeout=90))
    return path
