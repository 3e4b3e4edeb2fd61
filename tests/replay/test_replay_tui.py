"""`obview replay` in the TUI: the normal app, its keys driving the journal."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime

import pytest
from rich.cells import cell_len

from obview.feed import FeedState
from obview.journal import Frame, JournalReader
from obview.replay import ReplayPlayer
from obview.tui.app import ObviewApp
from tests.conftest import press_to_quit, wait_until
from tests.tui.conftest import ladder_lines, screen_text


@contextlib.asynccontextmanager
async def _replaying(journal, size, speed: float = 1.0):
    """The app replaying `journal` at `speed`, once a book synced: (app, pilot, player,
    feed)."""
    path, _ = journal
    player = ReplayPlayer([path], speed=speed)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=size) as pilot:
        feed = player.feeds[0]
        await wait_until(lambda: any(s.synced for s in feed.streams.values()), 20,
                         "a replayed book")
        yield app, pilot, player, feed


async def test_replay_keys_drive_the_journal(futu_journal):
    async with _replaying(futu_journal, (160, 40)) as (app, pilot, player, feed):
        await pilot.pause()
        app._tick()
        assert "replay" in app.status_bar._text.plain
        assert " 1x" in app.status_bar._text.plain
        await pilot.press("plus")
        assert player.speed == 2.0
        await pilot.press("minus", "minus")
        assert player.speed == 0.5
        await pilot.press("space")
        assert player.paused
        app._tick()
        assert "paused" in app.status_bar._text.plain
        before = player.lines
        await pilot.press("full_stop")
        assert player.lines == before + 1
        await pilot.press("end")
        await wait_until(lambda: player.progress() > 0.9, 10, "the end of the journal")
        await pilot.press("home")
        await wait_until(lambda: player.progress() < 0.1, 10, "the start of the journal")
        await pilot.press("space")
        assert not player.paused
        at = player.wall
        await pilot.press("right_square_bracket")  # 10 s on: past this short journal's end
        assert player.wall == player.last_wall > at
        await pilot.press("left_square_bracket")
        assert player.wall == max(player.first_wall, player.last_wall - 10_000_000_000)
        await wait_until(lambda: any(s.synced for s in feed.streams.values()), 20,
                         "the book after a seek")
        assert "HK.00700" in screen_text(app)


def _rate(app) -> float | None:
    """The status bar's msg/s figure now (None: "-", no figure yet)."""
    app._tick()
    figure = re.search(r"(\S+) msg/s", app.status_bar._text.plain).group(1)
    return None if figure == "-" else float(figure)


async def test_a_replay_s_message_rate_is_the_venue_s_at_the_playhead(futu_journal):
    """msg/s in a replay is messages a journal second, as live showed them then: at 5x
    not five times that (on the screen's clock it was, and 0 while paused), and a jump
    to the end no burst (it showed thousands a second: the catch-up counted in a
    moment)."""
    path, _ = futu_journal
    frames = [line for line in JournalReader(path).lines() if type(line) is Frame]
    venue = len(frames) / ((frames[-1].w - frames[0].w) / 1e9)  # the journal's average
    async with _replaying(futu_journal, (160, 40), speed=5.0) as (app, pilot, player, feed):
        seen: list[float] = []

        def sampled(figures: int) -> bool:
            rate = _rate(app)
            if rate is not None:
                seen.append(rate)
            return len(seen) >= figures

        await wait_until(lambda: sampled(3), 10, "three msg/s figures")
        assert all(venue / 2.5 < rate < venue * 2.5 for rate in seen), (seen, venue)
        await pilot.press("space")  # paused: the rate at the playhead stands
        assert player.paused
        assert venue / 2.5 < _rate(app) < venue * 2.5
        await pilot.press("home")
        await wait_until(lambda: player.progress() < 0.1, 10, "the start of the journal")
        assert _rate(app) is None  # a seek starts it over
        await pilot.press("space", "end")
        await wait_until(lambda: player.progress() > 0.99, 10, "the end of the journal")
        for _ in range(20):
            rate = _rate(app)
            assert rate is None or rate < venue * 2.5, (rate, venue)
            await pilot.pause(0.01)


