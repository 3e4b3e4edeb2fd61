"""The real client against the simulator over loopback, compared with the simulator's
book at every version the client reaches, for every fault switch."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from obview.feed import FeedState
from tests.conftest import wait_until
from tests.loopring.conftest import MARKET, assert_matches_truth, feed_error


async def test_clean_run_matches_truth_at_every_version(make_harness):
    h = await make_harness()
    await h.pump(40)
    await h.settle()
    assert assert_matches_truth(h.sim, h.recorder) >= 30
    assert h.stream.resyncs == 0 and h.feed.bad_frames == 0
    assert h.stream.level == 0 and h.feed.level_count == 4
    assert h.feed.state is FeedState.SYNCED
    # versions move forward one push at a time, several versions per push at times
    versions = h.recorder.versions()
    assert versions == sorted(versions) and h.stream.book.version == versions[-1]
    assert any(b - a > 1 for a, b in zip(versions, versions[1:], strict=False))
    assert h.stream.book.venue_ts is not None
    assert h.stream.latency["interval"].samples  # push cadence for the health panel


@pytest.mark.parametrize("every", [4, 7])
async def test_skipped_pushes_resync_once_per_gap(make_harness, every):
    h = await make_harness({"skip": str(every)})
    await h.pump(1)
    await h.pump(30 - (30 % every == 0))  # the last push is never skipped: it reveals the gap
    await h.settle()
    assert h.sim.stats["skipped"] >= 3
    assert h.stream.resyncs == h.sim.stats["skipped"]
    assert h.sim.stats["subscriptions"] == 1  # resyncs keep the subscription
    assert h.feed._sync.straddled >= 1  # snapshots inside a push range
    assert_matches_truth(h.sim, h.recorder)


async def test_malformed_pushes_are_dropped_whole_then_resynced(make_harness):
    h = await make_harness({"malformed": "5"})
    await h.pump(1)
    await h.pump(23)
    await h.settle()
    broken = h.sim.stats["malformed"]
    assert broken == 4
    # each broken push is counted, and so is the "not json {" junk before it (a decode
    # error); the JSON array and the other market's push are ignored
    assert h.feed.bad_frames == 2 * broken
    assert h.stream.resyncs == broken
    assert_matches_truth(h.sim, h.recorder)


async def test_stale_snapshot_is_refetched_never_applied(make_harness):
    h = await make_harness({"stale_snapshot": "2", "stale_by": "6"})
    await h.pump(1)
    await h.pump(10)
    await h.settle()
    assert h.feed.too_old_snapshots == 2
    assert h.sim.stats["depth_requests"] == 3
    assert h.stream.resyncs == 0
    assert_matches_truth(h.sim, h.recorder)


async def test_delayed_snapshot_buffers_and_straddles(make_harness):
    h = await make_harness({"delay_snapshot": "0.3"})
    await h.pump(1, synced=False)
    await wait_until(lambda: h.sim.stats["depth_requests"] == 1, 5, "the snapshot request")
    await h.pump(6, synced=False)  # all arrive while the snapshot is on its way
    assert not h.stream.synced and len(h.feed._sync.buffer) == 7
    await h.settle()
    sync = h.feed._sync
    assert sync.discarded >= 1  # buffered pushes the late snapshot already contained
    await h.pump(5)
    await h.settle()
    assert h.stream.resyncs == 0
    assert_matches_truth(h.sim, h.recorder)


async def test_lagged_websocket_pushes_older_than_snapshot_are_skipped(make_harness):
    # the market runs on its own clock; every frame is 0.1 s late, so any snapshot is
    # newer than the pushes still in flight when it lands
    h = await make_harness({"lag": "0.1", "rate": "50"})
    await wait_until(lambda: h.stream.synced and h.stream.updates >= 10, 10, "ten updates")
    assert h.feed._sync.ignored >= 1  # late pushes the snapshot already had
    assert h.stream.resyncs == 0
    assert_matches_truth(h.sim, h.recorder)


async def test_dropped_connection_starts_over(make_harness):
    h = await make_harness({"drop_after": "6"})
    await h.pump(1)
    for _ in range(14):
        h.sim.advance(MARKET)
        await wait_until(lambda: h.sim.idle() and (h.sim.subscribers(MARKET) == 1), 10,
                         "a live subscription")
    h.sim.advance(MARKET)
    await h.settle()
    assert h.feed.reconnects >= 2 and h.sim.stats["connections"] >= 3
    assert not any("internal error" in status for status in h.recorder.statuses)
    assert h.stream.resyncs == 0  # a new connection is a fresh start, not a resync
    assert_matches_truth(h.sim, h.recorder)


async def test_rate_limited_depth_backs_off(make_harness):
    h = await make_harness({"http429": "3"})
    await h.pump(1)
    await h.pump(3)
    await h.settle()
    assert h.feed.rate_limited == 3 and h.sim.stats["depth_requests"] == 4
    assert h.stream.resyncs == 0
    assert_matches_truth(h.sim, h.recorder)


async def test_depth_rate_limit_with_many_resyncs(make_harness):
    h = await make_harness({"rate_limit": "2", "skip": "3"})
    await h.pump(1)
    await h.pump(10)
    await h.settle()
    assert h.feed.rate_limited >= 1 and h.sim.stats["http429"] == h.feed.rate_limited
    assert h.stream.resyncs == h.sim.stats["skipped"] == 3
    assert_matches_truth(h.sim, h.recorder)


async def test_v3_mode(make_harness):
    h = await make_harness({"skip": "9"}, api="v3", level=1)
    await h.pump(1)
    await h.pump(20)
    await h.settle()
    assert h.stream.resyncs == h.sim.stats["skipped"] == 2
    assert_matches_truth(h.sim, h.recorder)
    # v3 refuses a WebSocket without a key from /v3/ws/key
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(h.sim.ws_url("v3")):
            pass


async def test_level_change_at_runtime(make_harness):
    h = await make_harness()
    await h.pump(5)
    await h.settle()
    await h.feed.change_level(2)
    assert h.stream.level == 2 and not h.stream.synced and not h.stream.book.bids
    await wait_until(lambda: h.sim.stats["subscriptions"] == 2, 5, "the new subscription")
    await h.pump(8)
    await h.settle()
    levels = [level for level, _v, _b in h.recorder.books]
    assert levels[0] == 0 and levels[-1] == 2 and levels == sorted(levels)
    assert h.stream.resyncs == 0
    assert_matches_truth(h.sim, h.recorder)
    with pytest.raises(ValueError, match="valid levels are 0..3"):
        await h.feed.change_level(4)


async def test_subscription_rejected_104107_is_fatal_not_retried(make_harness):
    h = await make_harness({"reject_sub": ""})
    await wait_until(h.task.done, 5, "the feed to give up")
    assert h.feed.state is FeedState.ERROR
    assert "104107" in feed_error(h.feed)
    assert h.sim.stats["rejected_subs"] == 1 and h.sim.stats["connections"] == 1


async def test_a_rejected_subscription_is_named_as_its_dialect_names_it(make_harness):
    """A v3 rejection said "subscription to depth&LRC-ETH&0 rejected": the v2 draft's
    topic, which no v3 page mentions (v3 subscribes the `orderbook` topic)."""
    for api, named in (("v3", "orderbook LRC-ETH level 0"), ("v2", "depth&LRC-ETH&0")):
        h = await make_harness({"reject_sub": ""}, api=api)
        await wait_until(h.task.done, 5, "the feed to give up")
        assert f"subscription to {named} rejected" in feed_error(h.feed), (api, feed_error(h.feed))


async def test_a_websocket_that_cannot_be_reached_is_named(make_harness):
    """With --rest-url alone the WebSocket still goes to the live API: the one line said
    "loopring: unknown host (Name or service not known)", naming no host, when the
    REST host given answered. It names the WebSocket's host."""
    h = await make_harness(start=False, ws_url="ws://127.0.0.1:1/v3/ws")
    h.feed.fail_fast = True  # as headless runs it: the first refusal ends the run
    await asyncio.wait_for(h.feed.run(), 10)
    error = feed_error(h.feed)
    assert error == "cannot connect to the WebSocket at 127.0.0.1:1: connection refused", error


