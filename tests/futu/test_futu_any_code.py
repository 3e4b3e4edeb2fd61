"""The simulator's `any_code` switch: generated listings for codes outside its catalogue."""

from __future__ import annotations

import pytest

from obview.feed import FeedState
from obview.venues.futu.market import SimBook, generated_listing
from tests.conftest import wait_until
from tests.futu.test_futu_client import book_matches, running


async def test_any_code_gives_an_unknown_code_a_live_named_book():
    codes = ["HK.12345", "US.XYZ", "SH.600000"]
    async with running(codes, {"rate": "40", "any_code": ""}, details=True) as (feed, sim):
        await wait_until(lambda: all(feed.streams[c].synced and feed.streams[c].updates >= 3
                                     for c in codes), 10, "every generated code synced")
        for code in codes:
            await wait_until(lambda code=code: book_matches(feed, sim, code), 5, f"{code} = sim")
            assert feed.streams[code].name == generated_listing(code).name
        assert feed.state is FeedState.SYNCED


async def test_without_any_code_the_same_code_is_refused_like_opend():
    async with running(["HK.12345"]) as (feed, sim):
        await wait_until(lambda: feed.state is FeedState.ERROR, 5, "the feed to fail")
        assert "Unknown stock HK.12345" in feed.streams["HK.12345"].error


async def test_any_code_still_refuses_malformed_codes():
    async with running(["HK.12345", "HK.1"], {"rate": "40", "any_code": ""}) as (feed, sim):
        await wait_until(lambda: feed.streams["HK.12345"].synced, 10, "the good code synced")
        await wait_until(lambda: feed.streams["HK.1"].error is not None, 5, "HK.1 refused")
        assert feed.streams["HK.1"].error == "Unknown stock HK.1"


@pytest.mark.parametrize("code", ["HK.12345", "US.XYZ", "SZ.000002", "SG.D05"])
def test_generated_listings_and_books_are_deterministic(code):
    listing = generated_listing(code)
    assert listing == generated_listing(code)
    assert SimBook(code, 7, listing).top(5) == SimBook(code, 7, generated_listing(code)).top(5)
    assert listing.name


def test_malformed_codes_get_no_listing():
    assert generated_listing("HK.1") is None and generated_listing("US.lower") is None


@pytest.mark.parametrize("code", ["HK.00700", "US.AAPL", "SH.600519", "HK.12345"])
@pytest.mark.parametrize("details", [False, True])
def test_push_bodies_from_reused_level_encodings_equal_protobufs_own(code, details):
    from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2
    from obview.venues.futu.sim import FutuSimulator

    sim = FutuSimulator(3, {"any_code": "", "levels": "40"})
    book = sim.book(code)
    for step in range(300):
        book.step()
        if step % 37:
            continue
        for stamped in (False, True):
            expected = Qot_UpdateOrderBook_pb2.Response(retType=0)
            sim._fill_book(expected.s2c, book, details, stamped, sim.levels)
            got = Qot_UpdateOrderBook_pb2.Response.FromString(
                sim._push_body(book, details, stamped))
            assert got == expected
