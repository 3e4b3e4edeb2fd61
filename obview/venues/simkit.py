"""What every venue simulator shares: fault switches, JSON replies, the market clock.

Fault switches arrive as text (`--fault NAME[=VALUE]`); `check_faults` refuses unknown
names, a switch that needs a value given bare, and bad numbers before anything starts,
and the typed getters read them with one error style. `json_response` is a complete REST reply for a `websockets` server's
`process_request`. `ticks` is the market clock: it fires at start + n*period, so the rate
does not drift with the work done per tick, and after a stall it skips the ticks it
missed instead of firing them in a burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from http import HTTPStatus
from typing import Any

import msgspec
from websockets.datastructures import Headers
from websockets.http11 import Response

_encode = msgspec.json.Encoder().encode


# -- fault switches ---------------------------------------------------------------------
FAULTS_TABLE = 'the README, "Simulators and fault switches"'


def check_faults(venue: str, faults: dict[str, str], known: set[str],
                 numeric: dict[str, str] | None = None, flags: Iterable[str] = (),
                 values: dict[str, str] | None = None) -> None:
    """Refuse simulator fault switches the venue's simulator does not have, switches
    that take a value given without one, and values that are not what it declares in
    `numeric` (name -> "int" or "number"): those must be finite and non-negative.

    Only the names in `flags` are on/off switches, given bare and never with a value;
    every other switch needs its value (`malformed` alone used to leave the default,
    off, in silence, and `truth=0` switched truth on).
    `values` says what a switch's value is (name -> "malformed=N, ..."), for the error.
    Raises ValueError with one line (the CLI shows it as a usage error)."""
    unknown = sorted(set(faults) - known)
    if unknown:
        raise ValueError(f"unknown {venue} simulator fault {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
    flags = set(flags)
    for name in sorted(faults):
        given = faults[name].strip()
        if name in flags and given:
            # `truth=0` read as "off" would be a guess, and "on" a surprise: refused
            raise ValueError(f"{venue} simulator fault {name!r} is an on/off switch: give it "
                             f"bare (--fault {name}), without ={given}; leave it out for off")
        if name not in flags and not given:
            form = (values or {}).get(name, f"{name}=VALUE")
            raise ValueError(f"{venue} simulator fault {name!r} needs a value: {form}; "
                             f"see {FAULTS_TABLE}")
    for name, kind in (numeric or {}).items():
        text = faults.get(name, "").strip()
        if not text:
            continue
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            want = "a whole number" if kind == "int" else "a number"
            raise ValueError(f"bad {venue} simulator fault {name}={text!r}: expected {want}") from None
        if not 0 <= value < float("inf"):  # NaN fails too
            raise ValueError(f"bad {venue} simulator fault {name}={text!r}: "
                             "must be a finite number >= 0")


def _bad(venue: str, name: str, text: str, want: str) -> ValueError:
    return ValueError(f"bad {venue} simulator fault {name}={text!r}: expected {want}")


def fault_int(venue: str, faults: dict[str, str], name: str, default: Any) -> Any:
    """A whole-number switch: `default` when absent. (Given without a value it was
    refused by `check_faults`; here an empty value is just not a number.)"""
    return _fault_value(venue, faults, name, default, int, "a whole number")


def fault_number(venue: str, faults: dict[str, str], name: str, default: Any) -> Any:
    """A number switch (float: a rate or a duration in seconds, not a price)."""
    return _fault_value(venue, faults, name, default, float, "a number")


def _fault_value(venue: str, faults: dict[str, str], name: str, default: Any,
                 convert: Callable[[str], Any], expected: str) -> Any:
    if name not in faults:
        return default
    text = faults[name].strip()
    try:
        return convert(text)
    except ValueError:
        raise _bad(venue, name, text, expected) from None


def fault_flag(faults: dict[str, str], name: str) -> bool:
    """A switch that is on when given, whatever its value."""
    return name in faults


def fault_choice(venue: str, faults: dict[str, str], name: str, choices: Iterable[str],
                 default: str) -> str:
    """One of `choices`: `default` when absent."""
    choices = tuple(choices)
    if name not in faults:
        return default
    text = faults[name].strip()
    if text not in choices:
        raise _bad(venue, name, text, " or ".join(choices))
    return text


# -- REST replies -----------------------------------------------------------------------
def json_response(status: int, payload: Any,
                  encode: Callable[[Any], bytes] = _encode) -> Response:
    """A whole HTTP reply with a JSON body; the connection closes after it, as each
    simulator serves one request per connection."""
    body = encode(payload)
    headers = Headers([
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ])
    return Response(int(status), HTTPStatus(status).phrase, headers, body)


# -- the market clock -------------------------------------------------------------------
async def ticks(period: float) -> AsyncIterator[int]:
    """Yield tick numbers at start + n*period. Time spent between ticks (the caller's
    work, a stalled loop) does not shift later ticks; ticks whose time has already
    passed are skipped, so a stall is never followed by a burst."""
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        delay = start + n * period - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            n += int(-delay // period)  # fire once now, drop the rest of what was missed
            # and still give the loop its turn: behind for good (a rate of 1e9, a slow
            # machine), a caller with nothing to await would hold it, and with it every
            # other task and Ctrl-C
            await asyncio.sleep(0)
        yield n
