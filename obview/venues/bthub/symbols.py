"""bthub symbol names as listed by /api/v1/market/symbols: upper case, e.g. BTCUSDT."""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"^[A-Z0-9_]+$")


def check_symbol(text: str) -> str:
    symbol = text.strip().upper()
    if not _SYMBOL.match(symbol):
        raise ValueError(f"malformed symbol {text!r}: expected a name such as BTCUSDT")
    return symbol
