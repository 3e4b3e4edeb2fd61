"""The heatmap's model: cells are the sizes the book really had, exactly; memory bounded."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import pytest

from obview.book import OrderBook, group_price
from obview.depth_history import RESOLUTIONS_MS, Column, DepthHistory
from obview.trades import BUY, Trade
from obview.tui.ladder import nice_step
from tests.heatmap.walk import TICK, walk


def recorded(seed: int, steps: int, interval: float, **kw) -> tuple[DepthHistory, list]:
    history = DepthHistory(**kw)
    seen = []
    for book, step in walk(seed, steps, interval=interval):
        history.record(book, step.mono)
        for trade in step.trades:
            history.record_trade(trade)
        seen.append(step)
    return history, seen


def expected_columns(steps: list, ms: int) -> dict[int, dict[tuple[bool, Decimal], Decimal]]:
    """Independently of the model: per column, the largest size each price had while the
    column lasted (the book resting at its start counts, then every change inside it)."""
    out: dict[int, dict] = {}
    resting: dict = {}
    for step in steps:
        index = int(step.mono * 1000) // ms
        if index not in out:
            out[index] = dict(resting)
        cells = out[index]
        for key, size in step.sizes.items():
            if size > cells.get(key, 0):
                cells[key] = size
        resting = step.sizes
    return out


@pytest.mark.parametrize("resolution", range(len(RESOLUTIONS_MS)))
def test_cells_equal_the_sizes_the_seeded_book_had(resolution):
    history, steps = recorded(seed=11, steps=400, interval=0.37)
    tier = history.tiers[resolution]
    expected = expected_columns(steps, tier.ms)
    checked = 0
    for index, cells in expected.items():
        column = tier.column(index)
        assert column is not None, index
        got = {}
        for key, units in column.items():
            price = history.price(key >> 1)
            got[(bool(key & 1), price)] = history.size_of(units)
        assert got == cells, f"column {index}"  # the walk's book is 100 a side: all recorded
        checked += len(got)
    assert checked > 1000


def test_trade_cells_sum_the_prints_per_column_and_price():
    history, steps = recorded(seed=3, steps=300, interval=0.25)
    tier = history.tiers[1]
    want: dict = {}
    for step in steps:
        for trade in step.trades:
            index = int(trade.mono * 1000) // tier.ms
            key = (index, trade.price, trade.side)
            want[key] = want.get(key, Decimal(0)) + trade.size
    got = {}
    for index, cells in tier.trades.items():
        for price_id, cell in cells.items():
            price = history.price(price_id)
            if cell.buy_units:
                got[(index, price, BUY)] = history.size_of(cell.buy_units)
            if cell.sell_units:
                got[(index, price, "sell")] = history.size_of(cell.sell_units)
    assert got == want and len(want) > 50


@pytest.mark.parametrize("group_index", [1, 2, 3])
def test_rows_group_prices_as_the_ladder_does(group_index):
    """Each bid row's size is the ladder's grouped bid row, each ask row its ask row."""
    history = DepthHistory()
    book = None
    for book, step in walk(seed=5, steps=1):
        history.record(book, step.mono)
    step = nice_step(TICK, group_index)
    view = book.view(40, step)
    tier = history.tiers[1]
    for rows, is_bid in ((view.bids, True), (view.asks, False)):
        for row in rows[:-1]:  # the deepest group may be cut by the recorded depth
            index = history.price_row(row.price, step, is_bid)
            assert history.row_price(index, step) == row.price
            bid, ask = history.cell(1, tier.open_index, index, step)
            assert history.size_of(bid if is_bid else ask) == row.size
            assert (ask if is_bid else bid) == 0
    # and a raw price lands on the row the ladder puts it in
    for level in book.bids.top(30):
        key = history._price_ids[level.price] * 2 + 1
        assert history.row_price(history.row_for(key, step), step) == group_price(level.price, step, True)


def test_ungrouped_rows_are_the_book_tick():
    history, _ = recorded(seed=2, steps=5, interval=0.1)
    assert history.row_step(None) == TICK
    assert history.row_step(Decimal("0.5")) == Decimal("0.5")


@pytest.mark.parametrize("memo", [65_536, 1])
def test_the_tick_is_the_smallest_gap_between_adjacent_prices_ever_recorded(memo):
    """Gaps are worked out once per pair of adjacent prices (a memo, cleared when full):
    the tick is the same whatever the memo remembers."""
    history = DepthHistory()
    history._pairs.limit = memo
    book = OrderBook()
    d = Decimal
    shapes = [  # bids (best first in the book), asks
        ([d("10.0"), d("9.0")], [d("11.0")]),  # gaps 1.0
        ([d("10.0"), d("9.0")], [d("11.0"), d("11.5")]),  # 0.5
        ([d("10.0"), d("9.75"), d("9.0")], [d("11.0")]),  # 0.25 (and 0.75)
        ([d("10.0"), d("9.0")], [d("11.0"), d("11.5")]),  # seen before: 0.25 stays
    ]
    ticks = []
    for t, (bids, asks) in enumerate(shapes):
        book.replace([(p, d(1)) for p in bids], [(p, d(1)) for p in asks])
        history.record(book, 100.0 + t)
        ticks.append(history.tick)
    assert ticks == [d("1.0"), d("0.5"), d("0.25"), d("0.25")]
    # a bid and an ask are never adjacent: the spread is no tick
    spread = DepthHistory()
    book.replace([(d("10.0"), d(1))], [(d("10.01"), d(1))])
    spread.record(book, 1.0)
    assert spread.tick is None


def test_the_tick_is_the_touchs_where_the_venues_tick_changes_deeper():
    """HKEX's spread table: 0.5 from 500 up, 0.2 below. A book at 512.5 recorded 100
    levels deep reaches below 500; its rows are still the 0.5 the trader watches."""
    d = Decimal
    bids = [d("512.5") - d("0.5") * i for i in range(26)]  # down to 500.0
    bids += [d("500.0") - d("0.2") * i for i in range(1, 60)]  # the finer band below
    asks = [d("513.0") + d("0.5") * i for i in range(40)]
    book = OrderBook()
    book.replace([(p, d(100)) for p in bids], [(p, d(100)) for p in asks])
    history = DepthHistory()
    history.record(book, 1.0)
    assert history.row_step(None) == d("0.5")
    # the price falls into the finer band: the touch's tick is then the finer one
    book.replace([(p, d(100)) for p in bids[26:]], [(p, d(100)) for p in asks])
    history.record(book, 2.0)
    assert history.row_step(None) == d("0.2")


def test_column_count_is_capped_by_history():
    history, _ = recorded(seed=4, steps=1500, interval=0.2, history_s=60)  # 300 s recorded
    fine, second, ten = history.tiers
    assert len(second.columns) == 60 and len(ten.columns) == 6
    assert len(fine.columns) == 600
    assert second.first_index == second.open_index - 60
    assert all(index >= second.first_index for index in second.trades)
    assert second.column(second.first_index - 1) is None


def test_quiet_time_repeats_the_resting_book_in_one_shared_column():
    history = DepthHistory()
    book = OrderBook()
    book.replace([(Decimal("10.0"), Decimal("3"))], [(Decimal("10.5"), Decimal("4"))])
    history.record(book, 100.2)
    history.advance(110.0)  # ten seconds with no change
    tier = history.tiers[1]
    quiet = [tier.column(i) for i in range(101, 110)]
    assert all(column is quiet[0] for column in quiet)
    sizes = history.row_sizes(quiet[0], Decimal("0.5"))
    assert {history.row_price(r, Decimal("0.5")): history.size_of(u) for r, u in sizes.items()} == {
        Decimal("10.0"): 3, Decimal("10.5"): 4}


def test_a_finer_size_rescales_history_without_rounding():
    history = DepthHistory()
    book = OrderBook()
    book.replace([(Decimal("10"), Decimal("3"))], [(Decimal("11"), Decimal("12345678901234567890"))])
    history.record(book, 1.0)
    book.bids.set(Decimal("10"), Decimal("0.000000000000000001"))  # 1e-18: a token's wei
    history.record(book, 2.0)
    history.record_trade(Trade(2.5, Decimal("10"), Decimal("0.5"), "sell"))
    tier = history.tiers[1]
    old = {history.price(k >> 1): history.size_of(u) for k, u in tier.column(1).items()}
    new = {history.price(k >> 1): history.size_of(u) for k, u in tier.column(2).items()}
    assert old == {Decimal("10"): 3, Decimal("11"): Decimal("12345678901234567890")}
    assert new[Decimal("10")] == 3  # the book at the column's start (3) was the larger
    assert history.size_of(tier.trades[2][0].sell_units) == Decimal("0.5")
    history.advance(3.5)
    assert {history.price(k >> 1): history.size_of(u) for k, u in tier.column(3).items()} == {
        Decimal("10"): Decimal("1E-18"), Decimal("11"): Decimal("12345678901234567890")}
    assert isinstance(tier.column(2), Column)  # sizes beyond 64 bits kept exactly (a list)


def test_memory_per_cell_is_compact():
    """600 one-second columns of 200 prices each: well under 20 bytes a cell."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        history = DepthHistory(history_s=600)
        for book, step in walk(seed=9, steps=600, interval=1.0):  # the steps are not kept
            history.record(book, step.mono)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    cells = sum(len(c.keys) for tier in history.tiers for c in set(tier.columns))
    assert cells > 150_000
    assert (after - before) / cells < 20


