"""All number formatting lives here: JSON strings, screen columns, durations."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def dec_str(value: Decimal) -> str:
    """Normalised decimal text: no exponent, no trailing zeros ("0.25", "2000", "0")."""
    if not value:
        return "0"
    text = format(value.normalize(), "f")
    return text


def to_decimal(text: str | int) -> Decimal:
    """Parse exact decimal text; raise ValueError on anything not a finite number."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"not a decimal: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value


def float_to_decimal(value: float) -> Decimal:
    """The shortest decimal that round-trips the float (179.77, not 179.77000000000001)."""
    return Decimal(repr(value))


def decimals_of(value: Decimal) -> int:
    """Digits after the point of the normalised value."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def fixed(value: Decimal, places: int) -> str:
    """Exactly `places` decimals, for columns aligned on the point."""
    if places <= 0:
        return format(value, "f") if decimals_of(value) == 0 else dec_str(value)
    return format(value, f".{places}f")


def compact(value: Decimal) -> str:
    """Short human size: 1.23K, 4.5M; exact below 10,000."""
    magnitude = abs(value)
    for limit, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 4, "K")):
        if magnitude >= limit:
            scale = limit if suffix != "K" else Decimal(1000)
            return f"{(value / scale):.2f}{suffix}"
    return dec_str(value)


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f}s"
    return f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"


class DecimalCache:
    """Parse each distinct price once and hand back the same Decimal object.

    Books see the same few hundred prices over and over. A fresh Decimal computes its
    hash (a modular power, ~0.5 us) on every dict lookup; a reused one has it cached.
    Keys are the raw wire values (text, or floats for Futu); the cache is dropped
    whole when it grows past `limit`, which only costs re-parsing.
    """

    __slots__ = ("_parse", "_cache", "limit")

    def __init__(self, parse=to_decimal, limit: int = 65_536) -> None:
        self._parse = parse
        self._cache: dict = {}
        self.limit = limit

    def __call__(self, raw):
        try:
            return self._cache[raw]
        except KeyError:
            pass
        if len(self._cache) >= self.limit:
            self._cache.clear()
        value = self._cache[raw] = self._parse(raw)
        return value


# -- screen columns (the TUI) ------------------------------------------------------
def grouped(value: Decimal) -> str:
    """Normalised decimal with thousands separators: 12,300.5."""
    text = dec_str(value)
    if abs(value) < 1000:
        return text
    whole, dot, frac = text.partition(".")
    return f"{int(whole):,}" + dot + frac


def align_points(texts: list[str]) -> list[str]:
    """Pad decimal texts on the right so their points line up when right-aligned.

    "350.2", "12", "0.25" -> "350.2 ", "12   ", "0.25"; digits are never invented.
    """
    fracs = [len(t) - t.index(".") - 1 if "." in t else -1 for t in texts]
    widest = max(fracs, default=-1)
    return [t + " " * (widest - f) for t, f in zip(texts, fracs, strict=True)]


def prices_aligned(values: list[Decimal]) -> list[str]:
    """Prices with the same number of decimals (the finest shown), so points align."""
    places = max((decimals_of(v) for v in values), default=0)
    return [fixed(v, places) for v in values]


def signed(value: Decimal) -> str:
    """A delta: "+100", "-2.5", "0"."""
    if not value:
        return "0"
    return ("+" if value > 0 else "-") + grouped(abs(value))


def bps(value: Decimal | None) -> str:
    """Basis points with one decimal: "12.3"."""
    return "-" if value is None else f"{value:.1f}"


def pct(value: Decimal | float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    """An age: 0.12s, 3.4s, 2m05s."""
    if value is None:
        return "-"
    if value < 10:
        return f"{max(value, 0.0):.2f}s" if value < 1 else f"{value:.1f}s"
    if value < 60:
        return f"{value:.0f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def rate(value: float | None) -> str:
    """Messages per second: 12, 1.2K."""
    if value is None:
        return "-"
    return f"{value / 1000:.1f}K" if value >= 10_000 else f"{value:.0f}"


def fit_cells(text: str, width: int) -> str:
    """Crop or pad `text` to exactly `width` terminal cells (CJK counts double)."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


# -- numbers that follow the instrument (the TUI) -------------------------------------
def at_least(value: Decimal, places: int) -> str:
    """Exact, with at least `places` decimals: a mid between ticks keeps its half tick."""
    return fixed(value, max(places, decimals_of(value)))


def grouped_places(value: Decimal, places: int) -> str:
    """Rounded (half even) to exactly `places` decimals, with thousands separators."""
    quantum = Decimal(1).scaleb(-places) if places > 0 else Decimal(1)
    text = fixed(value.quantize(quantum), places)
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def bps_precise(value: Decimal | None) -> str:
    """Basis points with two significant digits below 1 (never "0.0" for a real gap)."""
    if value is None:
        return "-"
    if not value:
        return "0"
    places = max(1, -value.adjusted() + 1)
    return f"{value:.{places}f}"


def fit_parts(parts: list[str], width: int) -> list[str]:
    """The leading parts that fit in `width` cells whole (a number is never cut)."""
    from rich.cells import cell_len

    out, used = [], 0
    for part in parts:
        size = cell_len(part)
        if used + size > width:
            break
        out.append(part)
        used += size
    return out
