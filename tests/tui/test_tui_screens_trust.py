"""What a trader reads off the screen: rows on screen, the cursor's level, numbers in
the instrument's own decimals, keys that mean one thing, colours from the theme."""

from __future__ import annotations

import contextlib
import re
import time
from decimal import Decimal

from rich.cells import cell_len
from textual.events import MouseScrollDown, MouseScrollUp

from obview import fmt
from obview.feed import FeedState
from obview.records import CpOrder, Execution, Order
from obview.tui.actions import KEYS
from obview.tui.app import SCREENSHOT_DIR_ENV
from obview.tui.ladder import Ladder
from obview.tui.screens import DrilldownScreen, ExecutionsScreen, HelpScreen
from tests.conftest import ROOT, press_to_quit, wait_until
from tests.support.fake_feed import FakeFeed
from tests.tui.conftest import ladder_lines, make_app, only, ready, screen_text, settle


async def test_title_says_rows_shown_of_depth_and_imbalance_over_them():
    app = make_app(only("futu"))
    async with app.run_test(size=(120, 24)) as pilot:  # too short for 20 rows a side
        await ready(pilot)
        ladder = app.active_ladder()
        shown = ladder.rows_per_side()
        assert shown < 20
        lines = ladder_lines(app)
        assert f"{shown} of 20 rows" in lines[0]
        spread = next(line for line in lines if "spread" in line)
        assert f"over {shown} rows" in spread
        view = ladder.view
        bid = view.bids[shown - 1].cum_size
        ask = view.asks[shown - 1].cum_size
        expected = (bid - ask) / (bid + ask) * 100
        assert f"imbalance {expected:.1f}%" in spread

@contextlib.asynccontextmanager
async def _one_code(size: tuple[int, int]):
    """One code of a fake feed on screen, its book synced: (feed, app, pilot, ladder,
    stream), for the cursor tests."""
    feed = FakeFeed("futu", ("HK.00700",))
    app = make_app([feed])
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        yield feed, app, pilot, app.active_ladder(), feed.streams["HK.00700"]



async def test_cursor_stays_on_its_price_and_says_when_the_level_went():
    async with _one_code((120, 34)) as (feed, app, pilot, ladder, stream):
        await pilot.press("down", "down")
        price = ladder.cursor_row().price
        assert ladder.cursor.index == 2
        # a better bid arrives: the cursor's level is now the 4th row, the cursor follows
        best = stream.book.bids.best().price
        stream.book.bids.set(best + Decimal("0.1"), Decimal(100), 1)
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor_row().price == price and ladder.cursor.index == 3
        assert "bid 4 @ 349.6" in ladder_lines(app)[-1]
        # its level goes: the nearest level, and the readout says so
        stream.book.bids.set(price, Decimal(0))
        feed.push(stream)
        await settle(pilot)
        row = ladder.cursor_row()
        assert row.price != price and abs(row.price - price) == Decimal("0.2")
        assert "349.6 gone: nearest" in ladder_lines(app)[-1]
        await pilot.press("down")  # a deliberate move clears the note
        await settle(pilot)
        assert "gone" not in ladder_lines(app)[-1]
        # and so does time: it is news, not a state (the price may come back)
        ladder.note_seconds, ladder.frozen_time = 0.5, False  # (the app masks time for tests)
        price = ladder.cursor_row().price
        stream.book.bids.set(price, Decimal(0))
        feed.push(stream)
        await settle(pilot)
        assert "gone: nearest" in ladder_lines(app)[-1]
        await wait_until(lambda: "gone" not in ladder_lines(app)[-1], 5, "the note expired")
        assert ladder.cursor_row().price != price  # the cursor stays where it went


