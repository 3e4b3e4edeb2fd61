"""A seek shows the journal's counts as of the playhead: reconnects, bad frames, messages
and resyncs as the live screen showed them then, never the timeline the seek left.

The sessions are recorded from the Loopring simulator with faults that make all of them
count: every WebSocket connection is cut after 100 pushes (reconnects), every 15th push
is dropped (gaps, so resyncs) and every 40th is broken (bad frames)."""

from __future__ import annotations

import asyncio
import itertools
from functools import partial
from pathlib import Path

import pytest

from obview.journal import Checkpoint, JournalReader, JournalWriter, Sync
from obview.replay import ReplayPlayer
from tests.conftest import wait_until
from tests.replay.conftest import playing, record_session

FAULTS = {"rate": "100", "skip": "15", "drop_after": "100", "malformed": "40"}
RECONNECTS = 3  # the recording ends once the live feed counted these


def counts(feed) -> tuple:
    """What the status bar and the health panel count."""
    return (feed.reconnects, feed.bad_frames, feed.messages,
            {key: s.resyncs for key, s in feed.streams.items()})


async def _record(path: Path, writer_factory) -> tuple:
    """A session recorded through the same tap as --record, a checkpoint (and seek
    point) every 0.3 s; the live feed's counts at its end."""
    from obview.venues import config

    cfg = config("loopring", ["LRC-ETH"], sim=True, faults=FAULTS)
    feed = await record_session(
        path, cfg, lambda feed: lambda: feed.reconnects >= RECONNECTS and feed.bad_frames > 0
        and feed.streams["LRC-ETH"].synced, f"{RECONNECTS} reconnects recorded",
        checkpoint_every=0.3, timeout=60, writer_factory=writer_factory)
    return counts(feed)


def _old_writer(path, counters=None, **kw) -> JournalWriter:
    """A writer as obview wrote before seek points held the counts (no `fc`)."""
    return JournalWriter(path, frame_bytes=2000, **kw)


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> tuple[Path, tuple]:
    path = tmp_path_factory.mktemp("counters") / "lr.ndjson.zst"
    live = asyncio.run(_record(path, partial(JournalWriter, frame_bytes=2000)))
    return path, live


@pytest.fixture(scope="module")
def old_journal(tmp_path_factory) -> tuple[Path, tuple]:
    path = tmp_path_factory.mktemp("counters") / "old.ndjson.zst"
    live = asyncio.run(_record(path, _old_writer))
    return path, live


async def _seek(player: ReplayPlayer, wall: int, until: int | None = None) -> tuple:
    """Seek to `wall` and play on to `until` (None: the end); the counts there."""
    player.until = until
    player.seek(wall)
    await wait_until(player.finished.is_set, 30, "the seek played")
    return counts(player.feeds[0])


async def _straight_to(path: Path, wall: int) -> tuple:
    """The counts of a replay played from the start up to `wall`, without a seek."""
    async with playing(path, until=wall) as player:
        return counts(player.feeds[0])


