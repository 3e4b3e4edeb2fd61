"""Pushes applied incrementally (changed levels only) always equal a full rebuild."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from obview.events import BookChanged
from obview.venues import config
from obview.venues.futu import codec
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.market import SimBook
from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2
from obview.venues.futu.sim import FutuSimulator


def _feed(details: bool) -> FutuFeed:
    feed = FutuFeed(config("futu", ["HK.00700"], details=details, host="127.0.0.1", port=1))
    feed.streams["HK.00700"].synced = True
    return feed


def _rows(side) -> list:
    return [(lv.price, lv.size, lv.orders, tuple(lv.queue.items()) if lv.queue else ())
            for lv in side.iter_levels()]


def test_simulated_pushes_match_the_simulator_after_every_push():
    sim = FutuSimulator(5, {"levels": "20"})
    book = SimBook("HK.00700", 5)
    feed = _feed(details=True)
    for serial in range(600):
        book.step()
        feed._process([(codec.QOT_UPDATE_ORDER_BOOK, serial, sim._push_body(book, True, True))])
        bids, asks = book.top(20)
        expected = [[(p, Decimal(v), n, tuple((o, Decimal(q)) for o, q in queue))
                     for p, v, n, queue in side] for side in (bids, asks)]
        got = feed.streams["HK.00700"].book
        assert [_rows(got.bids), _rows(got.asks)] == expected, serial


level = st.tuples(st.integers(1, 30), st.integers(0, 5), st.integers(1, 4))  # price, size, n


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(level, max_size=8), min_size=1, max_size=12))
def test_any_push_sequence_equals_a_full_replace(pushes):
    feed = _feed(details=False)
    for serial, rows in enumerate(pushes):
        response = Qot_UpdateOrderBook_pb2.Response(retType=0)
        response.s2c.security.market = 1
        response.s2c.security.code = "00700"
        unique = {price: (size, count) for price, size, count in rows}
        for price in sorted(unique, reverse=True):
            size, count = unique[price]
            response.s2c.orderBookBidList.add(price=price / 4, volume=size * 100,
                                              orederCount=count)
        feed._process([(codec.QOT_UPDATE_ORDER_BOOK, serial, response.SerializeToString())])
        expected = [(Decimal(repr(p / 4)), Decimal(s * 100), c, ())
                    for p, (s, c) in sorted(unique.items(), reverse=True) if s]
        assert _rows(feed.streams["HK.00700"].book.bids) == expected


def test_pushes_in_one_read_set_the_book_once_from_the_newest():
    sim = FutuSimulator(9, {"levels": "10"})
    book = SimBook("HK.00700", 9)
    feed = _feed(details=False)
    changes = []
    feed.add_listener(changes.append)
    data = b""
    for serial in range(5):
        book.step()
        body = sim._push_body(book, False, stamped=serial > 0)  # the first one unstamped
        data += codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, serial, body)
    feed.receive(data)
    stream = feed.streams["HK.00700"]
    books = [e for e in changes if isinstance(e, BookChanged)]
    assert len(books) == 1 and stream.pushes == 5 and feed.messages == 5
    assert stream.latency["bid"].total == 5 and stream.latency["bid"].unstamped == 1
    assert stream.extra["latency_ms"]["bid"] is not None
    bids, _ = book.top(10)
    assert [(lv.price, lv.size) for lv in stream.book.bids.iter_levels()] == [
        (p, Decimal(v)) for p, v, _, _ in bids]


def test_hkex_spread_table_at_band_edges():
    from obview.venues.futu.market import hk_tick_down, hk_tick_up

    cases = [("0.25", "0.255", "0.249"), ("10", "10.02", "9.99"), ("20", "20.05", "19.98"),
             ("100", "100.1", "99.95"), ("500", "500.5", "499.8"), ("1000", "1001", "999.5"),
             ("512.5", "513", "512"), ("9990", "9995", "9985")]
    for price, up, down in cases:
        assert hk_tick_up(Decimal(price)) == Decimal(up), price
        assert hk_tick_down(Decimal(price)) == Decimal(down), price
