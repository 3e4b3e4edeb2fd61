"""Futu code strings: `MARKET.code`, split at the first dot (docs/futu.md "Code strings")."""

from __future__ import annotations

MARKETS: dict[str, int] = {
    "HK": 1,
    "HK_FUTURE": 2,
    "US": 11,
    "SH": 21,
    "SZ": 22,
    "SG": 31,
    "JP": 41,
    "AU": 51,
    "MY": 61,
    "CA": 71,
    "FX": 81,
    "CC": 91,
    "EC": 101,
}
MARKET_NAMES: dict[int, str] = {number: name for name, number in MARKETS.items()}


def split_code(text: str) -> tuple[int, str]:
    """`HK.00700` -> (1, "00700"); `US..DJI` -> (11, ".DJI"). ValueError if malformed."""
    prefix, dot, code = text.partition(".")
    if not dot or not code or not prefix:
        raise ValueError(
            f"malformed code {text!r}: expected MARKET.CODE such as HK.00700 or US.AAPL"
        )
    market = MARKETS.get(prefix.upper())
    if market is None:
        raise ValueError(
            f"unknown market {prefix!r} in {text!r} (markets: {', '.join(MARKETS)})"
        )
    if any(ch.isspace() for ch in code):
        raise ValueError(f"malformed code {text!r}: no spaces allowed")
    # Codes are ASCII (00700, AAPL, BRK.B, .DJI): fullwidth digits or an emoji only failed
    # at OpenD, as a runtime error, and a control character reached the terminal raw
    if not (code.isascii() and code.isprintable()):
        raise ValueError(f"malformed code {text!r}: codes are ASCII letters, digits and dots")
    return market, code


def join_code(market: int, code: str) -> str:
    return f"{MARKET_NAMES.get(market, 'N/A')}.{code}"


def check_symbol(text: str) -> str:
    market, code = split_code(text.strip())
    return join_code(market, code)


# Codes offered by shell completion: well-known listings (the simulator's catalogue). Static
# on purpose: completion must answer at once, without a gateway.
KNOWN_SYMBOLS = ("HK.00700", "HK.09988", "HK.00005", "HK.03690", "US.AAPL", "US.TSLA",
                 "SH.600519", "SZ.000001")


def known_symbols() -> tuple[str, ...]:
    return KNOWN_SYMBOLS
