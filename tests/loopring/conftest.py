"""Loopring test helpers: a simulator with ground truth, a fast-retrying feed, a
recorder of every book the feed publishes, and a pump that moves the market one push
at a time and waits (on conditions, never on sleeps) for the feed to take it in."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from obview.book import OrderBook
from obview.events import BookChanged, Event, StatusChanged
from obview.feed import Backoff, Feed
from obview.fmt import dec_str
from obview.venues import config
from obview.venues.loopring.client import LoopringFeed
from obview.venues.loopring.sim import LoopringSimulator
from tests.conftest import wait_until

MARKET = "LRC-ETH"
LIMIT = 200  # deeper than any simulated book (<= 30 raw slots a side), so the snapshot is whole


def normalised(book: OrderBook) -> dict[str, list[list[Any]]]:
    """The whole book as the simulator's truth writes it."""
    return {
        "bids": [[dec_str(lv.price), dec_str(lv.size), lv.orders] for lv in book.bids.iter_levels()],
        "asks": [[dec_str(lv.price), dec_str(lv.size), lv.orders] for lv in book.asks.iter_levels()],
    }


@dataclass
class Recorder:
    """Every synced book the feed publishes: (level, version, normalised book)."""

    books: list[tuple[int, int, dict]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StatusChanged):
            self.statuses.append(f"{event.feed.state.value}: {event.feed.status_text}")
        if isinstance(event, BookChanged) and event.stream.synced:
            stream = event.stream
            self.books.append((stream.level, stream.book.version, normalised(stream.book)))

    def versions(self) -> list[int]:
        return [version for _level, version, _book in self.books]


def assert_matches_truth(sim: LoopringSimulator, recorder: Recorder, market: str = MARKET) -> int:
    """Byte-for-byte equality with the simulator's book at every version reached."""
    import msgspec

    assert recorder.books, "the feed published no synced book"
    for level, version, book in recorder.books:
        truth = sim.truth(market, level, version)
        assert msgspec.json.encode(book) == msgspec.json.encode(truth), (
            f"level {level} version {version} differs from the simulator's book")
    return len(recorder.books)


def make_feed(sim: LoopringSimulator, market: str = MARKET, level: int = 0, api: str = "v3",
              **options: Any) -> LoopringFeed:
    opts = {
        "level": level, "api": api, "rest_url": sim.rest_url, "ws_url": sim.ws_url(api),
        "limit": LIMIT, "first_push_wait": 0.05, "refetch_delay": 0.02, "refetch_cap": 0.1,
        "min_snapshot_interval": 0.0,
    }
    opts.update(options)
    feed = LoopringFeed(config("loopring", [market], depth=20, **opts))
    feed.backoff = Backoff(initial=0.02, cap=0.1)
    return feed


class Harness:
    def __init__(self, sim: LoopringSimulator, feed: LoopringFeed, market: str = MARKET) -> None:
        self.sim = sim
        self.feed = feed
        self.market = market
        self.recorder = Recorder()
        feed.add_listener(self.recorder)
        self.task: asyncio.Task | None = None

    @property
    def stream(self):
        return self.feed.stream

    async def start(self) -> Harness:
        self.task = asyncio.create_task(self.feed.run())
        await wait_until(lambda: self.sim.subscribers(self.market) == 1 or self.task.done(),
                         5, "the feed's subscription")
        return self

    def caught_up(self) -> bool:
        """All frames the simulator wrote have been handled by the feed."""
        return self.sim.idle() and self.feed.messages == self.sim.stats["frames_sent"]

    async def pump(self, pushes: int, synced: bool = True, timeout: float = 10) -> None:
        """One push at a time; wait until the feed took it in (and is synced, if asked)."""
        for _ in range(pushes):
            self.sim.advance(self.market)
            await wait_until(lambda: self.caught_up() and (self.stream.synced or not synced),
                             timeout, "the feed to take the push in")

    async def settle(self, timeout: float = 10) -> None:
        """Synced at (or past) the last pushed version."""
        target = self.sim.pushed_version(self.market)
        await wait_until(
            lambda: self.stream.synced and (self.stream.book.version or 0) >= target,
            timeout, f"the feed to reach version {target}")

    async def stop(self) -> None:
        self.feed.stop()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.feed.close()


@pytest.fixture
async def make_harness():
    made: list[tuple[LoopringSimulator, Harness]] = []

    async def factory(faults: dict[str, str] | None = None, seed: int = 3, start: bool = True,
                      **feed_options: Any) -> Harness:
        all_faults = {"rate": "0", "truth": ""}
        all_faults.update(faults or {})
        sim = await LoopringSimulator(seed=seed, faults=all_faults).start()
        harness = Harness(sim, make_feed(sim, **feed_options), feed_options.get("market", MARKET))
        made.append((sim, harness))
        if start:
            await harness.start()
        return harness

    yield factory
    for sim, harness in made:
        await harness.stop()
        await sim.close()


def feed_error(feed: Feed) -> str | None:
    return next((s.error for s in feed.streams.values() if s.error), None)
