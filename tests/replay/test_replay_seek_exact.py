"""A seek restores a Loopring book exactly, whatever the size of its numbers."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import zstandard

from obview.journal import JournalReader, JournalWriter
from tests.conftest import wait_until
from tests.replay.conftest import playing, record_session

# 12.3 billion tokens of 18 decimals: 29 digits of units, past a Decimal context's 28
BIG = "12345678901.234567890123456789"


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    from obview.venues import config

    path = tmp_path_factory.mktemp("exact") / "lr.ndjson.zst"
    cfg = config("loopring", ["LRC-ETH"], sim=True, seed=5, faults={"rate": "100"})
    asyncio.run(record_session(
        path, cfg, lambda feed: lambda: feed.streams["LRC-ETH"].pushes >= 60, "60 pushes",
        checkpoint_every=0.2, timeout=60, writer_factory=partial(JournalWriter, frame_bytes=2000)))
    return path


def _with_size(path: Path, copy: Path, size: str) -> tuple[int, Decimal]:
    """The journal cut at the end of the last seek point's frame whose book a replay can
    go on from (a version, bids), with a bid of `size` added (the frame compressed again
    as the writer does); (the point's wall ns, that bid's price)."""
    data = path.read_bytes()
    points = JournalReader(path).index()
    for point, end in reversed(list(zip(points, [p.offset for p in points[1:]] + [len(data)],
                                        strict=True))):
        lines = zstandard.ZstdDecompressor().decompressobj().decompress(
            data[point.offset:end]).split(b"\n")[:-1]
        if len(lines) > 1 and lines[1].startswith(b'{"k":"ckp"'):
            row = json.loads(lines[1])
            if row.get("ver") is not None and row["bids"]:
                break
    at = 1
    # a level of its own, far below the market's, which no push after it touches
    row["bids"].append(["0.00000001", size, 1])
    lines[at] = json.dumps(row).encode()
    cobj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    frame = (cobj.compress(lines[0] + b"\n") + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
             + cobj.compress(b"".join(line + b"\n" for line in lines[1:])) + cobj.flush())
    copy.write_bytes(data[:point.offset] + frame)  # (what follows is not played)
    return point.wall, Decimal("0.00000001")


async def test_a_seek_restores_a_size_of_more_than_28_digits_exactly(journal, tmp_path):
    """The restore divided each size by the token's unit in the default context (28
    digits): 12345678901.234567890123456789 came back ...56790 units, kept as synced."""
    copy = tmp_path / "big.ndjson.zst"
    wall, price = _with_size(journal, copy, BIG)
    restored = []

    async with playing(copy, until=wall + 1, start=wall) as player:
        book = player.feeds[0].streams["LRC-ETH"].book
        restored.append(book.bids.get(price))
    level = restored[0]
    assert level is not None and level.size == Decimal(BIG)
    assert level.units == 12345678901234567890123456789


@pytest.fixture(scope="module")
def verified_journal(tmp_path_factory) -> Path:
    """A Loopring session verified every 0.2 s whose book drifts (a slot left out every
    25th push): checks that pass and checks that mismatch, a checkpoint every 0.2 s."""
    import time

    from obview.venues import config

    path = tmp_path_factory.mktemp("verified") / "lr-verify.ndjson.zst"
    cfg = config("loopring", ["LRC-ETH"], sim=True, seed=5,
                 faults={"rate": "100", "lose_slot": "25"}, verify=0.2, verify_lead=0.0)
    start = time.monotonic()

    def done(feed):
        extra = feed.streams["LRC-ETH"].extra
        return lambda: (extra["verify_mismatches"] >= 2 and extra["verified_at"] is not None
                        and time.monotonic() - start > 3)
    asyncio.run(record_session(path, cfg, done, "checks passed and failed",
                               checkpoint_every=0.2, timeout=60,
                               writer_factory=partial(JournalWriter, frame_bytes=2000)))
    return path


def _figures(feed) -> tuple:
    extra = feed.streams["LRC-ETH"].extra
    return extra["verified_at"], extra["verify_mismatches"], feed._sync.mismatches


def _verified_points(path: Path) -> dict[int, list]:
    """The seek points whose checkpoint holds the Loopring book after a mismatch: their
    wall stamp -> the verification figures live showed then (`cx.vf`)."""
    from obview.journal import Checkpoint, Sync

    lines = list(JournalReader(path))
    points = {p.wall for p in JournalReader(path).index()}
    held = {line.w: line.cx["vf"] for line in lines if type(line) is Checkpoint
            and line.ver is not None and line.cx and line.cx["vf"][1] >= 1}
    return {line.w: held[line.w] for line in lines
            if type(line) is Sync and line.w in points and line.w in held}


async def _checks(path: Path, batch: int) -> list:
    """The verification history of a replay of `path` at max speed handing over `batch`
    lines a loop turn: each check's outcome, the journal time and the book's version it
    came at, and the figures at the end."""
    from obview.replay import ReplayPlayer

    player = ReplayPlayer([path], speed=None, batch=batch)
    (feed,) = player.feeds
    history: list = []

    def noting(name: str):
        original = getattr(feed, name)

        def noted() -> None:
            history.append((name, player.clock().wall, feed._sync.local))
            original()
        return noted
    for name in ("_verified", "_mismatch"):
        setattr(feed, name, noting(name))
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(player.run())]
    try:
        await wait_until(player.finished.is_set, 30, "the journal played")
        return [*history, _figures(feed)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_check_reply_is_read_before_the_next_line(verified_journal):
    """A check's recorded answer reached the feed only once the player gave it a turn,
    which at full speed came after the batch (the rest of a short journal): the check
    compared a later book, and its next wait began at the journal's end (a replay of
    10 checks ran one). Read before the next line, as live read it, the checks are those
    of a replay that hands over one line a loop turn, one for one."""
    one_by_one = await _checks(verified_journal, batch=1)
    assert sum(1 for entry in one_by_one[:-1] if entry[0] == "_mismatch") >= 2
    assert await _checks(verified_journal, batch=1000) == one_by_one


@pytest.mark.parametrize("kind", ["push", "checkpoint"])
async def test_a_wait_on_the_journal_time_ends_before_the_line_due(verified_journal, kind):
    """A Loopring wait on the journal's time (its checks') is over before the first line
    stamped at or after its end, and the feed runs on before that line, as live's timer
    fired before the line came: woken only after the line was handed over, a check began
    with that push already in the book, missed it for its snapshot, and waited for
    pushes that could never complete it (no mismatch counted where live counted one).
    The line due a push, or a checkpoint's `sync` line (woken there, the feed ran only
    after the push that follows it: at 1,000 lines a loop turn, not at one)."""
    from obview.journal import Frame, Sync
    from obview.replay import ReplayPlayer

    lines = list(JournalReader(verified_journal))

    def is_push(line) -> bool:
        return type(line) is Frame and line.ch == "ws" and '"orderbook"' in line.data()

    async def version_at(until: int) -> int | None:
        async with playing(verified_journal, until=until) as player:
            return player.feeds[0].streams["LRC-ETH"].book.version

    # from the middle on, a line right after another whose push (the line, or the first
    # frame after the `sync` line) moves a synced book
    wanted = is_push if kind == "push" else (lambda line: type(line) is Sync)
    for at in range(len(lines) // 2, len(lines)):
        due = lines[at]
        if not wanted(due) or due.w - lines[at - 1].w < 10_000:  # ns: room for a wait
            continue
        push = next(line for line in lines[at:] if type(line) is Frame)
        if not is_push(push):
            continue
        expected = await version_at(due.w - 1)
        if expected is not None and expected != await version_at(push.w):
            break
    else:
        raise AssertionError(f"no {kind} line before a push that moves a synced book")

    player = ReplayPlayer([verified_journal], speed=None)
    (feed,) = player.feeds
    seen: list = []

    async def wait_then_look() -> None:
        # (a µs before the line: the float seconds `_wait` takes may be a ns off)
        await feed._wait((due.w - 1000 - player.clock().wall) / 1e9)
        seen.append(feed.streams["LRC-ETH"].book.version)

    tasks = [asyncio.create_task(wait_then_look()), asyncio.create_task(feed.run())]
    await wait_until(lambda: player._timers, 5, "the wait's timer")
    tasks.append(asyncio.create_task(player.run()))
    try:
        await wait_until(player.finished.is_set, 30, "the journal played")
        assert seen == [expected]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_a_seek_shows_the_verification_of_its_moment(verified_journal):
    """The health panel's "N mismatches, verified S s ago" (and the headless lines'
    `verified_at`, `verify_mismatches`) went on from the timeline a seek left: home
    said "verified 0 s ago" (a check of the end) where live had not verified yet. A
    seek shows the figures live showed at its checkpoint (`ckp` `cx.vf`), and the next
    mismatch counts on from that subscription's count."""
    held = _verified_points(verified_journal)
    syncs = sorted(held)
    assert syncs
    target = syncs[len(syncs) // 2]

    async def run() -> tuple:
        async with playing(verified_journal) as player:
            (feed,) = player.feeds
            player.until = target
            player.seek(target)
            await wait_until(player.finished.is_set, 30, "the seek played")
            seeked = _figures(feed)
            player.seek(player.first_wall)
            home = feed.streams["LRC-ETH"].extra
            return seeked, (home["verified_at"], home["verify_mismatches"])
    seeked, home = asyncio.run(run())
    assert list(seeked) == held[target]
    assert home == (None, 0)


def _counts(feed) -> list[int]:
    return [feed.snapshots, feed.too_old_snapshots, feed.rate_limited, feed.oversized]


def test_a_seek_shows_the_counts_of_its_moment(verified_journal):
    """Loopring's counts (snapshots applied, refetched as too old, 429s, oversized
    replies) went on from the timeline a seek left: sent home from the end, it had the
    end's snapshots and counted on. A seek takes those live had at its checkpoint
    (`ckp` `cx.ct`); a file start none."""
    from obview.journal import Checkpoint, Sync

    lines = list(JournalReader(verified_journal))
    points = {p.wall for p in JournalReader(verified_journal).index()}
    held = {line.w: line.cx["ct"] for line in lines if type(line) is Checkpoint
            and line.ver is not None and line.cx and "ct" in line.cx}
    syncs = [line.w for line in lines if type(line) is Sync and line.w in points
             and line.w in held]

    async def run() -> tuple:
        async with playing(verified_journal) as player:
            (feed,) = player.feeds
            end = _counts(feed)
            targets = [wall for wall in syncs if held[wall] != end]
            assert targets, "a checkpoint whose counts are not the end's"
            target = targets[len(targets) // 2]
            player.until = target
            player.seek(target)
            await wait_until(player.finished.is_set, 30, "the seek played")
            seeked = _counts(feed)
            player.seek(player.first_wall)
            return end, held[target], seeked, _counts(feed)
    end, live, seeked, home = asyncio.run(run())
    assert end[0] >= 2  # (the first snapshot and a mismatch's)
    assert seeked == live
    assert home == [0, 0, 0, 0]
