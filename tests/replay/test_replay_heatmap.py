"""The depth heatmap in replay: on the journal's clock, and rebuilt from the journal at a
seek, so the picture at a moment is the one playing through to it gives."""

from __future__ import annotations

import time
from decimal import Decimal

from obview import fmt
from obview.depth_history import RESOLUTIONS_MS
from obview.journal import JournalReader
from obview.replay import ReplayPlayer
from obview.replay import history as history_module
from obview.replay.history import MARGIN_NS
from obview.tui.app import ObviewApp
from obview.tui.panes import REBUILDING
from tests.conftest import wait_until

SIZE = (160, 40)


def picture(history, tier: int) -> tuple[dict, dict]:
    """Column index -> {(price, is_bid): size} and -> {price: (bought, sold, prints,
    buys)}, exact and free of the history's own price ids."""
    held = history.tiers[tier]
    cells: dict[int, dict] = {}
    if held.open_index is not None:
        for index in range(held.first_index, held.open_index + 1):
            cells[index] = {(history.price(key >> 1), bool(key & 1)): history.size_of(units)
                            for key, units in held.column(index).items()}
    prints = {index: {history.price(price_id): (history.size_of(c.buy_units),
                                                history.size_of(c.sell_units), c.count,
                                                c.buy_count)
                      for price_id, c in row.items()}
              for index, row in held.trades.items()}
    return cells, prints


def pictures(app: ObviewApp) -> dict[str, list[tuple[dict, dict]]]:
    """Every stream's history as the heatmap shows it now: first brought to the
    journal's clock, as the heatmap's own timer does while it is on screen. Without
    that, a run that showed the heatmap has closed the columns up to the journal's last
    line and one that did not stops at its last sample: when those fall in different
    100 ms columns, the two pictures differ by a column at the end (CI caught it)."""
    out = {}
    for pane in app.stream_panes():
        pane.history.advance(pane.heatmap.clock())
        out[pane.stream.key] = [picture(pane.history, tier)
                                for tier in range(len(RESOLUTIONS_MS))]
    return out


def rebuilding(app: ObviewApp) -> bool:
    return any(worker.group == "rebuild" and not worker.is_finished for worker in app.workers)


def assert_same(straight: dict, other: dict, *, closed_only: bool) -> int:
    """Every column both hold (closed_only: before the newer one's open column) is the
    same, cells and prints; returns how many 1 s columns were compared."""
    compared = 0
    assert straight.keys() == other.keys()
    for key, tiers in straight.items():
        for tier, ((cells_a, prints_a), (cells_b, prints_b)) in enumerate(
                zip(tiers, other[key], strict=True)):
            if closed_only:
                newest = min(max(cells_a), max(cells_b))
                shared = sorted(i for i in cells_a if i in cells_b and i < newest)
            else:
                assert cells_a.keys() == cells_b.keys(), f"{key}: tier {tier} columns"
                shared = sorted(cells_a)
            for index in shared:
                assert cells_a[index] == cells_b[index], f"{key}: tier {tier} column {index}"
                assert prints_a.get(index) == prints_b.get(index), \
                    f"{key}: tier {tier} prints in column {index}"
            if tier == 1:
                compared = min(compared, len(shared)) if compared else len(shared)
    return compared


async def replayed(path, history_s: float, *, start=None, until=None, paused=False,
                   then_play=False):
    """The pictures after replaying (at full speed) from `start` (a seek: --from) up
    to `until`; paused: as they stand once the seek's history is rebuilt; then_play:
    also the pictures after playing on to the end."""
    player = ReplayPlayer([path], speed=None, start=start, until=until)
    if paused:
        player.control("pause")
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=history_s)
    async with app.run_test(size=SIZE) as pilot:
        if paused:
            await wait_until(lambda: app.rebuilds == 1 and not rebuilding(app), 60,
                             "the rebuilt history")
        else:
            await wait_until(lambda: player.finished.is_set() and not rebuilding(app)
                             and (start is None or app.rebuilds == 1), 60, "the journal's end")
        await pilot.pause()
        first = pictures(app)
        if not then_play:
            return first
        await pilot.press("space")
        await wait_until(player.finished.is_set, 60, "the journal's end")
        await pilot.pause()
        return first, pictures(app)