async def test_a_replay_offers_no_other_loopring_level(loopring_trades_journal):
    """The journal holds the level it recorded: `l` is not offered (the footer leaves
    it out, the key does nothing), where it had subscribed another level into the void
    and emptied the book for good."""
    player = ReplayPlayer([loopring_trades_journal], speed=1.0)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(160, 40)) as pilot:
        feed = player.feeds[0]
        stream = next(iter(feed.streams.values()))
        await wait_until(lambda: stream.synced and stream.book.bids, 20, "a replayed book")
        level = stream.level
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("space")  # paused: the book as the journal left it
        await pilot.pause()
        assert (stream.level, stream.synced, bool(stream.book.bids)) == (level, True, True)
        assert feed.capabilities.levels is None and not app.available("level")


def _age(app) -> str:
    app._tick()
    found = re.search(r"  age (\S+)", app.status_bar._text.plain)
    assert found, app.status_bar._text.plain
    return found.group(1)


async def test_a_paused_replay_s_age_stands_still_on_the_journal_s_clock(futu_journal):
    """The status bar's `age` (since the stream's last update) was on this machine's
    clock: paused, it grew by the second, and at 10x it was a tenth of the gap the venue
    left. It is journal time now, as the health panel's push timing is."""
    async with _replaying(futu_journal, (160, 40)) as (app, pilot, player, feed):
        await pilot.press("space")
        assert player.paused
        await pilot.pause()
        paused_at = _age(app)
        assert paused_at != "-"
        since = time.monotonic()
        # (the condition is the passing of real time itself: the figure must not follow it)
        await wait_until(lambda: time.monotonic() - since > 1.2, 5, "a second of real time")
        assert _age(app) == paused_at
        await pilot.press("left_square_bracket")  # a seek: no update since, in its time
        assert _age(app) in ("-", "0.00s")


async def test_a_replay_s_verify_ago_is_on_the_journal_s_clock(tmp_path):
    """Loopring's "verified N s ago" took the replay's real time of the check and this
    machine's clock: at the end of a replay it grew by the second. Both are the
    journal's now, so with the journal at its end the line stands still."""
    from tests.replay.conftest import record

    path = tmp_path / "lr.ndjson.zst"
    record(path, "loopring", "LRC-ETH", "--sim", "--fault", "rate=50", "--verify", "0.5",
           count=150)
    # (at max speed: the check loop waited on this machine's clock, and the journal was
    # over before its first check was asked for)
    player = ReplayPlayer([path], speed=None)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(player.finished.is_set, 30, "the journal played")
        pane = app.active_stream_pane()
        assert pane.stream.extra.get("verified_at") is not None  # (checks were recorded)

        def verified() -> str:
            app._tick()
            found = re.search(r"verified \d+ s ago", pane.health.build_full().plain)
            assert found, pane.health.build_full().plain
            return found.group(0)

        at_end = verified()
        since = time.monotonic()
        # (the condition is the passing of real time itself: the figure must not follow it)
        await wait_until(lambda: time.monotonic() - since > 2.1, 5, "two seconds of real time")
        assert verified() == at_end
        await press_to_quit(app, pilot)


async def test_a_replay_played_to_its_end_says_end_and_replay_at_80_columns(futu_journal):
    """Paused and sent to the end, the replay says "end" (the journal is over), its feed
    ends as the recording left it (obview quit: the recording's closing lines are no lost
    connection, so no "reconnecting" and no reconnect counted), and at 80 columns the
    status keeps the word "replay" and the progress."""
    async with _replaying(futu_journal, (80, 24)) as (app, pilot, player, feed):
        await pilot.press("space")
        app._tick()
        status = app.status_bar._text.plain
        assert "replay " in status and "paused" in status and len(status) <= 80
        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the end of the journal")
        assert player.paused and player.progress() > 0.99
        await pilot.press("space")  # and on, through the journal's last lines
        await wait_until(player.finished.is_set, 10, "every line played")
        await pilot.pause()  # a link the closing lines closed would end its session here
        await pilot.pause()
        app._tick()
        status = app.status_bar._text.plain
        assert feed.state is FeedState.SYNCED and feed.reconnects == 0, feed.status_text
        assert "reconnecting" not in status and "recording closed" not in status
        assert status.rstrip().endswith("end")


