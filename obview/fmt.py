"""All number formatting lives here: JSON strings, screen columns, durations.

Nothing here rounds a figure silently: texts are built from a Decimal's own digits (no
arithmetic under the 28-digit default context), and a figure too long for its column is
shortened with a visible "…" (`fit_number`), never changed.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation

ELLIPSIS = "…"
_WIDE = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # normalize() under it drops zeros and never rounds
# Plain text of a number whose exponent is further out than this would be that long
# ("1e999999999" is 11 bytes on the wire, a gigabyte written out): such values keep
# their exact scientific form instead. No sane price or size comes near (uint256: 78).
PLAIN_LIMIT = 400


def dec_str(value: Decimal) -> str:
    """Normalised decimal text: no exponent, no trailing zeros ("0.25", "2000", "0").
    Exact for any number of digits (format "f" without a precision never rounds)."""
    if not value:
        return "0"
    if not -PLAIN_LIMIT <= value.adjusted() <= PLAIN_LIMIT:
        return str(value.normalize(_WIDE))  # exact, e.g. "1E+999999999"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
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
    """Digits after the point of the normalised value (trailing zeros do not count)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or not value:
        return 0
    places = -exponent
    index = len(digits) - 1
    while places and digits[index] == 0:
        places -= 1
        index -= 1
    return places


def fixed(value: Decimal, places: int) -> str:
    """Exactly `places` decimals, for columns aligned on the point."""
    if places > PLAIN_LIMIT or not -PLAIN_LIMIT <= value.adjusted() <= PLAIN_LIMIT:
        return dec_str(value)  # absurd: never written out in full
    if places <= 0:
        return format(value, "f") if decimals_of(value) == 0 else dec_str(value)
    return format(value, f".{places}f")


def fit_number(text: str, width: int) -> str:
    """A number's exact text if it fits in `width` cells, else visibly abbreviated: the
    fraction cut with "…" ("0.12345…"), or a mantissa and exponent ("1.1579…e77") when
    the whole part alone is too wide, so the magnitude stays right."""
    if len(text) <= width:
        return text
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-")
    whole, _, frac = digits.partition(".")
    keep = width - len(sign) - len(whole) - 2  # room for "." and "…"
    if frac and keep >= 0 and (whole.strip("0") or frac[:keep].strip("0")):
        return f"{sign}{whole}.{frac[:keep]}{ELLIPSIS}" if keep else f"{sign}{whole}{ELLIPSIS}"
    if whole.strip("0"):
        exponent = len(whole.lstrip("0")) - 1
        mantissa = whole.lstrip("0") + frac
    else:  # 0.000…: the exponent is negative
        lead = len(frac) - len(frac.lstrip("0"))
        exponent = -(lead + 1)
        mantissa = frac[lead:]
    tail = f"e{exponent}"
    room = width - len(sign) - len(tail) - 1  # the "…"
    if room < 1:
        return (sign + ELLIPSIS)[:max(width, 1)]
    body = mantissa[0] + ("." + mantissa[1:room - 1] if room > 2 else "")
    return f"{sign}{body}{ELLIPSIS}{tail}"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f}s"
    return f"{value:.1f}ms" if value < 100 else f"{value:.0f}ms"


CACHE_LIMIT = 65_536  # entries per parse cache: a few MB at most, whatever a server sends