def _target(path) -> tuple[int, float]:
    """A seek target between the last two seek points, and the longest history whose
    rebuild still starts at a checkpoint (not at the journal's start)."""
    points = JournalReader(path).index()
    assert len(points) >= 6, "the fixture must have many seek points"
    target = (points[-3].wall + points[-2].wall) // 2
    history_s = (target - MARGIN_NS - points[1].wall) / 1e9 - 0.3
    assert history_s >= 5, f"journal too short for the test ({history_s:.1f} s of history)"
    reader = JournalReader(path)
    assert reader.seek_point(wall=target - int(history_s * 1e9) - MARGIN_NS) != points[0]
    assert reader.seek_point(wall=target) != reader.seek_point(
        wall=target - int(history_s * 1e9) - MARGIN_NS)
    return target, history_s


async def seek_gives_what_playing_through_gives(path, target: int, history_s: float) -> None:
    straight_to_target = await replayed(path, history_s, until=target - 1)
    straight = await replayed(path, history_s)
    at_target, at_end = await replayed(path, history_s, start=target, paused=True,
                                       then_play=True)
    # the rebuilt past (through a second set of feeds) is what playing from the start to
    # the target recorded, column by column
    columns = assert_same(straight_to_target, at_target, closed_only=True)
    assert columns >= min(history_s, (target - JournalReader(path).headers[0].w) / 1e9) - 2
    assert any(prints for tiers in at_target.values() for prints in tiers[1][1].values())
    # and joined to what was recorded after the seek, no seam: the whole picture at the
    # end is the one of playing straight through
    assert_same(straight, at_end, closed_only=False)


async def test_a_seek_rebuilds_the_history_playing_through_gives(checkpointed_journal):
    """Futu, the rebuild starting at a checkpoint (not the journal's start)."""
    target, history_s = _target(checkpointed_journal)
    await seek_gives_what_playing_through_gives(checkpointed_journal, target, history_s)


async def test_a_loopring_seek_rebuilds_the_history_too(loopring_trades_journal):
    """Loopring: REST snapshot, sync by version, a session that clears its book when it
    ends (the rebuild samples before its feeds stop)."""
    path = loopring_trades_journal
    reader = JournalReader(path)
    first, last = reader.headers[0].w, reader.end_wall()
    await seek_gives_what_playing_through_gives(path, first + (last - first) * 2 // 3, 60.0)


async def test_seek_keys_rebuild_and_a_new_seek_drops_the_rebuild_under_way(
        checkpointed_journal, monkeypatch):
    path = checkpointed_journal
    _, history_s = _target(path)
    straight = await replayed(path, history_s)
    # one line a turn: a rebuild takes thousands of turns, so it is surely under way
    # when the second seek comes
    monkeypatch.setattr(history_module, "BATCH", 1)
    player = ReplayPlayer([path], speed=None)
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=history_s)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")  # the heatmap beside the ladder
        pane = app.active_stream_pane()
        notes = []
        set_note = pane.heatmap.set_note
        pane.heatmap.set_note = lambda note: (notes.append(note), set_note(note))
        await wait_until(player.finished.is_set, 60, "the journal's end")
        player.control("back")  # 10 s back (as `[`; a key press would wait for the rebuild)
        assert notes == [REBUILDING]
        await wait_until(lambda: rebuilding(app), 30, "a rebuild under way")
        assert app.rebuilds == 0 and pane.heatmap.note.startswith(REBUILDING)
        await pilot.press("left_square_bracket")  # again, before it is done: it is dropped
        await wait_until(lambda: player.finished.is_set() and app.rebuilds == 1
                         and not rebuilding(app), 60, "the second rebuild")
        await pilot.pause()
        assert app.rebuilds == 1 and pane.heatmap.note is None
        assert REBUILDING in notes and notes[-1] is None
        # whatever the seeks, playing on to the end gives the straight picture
        assert_same(straight, pictures(app), closed_only=False)
        title = "".join(segment.text for segment in pane.heatmap.render_line(0))
        assert "rebuilding" not in title and "depth" in title


