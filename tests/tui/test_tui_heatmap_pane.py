"""The depth heatmap inside a stream's tab: recorded from the same coalesced book
updates as the ladder (hidden tabs too), `h` cycles the layouts, rows follow the
ladder's grouping and prices, a level change starts a fresh history."""

from __future__ import annotations

from decimal import Decimal

from obview.depth_history import DepthHistory
from obview.tui.heatmap import HeatmapView
from obview.tui.ladder import Ladder
from obview.tui.panels import NOT_PAINTING
from obview.tui.panes import StreamPane
from tests.conftest import wait_until
from tests.support.fake_feed import FakeFeed
from tests.tui.conftest import make_app, only, ready, screen_text, settle


def _recorded(history: DepthHistory) -> int:
    return history.version


async def split(pilot) -> StreamPane:
    """The books in, then `h`: the tab on screen shows its ladder and heatmap."""
    await ready(pilot)
    await pilot.press("h")
    await settle(pilot)
    return pilot.app.active_stream_pane()


async def test_h_cycles_ladder_split_heatmap():
    app = make_app(only("futu"))
    async with app.run_test(size=(140, 34)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        assert pane.layout_name == "ladder" and not pane.heatmap.display
        await pilot.press("h")
        await settle(pilot)
        assert pane.layout_name == "split"
        assert pane.heatmap.display and pane.ladder.display and not pane.health.display
        await wait_until(lambda: pane.heatmap._lines is not None, 5, "heatmap painted")
        assert "depth" in screen_text(app) and "Price" in screen_text(app)
        await pilot.press("h")
        await settle(pilot)
        assert pane.layout_name == "heatmap" and not pane.ladder.display
        assert app.focused is pane.heatmap  # its arrows move the crosshair
        # the receive -> paint delay is the ladder's: hidden, it is not measured, and the
        # health panel beside the heatmap says so instead of showing figures that stand still
        await wait_until(lambda: NOT_PAINTING in screen_text(app), 5, "not measured")
        await pilot.press("h")
        await settle(pilot)
        assert pane.layout_name == "ladder" and not pane.heatmap.display
        assert app.focused is pane.ladder
        await wait_until(lambda: NOT_PAINTING not in screen_text(app), 5, "measured again")
        assert "obview receive → paint" in screen_text(app)


async def test_a_paint_before_the_resize_event_is_handled_uses_the_new_width(monkeypatch):
    """Textual sets a widget's new size, and may paint it, before the widget's Resize
    event is handled (on a loaded machine a snapshot once caught the ladder so after
    `h`: cropped, its depth bars scaled to the old width). Here the Resize handlers do
    nothing at all, so only the paint itself can notice the size has changed."""
    monkeypatch.setattr(Ladder, "on_resize", lambda self: None)
    monkeypatch.setattr(HeatmapView, "on_resize", lambda self: None)
    app = make_app(only("futu"))
    async with app.run_test(size=(140, 34)) as pilot:
        pane = await split(pilot)
        await wait_until(lambda: pane.heatmap._lines is not None, 5, "heatmap painted")
        built = {pane.ladder: lambda: pane.ladder._strips, pane.heatmap: lambda: pane.heatmap._lines}
        widths = {widget: widget.size.width for widget in built}
        await pilot.resize_terminal(110, 34)
        await wait_until(lambda: all(widget.size.width < widths[widget] for widget in built),
                         5, "narrower")
        await wait_until(lambda: all({line.cell_length for line in lines()} == {widget.size.width}
                                     for widget, lines in built.items()),
                         5, "painted at the new width")


async def test_every_stream_records_its_history_even_hidden():
    feed = FakeFeed("futu", ("HK.00700", "US.AAPL"), seed=4)
    app = make_app([feed])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        hidden = next(p for p in app.stream_panes() if p is not app.active_stream_pane())
        await pilot.press("2", "h", "h")  # its heatmap alone, then another tab in front
        await settle(pilot)
        await wait_until(lambda: hidden.heatmap.builds > 0, 5, "heatmap drawn")
        await pilot.press("1")
        await settle(pilot)
        builds = hidden.heatmap.builds
        before = hidden.history.version
        for _ in range(5):
            feed.walk(hidden.stream)
        # a hidden tab posts no message per push: its book is sampled into the history
        await wait_until(lambda: hidden.history.version > before, 5, "hidden book sampled")
        # what it recorded is that stream's book, exactly
        best = hidden.stream.book.best_bid()
        tier = hidden.history.tiers[1]
        step = hidden.history.row_step(None)
        row = hidden.history.price_row(best, step)
        bid, _ = hidden.history.cell(1, tier.open_index, row, step)
        assert hidden.history.size_of(bid) >= hidden.stream.book.bids.get(best).size
        await wait_until(lambda: not hidden.heatmap._timer_pending, 5, "its frame timer fired")
        assert hidden.heatmap.builds == builds  # recorded, never drawn while hidden
        await pilot.press("2")
        await wait_until(lambda: hidden.heatmap.builds > builds, 5, "drawn when shown")


async def test_heatmap_rows_follow_the_ladder_grouping_and_prices():
    app = make_app(only("futu"))
    async with app.run_test(size=(140, 34)) as pilot:
        pane = await split(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert pane.ladder.step is not None and pane.heatmap.step == pane.ladder.step
        await wait_until(lambda: pane.heatmap._layout is not None, 5, "heatmap laid out")
        layout = pane.heatmap._layout
        low, high = pane.ladder.shown_prices()
        history = pane.history
        assert layout.bottom_row <= history.price_row(low, layout.step) <= layout.top_row
        assert layout.bottom_row <= history.price_row(high, layout.step, False) <= layout.top_row
        await pilot.press("G")
        await settle(pilot)
        assert pane.heatmap.step is None


async def test_heatmap_alone_titles_the_grouping():
    app = make_app(only("futu"))
    async with app.run_test(size=(140, 34)) as pilot:
        pane = await split(pilot)
        await pilot.press("h", "g")
        await settle(pilot)
        assert pane.layout_name == "heatmap" and not pane.ladder.display
        group = f"group {pane.ladder.step}"
        assert pane.ladder.step == Decimal("0.5")
        await wait_until(lambda: group in screen_text(app), 5, "the grouping in the title")
        await pilot.press("G")
        await settle(pilot)
        await wait_until(lambda: "group" not in screen_text(app), 5, "ungrouped")


async def test_crosshair_readout_is_shown_in_the_pane():
    app = make_app(only("futu"))
    async with app.run_test(size=(140, 34)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        await pilot.press("h", "h")
        await settle(pilot)
        await wait_until(lambda: pane.heatmap.readout is not None, 5, "readout")
        await pilot.press("down")
        await settle(pilot)
        readout = pane.heatmap.readout
        assert readout.price < pane.stream.book.best_bid()
        assert "╋" in screen_text(app) and str(readout.price) in screen_text(app)


async def test_level_change_starts_a_fresh_history():
    app = make_app(only("loopring"))
    async with app.run_test(size=(140, 34)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        old = pane.history
        assert old.version > 0
        await pilot.press("l")
        await wait_until(lambda: pane.history is not old and pane.heatmap.history is pane.history,
                         5, "fresh history")
        assert pane.heatmap.is_mounted and pane.heatmap.parent is pane.book


async def test_history_span_reaches_every_pane():
    app = make_app(only("futu"), history_s=90)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        assert isinstance(pane, StreamPane) and pane.history.history_s == 90
        assert pane.history.tiers[1].capacity == 90  # 1 s columns for 90 s


def test_history_option_and_config_setting(tmp_path, monkeypatch):
    import click

    from obview import cli
    seen = {}
    monkeypatch.setattr("obview.tui.run_app",
                        lambda configs, history_s=None, **kw: seen.setdefault("h", history_s))
    import logging  # each run below adds its log handlers: gone again after this test

    monkeypatch.setattr(logging.getLogger("obview"), "handlers", [])
    cli._install_hooks()
    cli.cli.main(args=["futu", "HK.00700", "--sim", "--history", "1h30m"],
                 standalone_mode=False)
    assert seen.pop("h") == 5400
    config = tmp_path / "config.toml"
    config.write_text('history = "10m"\n')
    monkeypatch.setenv("OBVIEW_CONFIG", str(config))
    cli.cli.main(args=["futu", "HK.00700", "--sim"], standalone_mode=False)
    assert seen.pop("h") == 600
    cli.cli.main(args=["demo", "--history", "45s"], standalone_mode=False)
    assert seen.pop("h") == 45
    try:
        cli.cli.main(args=["futu", "HK.00700", "--sim", "--history", "soon"],
                     standalone_mode=False)
    except click.BadParameter as exc:
        assert "not a duration" in exc.message
    else:
        raise AssertionError("a bad --history was accepted")
    assert isinstance(HeatmapView, type) and Decimal  # (imports used)
