"""The shared simulator toolkit: fault getters, JSON replies, the market clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from obview.venues.simkit import (
    check_faults,
    fault_choice,
    fault_flag,
    fault_int,
    fault_number,
    json_response,
    ticks,
)


def test_getters_default_bare_and_value():
    faults = {"a": "3", "b": "", "c": " 2.5 "}
    assert fault_int("x", faults, "a", 0) == 3
    assert fault_int("x", faults, "b", 7) == 7  # empty leaves the default
    assert fault_int("x", faults, "b", 7, bare=1) == 1
    assert fault_int("x", faults, "missing", None, bare=1) is None
    assert fault_number("x", faults, "c", 0.0) == 2.5
    assert fault_flag(faults, "b") and not fault_flag(faults, "missing")
    assert fault_choice("x", {"n": "exp"}, "n", ("text", "exp"), "text") == "exp"
    assert fault_choice("x", {"n": ""}, "n", ("text", "exp"), "text", bare="exp") == "exp"


def test_getters_one_error_style():
    with pytest.raises(ValueError, match=r"^bad x simulator fault a='z': expected a whole number$"):
        fault_int("x", {"a": "z"}, "a", 0)
    with pytest.raises(ValueError, match=r"^bad x simulator fault a='z': expected a number$"):
        fault_number("x", {"a": "z"}, "a", 0.0)
    with pytest.raises(ValueError, match=r"^bad x simulator fault n='hex': expected text or exp$"):
        fault_choice("x", {"n": "hex"}, "n", ("text", "exp"), "text")
    with pytest.raises(ValueError, match=r"^bad x simulator fault a='-1': must be"):
        check_faults("x", {"a": "-1"}, {"a"}, {"a": "int"})
    with pytest.raises(ValueError, match=r"^unknown x simulator fault b"):
        check_faults("x", {"b": ""}, {"a"})


def test_json_response_is_a_whole_reply():
    response = json_response(429, {"error": "slow down"})
    assert (response.status_code, response.reason_phrase) == (429, "Too Many Requests")
    assert response.body == b'{"error":"slow down"}'
    assert response.headers["Content-Length"] == str(len(response.body))
    assert response.headers["Connection"] == "close"


def test_ticks_keep_the_grid_and_skip_missed_ticks():
    period = 0.05

    async def run() -> list[tuple[int, float]]:
        seen: list[tuple[int, float]] = []
        start = time.monotonic()
        async for n in ticks(period):
            seen.append((n, time.monotonic() - start))
            if len(seen) == 1:
                time.sleep(period * 5)  # the stall under test: a loop blocked by slow work
            if len(seen) == 3:
                return seen
        return seen

    seen = asyncio.run(run())
    (n1, _), (n2, _), (n3, t3) = seen
    assert n1 == 1
    assert n2 >= 5  # the ticks missed during the stall are dropped, not fired in a burst
    assert n3 > n2
    assert t3 >= n3 * period - 0.005  # never early: tick n is due at start + n*period


async def test_ticks_behind_schedule_still_give_the_loop_a_turn():
    """A rate the machine cannot keep (`--fault rate=1e9`) put every tick behind: the
    ticker never awaited, so nothing else ran, a `--count 3` never ended, and Ctrl-C
    did nothing."""
    waiting = asyncio.Event()
    asyncio.get_running_loop().call_soon(waiting.set)  # another task's turn
    seen = 0
    async for _ in ticks(1e-9):
        seen += 1
        if waiting.is_set() or seen > 10_000:
            break
    assert waiting.is_set() and seen < 10
