"""Journals recorded from the simulators by the real command, shared by the replay tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from obview.feed import Feed
from obview.journal import JournalWriter
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


async def record_session(path: Path, cfg, done: Callable[[Feed], Callable[[], bool]], what: str,
                         *, checkpoint_every: float, timeout: float,
                         writer_factory: Callable[..., JournalWriter] | None = None,
                         frame_bytes: int = 1 << 20) -> Feed:
    """A session of the simulator `cfg` names, recorded through the same tap as --record
    until `done(feed)()` holds (`done` sees the feed before it runs: it may listen to it);
    the feed, closed, with its counts as its screen showed them at the end."""
    from obview.record import Recording
    from obview.venues import load
    from tests.conftest import wait_until

    async with contextlib.AsyncExitStack() as stack:
        feed = await load(cfg.venue).open_feed(cfg, stack)
        recording = Recording(path, [cfg], checkpoint_every=checkpoint_every,
                              writer_factory=writer_factory
                              or partial(JournalWriter, frame_bytes=frame_bytes))
        recording.attach(feed)
        finished = done(feed)
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(finished, timeout, what)
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            recording.close()
            await feed.close()
    return feed


def _prints(count: int) -> Callable[[Feed], Callable[[], bool]]:
    """`done` for `record_session`: once the feed has printed `count` trades."""
    def watch(feed: Feed) -> Callable[[], bool]:
        from obview.events import TradesPrinted

        seen = [0]
        feed.add_listener(lambda e: seen.__setitem__(0, seen[0] + len(e.trades))
                          if isinstance(e, TradesPrinted) else None)
        return lambda: seen[0] >= count
    return watch


@contextlib.asynccontextmanager
async def playing(path: Path, until: int | None = None, start: int | None = None):
    """A player of `path` at max speed with its feeds running, played to its end (or
    `until`); stopped on the way out."""
    from obview.replay import ReplayPlayer
    from tests.conftest import wait_until

    player = ReplayPlayer([path], speed=None, start=start, until=until)
    tasks = [asyncio.create_task(feed.run()) for feed in player.feeds]
    driver = asyncio.create_task(player.run())
    try:
        await wait_until(player.finished.is_set, 30, "the journal played")
        yield player
    finally:
        driver.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(driver, *tasks, return_exceptions=True)


@pytest.fixture(scope="session")
def checkpointed_journal(tmp_path_factory) -> Path:
    """A dense Futu session with prints, recorded from the simulator through the same
    tap as --record, with a checkpoint (and seek point) every 2 s rather than every 10 s
    and 1 MiB: a short journal with many places a seek starts from."""
    from obview.venues import config

    path = tmp_path_factory.mktemp("journals") / "futu-dense.ndjson.zst"
    cfg = config("futu", ["HK.00700", "US.AAPL"], sim=True, seed=3, faults={"rate": "100"},
                 trades=True)
    asyncio.run(record_session(path, cfg, _prints(1500), "1500 prints", checkpoint_every=2.0,
                               frame_bytes=32_000, timeout=90))
    return path