async def test_home_while_paused_repaints_the_tab_in_front(futu_journal):
    """Home empties the books and, paused at the journal's start, no push follows: the
    tab in front kept the end's ladder under a status saying 'connecting: replay seek'
    (another tab and back showed the empty book). And the repaint of a book emptied by
    a seek is no receive-to-paint delay (no receive is behind it)."""
    async with _replaying(futu_journal, (80, 24)) as (app, pilot, player, feed):
        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the end")
        await pilot.press("space")
        ladder = app.active_ladder()
        stream = ladder.stream
        await wait_until(lambda: stream.synced and ladder.view is not None
                         and bool(ladder.view.bids), 10, "the end's book on screen")
        await pilot.pause()
        measured = ladder.paint_delay.total
        assert player.paused
        await pilot.press("home")
        await wait_until(lambda: not ladder.view.bids and not ladder.view.asks, 10,
                         "the emptied book on the tab in front")
        await wait_until(lambda: ladder_lines(app)[0].lstrip().startswith(
            f"{stream.key}  (not synced)"), 10, "the emptied book painted")
        assert "(empty book)" in screen_text(app)
        assert measured and ladder.paint_delay.total == 0  # reset by the seek, none added


async def test_a_seek_resets_the_replay_s_latency_panel(futu_journal):
    """The latency panel (venue stamp -> receive, receive -> paint, the unstamped
    counts) went on over a seek, mixing two timelines: home while paused, and
    "unstamped bid N" kept the count of the pushes of the timeline left."""
    async with _replaying(futu_journal, (100, 30)) as (app, pilot, player, feed):
        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the end")
        await pilot.press("space")
        stream = app.active_ladder().stream
        pane = next(p for p in app._stream_panes.values() if p.stream is stream)
        # (and the push intervals measured here: a seek only cut their series, and the
        # intervals of the timeline left stayed in the panel's figures)
        stats = [*stream.latency.values(), pane.clock.venue_age, pane.clock.interval,
                 pane.ladder.paint_delay]
        await wait_until(lambda: all(s.total for s in stats[:-1]), 10, "latency measured")
        assert any(s.unstamped for s in stream.latency.values())
        await pilot.press("home")
        await pilot.pause()
        assert [s.total for s in stats] == [0] * len(stats)
        assert pane.health.unstamped_text() == "unstamped " + " ".join(
            f"{key} 0" for key in stream.latency)


def _status_figures_whole(status: str, width: int) -> None:
    """No figure of the status line cut short: an ellipsis is where words went, never
    next to a digit or the progress bar ("…2-07 01:44:29 UTC", "…░░ 12%")."""
    assert not re.search(r"…[\d█░]|[\d█░]…", status), status
    assert cell_len(status) <= width, status


async def test_the_replay_status_keeps_the_journal_time_and_speed_whole_when_narrow(
        futu_journal):
    """At 80 columns and below the replay's parts are dropped whole, least important
    first: the journal's time, speed and paused, and how far through, before the state's
    words; the date and the bar go first. A cut had shown "replay …2-07 01:44:29 UTC"
    (the date cut mid-number), and beside a long state ("connecting: replay of a
    simulator session", the state a tab shows before its session starts) only
    "replay …paused": no time, no progress, no speed."""
    async with _replaying(futu_journal, (80, 24)) as (app, pilot, player, feed):
        await pilot.press("space")
        app._tick()
        status = app.status_bar._text.plain
        when = datetime.fromtimestamp(player.wall / 1e9, UTC)  # (paused: it stays)
        assert f" {when:%H:%M:%S} UTC" in status and "replay " in status
        assert "1x paused" in status and " synced " in status
        assert re.search(r" \d+% ", status), status
        _status_figures_whole(status, 80)
        assert f"{when:%Y-%m-%d}" not in status  # (no room for the date: dropped, not cut)
        feed.set_state(FeedState.CONNECTING, feed.address)  # a long state: words, cut
        app._tick()
        status = app.status_bar._text.plain
        assert f" {when:%H:%M:%S} UTC" in status and "1x paused" in status, status
        assert re.search(r" \d+% ", status) and "connecting: replay of" in status, status
        _status_figures_whole(status, 80)
        await pilot.resize_terminal(60, 20)
        await wait_until(lambda: app.status_bar.size.width == 60, 5, "the narrower bar")
        for state in (FeedState.CONNECTING, FeedState.SYNCED):
            feed.set_state(state, feed.address if state is FeedState.CONNECTING else "")
            app._tick()
            status = app.status_bar._text.plain
            assert f" {when:%H:%M:%S} UTC" in status and "1x paused" in status, status
            assert re.search(r" \d+% ", status), status
            _status_figures_whole(status, 60)
        await pilot.resize_terminal(160, 24)  # wide: the whole line, date and bar too
        await wait_until(lambda: app.status_bar.size.width == 160, 5, "the wider bar")
        app._tick()
        assert player.describe() in app.status_bar._text.plain


