"""Journal-time timers (a screen's coalesced announcement, a heatmap column, a Loopring
check) run at their own journal time while the replay plays, also in a quiet spell with
no line to bring them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from obview.journal import Frame, JournalReader
from obview.replay.player import ReplayPlayer
from tests.conftest import wait_until
from tests.replay.test_replay_hostile import frames_of, write_frames

GAP = 2_000_000_000  # ns: a quiet spell of two journal seconds


def _with_a_quiet_spell(path: Path, copy: Path) -> Frame:
    """The journal with every line after its middle frame line GAP later: that frame."""
    frames = frames_of(path)
    count = sum(line.startswith(b'{"k":"f"') for lines in frames for line in lines)
    seen, before = 0, None
    for lines in frames:
        for at, line in enumerate(lines):
            if before is not None:
                obj = json.loads(line)
                obj["m"] += GAP
                obj["w"] += GAP
                lines[at] = json.dumps(obj, separators=(",", ":")).encode()
            elif line.startswith(b'{"k":"f"'):
                seen += 1
                if seen == count // 2:
                    before = json.loads(line)
    write_frames(frames, copy)
    return next(line for line in JournalReader(copy)
                if type(line) is Frame and line.m == before["m"])


async def test_a_timer_in_a_quiet_spell_runs_at_its_time_not_with_the_next_line(
        futu_journal, tmp_path):
    """At 1x a timer due half a second into two quiet seconds ran only when the next line
    came, 1.5 s late: live, a bthub screen was told of the orders the last line changed
    0.2 s after it, and a replay at 1x showed them only with the next line."""
    path, _ = futu_journal
    quiet = _with_a_quiet_spell(path, tmp_path / "quiet.ndjson.zst")
    player = ReplayPlayer([tmp_path / "quiet.ndjson.zst"], speed=1.0,
                          start=quiet.w - 100_000_000)
    ran: list[tuple[int, int]] = []  # (the last line's stamp, the playhead) when it ran
    tasks = [asyncio.create_task(feed.run()) for feed in player.feeds]
    tasks.append(asyncio.create_task(player.run()))
    try:
        await wait_until(lambda: player.wall >= quiet.w, 10, "the line before the spell")
        assert player.wall == quiet.w  # the next line is two seconds on
        player.call_at(quiet.w + GAP // 4,
                       lambda: ran.append((player.wall, player.pace.position())))
        await wait_until(lambda: ran, 10, "the timer")
        (last, playhead), = ran
        assert last == quiet.w  # before the next line,
        assert playhead < quiet.m + GAP * 3 // 4, (playhead - quiet.m) / 1e9  # and on time
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
