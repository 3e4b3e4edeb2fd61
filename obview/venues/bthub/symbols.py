"""bthub symbol names as listed by /api/v1/market/symbols: upper case, e.g. BTCUSDT."""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"^[A-Z0-9_]+$")


def check_symbol(text: str) -> str:
    symbol = text.strip().upper()
    if not _SYMBOL.match(symbol):
        raise ValueError(f"malformed symbol {text!r}: expected a name such as BTCUSDT")
    return symbol


# Symbols offered by shell completion (what the simulator quotes); a hub's own list needs a
# login, which completion must not make.
KNOWN_SYMBOLS = ("BTCUSDT", "ETHUSDT")


def known_symbols() -> tuple[str, ...]:
    return KNOWN_SYMBOLS
