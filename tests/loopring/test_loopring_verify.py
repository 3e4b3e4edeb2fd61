"""Verification: every `verify` seconds the book is compared with a REST snapshot at the
snapshot's version (docs/loopring.md, "Verification"), over loopback against the sim."""

from __future__ import annotations

import json
import logging

from tests.conftest import run_obview, wait_until
from tests.loopring.conftest import assert_matches_truth


async def pump_until(h, predicate, what: str, limit: int = 400) -> None:
    for _ in range(limit):
        if predicate():
            return
        await h.pump(1, synced=False)
    raise AssertionError(f"no {what} after {limit} pushes")


async def test_clean_book_is_verified_and_stays_exact(make_harness):
    h = await make_harness(api="v3", verify=0.05, verify_lead=0.0)
    await h.pump(2)
    await pump_until(h, lambda: h.feed._sync.verified >= 3, "three verifications")
    assert h.stream.extra["verified_at"] is not None and h.stream.extra["verify_mismatches"] == 0
    assert h.feed.bad_frames == 0 and h.stream.resyncs == 0
    assert assert_matches_truth(h.sim, h.recorder)


async def test_book_that_drifted_is_caught_counted_logged_and_resynced(make_harness, caplog):
    caplog.set_level(logging.WARNING, logger="obview.loopring")
    # every 7th push leaves a changed slot out: versions stay contiguous, so only the
    # comparison with a snapshot can see that the local book went wrong
    h = await make_harness({"lose_slot": "7"}, api="v3", verify=0.05, verify_lead=0.0)
    await h.pump(2)
    await pump_until(h, lambda: h.stream.extra["verify_mismatches"] >= 2, "two mismatches")
    assert h.feed._sync.mismatches == h.stream.extra["verify_mismatches"]
    assert h.stream.resyncs >= 2 and h.feed.bad_frames >= 2
    lines = [r.getMessage() for r in caplog.records if "verification mismatch" in r.getMessage()]
    assert lines and " row " in lines[0] and "local " in lines[0] and "venue " in lines[0]
    # after the resync the book is the venue's again (until the next lost slot)
    mismatches = h.stream.extra["verify_mismatches"]
    await wait_until(lambda: h.stream.synced, 5, "the resync")
    assert h.stream.extra["verify_mismatches"] == mismatches


async def test_verify_off_makes_no_extra_requests(make_harness):
    h = await make_harness(verify=0)
    await h.pump(20)
    await h.settle()
    assert h.sim.stats["depth_requests"] == 1 and h.stream.extra["verified_at"] is None


def test_headless_lines_carry_verified_at():
    result = run_obview("loopring", "LRC-ETH", "--sim", "--verify", "0.1", "--stream", "json",
                        "--count", "40", "--timeout", "30")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all("verified_at" in line and line["verify_mismatches"] == 0 for line in lines)
    assert lines[-1]["verified_at"] is not None


def test_health_panel_text_for_verification():
    import time

    from obview.tui.panels import verification_text

    now = time.time()
    now_ms = int(now * 1000)
    assert verification_text({"verified_at": None, "verify_mismatches": 0}, now) == (
        "not verified yet", False)
    line, alarm = verification_text({"verified_at": now_ms - 12_000, "verify_mismatches": 0}, now)
    assert line == "verified 12 s ago" and not alarm
    line, alarm = verification_text({"verified_at": now_ms, "verify_mismatches": 2}, now)
    assert line.startswith("2 mismatches, verified ") and alarm
