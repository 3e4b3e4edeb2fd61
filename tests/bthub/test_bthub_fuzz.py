"""Seeded fuzzing over a real loopback WebSocket (tests/bthub/fuzz.py): no exception
escapes, every bad frame is counted, every kept book is the last valid state sent, and
memory stays bounded. `python -m tests.bthub.fuzz --frames 100000` runs a long one."""

from __future__ import annotations

import pytest

from tests.bthub.fuzz import check, make_frames, run_fuzz


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fuzzed_frames_are_counted_or_applied_exactly(seed):
    outcome = await run_fuzz(seed, 2500, timeout=60)
    assert check(outcome) == []
    assert outcome.oracle.bad > 500 and len(outcome.oracle.books) == 4
    assert outcome.rss_after - outcome.rss_before < 100


def test_the_generator_is_seeded():
    assert make_frames(5, 300) == make_frames(5, 300)
    assert make_frames(5, 300)[0] != make_frames(6, 300)[0]
