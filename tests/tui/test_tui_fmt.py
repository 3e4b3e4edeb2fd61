"""Screen-column formatting helpers (fmt.py) and the grouping step series."""

from __future__ import annotations

from decimal import Decimal as D

from rich.cells import cell_len

from obview import fmt
from obview.book import OrderBook
from obview.tui.ladder import nice_step


def test_align_points_pads_right_without_inventing_digits():
    texts = fmt.align_points(["350.2", "12", "0.25", "1,200.125"])
    assert texts == ["350.2  ", "12    ", "0.25 ", "1,200.125"]
    column = [t.rjust(12) for t in texts]
    # the point (or where it would be) sits in the same column on every row
    assert {len(c.rstrip()) - len(t.strip().split(".")[-1]) - 1 if "." in t
            else len(c.rstrip()) for c, t in zip(column, texts, strict=True)} == {8}


def test_point_padded_is_one_text_of_an_aligned_column():
    assert fmt.point_padded("12", 2) == "12   "
    assert fmt.point_padded("0.5", 2) == "0.5 "
    assert fmt.point_padded("1,200", 0) == "1,200"
    texts = ["350.2", "12", "0.25"]
    assert [fmt.point_padded(t, 2) for t in texts] == fmt.align_points(texts)


def test_rounded_is_a_price_and_grouped_places_a_quantity():
    assert fmt.rounded(D("5399.565954321"), 6) == "5399.565954"
    assert fmt.rounded(D("2.5"), 0) == "2"  # half even
    assert fmt.grouped_places(D("5399.565954321"), 2) == "5,399.57"


def test_prices_share_the_finest_decimals():
    assert fmt.prices_aligned([D("350.2"), D("350"), D("349.85")]) == ["350.20", "350.00", "349.85"]
    assert fmt.prices_aligned([D("0.0001253"), D("0.00012525")]) == ["0.00012530", "0.00012525"]


def test_grouped_signed_bps():
    assert fmt.grouped(D("12300.50")) == "12,300.5"
    assert fmt.grouped(D("-1234567")) == "-1,234,567"
    assert fmt.grouped(D("0.00012")) == "0.00012"
    assert fmt.signed(D("2.50")) == "+2.5" and fmt.signed(D("-1500")) == "-1,500"
    assert fmt.bps(D("12.345")) == "12.3" and fmt.bps(None) == "-"


def test_fit_cells_counts_wide_characters_twice():
    assert cell_len(fmt.fit_cells("騰訊控股", 10)) == 10
    assert fmt.fit_cells("騰訊控股", 5) == "騰訊…"
    assert cell_len(fmt.fit_cells("騰訊控股", 6)) == 6
    assert fmt.fit_cells("okex", 6) == "okex  "


def test_nice_steps_follow_1_2_5_above_the_tick():
    assert [nice_step(D("0.2"), i) for i in (1, 2, 3, 4)] == [D("0.5"), 1, 2, 5]
    assert nice_step(D("0.5"), 1) == 1
    assert nice_step(D("0.00000001"), 1) == D("0.00000002")


def test_grouping_rounds_bids_down_asks_up():
    book = OrderBook()
    book.replace([(D("100.4"), D(1)), (D("99.6"), D(2))], [(D("100.6"), D(3)), (D("101.4"), D(4))])
    view = book.view(10, D(1))
    assert [(r.price, r.size) for r in view.bids] == [(100, 1), (99, 2)]
    assert [(r.price, r.size) for r in view.asks] == [(101, 3), (102, 4)]


def test_id_tail_keeps_an_ids_distinct_end():
    assert fmt.id_tail("3684224381827487375", 8) == "…27487375"
    assert fmt.id_tail("123456789", 8) == "123456789"  # the ellipsis would save nothing
    assert fmt.id_tail("x1", 8) == "x1"