def _after_a_reconnect(path: Path) -> int:
    """A moment past a checkpoint that counted a reconnect, before the last one, and
    holds the book (a replay that starts there, `--from`, reads the market from it)."""
    lines = list(JournalReader([path]).lines())
    after = [line for line, then in itertools.pairwise(lines)
             if type(line) is Sync and 0 < line.fc["0"].rc < RECONNECTS
             and type(then) is Checkpoint]
    assert after, [line.fc for line in lines if type(line) is Sync]
    return after[len(after) // 2].w + 150_000_000  # (0.15 s: frames to catch up)


async def test_a_seek_back_before_a_reconnect_counts_it_once(journal):
    """The journal holds three reconnects: played through after a seek home (or to any
    moment before them), the counts are the live session's, not twice as many."""
    path, live = journal
    assert live[0] == RECONNECTS and live[1] > 0 and live[3]["LRC-ETH"] > 0
    async with playing(path) as player:
        assert counts(player.feeds[0]) == live  # (straight through: what live counted)
        assert await _seek(player, player.first_wall) == live
        assert await _seek(player, _after_a_reconnect(path) - 1_000_000_000) == live
        assert await _seek(player, player.first_wall) == live


async def test_a_seek_shows_the_counts_as_of_its_target(journal):
    """Seeking to a moment shows what playing straight to it shows (the live session's
    counts then), whether the seek comes from later (back) or earlier (forward)."""
    path, live = journal
    target = _after_a_reconnect(path)
    expected = await _straight_to(path, target)
    assert 0 < expected[0] < RECONNECTS  # (a moment between two reconnects)
    async with playing(path) as player:
        assert await _seek(player, target, until=target) == expected  # back, from the end
        assert await _seek(player, player.first_wall, until=player.first_wall) == \
            (0, 0, 0, {"LRC-ETH": 0})  # the file's start: nothing counted yet
        assert await _seek(player, target, until=target) == expected  # forward
    async with playing(path, start=target, until=target) as player:  # --from, --until
        assert counts(player.feeds[0]) == expected


async def test_a_journal_without_counts_counts_from_the_seek_point(old_journal):
    """A journal written before seek points held the counts: a seek starts them from 0
    at the checkpoint it starts from (docs/replay.md), so they say what happened since;
    a seek home and on through counts every reconnect once, never on from the timeline
    the seek left."""
    path, live = old_journal
    lines = list(JournalReader([path]).lines())
    assert all(not line.fc for line in lines if type(line) is Sync)
    target = _after_a_reconnect_old(path)
    async with playing(path) as player:
        assert counts(player.feeds[0]) == live
        assert await _seek(player, player.first_wall) == live
        since = await _seek(player, target, until=target)
        # (an earlier point than the one before the target where that lacks the book)
        point = player.point.wall
    # the counts as the seek point's `sync` line found them: up to the line before it
    # (the frame whose writing took the checkpoint follows it, stamped a little earlier)
    at = next(n for n, line in enumerate(lines) if type(line) is Sync and line.w == point)
    at_point = await _straight_to(path, lines[at - 1].w)
    at_target = await _straight_to(path, target)
    assert since[:3] == tuple(b - a for a, b in zip(at_point[:3], at_target[:3], strict=True))
    assert since[3] == {k: at_target[3][k] - at_point[3][k] for k in since[3]}


def _after_a_reconnect_old(path: Path) -> int:
    """As `_after_a_reconnect`, from the journal's `dis` lines (no counts to read)."""
    from obview.journal import RECORDING_CLOSED, Disconnect

    lost = [line.w for line in JournalReader([path]).lines()
            if type(line) is Disconnect and line.r != RECORDING_CLOSED]
    assert len(lost) >= 2, lost
    return (lost[0] + lost[1]) // 2


def test_a_seek_point_lists_the_connections_every_earlier_line_left_open(tmp_path):
    """A checkpoint falls due as a line is written and is taken before it. Taken at a
    `con` line it listed the connection that line opens (a replay starting there resumed
    it, then opened it again: the feed held the resumed link, the frames went to the new
    one, unread and uncounted); taken at a `dis` line it left out the connection that
    line ends (its reconnect never happened in the replay)."""
    from obview.feed import Feed
    from obview.journal import Connect, Disconnect
    from obview.record import Recording
    from obview.venues import config
    from tests.journal.conftest import FakeClock

    clock = FakeClock()
    path = tmp_path / "s.ndjson.zst"
    recording = Recording(path, [config("loopring", ["LRC-ETH"], sim=True)],
                          checkpoint_every=1.0, writer_factory=partial(
                              JournalWriter, mono=clock.mono, wall=clock.wall))
    feed = Feed()
    recording.attach(feed)
    clock.advance(1.5)  # a checkpoint is due: taken as the next line is written
    first = feed.tap.connect("ws", "ws://127.0.0.1:1/ws")
    clock.advance(1.5)
    second = feed.tap.connect("ws", "ws://127.0.0.1:1/ws")
    clock.advance(1.5)
    feed.tap.disconnect(first, "lost")
    recording.close()
    lines = [line for line in JournalReader([path]).lines()
             if type(line) in (Sync, Connect, Disconnect)]
    assert [(type(line).__name__, line.cn if type(line) is Sync else line.c)
            for line in lines] == [
        ("Sync", {}), ("Connect", first),
        ("Sync", {str(first): 0}), ("Connect", second),
        ("Sync", {str(first): 0, str(second): 0}), ("Disconnect", first),
        ("Disconnect", second)]



def test_headless_from_says_the_session_s_totals(journal):
    """`obview replay --from` ends with the totals the live run said at the same moment
    (its stderr's "... in all"), not only those counted from the seek point on."""
    from datetime import UTC, datetime

    from tests.conftest import run_obview

    path, live = journal
    start = datetime.fromtimestamp(_after_a_reconnect(path) / 1e9, UTC).isoformat()
    done = run_obview("replay", str(path), "--stream", "json", "--from", start)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if line.endswith(" in all")]
    assert said == [f"obview: warning: loopring: {live[1]} bad frames, {live[0]} reconnects "
                    "in all"], done.stderr


class _CheckpointAtConnect(JournalWriter):
    """Writes what obview did when a checkpoint fell due at a `con` line: a seek point
    listing the connection that line then opens."""

    def connect(self, venue, conn, channel, url=None, feed=None) -> None:
        links = self.links
        self.links = lambda: {**links(), conn: feed}
        try:
            self.checkpoint()
        finally:
            self.links = links
        super().connect(venue, conn, channel, url, feed)


