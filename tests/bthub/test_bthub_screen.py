"""What the TUI shows of a churning bthub connection never includes the password or a token.

Runs only where the Textual app is present (it lives on the TUI branch)."""

from __future__ import annotations

import pytest

from obview.venues import VenueConfig, config
from obview.venues.bthub.sim import TOKEN_PREFIX
from tests.conftest import wait_until

PASSWORD = "Pw-SCREEN-CHECK-3141"


async def test_screen_never_shows_secrets():
    app_module = pytest.importorskip("obview.tui.app")
    cfg = config(
        "bthub", ["BTCUSDT"], sim=True, seed=1,
        faults={"rate": "100", "drop_after": "40", "malformed": "5", "token_ttl": "0.3"},
        insecure=True, book="B", user="screen-user", password=PASSWORD,
    )
    app = app_module.ObviewApp([cfg])
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: bool(app.feeds) and app.feeds[0].logins >= 3, timeout=20,
                         message="several logins")
        feed = app.feeds[0]
        await wait_until(lambda: feed.risk and feed.orders, timeout=20, message="records")
        screens = []
        for _ in range(len(app.panes) + 1):
            await pilot.pause()
            screens.append(app.export_screenshot())
            await pilot.press("tab")
        assert len(screens) >= 6  # aggregated, orders, risk, one ladder per counterparty
        for screen in screens:
            assert PASSWORD not in screen
            assert TOKEN_PREFIX not in screen


def _sim_cfg(symbols: list[str], cp: str | None = None, **faults: str) -> VenueConfig:
    return config("bthub", symbols, sim=True, seed=1, faults={"rate": "200", **faults},
                  cp=cp, book="A")


async def test_cp_opens_on_that_counterpartys_ladder():
    app_module = pytest.importorskip("obview.tui.app")
    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT"], cp="binance")])
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: app.active_stream_pane() is not None, timeout=20,
                         message="a tab")
        await pilot.pause()
        assert app.active_stream_pane().stream.key == "BTCUSDT@binance"
        await wait_until(lambda: app.feeds[0].streams["BTCUSDT@binance"].synced, timeout=20,
                         message="its book")
        # every counterparty's tab is in before quitting (tabs added while quitting race)
        await wait_until(lambda: len(app.stream_panes()) == 4, timeout=20, message="all tabs")
        await pilot.pause()
        assert app.active_stream_pane().stream.key == "BTCUSDT@binance"


@pytest.mark.parametrize("symbols", [["BTCUSDT"], ["BTCUSDT", "ETHUSDT"]])
async def test_orders_tab_shows_the_requested_symbols_with_a_column_when_several(symbols):
    app_module = pytest.importorskip("obview.tui.app")
    from obview.tui.records import OrdersTable

    app = app_module.ObviewApp([_sim_cfg(symbols)])
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: bool(app.feeds) and len(app.feeds[0].orders) >= 8,
                         timeout=30, message="orders")
        feed = app.feeds[0]
        await wait_until(lambda: {o.symbol for o in feed.orders.values()} == set(symbols),
                         timeout=30, message="orders of every symbol asked for")
        table = next(p.table for p in app.panes if isinstance(getattr(p, "table", None),
                                                              OrdersTable))
        table.reload()  # and read it back before the loop turns: the feed keeps going
        shown = {table.get_row_at(i)[0] for i in range(table.row_count)}
        assert shown == set(feed.orders)
        labels = [str(c.label) for c in table.columns.values()]
        assert ("symbol" in labels) == (len(symbols) > 1)
        await pilot.pause()


