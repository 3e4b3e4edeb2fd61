"""The book against a naive reference model (hypothesis), plus the derived views."""

from __future__ import annotations

from decimal import Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import obview.book
from obview.book import BookSide, Level, OrderBook, ScaledLevel, group_price

prices = st.integers(min_value=1, max_value=60).map(lambda i: Decimal(i) / 4)
sizes = st.integers(min_value=0, max_value=50).map(Decimal)
CENT = Decimal("0.01")
WIDE = Context(prec=100)
sources = st.sampled_from(["okex", "binance", "huobi"])


class NaiveSide:
    """A dict and a sort on every read: obviously right, obviously slow."""

    def __init__(self, is_bid: bool, sourced: bool = False):
        self.is_bid = is_bid
        self.sourced = sourced
        self.levels: dict = {}

    def key(self, price, source):
        return (price, source) if self.sourced else price

    def set(self, price, size, orders=0, source=None):
        if size == 0:
            self.levels.pop(self.key(price, source), None)
        else:
            self.levels[self.key(price, source)] = (price, size, orders, None, source)

    def ordered(self):
        return [self.levels[k] for k in sorted(self.levels, reverse=self.is_bid)]


class BookMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.book = OrderBook()
        self.model = {True: NaiveSide(True), False: NaiveSide(False)}

    @rule(is_bid=st.booleans(), price=prices, size=sizes, orders=st.integers(0, 9))
    def set_level(self, is_bid, price, size, orders):
        self.book.side(is_bid).set(price, size, orders)
        self.model[is_bid].set(price, size, orders)

    @rule(is_bid=st.booleans(), price=prices, units=st.integers(1, 10**30),
          orders=st.integers(0, 9))
    def insert_scaled(self, is_bid, price, units, orders):
        self.book.side(is_bid).insert(ScaledLevel(price, units, CENT, orders))
        self.model[is_bid].set(price, Decimal(units).scaleb(-2, WIDE), orders)  # exact

    @rule(is_bid=st.booleans(), price=prices)
    def delete_level(self, is_bid, price):
        existed = price in self.model[is_bid].levels
        assert self.book.side(is_bid).delete(price) == existed
        self.model[is_bid].set(price, 0)

    @rule(bids=st.lists(st.tuples(prices, sizes), max_size=10, unique_by=lambda t: t[0]),
          asks=st.lists(st.tuples(prices, sizes), max_size=10, unique_by=lambda t: t[0]))
    def snapshot(self, bids, asks):
        self.book.replace(bids, asks)
        for is_bid, levels in ((True, bids), (False, asks)):
            self.model[is_bid].levels.clear()
            for price, size in levels:
                self.model[is_bid].set(price, size)

    @precondition(lambda self: True)
    @rule(n=st.integers(0, 12))
    def top_matches(self, n):
        for is_bid in (True, False):
            got = [lv.as_tuple()[:3] for lv in self.book.side(is_bid).top(n)]
            assert got == [t[:3] for t in self.model[is_bid].ordered()[:n]]

    @invariant()
    def sides_match_model(self):
        for is_bid in (True, False):
            side = self.book.side(is_bid)
            want = self.model[is_bid].ordered()
            assert [lv.as_tuple()[:3] for lv in side.iter_levels()] == [t[:3] for t in want]
            assert len(side) == len(want)
            best = side.best()
            assert (best.price if best else None) == (want[0][0] if want else None)

    @invariant()
    def crossed_is_reported(self):
        bid = self.model[True].ordered()
        ask = self.model[False].ordered()
        expect = bool(bid and ask and bid[0][0] >= ask[0][0])
        assert self.book.crossed() == expect
        assert self.book.view(5).crossed == expect


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


class SortedListBookMachine(BookMachine):
    """The same rules with sides that outgrow the plain key list after 3 levels, so the
    SortedList form (and the switch to it) is exercised too."""

    def __init__(self):
        self._saved = obview.book.LIST_KEYS_MAX
        obview.book.LIST_KEYS_MAX = 3
        super().__init__()

    def teardown(self):
        obview.book.LIST_KEYS_MAX = self._saved


TestSortedListBookMachine = SortedListBookMachine.TestCase
TestSortedListBookMachine.settings = settings(max_examples=100, stateful_step_count=40,
                                              deadline=None)