class BoundedCache(dict):
    """A dict for caches keyed by server values, with the one bounding policy every venue
    shares: when an insert would pass `limit` entries, everything is dropped first.

    Dropping all at once costs only re-parsing and keeps reads plain C dict lookups
    (`get`, `[]`), which an LRU would not. Insert with `cache[key] = value`;
    `setdefault` and `update` bypass the bound and must not be used.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        if len(self) >= self.limit:
            self.clear()
        dict.__setitem__(self, key, value)


_TEXTS = BoundedCache()


def dec_text(value: Decimal) -> str:
    """`dec_str(value)`, remembered: headless prints every level of every push (100 codes
    at 10 pushes/s with queues is over 100,000 figures a second, and formatting them was
    half its CPU), and books repeat their prices and sizes. The text depends on the value
    alone (1.0 and 1.00 are equal and print alike), so keying by value is exact."""
    try:
        text = _TEXTS.get(value)
    except TypeError:  # a signalling NaN has no hash (books hold none: checked on entry)
        return dec_str(value)
    if text is None:
        text = _TEXTS[value] = dec_str(value)
    return text


class DecimalCache:
    """Parse each distinct price once and hand back the same Decimal object.

    Books see the same few hundred prices over and over. A fresh Decimal computes its
    hash (a modular power, ~0.5 us) on every dict lookup; a reused one has it cached.
    Keys are the raw wire values (text, or floats for Futu), held in a `BoundedCache`.
    """

    __slots__ = ("_parse", "_cache")

    def __init__(self, parse=to_decimal, limit: int = CACHE_LIMIT) -> None:
        self._parse = parse
        self._cache = BoundedCache(limit)

    @property
    def limit(self) -> int:
        return self._cache.limit

    def __len__(self) -> int:
        return len(self._cache)

    def __call__(self, raw):
        try:
            return self._cache[raw]
        except KeyError:
            pass
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


def _fraction_digits(text: str) -> int:
    """Digits after the point of a decimal text; -1 when it has no point."""
    return len(text) - text.index(".") - 1 if "." in text else -1


def point_padded(text: str, places: int) -> str:
    """A decimal text padded on the right so that, right-aligned, its point lines up
    with texts of `places` decimals: "12" -> "12   " for 2. Digits are never invented."""
    return text + " " * ((places if places > 0 else -1) - _fraction_digits(text))


def align_points(texts: list[str]) -> list[str]:
    """Pad decimal texts on the right so their points line up when right-aligned.

    "350.2", "12", "0.25" -> "350.2 ", "12   ", "0.25"; digits are never invented.
    """
    widest = max(map(_fraction_digits, texts), default=-1)
    return [point_padded(t, widest) for t in texts]


def figure_column(texts: list[str], header: str = "", *, points: bool = True) -> list[str]:
    """A table column's figures as cells of one width (at least the header's), flush right,
    their points lined up (`points=False`: texts already lined up, only made one width).
    Shown as they are, never right-justified again: a right-justified cell drops its
    trailing blanks (Rich's does), and with them the padding that lines the points up."""
    if points:
        texts = align_points(texts)
    width = max([len(header), *map(len, texts)])
    return [text.rjust(width) for text in texts]


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


def id_tail(text: str, keep: int) -> str:
    """An id cut to its last `keep` characters after an ellipsis ("…27487375"): ids of
    one venue share their leading digits and differ at the end. Shorter ones stay whole."""
    return text if len(text) <= keep + 1 else ELLIPSIS + text[-keep:]


def clock(epoch_s: float, tenths: bool = False, utc: bool = False) -> str:
    """Time of day: "14:03:22", or "14:03:22.4" with tenths (local time unless utc)."""
    import time as _time

    stamp = (_time.gmtime if utc else _time.localtime)(int(epoch_s))
    text = _time.strftime("%H:%M:%S", stamp)
    return f"{text}.{int(epoch_s * 10) % 10}" if tenths else text


# -- numbers that follow the instrument (the TUI) -------------------------------------
def at_least(value: Decimal, places: int) -> str:
    """Exact, with at least `places` decimals: a mid between ticks keeps its half tick."""
    return fixed(value, max(places, decimals_of(value)))


def rounded(value: Decimal, places: int) -> str:
    """Rounded (half even) to exactly `places` decimals, written as a price is (no
    separators): a quotient such as a VWAP, beside the exact prices it averages."""
    quantum = Decimal(1).scaleb(-places) if places > 0 else Decimal(1)
    return fixed(value.quantize(quantum), places)


def grouped_places(value: Decimal, places: int) -> str:
    """Rounded (half even) to exactly `places` decimals, with thousands separators."""
    text = rounded(value, places)
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


def progress_bar(fraction: float, width: int = 12) -> str:
    """`fraction` (0 to 1) as `width` cells: "████░░░░░░░░"."""
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


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
