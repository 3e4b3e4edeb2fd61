"""Exact numbers: formatting never rounds, long figures are abbreviated visibly, caches
stay bounded, and receive stamps become latencies only when plausible."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from obview.book import OrderBook, ScaledLevel
from obview.fmt import (
    ELLIPSIS,
    BoundedCache,
    DecimalCache,
    dec_str,
    dec_text,
    decimals_of,
    fit_number,
    fixed,
    grouped,
    prices_aligned,
)
from obview.latency import LatencyStats, epoch_ms, latency_ms

MAX_UINT256 = 2**256 - 1


@pytest.mark.parametrize("text", [
    "12345678901.234567890123456789",  # printed 12345678901.23456789012345679 before
    str(MAX_UINT256),  # printed 1157920892373161954235709850000... before
    "0." + "0" * 40 + "1",
    "-98765432109876543210.123456789012345678901",
])
def test_dec_str_never_rounds(text):
    assert dec_str(Decimal(text)) == text
    assert Decimal(dec_str(Decimal(text))) == Decimal(text)


def test_dec_text_is_dec_str_remembered_by_value():
    """Equal values print alike whatever their exponent, so a text remembered for one
    serves the other; the memory is the shared bounded cache."""
    from obview import fmt

    values = [Decimal(t) for t in ("1.0", "1.00", "1", "-0", "0E-5", "0.000100", "1E+3",
                                   "123456789012345678901234567890.000000001", "1E+999999999",
                                   "-2.50")]
    for value in values:
        assert dec_text(value) == dec_str(value)
        assert dec_text(value) == dec_str(value)  # the second read comes from the cache
    assert dec_text(Decimal("2.5000")) == "2.5" and dec_text(Decimal("2.5")) == "2.5"
    assert dec_text(Decimal("sNaN")) == dec_str(Decimal("sNaN"))  # no hash: not remembered
    assert isinstance(fmt._TEXTS, fmt.BoundedCache)


def test_columns_keep_every_digit():
    value = Decimal("12345678901.234567890123456789")
    assert decimals_of(value) == 18 and decimals_of(Decimal("1.2300")) == 2
    assert fixed(value, 18) == "12345678901.234567890123456789"
    assert prices_aligned([value, Decimal(1)])[1] == "1." + "0" * 18
    assert grouped(value) == "12,345,678,901.234567890123456789"
    size = ScaledLevel(Decimal(1), MAX_UINT256, Decimal("1E-18")).size
    digits = str(MAX_UINT256)
    assert dec_str(size) == digits[:-18] + "." + digits[-18:]


def test_book_rows_sum_exactly():
    book = OrderBook()
    big = Decimal(MAX_UINT256)
    book.bids.set(Decimal(2), big, 1)
    book.bids.set(Decimal(1), Decimal(1), 1)
    rows = book.view(depth=5).bids
    # the default 28-digit context would lose the 1 (integer arithmetic for the expectation)
    assert rows[1].cum_size == Decimal(MAX_UINT256 + 1)
    assert rows[1].cum_notional == Decimal(MAX_UINT256 * 2 + 1)
    grouped_rows = book.view(depth=5, step=Decimal(10)).bids
    assert grouped_rows[0].size == Decimal(MAX_UINT256 + 1)


@pytest.mark.parametrize(("text", "width", "want"), [
    ("12345678901.234567890123456789", 14, "12345678901.2…"),
    (str(MAX_UINT256), 12, "1.157920…e77"),
    ("0.0000000000000123456", 10, "1.234…e-14"),
    ("-123456.789", 8, "-1.23…e5"),
    ("512.5", 8, "512.5"),
])
def test_fit_number_abbreviates_visibly_and_keeps_the_magnitude(text, width, want):
    shown = fit_number(text, width)
    assert shown == want and len(shown) <= width
    if shown != text:
        assert ELLIPSIS in shown


def test_bounded_cache_is_the_shared_policy():
    cache = BoundedCache(limit=3)
    for key in range(10):
        cache[key] = key
        assert len(cache) <= 3
    assert cache.get(9) == 9 and cache.get(0) is None
    parse = DecimalCache(limit=4)
    for n in range(100):
        parse(str(n))
    assert len(parse) <= 4 and parse.limit == 4
    assert parse("42") == Decimal(42)


@pytest.mark.parametrize("stamp", [math.inf, -math.inf, math.nan, 0.0, -1.0, 1e300,
                                   4_000_000_000.0, 1_000.0])
def test_absurd_stamps_are_unstamped_never_a_latency(stamp):
    now = 1_764_633_600.0  # 2025-12-02
    assert latency_ms(now, stamp) is None
    stats = LatencyStats()
    stats.fold([stamp, now - 0.005], now)
    stats.add(latency_ms(now, stamp))
    stats.fold([stamp], now)  # a read of one push takes its own path
    stats.fold([now - 0.007], now)
    assert stats.total == 5 and stats.unstamped == 3
    assert len(stats.samples) == 2 and abs(stats.samples[0] - 5.0) < 1e-3
    assert abs(stats.samples[1] - 7.0) < 1e-3
    if not 946_684_800 <= stamp <= 4_102_444_800:
        assert epoch_ms(stamp) is None  # never an OverflowError from int(inf)


def test_plausible_stamps_are_latencies():
    now = 1_764_633_600.0
    assert latency_ms(now, now - 0.25) == pytest.approx(250.0, abs=1e-3)
    assert latency_ms(now, now + 0.002) == pytest.approx(-2.0, abs=1e-3)  # small clock skew stays visible
    assert epoch_ms(now) == 1_764_633_600_000


@pytest.mark.parametrize("stamp", [math.inf, 1e300, -math.inf])
async def test_a_hostile_futu_stamp_is_counted_unstamped_over_the_socket(stamp):
    import asyncio

    from obview.feed import FeedState
    from obview.venues import config
    from obview.venues.futu import start_sim
    from obview.venues.futu.client import FutuFeed
    from tests.conftest import wait_until

    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "40"})
    honest = sim._fill_book

    def hostile(s2c, *args) -> None:  # the server stamps every push absurdly
        honest(s2c, *args)
        s2c.svrRecvTimeBidTimestamp = stamp
        s2c.svrRecvTimeAskTimestamp = stamp

    sim._fill_book = hostile
    feed = FutuFeed(config("futu", ["HK.00700"], port=sim.port))
    task = asyncio.create_task(feed.run())
    try:
        stream = feed.streams["HK.00700"]
        await wait_until(lambda: stream.latency["bid"].total >= 10, 5, "pushes")
        assert feed.state is FeedState.SYNCED and feed.reconnects == 0  # no OverflowError
        bid = stream.latency["bid"]
        assert bid.unstamped == bid.total and not bid.samples
        assert stream.extra["latency_ms"] == {"bid": None, "ask": None}
        assert stream.book.venue_ts is None
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()


def test_an_absurd_exponent_is_never_written_out_in_full():
    # 11 bytes on the wire would be a gigabyte as plain digits: the exact scientific form
    huge, tiny = Decimal("1e999999999"), Decimal("1.5000e-999")
    assert dec_str(huge) == "1E+999999999" and Decimal(dec_str(huge)) == huge
    assert dec_str(tiny) == "1.5E-999" and Decimal(dec_str(tiny)) == tiny
    assert fixed(tiny, decimals_of(tiny)) == "1.5E-999"