async def test_a_cursor_level_below_the_screen_is_off_screen_not_gone_and_comes_back():
    """A smaller terminal (or the book moving the level outwards) hides the cursor's
    level while the book still holds it: the cursor waits on the edge row, says so, and
    returns to its level once it is on screen again. Only a level that left the book is
    "gone"."""
    async with _one_code((120, 40)) as (feed, app, pilot, ladder, stream):
        for _ in range(9):
            await pilot.press("down")
        price = ladder.cursor_row().price
        assert ladder.cursor.index == 9 and ladder.rows_per_side() > 10
        await pilot.resize_terminal(120, 16)  # a few rows a side
        await settle(pilot)
        feed.push(stream)  # (a frame after the resize)
        await settle(pilot)
        shown = ladder.rows_per_side()
        assert shown < 10
        readout = ladder_lines(app)[-1]
        assert f"bid {shown} @ " in readout and f"({price} off screen)" in readout
        assert "gone" not in readout and ladder.cursor.price == price  # still followed
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor_row().price == price and ladder.cursor.index == 9
        assert "off screen" not in ladder_lines(app)[-1]
        # it leaves the book while off screen: now it is gone
        await pilot.resize_terminal(120, 16)
        await settle(pilot)
        feed.push(stream)
        await settle(pilot)
        assert "off screen" in ladder_lines(app)[-1]
        stream.book.bids.set(price, Decimal(0))
        feed.push(stream)
        await settle(pilot)
        assert f"{price} gone: nearest" in ladder_lines(app)[-1]
        assert ladder.cursor_row().price != price


def _row_lines(app, price) -> list[str]:
    """The ladder's lines for the row at `price` (its price column first)."""
    return [line for line in ladder_lines(app)[2:-1]
            if line.split() and line.split()[0] == f"{price}"]


