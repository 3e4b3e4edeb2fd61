"""The heatmap's cells: colour levels, the theme palette, and runs of cells as segments.

Kept apart from the widget (`obview/tui/heatmap.py`) because it is the part that must be
fast and exact about cell counts; docs/heatmap.md describes the encoding: a terminal
cell is one byte, upper price row's level * 16 + lower row's level, drawn with ▀.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby

from rich.color import Color, ColorSystem, blend_rgb
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

LEVELS = 15  # colour steps for a non-empty cell (0 = nothing resting): fits a nibble
HALF = "▀"  # fg paints the upper price row, bg the lower


def segments_of(codes: bytes, palette: Palette) -> list[Segment]:
    """One segment per run of equal cells."""
    cells = palette.cells
    out = []
    for code, run in groupby(codes):
        text, style = cells[code]
        out.append(Segment(text * sum(1 for _ in run), style))
    return out


def trim_left(segments: list[Segment], cells: int) -> None:
    while cells > 0 and segments:
        first = segments[0]
        if len(first.text) <= cells:
            cells -= len(first.text)
            del segments[0]
        else:
            segments[0] = Segment(first.text[cells:], first.style)
            cells = 0


def splice(segments: list[Segment], overlay: dict[int, tuple[str, Style]]) -> list[Segment]:
    """Put single cells (glyphs) at their x, splitting the segments they fall in: one
    pass over the line whatever the number of glyphs."""
    out: list[Segment] = []
    xs = sorted(overlay)
    next_x = xs[0]
    pending = 0
    at = 0
    for segment in segments:
        text, size = segment.text, len(segment.text)
        end = at + size
        if next_x >= end:
            out.append(segment)
            at = end
            continue
        start = 0
        while next_x < end:
            cut = next_x - at
            if cut > start:
                out.append(Segment(text[start:cut], segment.style))
            out.append(Segment(*overlay[next_x]))
            start = cut + 1
            pending += 1
            next_x = xs[pending] if pending < len(xs) else 1 << 60
        if start < size:
            out.append(Segment(text[start:], segment.style))
        at = end
    return out


class LevelScale:
    """Units -> colour level 1..LEVELS on a log scale from `lo` to `hi` (float only here,
    for the colour: the stored sizes stay integers)."""

    __slots__ = ("lo", "span", "cache")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo = math.log(lo)
        self.span = math.log(hi) - self.lo
        self.cache: dict[int, int] = {}

    def __call__(self, units: int) -> int:
        level = self.cache.get(units)
        if level is None:
            if units <= 0:
                return 0
            share = (math.log(units) - self.lo) / self.span if self.span else 1.0
            level = self.cache[units] = max(1, min(LEVELS, 1 + int(share * LEVELS)))
        return level


def column_codes(sums: dict[int, int], top_row: int, body: int, levels: LevelScale) -> bytes:
    """One byte per terminal row: the upper price row's level * 16 + the lower's."""
    out = bytearray(body)
    rows = body * 2
    for row, units in sums.items():
        offset = top_row - row
        if 0 <= offset < rows and units > 0:
            level = levels(units)
            out[offset >> 1] |= level if offset & 1 else level << 4
    return bytes(out)


@dataclass(slots=True)
class Palette:
    background: Style
    swatches: list[Style]  # per level: a background colour
    cells: list[tuple[str, Style]]  # per code (upper * 16 + lower): text and style
    buy: Style
    sell: Style
    crosshair: Style
    axis: Style
    title: Style
    readout: Style

    @property
    def plain_rgb(self) -> bool:
        """Every style is RGB colours and nothing dim: Textual's ANSI-to-truecolor line
        filter would hand each segment back as it is (see HeatmapView.get_line_filters)."""
        styles = [self.background, *self.swatches, *(style for _, style in self.cells),
                  self.buy, self.sell, self.crosshair, self.axis, self.title, self.readout]
        return all(_rgb_only(style) for style in set(styles))

    @classmethod
    def build(cls, *, background: Color, low: Style, mid: Style, high: Style, buy: Style, sell: Style,
              crosshair: Style, axis: Style, title: Style, readout: Style,
              truecolor: bool) -> Palette:
        bg = background.get_truecolor()
        stops = [_rgb(low, bg), _rgb(mid, bg), _rgb(high, bg)]
        colours = [_colour(bg, truecolor)]
        for level in range(1, LEVELS + 1):
            # low -> mid -> high: a two-leg ramp keeps the middle from turning grey
            where = (level - 1) / (LEVELS - 1) * 2
            leg = min(1, int(where))
            colours.append(_colour(blend_rgb(stops[leg], stops[leg + 1], where - leg), truecolor))
        swatches = [Style(bgcolor=colour) for colour in colours]
        cells = []
        for code in range(256):
            upper, lower = code >> 4, code & 15
            if upper > LEVELS or lower > LEVELS:
                cells.append((" ", swatches[0]))
            elif upper == lower:
                cells.append((" ", swatches[upper]))
            else:
                cells.append((HALF, Style(color=colours[upper], bgcolor=colours[lower])))
        background_style = Style(bgcolor=colours[0])
        return cls(background_style, swatches, cells,
                   Style(color=buy.color, bgcolor=colours[0], bold=True),
                   Style(color=sell.color, bgcolor=colours[0], bold=True),
                   crosshair, axis + background_style,
                   title + background_style, readout)


def _rgb_only(style: Style) -> bool:
    return (not style.dim and (style.color is None or style.color.triplet is not None)
            and (style.bgcolor is None or style.bgcolor.triplet is not None))


def _rgb(style: Style, background: ColorTriplet) -> ColorTriplet:
    return style.color.get_truecolor() if style.color is not None else background


def _colour(triplet: ColorTriplet, truecolor: bool) -> Color:
    colour = Color.from_triplet(triplet)
    if truecolor:
        return colour
    reduced = colour.downgrade(ColorSystem.EIGHT_BIT)
    if reduced.number is not None and reduced.number >= 16:
        # one of the 240 fixed colours: held as its RGB, which is what Textual's
        # ANSI-to-truecolor filter would turn it into on every frame
        return Color.from_triplet(reduced.get_truecolor())
    return reduced
