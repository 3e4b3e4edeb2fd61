"""Exact reading of the numbers a Loopring relayer writes (docs/loopring.md, "Numbers").

A value arrives as JSON text ("0.2501"), as a JSON integer, or as a JSON number with a
fraction or exponent; the decoders hand the last kind over as `JsonNumber` (its source
text, never a float), so every rule below works on text and nothing is ever rounded.

- price: a plain decimal ("0.25", "25") or exponent form ("4.1E-9"), finite and > 0,
  within `PRICE_EXPONENT` decades of 1 and at most `PRICE_DIGITS` significant digits;
  keyed by numeric value ("0.2500" and "0.25" are one level).
- size (base-token smallest units): a non-negative integer; exponent form only
  when it denotes an exact integer ("1.5E3" is 1500, "5E-1" and "7.0" are bad).
- version and order count: plain non-negative integers only ("7.0", "1e3" are bad).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

# Wide enough that no integer amount is ever rounded (uint256 has 78 digits).
EXACT = Context(prec=200, Emax=10**6, Emin=-(10**6))
PRICE_DIGITS = 40
PRICE_EXPONENT = 40
# A token amount is at most a uint256 (78 digits; Loopring's own are uint96).
MAX_UNITS_DIGITS = 78
# Versions and order counts: Python refuses int() of longer digit strings anyway.
MAX_INTEGER_DIGITS = 4300

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_EXPONENT = re.compile(r"[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+")


class BadNumber(ValueError):
    """A value that is not a number of the kind its field needs."""


class JsonNumber(str):
    """The source text of a JSON number with a fraction or exponent (a `float_hook`)."""

    __slots__ = ()


def _text(value: object, what: str) -> str:
    if type(value) is not str and type(value) is not JsonNumber:
        raise BadNumber(f"bad {what} {value!r}")
    if not value.isascii():
        raise BadNumber(f"bad {what} {value!r}")
    return value  # type: ignore[return-value]


def plain_integer(value: object, what: str) -> int:
    """A version or an order count: a JSON integer or a digit string, >= 0."""
    if type(value) is int:
        if value < 0:
            raise BadNumber(f"negative {what} {value}")
        return value
    text = _text(value, what)
    if type(value) is JsonNumber or not text.isdigit():
        raise BadNumber(f"bad {what} {value!r}")
    try:
        return int(text)
    except ValueError:
        raise BadNumber(f"{what} too long") from None


def units(value: object, what: str = "size") -> int:
    """A token amount in smallest units: a non-negative integer, exactly."""
    if type(value) is int:
        if not 0 <= value < 10**MAX_UNITS_DIGITS:
            raise BadNumber(f"{what} {value} out of range")
        return value
    text = _text(value, what)
    if text.isdigit():
        number = int(text) if len(text) <= MAX_UNITS_DIGITS else -1
    elif _EXPONENT.fullmatch(text):
        exact = Decimal(text)
        if exact.adjusted() >= MAX_UNITS_DIGITS:
            raise BadNumber(f"{what} beyond 78 digits")
        if exact != exact.to_integral_value(context=EXACT):
            raise BadNumber(f"bad {what} {text!r}: not a whole number of base units")
        number = int(exact)
    else:
        raise BadNumber(f"bad {what} {text!r}: not a whole number of base units")
    if not 0 <= number < 10**MAX_UNITS_DIGITS:
        raise BadNumber(f"{what} beyond 78 digits")
    return number


def price(value: object) -> Decimal:
    """A price: positive, finite, plain or exponent form; normalised (exact)."""
    if type(value) is int:
        text = str(value)
    else:
        text = _text(value, "price")
        if not _DECIMAL.fullmatch(text):
            raise BadNumber(f"bad price {text!r}")
    try:
        number = Decimal(text)
        if not number:
            raise BadNumber(f"zero price {text!r}")
        if abs(number.adjusted()) > PRICE_EXPONENT:
            raise BadNumber(f"price {text!r} out of range")
        number = number.normalize(EXACT)
    except InvalidOperation:
        raise BadNumber(f"bad price {text!r}") from None
    if len(number.as_tuple().digits) > PRICE_DIGITS:
        raise BadNumber(f"price {text!r} has more than {PRICE_DIGITS} digits")
    return number


def is_scalar(value: object) -> bool:
    """The slot's quote amount ("volume") is not used: it must only be a string or number."""
    return type(value) is str or type(value) is JsonNumber or type(value) is int
