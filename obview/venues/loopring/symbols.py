"""Loopring market names: `BASE-QUOTE` (e.g. LRC-ETH). Existence is checked against
`/exchange/markets` once connected; here only the shape."""

from __future__ import annotations

import re

_MARKET = re.compile(r"^[A-Z0-9]+-[A-Z0-9]+$")


def check_symbol(text: str) -> str:
    market = text.strip().upper()
    if not _MARKET.match(market):
        raise ValueError(f"malformed market {text!r}: expected BASE-QUOTE such as LRC-ETH")
    return market
