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


# Markets offered by shell completion (the simulator's and the relayer's main ones); the live
# list needs a network call, which completion must not make.
KNOWN_SYMBOLS = ("LRC-ETH", "LRC-USDT", "ETH-USDT", "WBTC-ETH")


def known_symbols() -> tuple[str, ...]:
    return KNOWN_SYMBOLS
