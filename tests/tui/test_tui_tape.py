"""The trade tape in a stream's tab, against a fake feed that declares market prints:
newest on top, side colours, the highlight threshold (`T`), last / volume / VWAP, the
heatmap's markers; a feed that declares no tape shows none."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from obview import fmt
from obview.trades import BUY, Trade
from obview.tui.panes import StreamPane
from obview.tui.tape import TapeFigures, TapeView
from tests.conftest import wait_until
from tests.support.fake_feed import FakeFeed
from tests.tui.conftest import ladder_lines, make_app, only, ready, screen_text, settle


def _tape_app(**kw):
    return make_app([FakeFeed("futu", ("HK.00700",), seed=5, trades=True)], **kw)


@contextlib.asynccontextmanager
async def _taping(size=(140, 34)):
    """The app on a fake feed with a tape, ready: (app, pilot, its pane, the feed)."""
    app = _tape_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        yield app, pilot, app.active_stream_pane(), app.feeds[0]


async def _printed(pilot, pane, feed, **kw) -> list[Trade]:
    before = len(pane.tape.prints)
    trades = feed.print_trades(**kw)
    await wait_until(lambda: len(pane.tape.prints) == before + len(trades), 5, "prints taped")
    await settle(pilot)
    await wait_until(lambda: not pane.tape._timer_pending, 5, "tape painted")
    await pilot.pause()
    return trades


async def test_tape_shows_prints_newest_on_top_with_figures():
    async with _taping() as (app, pilot, pane, feed):
        assert pane.tape is not None and pane.tape.display
        sizes = [Decimal(300), Decimal(1200), Decimal("50.5")]
        trades = await _printed(pilot, pane, feed, count=3, sizes=sizes)
        lines = [pane.tape.render_line(y).text for y in range(5)]
        assert lines[2].split()[2] == "50.5" and lines[4].split()[2] == "300"  # newest on top
        volume = sum(sizes)
        vwap = sum(t.price * t.size for t in trades) / volume
        figures = pane.tape.figures
        assert figures.volume == volume and figures.vwap == vwap
        assert figures.last_price == trades[-1].price
        status = pane.tape.status_text()
        assert f"last {fmt.at_least(trades[-1].price, 1)}" in status and "vol 1,550.5" in status
        assert "Time" in screen_text(app)


async def test_threshold_key_highlights_big_prints():
    async with _taping() as (app, pilot, pane, feed):
        await _printed(pilot, pane, feed, count=2, sizes=[Decimal(100), Decimal(5000)])
        await pilot.press("T")
        await settle(pilot)
        for key in ("ctrl+a", "ctrl+k", "1", ",", "0", "0", "0", "enter"):
            await pilot.press(key)
        await settle(pilot)
        assert pane.tape.threshold == Decimal(1000)
        big = pane.tape.render_line(2)  # the 5000 print, newest
        small = pane.tape.render_line(3)
        big_style = pane.tape.get_component_rich_style("tape--big")
        assert list(big)[0].style.bgcolor == big_style.bgcolor
        assert list(small)[0].style.bgcolor != big_style.bgcolor
        assert "≥ 1,000" in pane.tape.status_text()
        await pilot.press("T")
        await settle(pilot)
        await pilot.press("ctrl+a", "ctrl+k", "x", "enter")  # refused: stays open
        await settle(pilot)
        assert "not a size" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert pane.tape.threshold == Decimal(1000)


async def test_prints_mark_the_heatmap_at_their_price():
    async with _taping() as (app, pilot, pane, feed):
        trades = await _printed(pilot, pane, feed, count=4)
        history = pane.history
        tier = history.tiers[1]
        step = history.row_step(None)

        # every column the prints fell in: the heatmap's timer may have opened a newer
        # one since, so the open column alone is not where to look
        columns = [history.trade_rows(1, index, step) for index in sorted(tier.trades)]
        total = sum(c.buy_units + c.sell_units for cells in columns for c in cells.values())
        assert history.size_of(total) == sum(t.size for t in trades)
        buy = next((t for t in trades if t.side == BUY), None)
        if buy is not None:
            row = history.price_row(buy.price, step, is_bid=False)
            assert sum(cells[row].buy_count for cells in columns if row in cells) >= 1


async def test_on_an_80_by_24_terminal_the_ladder_keeps_more_room_than_the_tape():
    """Narrow, the tape sits under the ladder: it had a fixed 12 lines, which left the
    ladder 2 rows a side at 24 lines. It takes at most 40% now; still a few prints."""
    async with _taping(size=(80, 24)) as (app, pilot, pane, feed):
        await _printed(pilot, pane, feed, count=6)
        title = ladder_lines(app)[0]
        assert "4 of 20 rows" in title, title
        prints = [line for line in screen_text(app).splitlines()
                  if line.rstrip().endswith((" buy", " sell"))]
        assert len(prints) >= 3, prints


async def test_a_feed_without_trades_has_no_tape():
    app = make_app(only("futu"))
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        pane = app.active_stream_pane()
        assert pane.tape is None and not app.query(TapeView)
        await pilot.press("T")
        await settle(pilot)
        assert len(app.screen_stack) == 1  # nothing to set


def test_figures_are_exact():
    figures = TapeFigures()
    for price, size in (("0.1", "3"), ("0.2", "1")):
        figures.add(Trade(0.0, Decimal(price), Decimal(size), BUY))
    assert figures.vwap == Decimal("0.5") / Decimal(4) and figures.volume == 4


def test_tape_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        await ready(pilot)
        pane = pilot.app.active_stream_pane()
        pane.tape.set_threshold(Decimal(2000))
        for _ in range(4):
            await _printed(pilot, pane, pilot.app.feeds[0], count=3)

    assert snap_compare(_tape_app(), run_before=run_before, terminal_size=(140, 34))


def _point_column(text: str) -> int:
    """Where a right-aligned decimal's point is (or would be) in a line of the tape."""
    field_end = 1 + 11 + 13 + 13  # `_row_text`: time, price, size
    size = text[1 + 11 + 13:field_end]
    digits = size.rstrip()
    return 1 + 11 + 13 + (digits.index(".") if "." in digits else len(digits))


