"""Hostile input over real loopback sockets (tests/loopring/hostile.py): thousands of
seeded frames (valid pushes in every number form, broken pushes of ours, junk, random
JSON, 200,000-deep arrays), replies that never end and frames over the size limit.

Asserted: nothing escapes (no internal error, no reconnect), every bad frame is counted,
every book the feed publishes equals the server's book at that version, RSS stays
bounded. `python tests/loopring/fuzz_run.py --frames 100000` runs the big version.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from obview.events import BookChanged, StatusChanged
from obview.feed import Backoff
from obview.venues import config
from obview.venues.loopring.client import LoopringFeed
from tests.conftest import wait_until
from tests.loopring.conftest import normalised
from tests.loopring.hostile import MARKET, HostileServer, rss_bytes

FRAMES = 6_000


def hostile_feed(server: HostileServer, **options) -> LoopringFeed:
    opts = {"rest_url": server.rest_url, "ws_url": server.ws_url, "api": "v3", "limit": 200,
            "first_push_wait": 0.01, "refetch_delay": 0.005, "refetch_cap": 0.02,
            "min_snapshot_interval": 0.0, "verify": 0}
    opts.update(options)
    feed = LoopringFeed(config("loopring", [MARKET], **opts))
    feed.backoff = Backoff(initial=0.02, cap=0.1)
    return feed


class RssWatch:
    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, rss_bytes())
            await asyncio.sleep(0.01)

    def stop(self) -> int:
        self._task.cancel()
        return self.peak - self.start


class TruthCheck:
    """Compares every synced book the feed publishes with the server's book at that
    version, as it happens (keeping nothing, so that RSS measures the client)."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.checked = 0
        self.wrong: list[int] = []
        self.internal_errors = 0

    def __call__(self, event) -> None:
        if isinstance(event, StatusChanged) and "internal error" in event.text:
            self.internal_errors += 1
        if isinstance(event, BookChanged) and event.stream.synced:
            version = event.stream.book.version
            self.checked += 1
            if normalised(event.stream.book) != self.server.history.get(version):
                self.wrong.append(version)


async def _stop(watch: RssWatch | None, feed, task: asyncio.Task,
                server: HostileServer) -> None:
    """A hostile session's end: whatever the test saw, every part is stopped and closed."""
    if watch is not None:
        watch.stop()
    feed.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await feed.close()
    await server.close()


async def run_fuzz(seed: int, frames: int) -> dict:
    server = await HostileServer(seed).start()
    feed = hostile_feed(server)
    recorder = TruthCheck(server)
    feed.add_listener(recorder)
    watch = RssWatch()
    task = asyncio.create_task(feed.run())
    try:
        await server.run(frames, synced=lambda labels: feed.stream.synced and feed.bad_frames
                         >= labels["bad"] + labels["undecodable"])
        final = server.version
        await wait_until(lambda: feed.stream.synced and feed.stream.book.version == final
                         or task.done(), 60, f"the feed to reach version {final}")
        assert not task.done(), "the feed stopped"
        growth = watch.stop()
        assert recorder.internal_errors == 0
        assert feed.reconnects == 0
        assert feed.bad_frames == server.labels["bad"] + server.labels["undecodable"]
        assert recorder.checked and not recorder.wrong, recorder.wrong[:5]
        assert normalised(feed.stream.book) == server.history[final]
        return {"labels": dict(server.labels), "bad_frames": feed.bad_frames,
                "books_checked": recorder.checked, "resyncs": feed.stream.resyncs,
                "rss_growth_mb": growth / 2**20, "depth_requests": server.depth_requests}
    finally:
        await _stop(watch, feed, task, server)


@pytest.mark.timeout(60)
async def test_fuzz_thousands_of_hostile_frames():
    stats = await run_fuzz(seed=11, frames=FRAMES)
    assert sum(stats["labels"].values()) > 5_000
    assert stats["labels"]["bad"] > 300 and stats["labels"]["undecodable"] > 100
    assert stats["books_checked"] > 1_000
    assert stats["rss_growth_mb"] < 100, stats