async def test_heatmap_columns_follow_the_journal_clock(checkpointed_journal):
    player = ReplayPlayer([checkpointed_journal], speed=10.0)
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=120)
    # this test compares journal time with real time at a known 10x: on a slow machine
    # the CPU governor may slow the replay (its own tests: test_replay_governor.py)
    player.governor = None
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        pane = app.active_stream_pane()
        heatmap, tier = pane.heatmap, pane.history.tiers[1]  # 1 s a column
        control = player.feeds[0].capabilities.replay
        flushes = [0]
        draw = heatmap._pacer.draw
        heatmap._pacer.draw = lambda: (flushes.__setitem__(0, flushes[0] + 1), draw())

        def journal_s() -> float:
            return control.clock().wall / 1e9

        await wait_until(lambda: tier.open_index is not None
                         and journal_s() > player.first_wall / 1e9 + 4, 30, "a few columns")
        start_journal, start_column, start_real = journal_s(), tier.open_index, time.monotonic()
        await wait_until(lambda: journal_s() >= start_journal + 8, 30, "8 journal seconds")
        seen = flushes[0]
        await wait_until(lambda: flushes[0] > seen + 1, 10, "the heatmap redrawn")
        columns = tier.open_index - start_column
        real = time.monotonic() - start_real
        # at 10x a journal second is a column: 8+ columns in about 0.8 s of real time
        assert 8 <= columns <= round(journal_s() - start_journal) + 1, (columns, real)
        assert columns > real + 2
        assert tier.open_index == int(pane.history.now_ms // 1000)
        assert abs(pane.history.now_ms / 1000 - journal_s()) < 0.5

        await pilot.press("space")  # paused: the picture stands still
        assert player.paused
        await pilot.pause()
        column, now_ms, seen = tier.open_index, pane.history.now_ms, flushes[0]
        await wait_until(lambda: flushes[0] >= seen + 10, 10, "ten redraw ticks (1 s)")
        assert (tier.open_index, pane.history.now_ms) == (column, now_ms)


async def test_crosshair_and_tape_show_the_journal_time(checkpointed_journal):
    player = ReplayPlayer([checkpointed_journal], speed=25.0)
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=120)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h", "h")  # the heatmap alone, focused
        pane = app.active_stream_pane()
        heatmap = pane.heatmap
        await wait_until(lambda: player.wall - player.first_wall > 8_000_000_000, 30,
                         "8 s of journal")
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("left", "left", "left")
        await pilot.pause()
        readout = heatmap.readout
        newest = pane.history.tiers[1].open_index
        assert readout is not None and readout.column_mono == newest - 3
        assert player.first_wall / 1e9 <= readout.column_mono <= player.wall / 1e9
        expected = fmt.clock(readout.column_mono, utc=True)  # the journal's, in UTC
        line = "".join(s.text for s in heatmap.render_line(heatmap.size.height - 1))
        assert f"╋ {expected} (-3" in line, line
        # the prints on the tape carry the journal's time too
        assert pane.tape is not None and pane.tape.prints
        newest_print = pane.tape.prints[-1].mono
        assert player.first_wall / 1e9 <= newest_print <= player.wall / 1e9
        assert isinstance(readout.price, Decimal)


async def test_end_in_a_replay_s_heatmap_brings_its_crosshair_back_to_now(checkpointed_journal):
    """The heatmap's end (crosshair back to now) was taken by the replay's end, a
    priority key: in a replay a moved crosshair stayed pinned to its moment for good,
    and end went to the journal's end under it. End brings the crosshair back first;
    end again goes to the journal's end."""
    player = ReplayPlayer([checkpointed_journal], speed=1.0)
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=120)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h", "h")  # the heatmap alone, focused
        heatmap = app.active_stream_pane().heatmap
        await wait_until(lambda: player.wall - player.first_wall > 3_000_000_000, 30,
                         "3 s of journal")
        await pilot.press("space", "left", "left")
        await wait_until(lambda: heatmap.cross_index is not None, 5, "the crosshair moved")
        at = player.wall
        await pilot.press("end")
        assert heatmap.cross_index is None and heatmap.cross_row is None
        assert player.wall == at  # not sent to the journal's end
        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the journal's end")