def _pictures(history: DepthHistory) -> list[tuple[dict, dict]]:
    out = []
    for tier in history.tiers:
        cells = {index: {(history.price(key >> 1), key & 1): history.size_of(units)
                         for key, units in tier.column(index).items()}
                 for index in range(tier.first_index, tier.open_index + 1)}
        prints = {index: {history.price(p): (history.size_of(c.buy_units),
                                             history.size_of(c.sell_units), c.count)
                          for p, c in row.items()} for index, row in tier.trades.items()}
        out.append((cells, prints))
    return out


@pytest.mark.parametrize("quiet", [0.0, 0.35])
def test_a_history_sampled_in_two_halves_joins_into_the_one_sampled_whole(quiet):
    """As a replay's seek does it: one SlotSampler sees every change; another the changes
    before a split (then `finish`), a third those from the split on (`start`); the second's
    history put in front of the third's is the first's, every column of every tier. With
    `quiet` s without a change before the split, columns of the resting book lie between
    the halves."""
    from obview.depth_history import SlotSampler

    interval, steps, split_step = 0.007, 900, 457  # ~3 changes a 20 ms slot
    whole_book, older_book, newer_book = OrderBook(), OrderBook(), OrderBook()
    whole = DepthHistory(history_s=60)
    newer = DepthHistory(history_s=60)
    older = newer.sibling()
    samplers = {"whole": SlotSampler(whole, whole_book),
                "older": SlotSampler(older, older_book),
                "newer": SlotSampler(newer, newer_book, armed=False)}
    walks = {name: walk(5, steps, interval=interval, book=book) for name, book in
             (("whole", whole_book), ("older", older_book), ("newer", newer_book))}
    def at_step(n: int) -> int:
        return round((1000.0 + n * interval + (quiet if n >= split_step else 0)) * 1e9)

    split = at_step(split_step)
    for n in range(steps):
        at = at_step(n)
        if n == split_step:
            samplers["older"].finish(split)
            samplers["newer"].start(split)
        for name, sampler in samplers.items():
            sampler.flush_due(at)  # before the change at `at`: what fell due (call_at)
            _, step = next(walks[name])
            if name == "whole" or (name == "newer") == (n >= split_step):
                sampler.changed(at)
                trades = step.trades
                if n == 100:  # a finer size than the walk's: the older half's places grow
                    trades = [*trades, Trade(step.mono, Decimal("100"), Decimal("0.001"), BUY)]
                sampler.trades(trades, at)
    assert older.places == 3 and newer.places == 2
    for _ in newer.rescaling(older.places):
        pass
    newer.prepend(older)
    assert _pictures(newer) == _pictures(whole)
    assert newer.best_bid == whole.best_bid and newer.tick == whole.tick


def test_clear_keeps_the_object_and_its_price_ids():
    history, _ = recorded(seed=3, steps=50, interval=0.1)
    prices, version = history._prices, history.version
    other = history.sibling()
    history.clear()
    assert history.now_ms is None and history.tiers[1].open_index is None
    assert history._prices is prices and other._prices is prices
    assert history.version > version and history.places == 0