async def test_at_80_columns_the_orders_table_gives_way_by_priority_and_nothing_is_off_screen():
    """bthub's 19-digit ids and 9-decimal amounts do not fit 80 columns: the ids keep
    their last 8 digits, pending and then amount give way, and every column left is on
    screen (none beyond the right edge, reached only by scrolling); wide, all return."""
    app_module = pytest.importorskip("obview.tui.app")
    from textual.widgets import TabbedContent

    from obview.tui.records import OrdersTable
    from tests.tui.conftest import screen_text

    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT", "ETHUSDT"])])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(lambda: bool(app.feeds) and len(app.feeds[0].orders) >= 3,
                         timeout=30, message="orders")
        pane = next(p for p in app.panes if isinstance(getattr(p, "table", None), OrdersTable))
        app.query_one(TabbedContent).active = pane.id
        table = pane.table

        def labels() -> list[str]:
            return [str(c.label) for c in table.columns.values()]

        await wait_until(lambda: table.size.width and table.row_count and "pending" not in labels(),
                         timeout=10, message="the orders fitted to 80 columns")
        assert {"order id", "symbol", "side", "status", "filled / ordered", "cps"} <= set(labels())
        await pilot.pause()
        assert table.virtual_size.width <= table.size.width  # nothing beyond the edge
        head = next(line for line in screen_text(app).splitlines() if "filled / ordered" in line)
        assert head.rstrip().endswith("cps")
        shown = str(table.get_row_at(0)[0])
        assert shown.startswith("…") and len(shown) == 9
        assert table.selected_order().order_id.endswith(shown[1:])  # enter opens the whole order
        await pilot.resize_terminal(180, 24)
        await wait_until(lambda: "pending" in labels() and "amount" in labels(), timeout=10,
                         message="every column back at 180 columns")
        assert str(table.get_row_at(0)[0]) in app.feeds[0].orders  # whole ids again
        assert table.virtual_size.width <= table.size.width


async def test_at_100_columns_abbreviated_ids_narrow_their_column_and_nothing_is_off_screen():
    """Where abbreviating the ids is enough, the columns keep their names: the table
    must still narrow them (a DataTable's columns only ever widen by themselves), or the
    last column runs off the right edge. So too on coming back from a wider terminal."""
    app_module = pytest.importorskip("obview.tui.app")
    from textual.widgets import TabbedContent

    from obview.tui.records import OrdersTable
    from tests.tui.conftest import screen_text

    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT"])])  # one symbol, as in the demo
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(lambda: bool(app.feeds) and len(app.feeds[0].orders) >= 3,
                         timeout=30, message="orders")
        pane = next(p for p in app.panes if isinstance(getattr(p, "table", None), OrdersTable))
        app.query_one(TabbedContent).active = pane.id  # filled while hidden, fitted when shown
        table = pane.table

        def fitted() -> bool:
            return bool(table.size.width and table.row_count
                        and str(table.get_row_at(0)[0]).startswith("…"))

        for width in (100, 180, 100):
            await pilot.resize_terminal(width, 24)
            if width == 180:
                await wait_until(lambda: str(table.get_row_at(0)[0]) in app.feeds[0].orders,
                                 timeout=10, message="whole ids at 180 columns")
                continue
            await wait_until(fitted, timeout=10, message=f"ids abbreviated at {width} columns")
            await pilot.pause()
            labels = [str(c.label) for c in table.columns.values()]
            assert labels[-1] == "cps" and {"pending", "amount"} <= set(labels)
            assert table.virtual_size.width <= table.size.width  # nothing beyond the edge
            head = next(line for line in screen_text(app).splitlines() if "filled / ordered" in line)
            assert head.rstrip().endswith("cps")


async def _aggregated_pane_shown(app, pilot):
    """The aggregated book's pane, synced and on screen."""
    from textual.widgets import TabbedContent

    await wait_until(lambda: any(p.stream.key == "BTCUSDT" and p.stream.synced
                                 for p in app.stream_panes()), timeout=30,
                     message="the aggregated book")
    pane = next(p for p in app.stream_panes() if p.stream.key == "BTCUSDT")
    app.query_one(TabbedContent).active = pane.id
    await pilot.pause()
    return pane


