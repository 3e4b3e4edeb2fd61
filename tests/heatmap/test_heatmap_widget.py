"""The heatmap widget in a tiny app: crosshair readout by keys and mouse, zoom, colours."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from rich.color import ColorType

from obview.tui.heatmap import LEVELS, HeatmapView
from tests.heatmap.heatmap_app import HeatmapApp, seeded_history
from tests.heatmap.test_depth_history import expected_columns
from tests.heatmap.walk import TICK


def _want(steps, ms, index, price):
    cells = expected_columns(steps, ms)[index]
    return cells.get((True, price), Decimal(0)), cells.get((False, price), Decimal(0))


async def test_crosshair_keys_read_out_the_cell_and_its_prints():
    history, steps = seeded_history(seed=1, steps=600)
    app = HeatmapApp(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        tier = history.tiers[1]
        start = view.readout
        assert start.age_seconds == 0 and start.column_mono == tier.open_index
        assert start.price == history.best_bid  # at rest on the touch
        for key in ("left", "left", "left", "up", "up", "shift+down"):
            await pilot.press(key)
        readout = view.readout
        assert app.moves and app.moves[-1].readout == readout
        index = tier.open_index - 3
        assert readout.column_mono == index and readout.age_seconds == 3
        price = start.price + 2 * TICK - 10 * TICK
        assert readout.price == price
        assert (readout.bid_size, readout.ask_size) == _want(steps, 1000, index, price)
        trades = [t for s in steps for t in s.trades
                  if int(t.mono * 1000) // 1000 == index and t.price == price]
        assert readout.buys + readout.sells == len(trades)
        assert readout.sell_size == sum((t.size for t in trades if t.side == "sell"), Decimal(0))
        text = "".join(seg.text for seg in view.render_line(view.size.height - 1))
        assert f"{price}" in text and "-3.0s" in text
        # the prints are counted as prints: a bare "sold 10 in 1" read as 1 s
        view.readout = replace(readout, buy_size=Decimal("3.6"), buys=1,
                               sell_size=Decimal("36.86"), sells=14)
        strip = view._readout_line(view.size.width, view._palette)  # (a paint reads afresh)
        text = "".join(seg.text for seg in strip)
        assert "bought 3.6 in 1 print  sold 36.86 in 14 prints" in text, text
        await pilot.press("end")
        assert view.readout == start


async def test_crosshair_finds_a_print_and_the_mouse_moves_it():
    history, steps = seeded_history(seed=1, steps=600)
    app = HeatmapApp(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        layout = view._layout
        # a print on screen: hover its cell
        trade = next(t for s in reversed(steps) for t in s.trades
                     if int(t.mono) < layout.newest - 2)
        index = int(trade.mono)
        is_bid = trade.side == "sell"
        row = history.price_row(trade.price, layout.step, is_bid)
        x = layout.axis_width + index - layout.first_index
        y = 1 + (layout.top_row - row) // 2
        await pilot.hover(HeatmapView, offset=(x, y))
        await pilot.pause()
        readout = view.readout
        assert readout.column_mono == index
        # the mouse picks the upper price row of a terminal row
        assert readout.price == history.row_price(layout.top_row - 2 * (y - 1), layout.step)
        if readout.price == trade.price:
            assert readout.buys + readout.sells >= 1
        bid, ask = _want(steps, 1000, index, readout.price)
        assert (readout.bid_size, readout.ask_size) == (bid, ask)


async def test_zoom_keys_change_the_column_width():
    history, _ = seeded_history(seed=2, steps=400)
    app = HeatmapApp(history)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        assert view.readout.column_seconds == 1
        await pilot.press("z")
        assert view.readout.column_seconds == 0.1
        await pilot.press("z")  # already the finest
        assert view.readout.column_seconds == 0.1
        await pilot.press("Z", "Z", "Z")
        assert view.readout.column_seconds == 10
        title = "".join(seg.text for seg in view.render_line(0))
        assert "10 s/col" in title and "log" in title


async def test_theme_recolours_and_256_colours_fall_back():
    from rich._palettes import EIGHT_BIT_PALETTE
    from rich.console import ColorSystem

    history, _ = seeded_history(seed=2, steps=50)
    app = HeatmapApp(history)
    async with app.run_test(size=(60, 16)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        app.console._color_system = ColorSystem.TRUECOLOR  # what a truecolor terminal reports
        dark = view._make_palette()
        app.theme = "textual-light"
        await pilot.pause()
        light = view._make_palette()
        for level in (0, 1, LEVELS // 2):
            assert dark.swatches[level] != light.swatches[level]
        assert all(s.bgcolor.type == ColorType.TRUECOLOR for s in light.swatches)
        app.console._color_system = ColorSystem.EIGHT_BIT
        reduced = view._make_palette()
        # every colour is one the terminal has (held as its RGB: what Textual's
        # ANSI-to-truecolor filter would make of it each frame)
        terminal = {EIGHT_BIT_PALETTE[number] for number in range(16, 256)}
        assert all(s.bgcolor.triplet in terminal for s in reduced.swatches)
        assert [s.bgcolor for s in reduced.swatches] != [s.bgcolor for s in light.swatches]
        assert len({s.bgcolor for s in reduced.swatches}) > LEVELS // 2  # still a ramp


def _cells(strip) -> list[tuple[str, object]]:
    return [(char, segment.style) for segment in strip for char in segment.text]


@pytest.mark.parametrize(("history_s", "zoom_keys"), [(1800, ()), (1800, ("z",)), (40, ("Z",))],
                         ids=["1s", "100ms", "10s-longer-than-history"])
async def test_frames_drawn_incrementally_equal_a_fresh_drawing(history_s, zoom_keys):
    """Shifting the kept lines column by column paints exactly what drawing from scratch does."""
    from obview.depth_history import DepthHistory
    from tests.heatmap.walk import walk

    history = DepthHistory(history_s=history_s)
    books = walk(seed=8, steps=2000, interval=0.1)
    for _, (book, step) in zip(range(900), books, strict=False):
        history.record(book, step.mono)
        for trade in step.trades:
            history.record_trade(trade)
    app = HeatmapApp(history)
    async with app.run_test(size=(90, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        for key in zoom_keys:
            await pilot.press(key)
        await pilot.press("left", "left", "up")
        view._build()
        compared = 0
        for n, (book, step) in enumerate(books):
            history.record(book, step.mono)
            for trade in step.trades:
                history.record_trade(trade)
            if n % 7:
                continue
            before = view._layout.newest
            shifted = view._build()
            compared += view._layout.newest != before  # the picture moved: lines were shifted
            view._invalidate()
            fresh = view._build()
            assert [_cells(s) for s in shifted] == [_cells(s) for s in fresh], f"after {n} books"
            if n > 700:
                break
        assert compared >= 7


async def test_crosshair_past_the_top_edge_scrolls_the_prices():
    history, steps = seeded_history(seed=4, steps=300)
    app = HeatmapApp(history)
    async with app.run_test(size=(60, 12)) as pilot:  # 20 price rows on screen
        await pilot.pause()
        view = app.query_one(HeatmapView)
        top_before = view._layout.top_row
        start = view.readout.price
        for _ in range(3):
            await pilot.press("shift+up")
        assert view.readout.price == start + 30 * history.row_step(None)
        assert view._layout.top_row > top_before
        assert view._layout.bottom_row <= view._layout.cross_row <= view._layout.top_row


async def test_a_narrow_heatmap_drops_title_and_readout_parts_whole_never_cutting_a_figure():
    history, _ = seeded_history(seed=1, steps=600)
    app = HeatmapApp(history)

    def lines(view) -> tuple[str, str]:
        title = "".join(seg.text for seg in view.render_line(0))
        readout = "".join(seg.text for seg in view.render_line(view.size.height - 1))
        return title, readout

    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        view = app.query_one(HeatmapView)
        for key in ("left", "left", "up"):  # a readout with sizes and prints on it
            await pilot.press(key)
        wide = lines(view)
        assert "log" in wide[0] and (" bid " in wide[1] or " ask " in wide[1])
        words = [line.split() for line in wide]
        for width in range(99, 23, -1):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            for line, every in zip(lines(view), words, strict=True):
                assert len(line) == width
                # parts go from the end, whole: what is left is the wide line's start,
                # word for word (a size cut to "26,2" would not be one of its words)
                shown = line.split()
                assert shown == every[:len(shown)], (width, line)
        narrow = lines(view)
        assert narrow[0].split() and narrow[1].split()  # something is always said
        assert len(narrow[0].split()) < len(wide[0].split())  # and parts did go