@pytest.fixture(scope="module", params=["LRC-ETH", "HK.00700"])
def connect_journal(request, tmp_path_factory) -> tuple[Path, str]:
    """A journal so written, and the key of its stream. Loopring's, as `journal`; and
    Futu's, whose replay goes on from a checkpoint without its book (a reconnect's `con`
    line has none), every checkpoint a seek point."""
    from obview.venues import config

    key = request.param
    path = tmp_path_factory.mktemp("counters") / "con.ndjson.zst"
    if key == "LRC-ETH":
        asyncio.run(_record(path, partial(_CheckpointAtConnect, frame_bytes=200)))
        return path, key
    # (the simulator drops a Futu connection once)
    cfg = config("futu", [key], sim=True, faults={"rate": "100", "drop_after": "100"})
    asyncio.run(record_session(
        path, cfg, lambda feed: lambda: feed.reconnects and feed.messages > 250
        and feed.streams[key].synced, "a reconnect recorded", checkpoint_every=0.3, timeout=60,
        writer_factory=partial(_CheckpointAtConnect, frame_bytes=1)))
    return path, key


async def test_a_seek_point_that_lists_a_connection_its_next_line_opens(connect_journal):
    """A journal written before connections joined a seek point's list only once opened:
    a seek there resumed the connection, then its `con` line opened it again, and the
    feed held the resumed link while the frames went to the new one, unread: no message
    counted and no book rebuilt until the next connection. The player now ends the
    resumed link for the one the `con` line opens, as a restart (no reconnect). (A
    Loopring seek there starts from an earlier seek point, which holds the book: Futu's
    starts at that one.)"""
    from obview.journal import Connect

    path, key = connect_journal
    reader = JournalReader([path])
    lines = list(reader.lines())
    doubled = [line for line, then in itertools.pairwise(lines)
               if type(line) is Sync and type(then) is Connect and str(then.c) in line.cn
               and then.c > 1]  # (a reconnect's: the first holds no market yet)
    assert doubled
    later = [point.wall for point in reader.index() if point.wall > doubled[0].w]
    target = min([doubled[0].w + 150_000_000, *(wall - 1 for wall in later[:1])])
    expected = await _straight_to(path, target)
    async with playing(path) as player:
        assert await _seek(player, target, until=target) == expected
        assert (player.point.wall == doubled[0].w) == (key == "HK.00700")
        book = player.feeds[0].streams[key].book
        seeked = (book.version, list(book.bids.iter_levels()))
    async with playing(path, until=target) as player:
        book = player.feeds[0].streams[key].book
        assert (book.version, list(book.bids.iter_levels())) == seeked


class _CheckpointAtDisconnect(JournalWriter):
    """A checkpoint falling due as each `dis` line is written, so taken before it: after
    the bad frame that ended the connection was counted, before the line counting it."""

    def disconnect(self, *args, **kw) -> None:
        self.checkpoint()
        super().disconnect(*args, **kw)


async def _record_refused(path: Path, cfg) -> tuple:
    """A session whose feed counted a bad frame and reconnected; its counts at the end."""
    feed = await record_session(
        path, cfg, lambda feed: lambda: feed.bad_frames and feed.reconnects,
        "a bad frame and a reconnect", checkpoint_every=0.3, timeout=30,
        writer_factory=partial(_CheckpointAtDisconnect, frame_bytes=2000))
    return counts(feed)


# frames refused before the tap sees them: a Futu frame whose SHA-1 does not match its
# body (the tap records checked frames), a bthub message over --max-frame-bytes (the
# WebSocket library closes with 1009 and hands it to nobody), a Loopring one so too
REFUSED = {
    "futu sha-1": ("futu", ["HK.00700"], {"rate": "100", "bad_sha_after": "30"}, {}),
    "bthub oversized": ("bthub", ["BTCUSDT"], {"rate": "20"}, {"max_frame_bytes": 3000}),
    "loopring oversized": ("loopring", ["LRC-ETH"], {"rate": "20"}, {"max_frame_bytes": 200}),  # (its pushes are small)
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_frame_its_framing_refused_counts_in_a_replay_as_live(case, tmp_path):
    """No line holds such a frame: a replay counted none of them (live 1, replay 0).
    The connection's `dis` line counts them now; a seek point taken between the count
    and that line leaves them to it, so a seek there counts them once."""
    from obview.journal import Disconnect
    from obview.venues import config

    venue, symbols, faults, options = REFUSED[case]
    path = tmp_path / "s.ndjson.zst"
    live = await _record_refused(path, config(venue, symbols, sim=True, faults=faults,
                                              **options))
    assert live[1] >= 1
    reader = JournalReader([path])
    async with playing(path) as player:
        assert counts(player.feeds[0]) == live
        for point in reader.index():
            assert await _seek(player, point.wall) == live, point
    assert sum(line.bf for line in reader.lines() if type(line) is Disconnect) == live[1]