async def test_beside_the_aggregated_ladder_the_heatmap_holds_every_price_the_ladder_shows():
    """Counterparties quote between each other's ticks, so the merged book's smallest gap
    is a hundredth of its spread: rows of that height put a sliver of the ladder's prices
    on the heatmap. Its rows are coarsened to hold them all, and its title says so."""
    app_module = pytest.importorskip("obview.tui.app")
    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT"])])
    async with app.run_test(size=(160, 50)) as pilot:
        pane = await _aggregated_pane_shown(app, pilot)
        pane.cycle_layout()  # (the `h` key: ladder and heatmap side by side)
        heatmap, history = pane.heatmap, pane.history

        def laid_out() -> bool:
            shown = pane.ladder.shown_prices()
            return (heatmap._layout is not None and shown is not None
                    and heatmap.price_range == shown)

        await wait_until(laid_out, timeout=10, message="the heatmap follows the ladder")
        low, high = pane.ladder.shown_prices()
        assert high - low > 50 * history.tick  # the case: far more ticks than rows
        for _ in range(3):  # and so it stays as the book moves
            await wait_until(laid_out, timeout=10, message="laid out")
            # (what a paint would draw now: the last frame may predate the last book)
            title = "".join(seg.text for seg in heatmap._build()[0])
            layout, (low, high) = heatmap._layout, pane.ladder.shown_prices()
            assert layout.step > history.tick
            assert layout.bottom_row <= history.price_row(low, layout.step)
            assert history.price_row(high, layout.step, False) <= layout.top_row
            assert f"rows of {layout.step.normalize():f}" in title
            version = history.version
            await wait_until(lambda v=version: history.version > v, timeout=10,
                             message="another book")


async def test_the_aggregated_heatmap_alone_holds_the_prices_of_the_ladder_s_depth():
    """Alone, the heatmap has no ladder to follow: at the merged book's own tick its rows
    were a sliver round the touch, "nothing resting" on all but a row or two. It holds
    the rows of the ladder's depth instead (at most a level a side per line it has),
    coarsened to fit, and `d` (more depth) widens what it holds."""
    app_module = pytest.importorskip("obview.tui.app")
    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT"])])
    async with app.run_test(size=(160, 50)) as pilot:
        pane = await _aggregated_pane_shown(app, pilot)
        await pilot.press("h", "h")
        assert pane.layout_name == "heatmap" and not pane.ladder.display
        heatmap, history = pane.heatmap, pane.history

        def holds_the_depth() -> bool:
            wanted = pane.ladder.depth_prices(heatmap.size.height - 2)
            layout = heatmap._layout
            return (layout is not None and wanted is not None
                    and layout.bottom_row <= history.price_row(wanted[0], layout.step)
                    and history.price_row(wanted[1], layout.step, False) <= layout.top_row)

        for depth in (pane.ladder.depth, None):
            if depth is None:  # more depth, wider prices
                before = pane.ladder.depth
                await pilot.press("d")
                assert pane.ladder.depth > before
            await wait_until(holds_the_depth, timeout=10,
                             message=f"the heatmap holds the {pane.ladder.depth} rows a side")
            low, high = pane.ladder.depth_prices(heatmap.size.height - 2)
            assert high - low > 50 * history.tick  # the case: far more ticks than rows
            assert heatmap._layout.step > history.tick
            title = "".join(seg.text for seg in heatmap._build()[0])
            assert f"rows of {heatmap._layout.step.normalize():f}" in title


async def test_on_a_short_terminal_the_heatmap_alone_holds_a_level_a_side_per_line():
    """The full depth on a few lines coarsened the rows past reading (rows of 0.00000005
    on Loopring at 80x24): alone, the heatmap holds at most a level a side per line."""
    app_module = pytest.importorskip("obview.tui.app")
    app = app_module.ObviewApp([_sim_cfg(["BTCUSDT"])])
    async with app.run_test(size=(160, 14)) as pilot:
        pane = await _aggregated_pane_shown(app, pilot)
        await pilot.press("h", "h")
        heatmap = pane.heatmap
        await wait_until(lambda: heatmap._layout is not None, 10, "the heatmap laid out")
        lines = heatmap.size.height - 2
        book = pane.stream.book
        # the case: fewer lines than levels, in the ladder's depth and in the book
        assert 0 < lines < min(pane.ladder.depth, len(book.bids), len(book.asks)), lines

        def holds_the_capped_depth() -> bool:
            return heatmap.price_range == pane.ladder.depth_prices(lines)

        await wait_until(holds_the_capped_depth, 10, f"{lines} levels a side held")
        assert heatmap.price_range != pane.ladder.depth_prices()
