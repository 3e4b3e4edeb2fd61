"""Pilot-driven functional tests: keys in, app state and messages out."""

from __future__ import annotations

import re
from decimal import Decimal

from obview.tui.actions import KEYS
from obview.tui.app import ObviewApp
from obview.tui.ladder import DEPTH_PRESETS
from obview.tui.screens import DrilldownScreen, ExecutionsScreen, HelpScreen
from obview.venues import config
from tests.conftest import press_to_quit, wait_until
from tests.support.fake_feed import FakeFeed
from tests.tui.conftest import ladder_lines, make_app, only, ready, screen_text, settle


async def test_ladder_shows_asks_spread_bids_and_cjk_name(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        spread = next(i for i, line in enumerate(lines) if "spread" in line)
        assert "350.4" in lines[spread - 1]  # best ask right above the spread row
        assert "350.0" in lines[spread + 1]  # best bid right below
        assert "騰訊控股" in text
        assert "synced" in text
        # the ladder's rows are exactly as wide as the terminal, CJK included
        ladder = app.active_ladder()
        assert all(strip.cell_length == ladder.size.width for strip in ladder._strips)


async def test_book_updates_are_coalesced_per_frame(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        ladder = app.active_ladder()
        before_msgs, before_flushes = app.book_messages, ladder.stats.flushes
        for _ in range(5000):
            feed.walk(feed.streams["HK.00700"])
        await settle(pilot)
        assert app.book_messages - before_msgs <= 2  # 5,000 pushes -> one or two messages
        assert ladder.stats.flushes - before_flushes <= 2
        assert ladder.view.bids[0].size == feed.streams["HK.00700"].book.bids.best().size


async def test_cursor_moves_and_reads_out_cumulatives(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        assert ladder.cursor.is_bid and ladder.cursor.index == 0
        await pilot.press("down", "down")
        assert ladder.cursor.is_bid and ladder.cursor.index == 2
        assert len(app.cursor_messages) == 2
        row = app.cursor_messages[-1].row
        assert row.price == ladder.view.bids[2].price
        await pilot.press("up", "up", "up")
        assert not ladder.cursor.is_bid and ladder.cursor.index == 0  # best ask
        await settle(pilot)
        readout = screen_text(app)
        assert "ask 1 @ 350.4" in readout and "notional" in readout and "bps from mid" in readout


async def test_grouping_depth_delta_keys(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        await pilot.press("g")
        await settle(pilot)
        assert ladder.step == Decimal("0.5")  # the fake book's levels are 0.2 apart
        await pilot.press("g")
        await settle(pilot)
        assert ladder.step == Decimal("1")
        assert ladder.view.bids[0].price == Decimal(350)  # 350.0 rounds down
        assert ladder.view.asks[0].price == Decimal(351)  # 350.4 rounds up
        await pilot.press("G", "G", "G")
        await settle(pilot)
        assert ladder.step is None
        assert ladder.depth == 20
        depths = []
        for _ in DEPTH_PRESETS:
            await pilot.press("d")
            depths.append(ladder.depth)
        assert depths == [50, 10, 20]
        await pilot.press("t")
        assert ladder.show_delta


async def test_freeze_keeps_data_flowing_but_display_still(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        feed = app.feeds[0]
        stream = feed.streams["HK.00700"]
        await pilot.press("p")
        shown = ladder.view
        for _ in range(50):
            feed.walk(stream, changes=3)
        await settle(pilot)
        assert ladder.view is shown
        assert stream.book.version > 50
        assert "FROZEN" in screen_text(app)
        # the frozen rows are a book no longer kept: regrouping or deepening them is
        # refused in words, not shown as a title over rows that stay as they were
        depth = ladder.depth
        await pilot.press("g", "d")
        await settle(pilot)
        assert ladder.step is None and ladder.depth == depth and ladder.view is shown
        said = [n.message for n in app._notifications]
        assert "frozen: press p to go live, then regroup" in said
        assert "frozen: press p to go live, then change the depth" in said
        title = ladder_lines(app)[0]
        assert "FROZEN" in title and "group" not in title
        ladder.stream.name = "a name long enough to push the rest off the title" * 3
        ladder._repaint()
        assert "❚❚ FROZEN" in ladder_lines(app)[0]  # the state is the last part to go
        await pilot.press("p")
        await settle(pilot)
        assert ladder.view is not shown
        assert ladder.view.bids[0].size == stream.book.bids.best().size


async def test_tab_and_number_keys_switch_streams(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        assert app.active_ladder().stream.symbol == "HK.00700"
        await pilot.press("tab")
        assert app.active_ladder().stream.key == "BTCUSDT"
        await pilot.press("8")
        assert app.active_ladder().stream.symbol == "LRC-ETH"
        await pilot.press("shift+tab")
        assert app.active_ladder() is None  # the risk table
        await pilot.press("1")
        assert app.active_ladder().stream.symbol == "HK.00700"


async def test_l_changes_the_loopring_level(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        futu, loopring = app.feeds[0], app.feeds[2]
        assert not app.available("level")  # futu declares no levels: the key is off here
        await pilot.press("l")
        app.action_level()  # and the action itself says why (in words of no venue)
        assert futu.level_changes == [] and loopring.level_changes == []
        await wait_until(lambda: any(n.message == "this venue has no aggregation levels"
                                     for n in app._notifications), 5, "the warning")
        await pilot.press("8", "l")
        await wait_until(lambda: loopring.level_changes == [1], 5, "level change")
        await pilot.press("l")
        await wait_until(lambda: loopring.level_changes == [1, 2], 5, "level change")


async def _open_futu_drilldown(pilot):
    """The fake Futu feed's HK.00700 with its drilldown open: (feed, stream, screen)."""
    app = pilot.app
    await ready(pilot)
    feed = app.feeds[0]
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, DrilldownScreen)
    return feed, feed.streams["HK.00700"], screen


async def test_drilldown_futu_queue_totals_and_new_orders(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        feed, stream, screen = await _open_futu_drilldown(pilot)
        assert screen.mode == "queue"
        price = stream.book.bids.best().price
        assert screen.price == price
        text = screen_text(app)
        assert "total 900 = level size 900" in text.replace(",", "")
        # the level changes: its new orders are marked
        stream.book.bids.set(price, Decimal(1000), 4, {"a1": Decimal(600), "a2": Decimal(400)})
        feed.push(stream)
        await wait_until(lambda: screen.new_ids == {"a1", "a2"}, 5, "new orders")
        await wait_until(lambda: "● new" in screen_text(app), 5, "new marks painted")
        await pilot.press("escape")
        assert not isinstance(app.screen, DrilldownScreen)


async def test_drilldown_bthub_sources_and_history(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await pilot.press("2", "down", "enter")
        screen = app.screen
        assert isinstance(screen, DrilldownScreen) and screen.mode == "sources"
        assert {lv.source for lv in screen.levels()} == {"okex", "huobi"}
        assert "share" in screen_text(app)
        await pilot.press("escape", "8", "enter")
        screen = app.screen
        assert screen.mode == "history"
        feed = app.feeds[2]
        stream = feed.streams["LRC-ETH"]
        for size in (7, 8, 9):  # one push per frame: each coalesced update is recorded
            stream.book.bids.set(screen.price, Decimal(size), 1)
            feed.push(stream)
            await wait_until(lambda size=size: screen.history[-1][2] == size, 5, "recorded")
        assert [entry[2] for entry in screen.history[1:]] == [7, 8, 9]
        updates = screen.updates
        for size in (10, 11, 12):  # three pushes before the app's next message: the
            stream.book.bids.set(screen.price, Decimal(size), 1)  # listener never calls
            feed.push(stream)  # the screen; it sees them as one update
        assert screen.updates == updates and screen.history[-1][2] == 9
        await wait_until(lambda: screen.history[-1][2] == 12, 5, "coalesced update recorded")
        assert [entry[2] for entry in screen.history[1:]] == [7, 8, 9, 12]
        await wait_until(lambda: "+1" in screen_text(app), 5, "history drawn")


async def test_orders_table_enter_shows_executions_and_risk_rows(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await pilot.press("6")
        await pilot.pause()
        text = screen_text(app)
        assert text.index("9007199254740995") < text.index("9007199254740993")  # newest first
        await pilot.press("down", "down", "enter")
        await wait_until(lambda: isinstance(app.screen, ExecutionsScreen), 5, "executions")
        assert "executions total 1.5; order executed 1.5" in screen_text(app)
        await pilot.press("escape", "7")
        await pilot.pause()
        text = screen_text(app)
        assert "binance" in text and "-1.25" in text


async def test_help_lists_every_binding_and_q_quits(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key in ("g / G", "enter", "escape", "tab", "1 … 9", "?", "q", "d", "l", "p", "t"):
            assert key in text
        # each key in the key column, followed by its own explanation (not just a letter
        # somewhere on the screen)
        lines = text.splitlines()
        for row in KEYS:
            words = " ".join(row.text.split()[:3])
            pattern = rf"(^|\s){re.escape(row.keys)}\s+{re.escape(words)}"
            assert any(re.search(pattern, line) for line in lines), row.keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await press_to_quit(app, pilot)
    assert all(feed._stopping for feed in app.feeds)


async def test_on_an_80_by_24_terminal_the_keys_below_the_help_are_reached_by_keys(futu_app):
    app = futu_app
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        last = KEYS[-1]
        assert not re.search(rf"{re.escape(last.keys)}\s+{last.text}", screen_text(app))
        await pilot.press("pagedown", "pagedown")
        await wait_until(lambda: re.search(rf"{re.escape(last.keys)}\s+{last.text}",
                                           screen_text(app)), 5, "the last key scrolled in")
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_the_actions(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Drill down", "Coarser grouping", "Cycle depth", "Freeze display",
                "Keys", "Screenshot", "Theme"} <= set(titles)
        assert titles.count("Keys") == 1 and titles.count("Screenshot") == 1
        assert "Next aggregation level" not in titles  # futu has no levels
        await pilot.press("8")  # loopring
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Next aggregation level" in titles
        await pilot.press("7")  # the risk table: no ladder actions
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Coarser grouping" not in titles and "Keys" in titles


async def test_small_terminal_layout():
    app = make_app(only("futu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.has_class("-narrow")
        text = screen_text(app)
        assert "spread" in text and "350.0" in text and "unstamped" in text
        ladder = app.active_ladder()
        assert ladder.rows_per_side() >= 5


async def test_a_venue_that_cannot_start_gets_an_error_tab(monkeypatch):
    import obview.venues as venues

    def broken(name):
        raise ValueError(f"{name} is not configured")

    monkeypatch.setattr(venues, "load", broken)
    app = ObviewApp([config("futu", ["HK.00700"], sim=True)])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: "cannot start" in screen_text(app), 15, "error tab")
        assert "futu is not configured" in screen_text(app)
        await press_to_quit(app, pilot)


async def test_feed_failure_is_shown():
    feed = FakeFeed("futu", ("HK.00700",))
    app = make_app([feed])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        feed._fail("subscription rejected: no quote right")
        await wait_until(lambda: "no quote right" in screen_text(app), 5, "error shown")


async def test_a_crashing_feed_is_reported_not_fatal():
    class Crashing(FakeFeed):
        async def run(self) -> None:
            raise RuntimeError("boom")

    app = make_app([Crashing("futu", ("HK.00700",))])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(lambda: any("boom" in str(n.message) for n in app._notifications),
                         5, "notification")
        await press_to_quit(app, pilot)


async def test_size_changes_flash_then_fade_and_show_deltas():
    feed = FakeFeed("futu", ("HK.00700",))
    app = ObviewApp([], [feed])  # real clock: flashes fade
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        await pilot.press("t")
        stream = feed.streams["HK.00700"]
        best = stream.book.bids.best()
        stream.book.bids.set(best.price, best.size + 100, best.orders, best.queue)
        feed.push(stream)
        await settle(pilot)
        key = (True, best.price, None)
        assert ladder._deltas.get(key) == 100
        assert key in ladder._flashes
        assert "+100" in screen_text(app)
        await wait_until(lambda: key not in ladder._flashes, 5, "flash faded")


async def test_only_changed_lines_are_repainted(futu_app):
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        regions = []
        real_refresh = ladder.refresh

        def recording_refresh(*areas, **kw):
            regions.extend(areas or [None])
            return real_refresh(*areas, **kw)

        ladder.refresh = recording_refresh
        await pilot.press("down")
        # the old cursor row, the new one and the readout line; never the whole ladder
        assert None not in regions
        assert sum(region.height for region in regions) == 3


async def test_a_widget_never_runs_in_the_feeds_listener(futu_app):
    """The drilldown hears of a push through the app's coalesced message, never from the
    feed's listener: an exception in a widget then cannot reach the venue's decode path
    (and end its session). Pushes made here run the listener synchronously; the screen's
    handler raises if it is called inside one."""
    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        feed, stream, screen = await _open_futu_drilldown(pilot)
        handler = screen.book_updated
        inside = [False]

        def guarded() -> None:
            if inside[0]:
                raise RuntimeError("a widget ran inside the feed's listener")
            handler()

        screen.book_updated = guarded
        updates = screen.updates
        inside[0] = True
        for _ in range(3):
            feed.push(stream)  # returns normally: nothing of the screen ran
        inside[0] = False
        await wait_until(lambda: screen.updates > updates, 5, "the coalesced update")
        await pilot.pause()
        assert screen.updates == updates + 1  # three pushes, one message


async def test_a_book_update_handled_after_the_last_screen_left_does_not_raise(futu_app):
    """Shutting down empties the screen stack while a BookUpdated can still be in the
    middle of its handler (it awaits the mount of a new stream's pane): the handler then
    finds no screen and must not ask for one (Textual raises ScreenStackError)."""
    from obview.book import OrderBook
    from obview.feed import Stream
    from obview.tui.messages import BookUpdated

    app = futu_app
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        new = feed.streams["HK.00005"] = Stream("HK.00005", OrderBook())  # a stream added later
        stacks = app._screen_stacks
        mode = app._current_mode
        saved = stacks[mode]
        mount = app._add_stream_pane

        async def mount_then_lose_the_screens(*args) -> None:
            await mount(*args)
            stacks[mode] = []  # as the app's shutdown leaves it

        app._add_stream_pane = mount_then_lose_the_screens
        try:
            await app.on_book_updated(BookUpdated(feed, new))
        finally:
            stacks[mode] = saved
            del app._add_stream_pane
        assert new in app._stream_panes
        await press_to_quit(app, pilot)


async def test_the_palette_offers_heatmap_time_only_with_the_heatmap_on_screen(app):
    """Over the ladder alone the palette offered "Finer / Coarser heatmap time", which
    did nothing there (no heatmap to zoom). They are offered once `h` shows it."""
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)

        def titles() -> set[str]:
            return {command.title for command in app.get_system_commands(app.screen)}

        assert not {"Finer heatmap time", "Coarser heatmap time"} & titles()
        await pilot.press("h")
        await wait_until(lambda: app.active_stream_pane().heatmap.display, 5, "the heatmap")
        assert {"Finer heatmap time", "Coarser heatmap time"} <= titles()


async def test_a_notification_leaves_the_status_bar_readable(app):
    """A toast (a feed's error, a replay's warning: 30 s) stood on the status bar's row
    and hid its right half: the state's reason, a replay's %, speed and "end"."""
    from textual.widgets._toast import Toast

    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready(pilot)
        app.notify("a long warning that takes two lines of the toast to say what it says",
                   severity="warning", timeout=30)
        await wait_until(lambda: list(app.screen.query(Toast)), 5, "the toast")
        await pilot.pause()
        bar = app.status_bar.region
        for toast in app.screen.query(Toast):
            assert toast.region.bottom <= bar.y, (toast.region, bar)


async def test_the_compact_health_panel_keeps_its_counts_line_at_60_columns():
    """Below the ladder (a narrow terminal) the panel's paint line and its sparkline
    did not fit 60 columns: the sparkline wrapped onto the third line and pushed the
    "resyncs · reconnects · bad frames" line out of the panel. Its lines are cut."""
    from tests.tui.conftest import RecordingApp

    feed = FakeFeed("futu", ("HK.00700",))
    app = RecordingApp([], [feed], mask_times=False)  # (masked times draw no sparkline)
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        stream = next(iter(feed.streams.values()))
        samples = pane.ladder.paint_delay.samples
        while len(samples) < 16:  # a whole sparkline
            before = len(samples)
            feed.walk(stream)
            await wait_until(lambda before=before: len(samples) > before, 5, "a paint")
        await pilot.pause()
        region = pane.health.region
        lines = screen_text(app).splitlines()[region.y:region.y + region.height]
        assert lines[1].lstrip().startswith("paint") and "resyncs" in lines[2], lines