async def test_the_replay_footer_shows_each_key_with_its_label_or_not_at_all(futu_journal):
    """The footer had cropped its row at the palette key, leaving "space ▏": a key
    without its label. A key that does not fit is hidden whole; in a replay the replay's
    keys are the last to go."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    async with _replaying(futu_journal, (80, 24)) as (app, pilot, player, feed):
        for width in (80, 60, 160):
            await pilot.resize_terminal(width, 24)
            await wait_until(lambda w=width: app.screen.query_one(Footer).size.width == w,
                             5, "the footer resized")
            await pilot.pause()  # (its keys hidden or shown: laid out and painted)
            footer = screen_text(app).splitlines()[-1]
            shown = [key for key in app.screen.query(FooterKey) if key.display]
            assert len(shown) >= 3, footer
            for key in shown:  # each shown key whole: its key and its label
                assert key.render().plain.strip() in footer, (key.key, footer)
            assert "space Pause" in footer, footer
            assert not re.search(r"space\s*▏", footer), footer


async def test_space_s_footer_label_says_what_it_does_now(futu_journal):
    """A paused replay's footer still said "space Pause": it says "Resume" while paused
    (by space, or by `.`), and the key resumes."""
    async with _replaying(futu_journal, (100, 24)) as (app, pilot, player, feed):
        def footer() -> str:
            return screen_text(app).splitlines()[-1]

        await wait_until(lambda: "space Pause" in footer(), 5, "space Pause while playing")
        assert "Resume" not in footer()
        await pilot.press("space")
        assert player.paused
        await wait_until(lambda: "space Resume" in footer(), 5, "space Resume while paused")
        assert "Pause" not in footer()
        await pilot.press("space")
        assert not player.paused
        await wait_until(lambda: "space Pause" in footer(), 5, "space Pause again")
        await pilot.press("full_stop")  # one message forward: paused too
        assert player.paused
        await wait_until(lambda: "space Resume" in footer(), 5, "space Resume after a step")


async def test_end_in_a_replay_with_until_shows_the_book_at_until(checkpointed_journal):
    """`end` (or `]` past it) in `obview replay --until T` went to the journal's end:
    the books emptied for a seek no line past T could refill, and the tab stayed empty
    under "connecting: replay seek". It goes to T and shows the book there."""
    path = checkpointed_journal  # a seek point every 2 s: several after `until`
    probe = ReplayPlayer([path])
    until = probe.first_wall + (probe.last_wall - probe.first_wall) // 2
    player = ReplayPlayer([path], speed=1.0, until=until)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(100, 30)) as pilot:
        feed = player.feeds[0]
        streams = list(feed.streams.values())
        await wait_until(lambda: any(s.synced for s in streams), 20, "a replayed book")
        for key in ("end", "right_square_bracket"):
            await pilot.press(key)
            assert player.wall <= until
            await wait_until(lambda: player.describe().endswith(" end")
                             and all(s.synced and len(s.book.bids) for s in streams),
                             10, f"the books at --until after {key}")


async def test_the_journal_s_warnings_show_on_the_replay_screen(tmp_path):
    """A warning given before the TUI started (a rotated part alone) went to stderr,
    under the screen, and one during it (a journal cut short) into Textual's capture:
    the user saw neither. Both are notifications now."""
    from tests.replay.conftest import record

    path = tmp_path / "r.ndjson.zst"
    record(path, "futu", "HK.00700", "--sim", "--fault", "rate=200", "--record-rotate", "16K",
           count=800)
    part = tmp_path / "r.0001.ndjson.zst"
    last = sorted(tmp_path.glob("r.0*.ndjson.zst"))[-1]
    data = last.read_bytes()
    last.write_bytes(data[:len(data) * 2 // 3])  # the last part cut short, as by a crash
    player = ReplayPlayer([part], speed=None)
    app = ObviewApp(player.configs, player.feeds, player=player)

    def shown() -> list[str]:
        return [n.message for n in app._notifications]

    async with app.run_test(size=(120, 34)):
        await wait_until(lambda: any("part 1 of its session" in m for m in shown()), 10,
                         "the part's warning")
        await wait_until(player.finished.is_set, 30, "the replay played to its end")
        await wait_until(lambda: len(shown()) >= 2, 10, "the cut-short warning")
        assert len(player.warnings) == 2 and set(player.warnings) <= set(shown())


async def test_a_seek_counts_no_reconnect_on_any_venue(tmp_path):
    """A seek ends every session as a restart (SessionRestart): bthub's session turned
    it into a lost connection, and each seek added one to its tab's reconnects."""
    from tests.replay.conftest import record

    path = tmp_path / "bt.ndjson.zst"
    record(path, "bthub", "BTCUSDT", "--sim", "--fault", "rate=100", count=120)
    async with _replaying((path, None), (120, 34)) as (app, pilot, player, feed):
        for key in ("right_square_bracket", "left_square_bracket", "home", "end"):
            link, rebuilt = feed.transport.current, app.rebuilds
            await pilot.press(key)
            # the feed took the seek's link: its old session's end has been accounted for
            await wait_until(lambda link=link: feed.transport.current is not link, 10,
                             f"the session restarted after {key}")
            assert feed.reconnects == 0, (key, feed.status_text)
            # (and the seek's heatmap rebuild is over: the next seek does not cancel it)
            await wait_until(lambda rebuilt=rebuilt: app.rebuilds > rebuilt, 10,
                             f"the history rebuilt after {key}")