@pytest.mark.timeout(60)
async def test_never_ending_depth_reply_is_cut_at_the_cap_and_retried():
    server = await HostileServer(3, depth_reply="endless").start()
    feed = hostile_feed(server, max_reply_bytes=2**20)
    watch = RssWatch()
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.oversized >= 3, 30, "three oversized replies")
        assert feed.bad_frames >= 3 and feed.reconnects >= 2 and not task.done()
        assert "byte limit" in feed.status_text or feed.state.value in ("connecting", "reconnecting")
        growth = watch.stop()
        assert growth < 60 * 2**20, f"RSS grew {growth / 2**20:.0f} MB"
    finally:
        await _stop(watch, feed, task, server)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
async def test_a_compressed_reply_not_asked_for_is_bad_and_never_decoded(encoding, caplog):
    """httpx decodes any Content-Encoding it is sent: 32 kB of zstd became 1 GB in one
    chunk, before the byte cap could look (RSS 2 GB, the loop held for seconds)."""
    server = await HostileServer(3, depth_reply=f"{encoding}-bomb").start()
    feed = hostile_feed(server, max_reply_bytes=2**20)
    watch = RssWatch()
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.bad_frames >= 3, 20, "three bad replies")
        assert feed.reconnects >= 2 and not task.done()
        growth = watch.stop()
        assert growth < 60 * 2**20, f"RSS grew {growth / 2**20:.0f} MB"
        assert feed.oversized == 0
        assert (f"loopring: bad frame #1: /api/v3/depth: reply in Content-Encoding "
                f"'{encoding}', not asked for") in caplog.messages
    finally:
        await _stop(watch, feed, task, server)


@pytest.mark.timeout(60)
async def test_frame_over_max_size_is_counted_and_the_connection_retried():
    server = await HostileServer(5, big_frame_every=300).start()
    feed = hostile_feed(server)
    task = asyncio.create_task(feed.run())
    try:
        await server.run(700)
        final = server.version
        await wait_until(lambda: feed.stream.synced and feed.stream.book.version == final, 30,
                         "the feed to catch up after the oversized frames")
        assert feed.oversized == server.labels["big"] == 2
        assert feed.reconnects == 2
        assert normalised(feed.stream.book) == server.history[final]
    finally:
        await _stop(None, feed, task, server)


@pytest.mark.timeout(60)
async def test_a_reply_that_is_not_utf8_is_journaled_as_its_bytes(tmp_path):
    """A depth reply with a Latin-1 byte in a key the client does not read: live takes
    it (msgspec skips unread keys). The journal held it decoded with replacement
    characters, not the bytes received; it now keeps the bytes, and a replay hands the
    feed what live got."""
    from obview.journal import Frame, JournalReader
    from obview.record import Recording
    from tests.replay.conftest import playing

    server = await HostileServer(3, depth_reply="not-utf8").start()
    feed = hostile_feed(server)
    path = tmp_path / "s.ndjson.zst"
    recording = Recording(path, [config("loopring", [MARKET], rest_url=server.rest_url,
                                        ws_url=server.ws_url, api="v3")])
    recording.attach(feed)
    task = asyncio.create_task(feed.run())
    try:
        await wait_until(lambda: feed.stream.synced, 20, "the book synced from the reply")
        assert feed.bad_frames == 0
        live = (feed.stream.book.version, normalised(feed.stream.book))
    finally:
        await _stop(None, feed, task, server)
        recording.close()
    sent = server.depth_bodies
    assert sent and all(b"caf\xe9" in body for body in sent)
    kept = [line.payload() for line in JournalReader([path]).lines()
            if type(line) is Frame and line.ch == "rest" and "/api/v3/depth" in line.u]
    assert kept == sent
    async with playing(path) as player:
        replayed = player.feeds[0]
        book = replayed.stream.book
        assert (replayed.bad_frames, book.version, normalised(book)) == (0, *live)
