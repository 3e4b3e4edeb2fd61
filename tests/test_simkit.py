"""The shared simulator toolkit: fault getters, JSON replies, the market clock."""

from __future__ import annotations

import asyncio
import importlib
import re
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


def test_getters_default_and_value():
    faults = {"a": "3", "b": "", "c": " 2.5 "}
    assert fault_int("x", faults, "a", 0) == 3
    assert fault_int("x", faults, "missing", None) is None
    assert fault_number("x", faults, "c", 0.0) == 2.5
    assert fault_flag(faults, "b") and not fault_flag(faults, "missing")
    assert fault_choice("x", {"n": "exp"}, "n", ("text", "exp"), "text") == "exp"
    assert fault_choice("x", {}, "n", ("text", "exp"), "text") == "text"


def test_a_switch_that_needs_a_value_is_refused_bare():
    """`--fault malformed` (no `=N`) left the simulator's default, off, in silence: the
    user asked for a fault and got none. Only the declared flags stand alone."""
    values = {"a": "a=N, every N-th push broken"}
    check_faults("x", {"f": "", "a": "2"}, {"a", "f"}, {"a": "int"}, {"f"}, values)
    for bare in ("", "  "):
        with pytest.raises(ValueError, match=r"^x simulator fault 'a' needs a value: "
                                             r"a=N, every N-th push broken; see the README"):
            check_faults("x", {"a": bare}, {"a", "f"}, {"a": "int"}, {"f"}, values)
    with pytest.raises(ValueError, match=r"^x simulator fault 'k' needs a value: k=VALUE"):
        check_faults("x", {"k": ""}, {"k"})  # not declared a flag: it needs a value


@pytest.mark.parametrize("value", ["0", "1", "off", "false"])
def test_an_on_off_switch_given_a_value_is_refused(value):
    """`--fault truth=0` switched truth on: a flag is on when named, so a value is
    refused rather than read one way or the other."""
    with pytest.raises(ValueError, match=rf"^x simulator fault 'f' is an on/off switch: give "
                                         rf"it bare \(--fault f\), without ={value}; leave"):
        check_faults("x", {"f": value}, {"f"}, None, {"f"})


@pytest.mark.parametrize(("venue", "flags"), [
    ("futu", {"notify", "unknown_push", "any_code", "aes_ecb"}),
    ("loopring", {"reject_sub", "truth"}),
    ("bthub", {"reject_login", "no_symbols"}),
])
def test_each_simulator_says_its_flags_and_what_each_value_is(venue, flags):
    sim = importlib.import_module(f"obview.venues.{venue}.sim")
    assert sim.FLAG_FAULTS == flags  # the README's switches shown without `=`
    assert sim.KNOWN_FAULTS == flags | set(sim.FAULT_VALUES)
    assert set(sim.NUMERIC_FAULTS) <= set(sim.FAULT_VALUES)
    for name, form in sim.FAULT_VALUES.items():
        assert form.startswith(f"{name}="), form
        with pytest.raises(ValueError, match=f"needs a value: {re.escape(form)}"):
            check_faults(venue, {name: ""}, sim.KNOWN_FAULTS, sim.NUMERIC_FAULTS,
                         sim.FLAG_FAULTS, sim.FAULT_VALUES)
    check_faults(venue, dict.fromkeys(flags, ""), sim.KNOWN_FAULTS, sim.NUMERIC_FAULTS,
                 sim.FLAG_FAULTS, sim.FAULT_VALUES)


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