def test_replay_actions_are_not_offered_live():
    from obview.tui.actions import SCOPES, Scope

    assert {name for name, scope in SCOPES.items() if scope is Scope.REPLAY} == {"replay"}


class _Clocks:
    """The pace's clock, and the CPU and wall clocks the governor reads, moved by hand."""

    def __init__(self) -> None:
        self.pace = 1000.0
        self.wall = 50.0
        self.cpu = 3.0

    def run(self, seconds: float, share: float) -> None:
        self.wall += seconds
        self.cpu += seconds * share


async def test_a_replay_the_machine_cannot_keep_up_with_slows_and_says_so(futu_journal):
    from obview.tui.app import REPLAY_CPU_BUDGET

    path, _ = futu_journal
    clocks = _Clocks()
    player = ReplayPlayer([path], speed=100.0, clock=lambda: clocks.pace, batch=5)
    app = ObviewApp(player.configs, player.feeds, player=player)
    assert player.governor is not None and player.governor.budget == REPLAY_CPU_BUDGET
    governor = player.govern(REPLAY_CPU_BUDGET, cpu=lambda: clocks.cpu,
                             clock=lambda: clocks.wall)
    governor.late = lambda seconds: None  # CPU alone here: the screen's lateness is below
    async with app.run_test(size=(160, 40)) as pilot:
        clocks.run(1.0, 1.0)  # a window spent at a whole core...
        clocks.pace += 60.0  # ...while the journal got 100 minutes ahead of the replay
        await wait_until(lambda: player.pace.throttle < 1.0, 10, "the replay slowed")
        assert player.speed == 100.0  # what the user chose stays
        assert player.pace.throttle == pytest.approx(0.95 * REPLAY_CPU_BUDGET)
        app._tick()
        assert f"100x (CPU-bound: {0.95 * REPLAY_CPU_BUDGET * 100:.0f}x)" \
            in app.status_bar._text.plain
        played = player.lines
        clocks.run(1.0, 0.1)  # a quiet window: the speed comes back step by step
        clocks.pace += 1.0
        await wait_until(lambda: player.pace.throttle > 0.95 * REPLAY_CPU_BUDGET, 10,
                         "the speed given back")
        assert player.lines > played
        await pilot.press("minus")  # a speed the user picks starts unthrottled
        assert player.speed == 50.0 and player.pace.throttle == 1.0
        assert governor.throttle == 1.0
        app._tick()
        assert "CPU-bound" not in app.status_bar._text.plain