async def test_the_cursor_scrolls_a_side_past_its_last_row_and_back():
    """A short terminal shows a few rows of the 20: moving the cursor past the last one
    scrolls that side, so a deeper level can be selected (and drilled into); the title
    says which rows are on screen, the imbalance over how many rows; moving back towards
    the spread scrolls back."""
    app = make_app(only("futu"))
    async with app.run_test(size=(120, 16)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        shown = ladder.rows_per_side()
        assert shown < 10 and len(ladder.view.bids) == 20
        for _ in range(shown + 2):  # 3 rows past the last one that fits
            await pilot.press("down")
        await settle(pilot)
        deep = ladder.view.bids[shown + 2]
        assert ladder.cursor.is_bid and ladder.cursor.index == shown + 2
        assert ladder.cursor_row() is deep
        lines = ladder_lines(app)
        assert f"bid rows 4-{shown + 3} of 20" in lines[0] and "of 20 rows" not in lines[0]
        assert f"bid {shown + 3} @ {deep.price} " in lines[-1] and "off screen" not in lines[-1]
        assert _row_lines(app, deep.price)  # on screen, the last bid row
        assert not _row_lines(app, ladder.view.bids[2].price)  # rows 1-3 scrolled away
        spread = next(line for line in lines if "spread" in line)
        assert f"over {shown + 3} rows" in spread
        assert _row_lines(app, ladder.view.asks[0].price)  # the asks: still from the touch
        # the wheel scrolls as the keys do
        ladder.on_mouse_scroll_down(MouseScrollDown(ladder, 1, 1, 0, 1, 0, False, False,
                                                    False))
        await settle(pilot)
        assert ladder.cursor_row() is ladder.view.bids[shown + 3]
        assert f"bid rows 5-{shown + 4} of 20" in ladder_lines(app)[0]
        await pilot.press("up")
        await pilot.press("enter")  # the drilldown is the deep level's
        assert isinstance(app.screen, DrilldownScreen) and app.screen.price == deep.price
        await pilot.press("escape")
        await settle(pilot)
        # back towards the spread: the side scrolls back once the cursor reaches its top
        for _ in range(shown):
            await pilot.press("up")
        await settle(pilot)
        assert ladder.cursor.index == 2 and f"bid rows 3-{shown + 2} of 20" in ladder_lines(
            app)[0]
        await pilot.press("up", "up")
        await settle(pilot)
        lines = ladder_lines(app)
        assert ladder.cursor_row() is ladder.view.bids[0]
        assert f"{shown} of 20 rows" in lines[0] and "bid rows" not in lines[0]
        assert f"over {shown} rows" in next(line for line in lines if "spread" in line)
        # the asks scroll upwards the same way
        for _ in range(shown + 1):
            await pilot.press("up")
        await settle(pilot)
        top = ladder.view.asks[shown]
        assert not ladder.cursor.is_bid and ladder.cursor_row() is top
        lines = ladder_lines(app)
        assert f"ask rows 2-{shown + 1} of 20" in lines[0]
        assert f"ask {shown + 1} @ {top.price} " in lines[-1] and _row_lines(app, top.price)
        assert ladder_lines(app)[2].split()[0] == f"{top.price}"  # the top row
        for _ in range(shown + 1):
            await pilot.press("down")
        await settle(pilot)
        assert ladder.cursor_row() is ladder.view.bids[0]
        assert f"{shown} of 20 rows" in ladder_lines(app)[0]


async def test_a_ladder_with_room_for_one_row_shows_the_cursor_s():
    """At 40x12 the ladder has one line for rows: it shows the cursor's side, so the row
    the readout names is on screen (an ask row took the line, and the readout named a
    bid nobody could see)."""
    app = make_app(only("futu"))
    async with app.run_test(size=(40, 12)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        assert ladder.size.height - 4 < 2, ladder.size  # room for one row, not one a side
        bid = ladder.cursor_row()
        assert ladder.cursor.is_bid and bid is ladder.view.bids[0]
        assert _row_lines(app, bid.price), ladder_lines(app)
        assert not _row_lines(app, ladder.view.asks[0].price)
        assert f"bid 1 @ {bid.price}" in ladder_lines(app)[-1]
        await pilot.press("up")  # onto the best ask: the line shows it instead
        await settle(pilot)
        ask = ladder.cursor_row()
        assert not ladder.cursor.is_bid and ask is ladder.view.asks[0]
        assert _row_lines(app, ask.price) and not _row_lines(app, ladder.view.bids[0].price)


async def test_a_scrolled_side_follows_the_cursors_price_as_the_book_moves():
    async with _one_code((120, 16)) as (feed, app, pilot, ladder, stream):
        shown = ladder.rows_per_side()
        for _ in range(shown + 1):  # onto the row below the last one that fits
            await pilot.press("down")
        await settle(pilot)
        price = ladder.cursor_row().price
        assert ladder.cursor.index == shown + 1
        assert f"bid rows 3-{shown + 2} of 20" in ladder_lines(app)[0]
        # two better bids arrive: its level is two rows deeper, the side follows it
        best = stream.book.bids.best().price
        for above in (Decimal("0.1"), Decimal("0.3")):
            stream.book.bids.set(best + above, Decimal(100), 1)
        feed.push(stream)
        await settle(pilot)
        lines = ladder_lines(app)
        assert ladder.cursor_row().price == price and ladder.cursor.index == shown + 3
        assert f"bid {shown + 4} @ {price} " in lines[-1] and "off screen" not in lines[-1]
        assert f"bid rows 5-{shown + 4} of 20" in lines[0] and _row_lines(app, price)
        # they go again: the level is back where it was, still on screen, the side stays
        for above in (Decimal("0.1"), Decimal("0.3")):
            stream.book.bids.set(best + above, Decimal(0))
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor_row().price == price and ladder.cursor.index == shown + 1
        assert f"bid rows 5-{shown + 4} of 20" in ladder_lines(app)[0]
        # the level itself goes: the nearest on screen, said as ever
        stream.book.bids.set(price, Decimal(0))
        feed.push(stream)
        await settle(pilot)
        row, lines = ladder.cursor_row(), ladder_lines(app)
        assert row.price != price and abs(row.price - price) == Decimal("0.2")
        assert f"{price} gone: nearest" in lines[-1] and _row_lines(app, row.price)
        assert "bid rows" in lines[0]


async def test_the_heatmap_beside_the_ladder_follows_a_scrolled_side():
    app = make_app(only("futu"))
    async with app.run_test(size=(160, 16)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        await pilot.press("h")  # ladder + heatmap
        await settle(pilot)
        pane = next(iter(app.stream_panes()))
        shown = ladder.rows_per_side()
        for _ in range(shown + 4):
            await pilot.press("down")
        await settle(pilot)
        deep = ladder.view.bids[shown + 4].price
        assert ladder.shown_prices() == (deep, ladder.view.asks[shown - 1].price)
        assert pane.heatmap.price_range == ladder.shown_prices()  # its rows beside the bids

async def test_a_cursor_nobody_placed_stays_on_the_best_bid_as_the_book_moves():
    async with _one_code((120, 34)) as (feed, app, pilot, ladder, stream):
        best = stream.book.bids.best().price
        # a better bid arrives: "bid 1" is still the best bid, not the level that was
        stream.book.bids.set(best + Decimal("0.1"), Decimal(100), 1)
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor.index == 0 and ladder.cursor_row().price == best + Decimal("0.1")
        assert f"bid 1 @ {best + Decimal('0.1')}" in ladder_lines(app)[-1]
        # the best bid goes: the cursor is on the new best, and nothing is "gone" for it
        stream.book.bids.set(best + Decimal("0.1"), Decimal(0))
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor_row().price == best and "gone" not in ladder_lines(app)[-1]
        # once placed (here on the best bid itself) it keeps to its price
        await pilot.press("down", "up")
        stream.book.bids.set(best + Decimal("0.1"), Decimal(100), 1)
        feed.push(stream)
        await settle(pilot)
        assert ladder.cursor.index == 1 and ladder.cursor_row().price == best
        assert f"bid 2 @ {best}" in ladder_lines(app)[-1]


async def test_readout_names_the_row_with_grouping():
    app = make_app(only("futu"))
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        await pilot.press("g", "g", "down", "down")
        await settle(pilot)
        lines = ladder_lines(app)
        row = ladder.cursor_row()
        assert ladder.step == Decimal(1) and row is ladder.view.bids[2]
        assert f"bid 3 @ {row.price} " in lines[-1]  # the row it is on, priced as shown
        spread = next(i for i, line in enumerate(lines) if "spread" in line)
        assert lines[spread + 3].split()[0] == f"{row.price}"  # the third row below it
        await pilot.press("enter")
        assert isinstance(app.screen, DrilldownScreen)
        assert f"bid {row.price} (group 1)" in screen_text(app)  # the same figure there


async def test_mouse_click_selects_a_level_and_wheel_moves_the_cursor():
    app = make_app(only("futu"))
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        lines = ladder_lines(app)
        spread = next(i for i, line in enumerate(lines) if "spread" in line)
        await pilot.click(Ladder, offset=(10, spread - 2))  # the second-best ask
        assert not ladder.cursor.is_bid and ladder.cursor.index == 1
        await pilot.click(Ladder, offset=(10, spread + 3))  # the third bid
        assert ladder.cursor.is_bid and ladder.cursor.index == 2
        ladder.on_mouse_scroll_down(MouseScrollDown(ladder, 1, 1, 0, 1, 0, False, False,
                                                    False))
        assert ladder.cursor.is_bid and ladder.cursor.index == 3
        for _ in range(2):
            ladder.on_mouse_scroll_up(MouseScrollUp(ladder, 1, 1, 0, -1, 0, False, False,
                                                    False))
        assert ladder.cursor.is_bid and ladder.cursor.index == 1


async def test_escape_closes_any_screen_and_q_quits_only_from_the_tabs(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        for keys_, screen_type in ((("enter",), DrilldownScreen), (("question_mark",), HelpScreen),
                                   (("6", "enter"), ExecutionsScreen)):
            for closer in ("escape", "q"):
                await pilot.press(*keys_)
                await wait_until(lambda t=screen_type: isinstance(app.screen, t), 5, "opened")
                await pilot.press(closer)
                await wait_until(lambda: len(app.screen_stack) == 1, 5, f"{closer} closed it")
                assert app.is_running
            await pilot.press("1")
        await press_to_quit(app, pilot)  # q quits from the tabs


async def test_numbers_follow_the_instrument():
    feed = FakeFeed("futu", ("HK.00700",))
    app = make_app([feed])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        stream = feed.streams["HK.00700"]
        book = stream.book
        await pilot.press("down", "up")  # the cursor placed on the best bid, 350.0
        # a 2-decimal instrument with a one-cent spread
        book.replace([(Decimal("100.00"), Decimal(5), 1, None, None),
                      (Decimal("99.99"), Decimal(7), 1, None, None)],
                     [(Decimal("100.01"), Decimal(3), 1, None, None),
                      (Decimal("100.02"), Decimal(1), 1, None, None)])
        feed.push(stream)
        await settle(pilot)
        assert "350.0 gone: nearest" in ladder_lines(app)[-1]  # the cursor's level went
        await pilot.press("down", "up")  # back on the best bid, note cleared
        await settle(pilot)
        lines = ladder_lines(app)
        spread = next(line for line in lines if "spread" in line)
        assert "spread 0.01 " in spread  # the price's decimals, not 0.010
        assert "mid 100.005" in spread  # exact: the half cent stays
        assert "(1.00 bps)" in spread  # 0.99995 bps: two significant digits
        assert "100.00" in "\n".join(lines) and "99.99" in "\n".join(lines)
        line = lines[-1]
        assert "bid 1 @ 100.00" in line
        assert "notional 500.00" in line  # the quote's decimals
        assert "0.50 bps from mid" in line  # two significant digits, never "0.0"


async def test_a_locked_book_says_locked_and_a_crossed_one_crossed():
    feed = FakeFeed("futu", ("HK.00700",))
    app = make_app([feed])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        book = feed.streams["HK.00700"].book

        async def spread_line(bid: str, ask: str) -> str:
            book.replace([(Decimal(bid), Decimal(5), 1, None, None)],
                         [(Decimal(ask), Decimal(3), 1, None, None)])
            feed.push(feed.streams["HK.00700"])
            await settle(pilot)
            return next(line for line in ladder_lines(app) if "spread" in line)

        line = await spread_line("100.0", "100.1")
        assert "LOCKED" not in line and "CROSSED" not in line
        line = await spread_line("100.0", "100.0")  # bid = ask: locked, not crossed
        assert "LOCKED" in line and "CROSSED" not in line
        line = await spread_line("100.2", "100.0")
        assert "CROSSED" in line and "spread -0.2" in line


async def test_records_are_aligned_and_real_statuses_coloured(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await pilot.press("6")
        await pilot.pause()
        table = app.active_pane().table
        cells = [table.get_row_at(i) for i in range(table.row_count)]
        pending = [str(row[4]) for row in cells]
        points = {text.rstrip().index(".") if "." in text else len(text.rstrip())
                  for text in pending}
        assert len({len(text) for text in pending}) == 1  # padded to one width
        assert {row[2].plain for row in cells} == {"EXECUTED", "EXCUTING", "PENDING"}
        assert all(row[2].style for row in cells)  # bthub's statuses get a colour
        assert len(points) == 1, pending  # every figure's decimal point in one column
        assert any("." in text for text in pending)
        # and so they are on screen, where a right-justified cell could lose its padding
        lines = screen_text(app).splitlines()
        head = next(i for i, line in enumerate(lines) if "pending" in line and "amount" in line)
        rows = lines[head + 1:head + 1 + table.row_count]
        for column, after in (("pending", "amount"), ("amount", "cps")):
            span = (lines[head].index(column), lines[head].index(after))  # headers flush left
            assert len(_points(rows, *span)) == 1, (column, rows)


def _points(rows: list[str], start: int, end: int) -> set[int]:
    """Where each row's figure between columns `start` and `end` of the screen has its
    decimal point, or would have it (just after its last digit)."""
    found = set()
    for row in rows:
        cell = row[start:end].rstrip()
        if cell.split():
            figure = cell.split()[-1]
            at = len(cell) - len(figure)
            found.add(start + (at + figure.index(".") if "." in figure else len(cell)))
    return found


def _under(lines: list[str], name: str, count: int) -> tuple[list[str], int, int]:
    """The `count` lines under the header line naming `name`, with the span of its
    (flush-right) column: from the end of the header before it to its own end."""
    head = next(i for i, line in enumerate(lines) if re.search(rf"\b{re.escape(name)}\b", line))
    end = lines[head].index(name) + len(name)
    start = len(lines[head][:lines[head].index(name)].rstrip())
    return lines[head + 1:head + 1 + count], start, end


async def test_figures_line_up_on_their_points_in_every_drilldown_and_table(app):
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        # the queue: order volumes with and without decimals
        feed = app.feeds[0]
        stream = feed.streams["HK.00700"]
        price = stream.book.bids.best().price
        queue = {"a1": Decimal("600.25"), "a2": Decimal(40), "a3": Decimal("1200.5")}
        stream.book.bids.set(price, sum(queue.values()), 3, queue)
        feed.push(stream)
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(lambda: "1,200.5" in screen_text(app), 5, "queue drawn")
        rows, start, end = _under(screen_text(app).splitlines(), "volume", 3)
        assert len(_points(rows, start, end)) == 1, rows
        # the history of a level: sizes before and after, changes
        await pilot.press("escape", "8", "enter")
        screen = app.screen
        loopring = app.feeds[2]
        book = loopring.streams["LRC-ETH"].book
        for size in ("7", "8.25", "1000", "0.5"):
            book.bids.set(screen.price, Decimal(size), 1)
            loopring.push(loopring.streams["LRC-ETH"])
            await wait_until(lambda size=size: screen.history[-1][2] == Decimal(size), 5, "kept")
        await wait_until(lambda: "-999.5" in screen_text(app), 5, "history drawn")
        lines = screen_text(app).splitlines()
        for name in ("size before", "size after", "change"):
            rows, start, end = _under(lines, name, 4)
            assert len(_points(rows, start, end)) == 1, (name, rows)
        # an order's executions: prices, volumes, amounts
        await pilot.press("escape", "6", "down", "down", "enter")
        await wait_until(lambda: isinstance(app.screen, ExecutionsScreen), 5, "executions")
        lines = screen_text(app).splitlines()
        count = sum(1 + len(cp.executions) for cp in app.screen.order.cp_orders.values())
        for name in ("volume", "amount"):
            rows, start, end = _under(lines, name, count)
            assert len(_points(rows, start, end)) == 1, (name, rows)


async def test_every_theme_recolours_the_ladder():
    styles = {}
    for theme in ("textual-dark", "textual-light", "obview-cb", "nord"):
        app = make_app(only("futu"), theme=theme)
        async with app.run_test(size=(120, 34)) as pilot:
            await ready(pilot)
            ladder = app.active_ladder()
            bid = ladder.get_component_rich_style("ladder--bid").color
            ask = ladder.get_component_rich_style("ladder--ask").color
            spread = ladder.get_component_rich_style("ladder--spread").bgcolor
            strip = ladder._strips[3]
            styles[theme] = (bid, ask, spread, tuple(seg.style for seg in strip))
    assert len({value[:3] for value in styles.values()}) == 4
    assert len({value[3] for value in styles.values()}) == 4  # what is painted changes too
    cb_bid, cb_ask = styles["obview-cb"][:2]
    assert cb_bid.triplet.blue > cb_bid.triplet.green  # blue, not green
    assert cb_ask.triplet.red > cb_ask.triplet.blue  # orange


async def test_screenshot_goes_to_the_working_folder_or_the_configured_one(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SCREENSHOT_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "no-such-home"))  # no ~/Downloads
    app = make_app(only("futu"))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        app.action_screenshot()
        saved = list(tmp_path.glob("*.svg"))
        assert len(saved) == 1
        await wait_until(lambda: any(str(saved[0]) in n.message for n in app._notifications),
                         5, "where it went")
        target = tmp_path / "shots"
        monkeypatch.setenv(SCREENSHOT_DIR_ENV, str(target))
        app.action_screenshot()
        assert len(list(target.glob("*.svg"))) == 1
        monkeypatch.setenv(SCREENSHOT_DIR_ENV, "/proc/no/such")
        app.action_screenshot()
        await wait_until(lambda: any("screenshot not saved" in n.message
                                     for n in app._notifications), 5, "the failure said")


async def test_latency_panel_keeps_venue_and_obview_delays_apart():
    feed = FakeFeed("futu", ("HK.00700",))
    app = make_app([feed])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        ladder = app.active_ladder()
        for _ in range(5):
            feed.walk(feed.streams["HK.00700"])
            await settle(pilot)
        assert ladder.paint_delay.samples  # receive -> paint, measured by the ladder
        text = screen_text(app)
        assert "Venue stamp → receive" in text and "obview receive → paint" in text


async def test_a_venue_without_time_stamps_gets_no_stamp_rows_or_warning():
    feed = FakeFeed("bthub", ("BTCUSDT",))  # bthub's books carry no time stamp
    app = make_app([feed])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        panel = app.active_stream_pane().health
        for _ in range(3):
            feed.walk(feed.streams["BTCUSDT"])
            await settle(pilot)
        text = screen_text(app)
        assert "Push timing (measured here)" in text and "no venue time stamps" in text
        assert "stamp age" not in text and "unstamped" not in text
        # said in the muted colour, not the warning's
        built = panel.build_full()
        span = next(span for span in built.spans
                    if built.plain[span.start:span.end].startswith("no venue"))
        assert span.style == panel.get_component_rich_style("health--muted")


async def test_the_paint_delay_counts_no_time_the_ladder_was_hidden_or_frozen():
    """obview's receive -> paint delay: a book received while its tab was hidden, while
    the display was frozen, or under a screen that hides the tabs, was not due on screen,
    so its wait is no delay of ours."""
    app = make_app([FakeFeed("futu", ("HK.00700", "US.AAPL"), seed=1)])
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        hk, us = feed.streams["HK.00700"], feed.streams["US.AAPL"]
        ladder = app.active_ladder()
        feed.walk(hk)
        await wait_until(lambda: ladder.paint_delay.total >= 1, 5, "a delay measured")
        await pilot.press("2")  # HK.00700 hidden: a book arrives and waits
        await settle(pilot)
        feed.walk(hk)
        since = time.monotonic()
        await wait_until(lambda: time.monotonic() - since > 0.5, 5, "the book waited")
        counted, paints = ladder.paint_delay.total, ladder.stats.paints
        await pilot.press("1")
        await wait_until(lambda: ladder.stats.paints > paints, 5, "the waiting book painted")
        await settle(pilot)
        assert ladder.paint_delay.total == counted  # its wait was not counted
        await pilot.press("p")  # frozen: a book arrives and waits
        await settle(pilot)
        feed.walk(hk)
        since = time.monotonic()
        await wait_until(lambda: time.monotonic() - since > 0.5, 5, "the book waited")
        await pilot.press("p")
        await settle(pilot)
        assert ladder.paint_delay.total == counted
        # a screen on top that hides the tabs (help, a drilldown, the tab picker): Textual
        # sends the ladder no Hide, and counts its screen "current" under them
        for opens in ("question_mark", "enter", "slash"):
            await pilot.press(opens)
            await settle(pilot)
            feed.walk(hk, changes=6)
            since = time.monotonic()
            await wait_until(lambda since=since: time.monotonic() - since > 0.5, 5,
                             "the book waited")
            paints = ladder.stats.paints
            await pilot.press("escape")
            await wait_until(lambda paints=paints: ladder.stats.paints > paints, 5,
                             "the waiting book painted")
            await settle(pilot)
            assert ladder.paint_delay.total == counted, opens
            # and on screen is the book as it is now, not as it was when the screen opened
            assert [(row.price, row.size) for row in ladder.view.bids] == \
                [(level.price, level.size) for level in hk.book.bids.top(len(ladder.view.bids))]
        feed.walk(hk)  # shown as it comes: counted, and short
        await wait_until(lambda: ladder.paint_delay.total > counted, 5, "a delay measured")
        assert max(ladder.paint_delay.samples) < 500
        assert us.book.bids  # (the other tab had a book all along)


async def test_at_80_columns_the_status_says_why_a_feed_cannot_connect():
    """The state's reason is words: cut to the width (its start, which says most), never
    dropped whole, which had left a feed that cannot connect saying nothing at 80-120
    columns."""
    app = make_app(only("futu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        reason = ("cannot connect to OpenD at 127.0.0.1:11111: connection refused (is OpenD "
                  "running? try --sim for the simulator); retry in 3.6s")
        app.feeds[0].set_state(FeedState.RECONNECTING, reason)
        app._tick()
        await settle(pilot)
        bar = next(line for line in screen_text(app).splitlines() if "HK.00700" in line
                   and "futu" in line)
        assert "reconnecting: cannot connect to OpenD at 127.0.0.1:11111" in bar
        assert bar.rstrip().endswith("…") and len(bar) <= 80
        # a venue's own words in Chinese (OpenD answers in the user's language): two cells a
        # character, and still cut to the width rather than dropped
        app.feeds[0].set_state(FeedState.RECONNECTING, "行情服务器连接失败，请检查网络连接或者重新登录，"
                               "或者联系客服获取更多帮助信息")
        app._tick()
        await settle(pilot)
        plain = app.status_bar._text.plain
        assert "reconnecting: 行情服务器连接失败" in plain and plain.rstrip().endswith("…")
        assert cell_len(plain) <= 80


async def test_at_80_columns_no_number_is_cut():
    app = make_app(only("bthub"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("t")  # the delta column too
        await settle(pilot)
        ladder = app.active_ladder()
        await _no_number_cut(app, ladder)
        assert "Ord" in ladder_lines(app)[1]  # 80 columns hold every column
        await pilot.resize_terminal(40, 24)  # narrower: whole columns give way, by priority
        await settle(pilot)
        header = ladder_lines(app)[1]
        assert "Price" in header and "Size" in header and "Cum" in header
        assert "Ord" not in header and "Δ" not in header
        await _no_number_cut(app, ladder)


async def test_at_80_columns_an_orders_executions_keep_every_figure_whole_and_id_tails(futu_app):
    """bthub's ids (19 digits) and amounts (9 decimals) do not fit 80 columns: the ids
    give way, keeping their last digits as the orders table's do, and every price, volume
    and amount stays whole; wider, the ids are whole again."""
    executions = {}
    for n, (price, volume) in enumerate((("5399.0025", "0.05126"), ("5400.7433", "0.21021"),
                                         ("5401.733", "1.00021"), ("5398.4109", "0.30024"))):
        price, volume = Decimal(price), Decimal(volume)
        exec_id = str(2018957670000000000 + n)
        executions[exec_id] = Execution(exec_id, "huobi", price, volume, price * volume, None, "BUY")
    cp_order = CpOrder("5434729430000000001", "huobi", "EXECUTED", "BUY", executions=executions,
                       execute_volume=sum(e.volume for e in executions.values()),
                       execute_amount=sum(e.amount for e in executions.values()))
    order = Order("3684224381827487375", "BTCUSDT", "BUY", "EXECUTED",
                  execute_volume=cp_order.execute_volume, cp_orders={cp_order.cp_order_id: cp_order})
    async with futu_app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await futu_app.push_screen(ExecutionsScreen(order))
        await settle(pilot)
        text = screen_text(futu_app)
        # the ids gave way as the orders table's do: their tails stay, where they differ
        for an_id in [*executions, cp_order.cp_order_id]:
            assert f"…{an_id[-8:]}" in text and an_id not in text, an_id
        for ex in [*executions.values(), cp_order]:
            figures = ((fmt.grouped(ex.execute_volume), fmt.grouped(ex.execute_amount))
                       if ex is cp_order else
                       (fmt.dec_str(ex.price), fmt.grouped(ex.volume), fmt.grouped(ex.amount)))
            for figure in figures:
                assert re.search(rf"(^|\s){re.escape(figure)}(\s|$)", text, re.M), figure
        await pilot.resize_terminal(180, 24)  # wide enough: every id whole again
        await wait_until(lambda: all(an_id in screen_text(futu_app)
                                     for an_id in [*executions, cp_order.cp_order_id]),
                         5, "whole ids")


async def test_a_gone_level_says_so_on_one_line_under_its_last_state(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        for tab, index in (("1", 0), ("2", 1)):  # a queue (Futu) and sources (bthub)
            await pilot.press(tab)
            await settle(pilot)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DrilldownScreen)
            feed = app.feeds[index]
            stream = screen.stream
            for level in screen.levels():  # (every source's, in an aggregated book)
                stream.book.bids.delete(level.price, level.source)
            feed.push(stream)
            await wait_until(lambda: "level gone: last seen state" in screen_text(app), 5,
                             "the note")
            assert screen.shown_levels()[1]  # the last seen state is what shows
            await pilot.press("escape")
            await settle(pilot)


async def _no_number_cut(app, ladder) -> None:
        lines = ladder_lines(app)
        view = ladder.view
        for row, line in ((view.bids[0], lines[lines.index(next(
                x for x in lines if "spread" in x)) + 1]),):
            assert f"{row.price}" in line and f"{row.size:,}" in line
            assert f"{row.cum_size:,}" in line  # the cumulative column kept whole
        for line in lines + screen_text(app).splitlines():
            assert len(line) <= 80
            assert not re.search(r"\d[.,]$", line.rstrip())  # nothing cut after a digit


def test_readme_key_table_is_the_actions_table():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| key | action |", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in table.strip().splitlines()[1:]]
    assert [(k.strip(), v.strip()) for k, v in rows] == [(row.keys, row.text) for row in KEYS]


def test_actions_table_is_the_only_source_of_app_keys():
    from obview.tui.app import ObviewApp

    listed = {a.keys for row in KEYS for a in row.actions}
    assert {b.key for b in ObviewApp.BINDINGS} <= listed
    assert {b.key for b in Ladder.BINDINGS} <= listed
