"""5,000 seeded hostile frames through a real loopback socket (more on demand:
`python -m tests.futu.fuzz --frames 100000`)."""

from __future__ import annotations

import logging

import pytest

from tests.futu.fuzz import check, run_fuzz


@pytest.mark.parametrize("seed", [11])
async def test_fuzzed_pushes_never_escape_and_the_book_is_always_the_last_valid_one(seed, caplog):
    caplog.set_level(logging.ERROR, logger="obview")
    report = await run_fuzz(5000, seed)
    check(report)
    assert report.frames >= 5000 and report.valid > 1000 and report.bad > 1000
    assert report.framing > 0 and report.reconnects > 0 and report.states_checked > 500