async def test_a_replay_at_real_time_is_never_slowed(futu_journal):
    """At 1x the floor is real time: the session once played at that pace, live."""
    path, _ = futu_journal
    clocks = _Clocks()
    player = ReplayPlayer([path], speed=1.0, clock=lambda: clocks.pace, batch=5)
    governor = player.govern(0.6, cpu=lambda: clocks.cpu, clock=lambda: clocks.wall)
    tasks = [asyncio.create_task(feed.run()) for feed in player.feeds]
    driver = asyncio.create_task(player.run())
    try:
        for _ in range(3):
            played = player.lines
            clocks.run(1.0, 1.0)  # a whole core, every window
            clocks.pace += 1.0
            await wait_until(lambda p=played: player.lines > p, 10, "lines played")
            await wait_until(lambda: governor.used == 1.0, 10, "a window sampled")
            governor.used = 0.0
        assert player.pace.throttle == 1.0 and "CPU-bound" not in player.describe()
    finally:
        driver.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.wait([driver, *tasks], timeout=2)


async def test_each_paint_tells_the_governor_how_late_it_came(futu_journal):
    """The screen's lateness (docs/replay.md, "A replay the machine cannot keep up with"):
    from the oldest change a paint drew to the paint, and never the time the ladder was
    frozen, nor a change that showed nothing."""
    import time

    path, _ = futu_journal
    player = ReplayPlayer([path], speed=1.0)
    app = ObviewApp(player.configs, player.feeds, player=player)
    reports: list[float] = []
    player.governor.late = reports.append
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(lambda: len(reports) >= 2, 20, "paints of the replayed book")
        assert all(0.0 <= seconds < 1.0 for seconds in reports)
        await pilot.press("space")  # paused: only the steps below change the book
        ladder = app.active_ladder()

        async def step_until_reported(waited: float = 0.0, since: int | None = None
                                      ) -> list[float]:
            """Steps (`.`) until a paint reports; `waited`: each step's change is as if
            it had waited that long for its paint. The reports from index `since` on
            (default: from the first step)."""
            seen = len(reports)
            since = seen if since is None else since
            for _ in range(200):
                if waited:  # (the time the app stamps on the step's BookUpdated, moved back)
                    ladder._oldest_change = time.monotonic() - waited
                await pilot.press("full_stop")
                await pilot.pause()
                if len(reports) > seen:
                    return reports[since:]
            raise AssertionError("no paint after 200 steps")

        assert (await step_until_reported(waited=5.0))[-1] >= 5.0
        await wait_until(lambda: not ladder._timer_pending, 10, "the ladder's frame")
        assert all(seconds < 1.0 for seconds in await step_until_reported())
        # frozen: a change then is not late (nothing was due on screen), even once the
        # book it left behind is drawn
        await pilot.press("p")
        ladder.mark_dirty(time.monotonic() - 5.0)
        for _ in range(3):
            await pilot.press("full_stop")
        before = len(reports)
        await pilot.press("p")
        got = await step_until_reported(since=before)
        assert all(seconds < 1.0 for seconds in got), got
        # hidden (another tab): a change waiting then is not late once the tab is back
        before = len(reports)
        ladder._oldest_change = time.monotonic() - 5.0  # (as the app stamps a change)
        await pilot.press("2")
        await wait_until(lambda: not ladder._visible(), 10, "the other tab")
        for _ in range(5):  # the hidden book moves on: there is something new to show
            await pilot.press("full_stop")
        await pilot.press("1")
        await wait_until(ladder._visible, 10, "the ladder's tab back")
        got = await step_until_reported(since=before)
        assert all(seconds < 1.0 for seconds in got), got
        # a change that shows nothing (a level below the rows on screen, say) is not late
        # when a later change is painted
        # (and their last fade painted: a paint still due would draw the change below)
        await wait_until(lambda: not ladder._flashes and not ladder._unpainted, 10,
                         "the flashes faded and painted")
        before = len(reports)
        ladder.mark_dirty(time.monotonic() - 5.0)  # the book as it was: the same lines
        await wait_until(lambda: not ladder._timer_pending, 10, "the ladder's frame")
        await pilot.pause()
        got = await step_until_reported(since=before)
        assert all(seconds < 1.0 for seconds in got), got