def test_scaled_level_size_is_exact_and_settable():
    unit = Decimal(1).scaleb(-18)
    level = ScaledLevel(Decimal("0.25"), 10**40 + 7, unit, 2)
    assert level.size == Decimal(10**40 + 7).scaleb(-18, WIDE)  # 41 digits: nothing rounded
    assert level == Level(Decimal("0.25"), Decimal(10**40 + 7).scaleb(-18, WIDE), 2)
    level.size = Decimal("1.5")
    assert level.units == 15 * 10**17 and level.size == Decimal("1.5")
    with pytest.raises(ValueError):
        level.size = Decimal("1E-19")  # not a whole number of units


@given(st.lists(st.tuples(prices, sizes.filter(bool), sources), max_size=30))
def test_sourced_side_keeps_equal_prices_apart(levels):
    side = BookSide(is_bid=False, sourced=True)
    model = NaiveSide(False, sourced=True)
    for price, size, source in levels:
        side.set(price, size, 1, source=source)
        model.set(price, size, 1, source=source)
    assert [lv.as_tuple() for lv in side.iter_levels()] == model.ordered()


@given(st.lists(st.tuples(prices, sizes.filter(bool), st.integers(1, 5)), max_size=25,
                unique_by=lambda t: t[0]),
       st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("2.5")]),
       st.booleans(), st.integers(1, 8))
def test_grouping_sums_and_rounds_away_from_the_touch(levels, step, is_bid, depth):
    book = OrderBook()
    book.side(is_bid).replace(levels)
    view = book.view(depth, step)
    rows = view.bids if is_bid else view.asks
    naive: dict[Decimal, list] = {}
    for price, size, orders in levels:
        units = price / step
        bucket = (int(units) if units == int(units) or is_bid else int(units) + 1) * step
        entry = naive.setdefault(bucket, [Decimal(0), 0])
        entry[0] += size
        entry[1] += orders
    want = sorted(naive.items(), reverse=is_bid)[:depth]
    assert [(r.price, r.size, r.orders) for r in rows] == [(p, s, o) for p, (s, o) in want]
    cum = Decimal(0)
    for row in rows:
        cum += row.size
        assert row.cum_size == cum


def test_view_numbers_are_exact():
    book = OrderBook()
    book.replace(
        bids=[(Decimal("99.5"), Decimal(2), 1), (Decimal("99"), Decimal(3), 2)],
        asks=[(Decimal("100.5"), Decimal(1), 1), (Decimal("101"), Decimal(4), 3)],
    )
    view = book.view(10)
    assert view.spread == Decimal(1)
    assert view.mid == Decimal(100)
    assert view.spread_bps == Decimal(100)
    assert [r.cum_size for r in view.bids] == [Decimal(2), Decimal(5)]
    assert [r.cum_notional for r in view.asks] == [Decimal("100.5"), Decimal("504.5")]
    assert view.asks[1].bps_from_mid == Decimal(100)
    assert view.imbalance == Decimal(0)
    assert not view.crossed


def test_locked_book_is_reported_not_fixed():
    book = OrderBook()
    book.replace([(Decimal(10), Decimal(1))], [(Decimal(10), Decimal(2))])
    assert book.crossed()
    assert book.best_bid() == book.best_ask() == Decimal(10)
    assert book.view(5).spread == 0


def test_queue_and_source_survive_updates():
    side = BookSide(is_bid=True)
    side.set(Decimal(5), Decimal(30), 2, {"a": Decimal(10), "b": Decimal(20)})
    level = side.best()
    assert list(level.queue) == ["a", "b"]
    side.set(Decimal(5), Decimal(10), 1, {"b": Decimal(10)})
    assert side.best() is level and level.queue == {"b": Decimal(10)}
    assert Level(Decimal(1), Decimal(2)) == Level(Decimal(1), Decimal(2))


@pytest.mark.parametrize(
    ("price", "step", "is_bid", "want"),
    [("10.27", "0.05", True, "10.25"), ("10.27", "0.05", False, "10.30"),
     ("10.25", "0.05", False, "10.25"), ("-1.5", "1", True, "-2")],
)
def test_group_price(price, step, is_bid, want):
    assert group_price(Decimal(price), Decimal(step), is_bid) == Decimal(want)


def test_touch_records_times_and_version():
    book = OrderBook()
    book.touch(venue_ts=123, version=7)
    assert book.version == 7 and book.venue_ts == 123
    assert book.recv_ts is not None and book.recv_mono is not None