async def test_sizes_and_prices_line_up_on_their_points_as_finer_prints_arrive():
    async with _taping() as (app, pilot, pane, feed):
        await _printed(pilot, pane, feed, count=3,
                       sizes=[Decimal(300), Decimal("50.5"), Decimal(1200)])
        rows = [pane.tape.render_line(y).text for y in range(2, 5)]
        assert [r.split()[2] for r in rows] == ["1,200", "50.5", "300"]
        assert len({_point_column(r) for r in rows}) == 1, rows

        # a finer print: the lines already painted are rebuilt to its width
        await _printed(pilot, pane, feed, count=1, sizes=[Decimal("0.125")])
        rows = [pane.tape.render_line(y).text for y in range(2, 6)]
        assert [r.split()[2] for r in rows] == ["0.125", "1,200", "50.5", "300"]
        assert len({_point_column(r) for r in rows}) == 1, rows
        assert "1,200.000" not in rows[1]  # padded with blanks, never invented digits

        # a price finer than the instrument's: every price gets its decimals
        pane.tape.add([Trade(0.0, Decimal("500.25"), Decimal(1), BUY)])
        prices = [pane.tape.render_line(y).text.split()[1] for y in range(2, 7)]
        assert prices[0] == "500.25"
        assert all(len(p.partition(".")[2]) == 2 for p in prices), prices
        # a print far finer than the others (one wei of a token with 18 decimals) cannot
        # widen the column past its cells: every line keeps its side, and no figure is cut
        # without a visible "…"
        pane.tape.add([Trade(0.0, Decimal("350.5"), Decimal("0.000000000000000001"), BUY)])
        await settle(pilot)
        rows = [pane.tape.render_line(y).text for y in range(2, 8)]
        assert all(r.rstrip().endswith(("buy", "sell")) for r in rows), rows
        assert "1e-18" in rows[0] or "…" in rows[0], rows[0]
        assert len({_point_column(r) for r in rows[1:5]}) == 1, rows  # the others stay lined up
        # the VWAP is written as the prices it averages are: no thousands separators
        tape = TapeView()  # keeping its own figures, as a tape with no session figures does
        tape.places = 1
        tape.add([Trade(0.0, Decimal("5399.5"), Decimal(1000), BUY),
                  Trade(0.0, Decimal("5399.6"), Decimal(3), BUY)])
        status = tape.status_text()
        vwap = tape.figures.vwap
        assert vwap > 1000 and f"VWAP {fmt.rounded(vwap, 3)}" in status
        assert "," not in status.split("VWAP")[1]
        # a coarse aggregation level: the ladder's prices have 5 decimals, the prints 8
        tape = TapeView()
        tape.places = 5
        tape.add([Trade(0.0, Decimal("0.00012501"), Decimal(7), BUY),
                  Trade(0.0, Decimal("0.00012499"), Decimal(4), BUY)])
        assert f"VWAP {fmt.rounded(tape.figures.vwap, 10)}" in tape.status_text()
        assert "last 0.00012499" in tape.status_text()


async def test_a_tape_of_own_fills_says_so_and_only_on_the_symbol_s_own_tab():
    """bthub's tape is the account's own fills, but it read "last 5399.18  vol 0.113" as
    a market's tape does, and every counterparty's tab had a tape that stayed "last –
    vol 0" for good (the fills go on the symbol's aggregated stream). The tape says "own
    fills", and a counterparty's book has none."""
    feed = FakeFeed("bthub", ("BTCUSDT",), seed=5, trades=True)
    app = make_app([feed])
    async with app.run_test(size=(140, 34)) as pilot:
        await ready(pilot)
        panes = {pane.stream.key: pane for pane in app.panes if isinstance(pane, StreamPane)}
        aggregated = next(p for p in panes.values() if not p.stream.source)
        assert aggregated.tape is not None
        assert [key for key, p in panes.items() if p.stream.source and p.tape] == []
        await _printed(pilot, aggregated, feed, stream=aggregated.stream, count=2)
        status = aggregated.tape.status_text()
        assert status.startswith(" own fills: last ") and "vol " in status, status
        assert "own fills: last" in screen_text(app)