async def test_a_level_s_size_history_in_a_replay_reads_in_the_journal_s_time(
        loopring_trades_journal):
    """The drilldown's history stamps each change with the data's time, as the tape does:
    in a replay the journal's (UTC), not this machine's clock or a time since it opened."""
    from obview import fmt
    from obview.tui.screens import DrilldownScreen
    async with _replaying((loopring_trades_journal, None), (120, 34)) as (app, pilot, player,
                                                                           feed):
        await wait_until(lambda: app.active_ladder().cursor_row() is not None, 10,
                         "a row under the cursor")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DrilldownScreen) and screen.mode == "history"
        await wait_until(lambda: len(screen.history) >= 3, 20, "the level changed twice")
        for at, _, _ in screen.history:
            assert player.first_wall <= at * 1e9 <= player.last_wall + 1e9
        newest = fmt.clock(screen.history[-1][0], True, utc=True)
        await wait_until(lambda: newest in screen_text(app), 5, "the history drawn")


async def test_loopring_push_timing_in_a_replay_is_on_the_journal_s_clock(
        loopring_trades_journal):
    """The venue stamp's age and the push interval are what they were when the session
    was recorded: on the journal's receive stamps, as a replayed Futu feed's latency is.
    On this machine's clock the age had been the recording's age ("stamp age p50
    149.6s") and, played fast, the interval the replay's pace."""
    player = ReplayPlayer([loopring_trades_journal], speed=None)  # max: no pace to measure
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_until(player.finished.is_set, 30, "the journal played")
        await pilot.pause()
        pane = app.active_stream_pane()
        ages = pane.clock.venue_age.samples
        # the simulator's stamps are its clock at sending, on the same machine: received
        # within milliseconds then, whereas the recording ended seconds before this replay
        assert len(ages) >= 50 and all(abs(age) < 1000 for age in ages), max(ages, key=abs)
        for intervals in (pane.stream.latency["interval"], pane.clock.interval):
            # pushes about 20 ms apart (rate=50) when recorded; at max speed the replay
            # hands them over within microseconds of each other
            assert intervals.total >= 50 and intervals.percentile(0.5) > 5, intervals.samples
        app._tick()
        await pilot.pause()
        assert "stamp age" in screen_text(app)  # (drawn: samples below 0 included)


async def test_a_replay_s_bounds_on_screen_are_from_and_until(checkpointed_journal):
    """`obview replay --from F --until U` showed its progress over the whole journal
    (at U: "37% end") and `home` (or `[` before F) went to the journal's start, before
    F. The window is the replay's: home goes to F, the bar runs 0% at F to 100% at U."""
    path = checkpointed_journal
    probe = ReplayPlayer([path])
    span = probe.last_wall - probe.first_wall
    start, until = probe.first_wall + span // 3, probe.first_wall + 2 * span // 3
    player = ReplayPlayer([path], speed=1.0, start=start, until=until)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(100, 30)) as pilot:
        streams = list(player.feeds[0].streams.values())
        await wait_until(lambda: any(s.synced for s in streams), 20, "a replayed book")
        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the end")
        assert " 100% " in player.describe()
        # paused: at 1x the playhead would move on while the keys are pressed and the
        # books restored (on a busy machine past the 5% the assertion allows)
        await pilot.press("space")
        await wait_until(lambda: player.pace.paused, 10, "the replay paused")
        for key in ("home", "left_square_bracket"):
            await pilot.press(key)
            assert player.start == start, key  # the seek's target
            assert player.progress() < 0.05, (key, player.describe())
            await wait_until(lambda: all(s.synced and len(s.book.bids) for s in streams),
                             10, f"the books at --from after {key}")