async def test_unknown_market_lists_valid_ones_closest_first(make_harness):
    h = await make_harness(market="LRC-ETX", start=False)
    await h.feed.run()
    error = feed_error(h.feed)
    assert error.startswith("unknown market 'LRC-ETX'; valid markets, closest first: LRC-ETH, ")
    assert h.sim.stats["connections"] == 0


async def test_level_out_of_range_rejected_before_subscribing(make_harness):
    h = await make_harness(level=4, start=False)
    await h.feed.run()
    assert "valid levels are 0..3" in feed_error(h.feed)
    assert h.sim.stats["connections"] == 0


async def test_heartbeat_keeps_the_connection_past_many_pings(make_harness):
    h = await make_harness({"ping": "0.05", "pong_timeout": "0.5"})
    await h.pump(2)
    await wait_until(lambda: h.sim.stats["pongs"] >= 8, 10, "eight ping/pong rounds")
    assert h.sim.stats["connections"] == 1 and h.feed.reconnects == 0
    assert h.sim.stats["unsolicited_pongs"] == 0
    assert h.sim.stats["pongs"] <= h.sim.stats["pings"]
    await h.pump(2)
    assert h.stream.synced and h.stream.resyncs == 0


@pytest.mark.parametrize("api", ["v3", "v2"])
@pytest.mark.parametrize("numbers", ["exp", "json"])
async def test_exponent_forms_and_json_numbers_match_truth(make_harness, api, numbers):
    h = await make_harness({"numbers": numbers, "skip": "9"}, api=api)
    await h.pump(1)
    await h.pump(20)
    await h.settle()
    assert h.feed.bad_frames == 0 and h.stream.resyncs == h.sim.stats["skipped"] == 2
    assert assert_matches_truth(h.sim, h.recorder) >= 15


async def test_verification_requests_keep_to_the_rate_limit(make_harness):
    import time

    h = await make_harness({"rate": "50"}, verify=0.01, verify_lead=0.0, min_snapshot_interval=0.2)
    t0 = time.monotonic()
    await wait_until(lambda: h.feed._sync is not None and h.feed._sync.verified >= 3, 10,
                     "three verifications")
    elapsed = time.monotonic() - t0
    assert h.sim.stats["depth_requests"] <= elapsed / 0.2 + 2