async def test_depth_in_a_replay_goes_as_far_as_live_did(tmp_path):
    """A feed's depth is how many rows its screen shows, not how many the venue sends
    and the journal holds (Futu subscribes 40, Loopring at least 50). A replay stopped
    `d` at the depth recorded and capped `--depth` there: a journal recorded at
    `--depth 5` holds 20 rows a side, which live showed at a `d`, and its replay never
    did. `d` cycles as live, and `--depth` is as given."""
    from tests.replay.conftest import record

    path = tmp_path / "d5.ndjson.zst"
    record(path, "futu", "HK.00700", "--sim", "--depth", "5", count=20)
    player = ReplayPlayer([path], speed=None)
    assert player.configs[0].depth == 5
    for cfg in player.configs:  # `obview replay PATH --depth 20` (run_replay_app)
        cfg.depth = 20
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(100, 60)) as pilot:
        stream = player.feeds[0].streams["HK.00700"]
        await wait_until(lambda: player.finished.is_set() and len(stream.book.bids) >= 20, 20,
                         "the journal's 20 rows a side")
        ladder = app.active_ladder()
        assert ladder.depth == 20
        seen = []
        for _ in range(3):
            await pilot.press("d")
            seen.append(ladder.depth)
        assert seen == [50, 10, 20]  # as live: the presets


async def test_space_at_the_end_says_it_paused(futu_journal):
    """Space on a replay played to its end paused it, but nothing showed it: the bar
    says "end" (the journal is over, paused or not) and the footer kept "space Pause",
    so the next home came back paused at 0% on an empty book without a word. The
    footer says "space Resume" while paused, at the end too."""
    async with _replaying(futu_journal, (100, 24)) as (app, pilot, player, feed):
        def footer() -> str:
            return screen_text(app).splitlines()[-1]

        await pilot.press("end")
        await wait_until(lambda: player.describe().endswith(" end"), 10, "the end")
        await wait_until(lambda: "space Pause" in footer(), 5, "space Pause at the end")
        await pilot.press("space")
        assert player.paused
        await wait_until(lambda: "space Resume" in footer(), 5, "space Resume at the end")
        await pilot.press("home")
        await wait_until(lambda: player.describe().endswith(" paused"), 10, "paused at home")
        assert "space Resume" in footer()


def test_a_tui_recording_replays_with_its_trade_tape(tmp_path, monkeypatch):
    """The TUI takes every venue's prints (its tape), but the journal's header was
    written before it asked for them: it said trades false, so the replay's Futu feed
    dropped the recorded ticker pushes and `T` said "this venue has no trade tape". The
    header says what the screen took, and the replayed feed keeps the prints."""
    import logging

    import obview.cli as cli_module
    import obview.tui
    from obview import logs
    from obview.journal import JournalReader

    monkeypatch.setattr(cli_module, "_feeds_started", False)
    monkeypatch.setattr(obview.tui, "run_app", lambda *a, **kw: None)  # no screen here
    # the CLI in this process attaches obview's log handlers and error counter: left
    # behind, every error a later test in this worker logs made its status bar say "N
    # errors logged" (21 snapshot tests failed in CI)
    monkeypatch.setattr(logs, "_errors", 0)
    monkeypatch.setattr(logs, "_where", None)
    logger = logging.getLogger("obview")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logger.level)
    path = tmp_path / "tui.ndjson.zst"
    cli_module.cli.main(["futu", "HK.00700", "--sim", "--record", str(path)],
                        standalone_mode=False)
    feeds = JournalReader(path).headers[0].o["feeds"]
    assert [feed["trades"] for feed in feeds] == [True]
    player = ReplayPlayer([path])
    assert [feed.trades_enabled for feed in player.feeds] == [True]


async def test_from_before_the_journal_starts_plays_from_its_start(futu_journal):
    """`obview replay J --from T`, T before the recording began: the TUI's playhead sat
    at T, "connecting" at 0%, for the whole gap at the speed chosen (25 minutes earlier:
    25 minutes at 1x), the bar showing a time nothing was recorded at. It plays from the
    journal's start."""
    path, _ = futu_journal
    probe = ReplayPlayer([path])
    player = ReplayPlayer([path], speed=1.0, start=probe.first_wall - 25 * 60 * 10**9)
    assert player.wall == player.first_wall
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(100, 30)):
        feed = player.feeds[0]
        await wait_until(lambda: any(s.synced for s in feed.streams.values()), 15,
                         "a book, played from the journal's start")
        assert player.wall >= player.first_wall
