"""The depth heatmap: time on x (newest at the right), price on y, colour = resting size.

Drawn with the Line API. What a cell means and how the model stores it: docs/heatmap.md.

Why it is cheap enough to redraw every frame: a closed time column never changes, so
its row sums and its colour codes (one byte per terminal row: upper level * 16 + lower
level, two price rows per cell with ▀) are computed once and kept while it is on
screen. A frame joins the columns' code bytes into one column-major matrix and slices
each terminal line out of it (`matrix[y::height]`, C speed); a line becomes one
`Segment` per run of equal cells, and lines are kept in an LRU cache keyed by their
content (rows with nothing resting are all alike). Only the open (newest) column is
recomputed per frame.

Colours come from the theme: the component classes below, interpolated from
`heatmap--low` to `heatmap--high` over 15 log-scale steps, so every theme (the light
and colour-blind-safe ones too) recolours it. On a 256-colour terminal the palette is
reduced to the terminal's colours up front.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from rich.color import Color, ColorSystem, blend_rgb
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from obview import fmt
from obview.depth_history import (
    DEFAULT_RESOLUTION,
    RESOLUTIONS_MS,
    Column,
    DepthHistory,
    TradeCell,
)

FPS = 30
LEVELS = 15  # colour steps for a non-empty cell (0 = nothing resting): fits a nibble
HALF = "▀"  # fg paints the upper price row, bg the lower
TRADE_GLYPHS = ("·", "•", "●")  # by the print's share of the largest print on screen
CROSSHAIR = "╋"
AXIS_EVERY = 4  # a price label on every 4th line


@dataclass(frozen=True, slots=True)
class CrosshairReadout:
    """What is under the crosshair: one time column and one price row, exactly."""

    column_mono: float  # start of the time column, monotonic seconds
    column_seconds: float  # its width
    age_seconds: float  # how long before the newest column it starts
    price: Decimal  # the row's price (rounded as the ladder groups)
    bid_size: Decimal  # the largest size resting there during the column, per side
    ask_size: Decimal
    buy_size: Decimal  # prints there during the column, by aggressor side
    sell_size: Decimal
    buys: int
    sells: int

    @property
    def size(self) -> Decimal:
        return self.bid_size + self.ask_size


class HeatmapView(Widget, can_focus=True):
    """One stream's depth heatmap over a `DepthHistory` the owner records into.

    The owner calls `mark_dirty()` after `history.record(...)` / `record_trade(...)` and
    `set_step(ladder.step)` when the ladder's grouping changes. The crosshair readout is
    the `readout` reactive and a `CrosshairMoved` message.
    """

    BINDINGS = [
        Binding("left", "move(-1, 0)", "Earlier", show=False),
        Binding("right", "move(1, 0)", "Later", show=False),
        Binding("up", "move(0, 1)", "Higher", show=False),
        Binding("down", "move(0, -1)", "Lower", show=False),
        Binding("shift+left", "move(-10, 0)", show=False),
        Binding("shift+right", "move(10, 0)", show=False),
        Binding("shift+up", "move(0, 10)", show=False),
        Binding("shift+down", "move(0, -10)", show=False),
        Binding("z", "zoom(-1)", "Finer time"),
        Binding("Z", "zoom(1)", "Coarser time"),
        Binding("end", "live", "Crosshair to now", show=False),
    ]

    COMPONENT_CLASSES = {
        "heatmap--low",
        "heatmap--mid",
        "heatmap--high",
        "heatmap--buy-trade",
        "heatmap--sell-trade",
        "heatmap--crosshair",
        "heatmap--axis",
        "heatmap--title",
        "heatmap--readout",
    }

    DEFAULT_CSS = """
    HeatmapView { width: 1fr; height: 1fr; background: $background; }
    HeatmapView > .heatmap--low { color: $primary 40%; }
    HeatmapView > .heatmap--mid { color: $error; }
    HeatmapView > .heatmap--high { color: $warning; }
    HeatmapView > .heatmap--buy-trade { color: $success; text-style: bold; }
    HeatmapView > .heatmap--sell-trade { color: $error; text-style: bold; }
    HeatmapView > .heatmap--crosshair { color: $text; background: $accent; text-style: bold; }
    HeatmapView > .heatmap--axis { color: $text-muted; }
    HeatmapView > .heatmap--title { color: $text; text-style: bold; }
    HeatmapView > .heatmap--readout { color: $text; background: $panel; }
    """

    readout: reactive[CrosshairReadout | None] = reactive(None, repaint=False)

    class CrosshairMoved(Message):
        """The crosshair moved (keys, mouse, zoom) or what it points at changed."""

        def __init__(self, heatmap: HeatmapView, readout: CrosshairReadout | None) -> None:
            super().__init__()
            self.heatmap = heatmap
            self.readout = readout

        @property
        def control(self) -> HeatmapView:
            return self.heatmap

    def __init__(self, history: DepthHistory, *, step: Decimal | None = None,
                 clock: Callable[[], float] | None = time.monotonic,
                 epoch_offset: float | None = None, utc: bool = False,
                 id: str | None = None, classes: str | None = None) -> None:
        """`clock=None` freezes time (snapshots): columns close only as books arrive.
        `epoch_offset` turns monotonic into epoch seconds for the readout's clock."""
        super().__init__(id=id, classes=classes)
        self.history = history
        self.step = step
        self.clock = clock
        self.epoch_offset = time.time() - time.monotonic() if epoch_offset is None else epoch_offset
        self.utc = utc
        self.resolution = DEFAULT_RESOLUTION
        self.cross_index: int | None = None  # pinned time column (None: the newest)
        self.cross_row: int | None = None  # pinned price row (None: at the touch)
        self.cpu_ns = 0  # thread CPU spent building and rendering lines (the bench reads it)
        self.builds = 0
        self._center: int | None = None
        self._center_step: Decimal | None = None
        self._layout: _Layout | None = None
        self._lines: list[Strip] | None = None
        self._line_cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._sums: dict[int, tuple[Column, dict[int, int], int, int]] = {}
        self._codes: dict[int, tuple[Column, bytes]] = {}
        self._codes_key: tuple | None = None
        self._palette: _Palette | None = None
        self._built_version = -1
        self._timer_pending = False

    # -- feeding ---------------------------------------------------------------------
    def mark_dirty(self) -> None:
        """The history changed: redraw within one frame, at most `FPS` times a second."""
        if self._timer_pending or not self.is_mounted:
            return
        self._timer_pending = True
        asyncio.get_running_loop().call_later(1 / FPS, self._flush)

    def _flush(self) -> None:
        self._timer_pending = False
        if self.clock is not None:
            self.history.advance(self.clock())
        if self.history.version != self._built_version:
            self._lines = None
            self.refresh()
            self._update_readout()

    def on_mount(self) -> None:
        if self.clock is not None:
            # the picture scrolls while the book rests: close columns on time alone
            self.set_interval(0.1, self.mark_dirty)

    def set_step(self, step: Decimal | None) -> None:
        """The ladder's grouping step (None: ungrouped), so rows line up with its rows."""
        if step != self.step:
            self.step = step
            self._invalidate()
            self._update_readout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._palette = None  # a theme change: new colours
        self._invalidate()

    def on_resize(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        self._lines = None
        self._codes.clear()
        self._codes_key = None
        self._line_cache.clear()
        self.refresh()

    # -- the crosshair --------------------------------------------------------------
    def action_move(self, columns: int, rows: int) -> None:
        layout = self._layout or self._compute_layout()
        if layout is None:
            return
        tier = self.history.tiers[self.resolution]
        if columns:
            index = layout.cross_index + columns
            first = max(tier.first_index or 0, layout.first_index)
            self.cross_index = None if index >= tier.open_index else max(first, index)
        if rows:
            row = layout.cross_row + rows
            self.cross_row = max(layout.bottom_row, min(layout.top_row, row))
        self._moved()

    def action_zoom(self, delta: int) -> None:
        old = RESOLUTIONS_MS[self.resolution]
        self.resolution = max(0, min(len(RESOLUTIONS_MS) - 1, self.resolution + delta))
        if self.cross_index is not None:  # keep the crosshair on the same moment
            self.cross_index = self.cross_index * old // RESOLUTIONS_MS[self.resolution]
        self._invalidate()
        self._moved()

    def action_live(self) -> None:
        self.cross_index = self.cross_row = None
        self._moved()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        layout = self._layout
        if layout is None:
            return
        x, line = event.x - layout.axis_width, event.y - 1
        if 0 <= x < layout.columns and 0 <= line < layout.body_height:
            index = layout.first_index + x
            tier = self.history.tiers[self.resolution]
            self.cross_index = None if index >= (tier.open_index or 0) else index
            self.cross_row = layout.top_row - 2 * line
            self._moved()

    def _moved(self) -> None:
        self._lines = None
        self.refresh()
        self._update_readout()
        self.post_message(self.CrosshairMoved(self, self.readout))

    def _update_readout(self) -> None:
        layout = self._compute_layout()
        self.readout = None if layout is None else self._read(layout)

    def _read(self, layout: _Layout) -> CrosshairReadout:
        history = self.history
        ms = RESOLUTIONS_MS[self.resolution]
        index, row = layout.cross_index, layout.cross_row
        bid, ask = history.cell(self.resolution, index, row, layout.step)
        trades = history.trade_rows(self.resolution, index, layout.step).get(row, TradeCell())
        newest = history.tiers[self.resolution].open_index or index
        size = history.size_of
        return CrosshairReadout(
            column_mono=index * ms / 1000, column_seconds=ms / 1000,
            age_seconds=(newest - index) * ms / 1000,
            price=history.row_price(row, layout.step),
            bid_size=size(bid), ask_size=size(ask),
            buy_size=size(trades.buy_units), sell_size=size(trades.sell_units),
            buys=trades.buy_count, sells=trades.count - trades.buy_count)

    # -- layout: which columns and rows are on screen -------------------------------------
    def _compute_layout(self) -> _Layout | None:
        history = self.history
        tier = history.tiers[self.resolution]
        step = history.row_step(self.step)
        width, height = self.size.width, self.size.height
        body_height = height - 2  # title line above, readout line below
        if tier.open_index is None or step is None or body_height <= 0:
            return None
        rows = body_height * 2
        mid = history.mid()
        touch = history.price_row(mid, step) if mid is not None else 0
        bid = history.best_bid
        home = touch if bid is None else history.price_row(bid, step)  # the crosshair's rest
        center = self._center
        if center is None or self._center_step != step or abs(touch - center) > rows // 4:
            center = touch  # recentred only when the touch nears an edge: the picture stays put
        if self.cross_row is not None:  # a pinned crosshair row stays on screen
            if self.cross_row > center + rows // 2 - 1:
                center = self.cross_row - rows // 2 + 1
            elif self.cross_row < center - rows // 2:
                center = self.cross_row + rows // 2
        self._center, self._center_step = center, step
        top_row = center + rows // 2 - 1
        bottom_row = top_row - rows + 1
        labels = fmt.prices_aligned([history.row_price(r, step) for r in (top_row, bottom_row)])
        axis_width = max(len(label) for label in labels) + 1
        columns = max(1, width - axis_width)
        newest = tier.open_index
        first_index = newest - columns + 1
        cross_index = newest if self.cross_index is None else max(first_index, self.cross_index)
        cross_row = home if self.cross_row is None else self.cross_row
        cross_row = max(bottom_row, min(top_row, cross_row))
        return _Layout(step, top_row, bottom_row, body_height, axis_width, columns, first_index,
                       newest, cross_index, cross_row)

    # -- painting ------------------------------------------------------------------
    def render_lines(self, crop):
        start = time.thread_time_ns()
        if self._lines is None or len(self._lines) != self.size.height:
            self._lines = self._build()
        lines = super().render_lines(crop)
        self.cpu_ns += time.thread_time_ns() - start
        return lines

    def render_line(self, y: int) -> Strip:
        lines = self._lines
        if lines is None or y >= len(lines):
            return Strip.blank(self.size.width)
        return lines[y]

    def _build(self) -> list[Strip]:
        self.builds += 1
        self._built_version = self.history.version
        width, height = self.size.width, self.size.height
        palette = self._palette or self._make_palette()
        layout = self._layout = self._compute_layout()
        if layout is None:
            blank = [Strip.blank(width, palette.background)] * max(0, height - 2)
            title = Strip([Segment(" depth heatmap: waiting for the book", palette.axis)])
            return ([title.adjust_cell_length(width, palette.background)] + blank
                    + [Strip.blank(width, palette.readout)])[:height]
        history = self.history
        tier = history.tiers[self.resolution]
        step = layout.step
        body = layout.body_height

        # every visible column's row sums (cached for closed columns)
        sums_next: dict[int, tuple[Column, dict[int, int], int, int]] = {}
        per_column: list[tuple[int, dict[int, int] | None, Column | None]] = []
        lo = hi = 0
        cache = self._sums
        for index in range(layout.first_index, layout.newest + 1):
            cells = tier.column(index)
            if cells is None:
                per_column.append((index, None, None))
                continue
            if isinstance(cells, Column):
                found = cache.get(id(cells))
                if found is None or found[0] is not cells:
                    sums = history.row_sizes(cells, step)
                    found = (cells, sums, min(sums.values(), default=0), max(sums.values(), default=0))
                sums_next[id(cells)] = found
                _, sums, col_lo, col_hi = found
                per_column.append((index, sums, cells))
            else:
                sums = history.row_sizes(cells, step)
                col_lo, col_hi = min(sums.values(), default=0), max(sums.values(), default=0)
                per_column.append((index, sums, None))
            if col_hi:
                hi = max(hi, col_hi)
                lo = col_lo if not lo else min(lo, col_lo)
        self._sums = sums_next
        # the scale: powers of two around the window's sizes, so it moves only by doublings
        scale_lo = 1 << (lo.bit_length() - 1) if lo else 1
        scale_hi = max(scale_lo * 2, 1 << hi.bit_length()) if hi else 2
        codes_key = (step, layout.top_row, body, scale_lo, scale_hi, history.places, self.resolution)
        if codes_key != self._codes_key:
            self._codes.clear()
            self._codes_key = codes_key
        levels = _LevelScale(scale_lo, scale_hi)
        codes_cache, codes_next = self._codes, {}
        empty = bytes(body)
        parts = []
        for _index, sums, column in per_column:
            if sums is None:
                parts.append(empty)
                continue
            if column is not None:
                found = codes_cache.get(id(column))
                if found is not None and found[0] is column:
                    codes_next[id(column)] = found
                    parts.append(found[1])
                    continue
            codes = _column_codes(sums, layout.top_row, body, levels)
            if column is not None:
                codes_next[id(column)] = (column, codes)
            parts.append(codes)
        self._codes = codes_next
        matrix = b"".join(parts)

        # trade markers: (line, x) -> (glyph, style)
        markers: dict[int, dict[int, tuple[str, Style]]] = {}
        trade_cells = []
        for x, (index, _sums, _column) in enumerate(per_column):
            if index in tier.trades:
                for row, cell in history.trade_rows(self.resolution, index, step).items():
                    offset = layout.top_row - row
                    if 0 <= offset < body * 2:
                        trade_cells.append((offset // 2, x, cell))
        biggest = max((c.buy_units + c.sell_units for _, _, c in trade_cells), default=0)
        for line, x, cell in trade_cells:
            total = cell.buy_units + cell.sell_units
            share = total / biggest if biggest else 0.0
            glyph = TRADE_GLYPHS[0 if share < 0.1 else 1 if share < 0.5 else 2]
            style = palette.buy if cell.buy_units >= cell.sell_units else palette.sell
            # on the empty background, so a print shows on any cell colour
            markers.setdefault(line, {})[x] = (glyph, style + palette.background)

        cross_x = layout.cross_index - layout.first_index
        cross_line = (layout.top_row - layout.cross_row) // 2
        labels = fmt.prices_aligned([history.row_price(layout.top_row - 2 * line, step)
                                     for line in range(body)] + [history.row_price(layout.cross_row, step)])
        axis_width = layout.axis_width
        lines = [self._title_line(width, palette, scale_lo, scale_hi)]
        cache_lines = self._line_cache
        for line in range(body):
            upper_row = layout.top_row - 2 * line
            is_cross = line == cross_line
            # labels sit on fixed prices (every AXIS_EVERY rows), not fixed lines
            label = labels[-1] if is_cross else (
                labels[line] if (upper_row >> 1) % (AXIS_EVERY // 2) == 0 else "")
            line_markers = markers.get(line)
            key = (matrix[line::body], label, is_cross, cross_x if is_cross else -1,
                   tuple(sorted(line_markers.items())) if line_markers else None, width, axis_width)
            strip = cache_lines.get(key)
            if strip is None:
                strip = self._body_line(key[0], label, axis_width, is_cross, cross_x,
                                        line_markers, palette, width)
                cache_lines[key] = strip
            lines.append(strip)
        self.readout = self._read(layout)
        lines.append(self._readout_line(width, palette))
        return lines

    def _body_line(self, codes: bytes, label: str, axis_width: int, is_cross: bool, cross_x: int,
                   markers: dict[int, tuple[str, Style]] | None, palette: _Palette,
                   width: int) -> Strip:
        segments = [Segment(label.rjust(axis_width - 1) + " ",
                            palette.crosshair if is_cross else palette.axis)]
        overlay = dict(markers) if markers else {}
        if is_cross and 0 <= cross_x < len(codes):
            overlay[cross_x] = (CROSSHAIR, palette.crosshair)
        cells = palette.cells
        start = 0
        for x in sorted(overlay) + [len(codes)]:
            for code, run in groupby(codes[start:x]):
                count = len(list(run))
                text, style = cells[code]
                segments.append(Segment(text * count, style))
            if x < len(codes):
                glyph, style = overlay[x]
                segments.append(Segment(glyph, style))
            start = x + 1
        return Strip(segments).adjust_cell_length(width, palette.background)

    def _title_line(self, width: int, palette: _Palette, scale_lo: int, scale_hi: int) -> Strip:
        ms = RESOLUTIONS_MS[self.resolution]
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        size = self.history.size_of
        segments = [Segment(f" depth  {label}/col  ", palette.title),
                    Segment(f"{fmt.grouped(size(scale_lo))} ", palette.axis)]
        for level in range(1, LEVELS + 1):
            segments.append(Segment(" ", palette.swatches[level]))
        segments.append(Segment(f" {fmt.grouped(size(scale_hi))}  log", palette.axis))
        return Strip(segments).adjust_cell_length(width, palette.background)

    def _readout_line(self, width: int, palette: _Palette) -> Strip:
        readout = self.readout
        if readout is None:
            return Strip.blank(width, palette.readout)
        tenths = readout.column_seconds < 1
        when = fmt.clock(readout.column_mono + self.epoch_offset, tenths, self.utc)
        age = f"-{fmt.seconds(readout.age_seconds)}" if readout.age_seconds else "now"
        step = self._layout.step if self._layout is not None else readout.price
        price = fmt.prices_aligned([readout.price, step])[0]
        text = f" ╋ {when} ({age})  {price}"
        if readout.bid_size:
            text += f"  bid {fmt.grouped(readout.bid_size)}"
        if readout.ask_size:
            text += f"  ask {fmt.grouped(readout.ask_size)}"
        if not readout.size:
            text += "  nothing resting"
        if readout.buys:
            text += f"  bought {fmt.grouped(readout.buy_size)} in {readout.buys}"
        if readout.sells:
            text += f"  sold {fmt.grouped(readout.sell_size)} in {readout.sells}"
        return Strip([Segment(text, palette.readout)]).adjust_cell_length(width, palette.readout)

    def _make_palette(self) -> _Palette:
        def component(name: str) -> Style:
            return self.get_component_rich_style(name)

        background = self.rich_style.bgcolor or Color.parse("black")
        system = self.app.console.color_system
        palette = _Palette.build(
            background=background, low=component("heatmap--low"), mid=component("heatmap--mid"),
            high=component("heatmap--high"),
            buy=component("heatmap--buy-trade"), sell=component("heatmap--sell-trade"),
            crosshair=component("heatmap--crosshair"), axis=component("heatmap--axis"),
            title=component("heatmap--title"), readout=component("heatmap--readout"),
            truecolor=system in (None, "truecolor"))
        self._palette = palette
        return palette


@dataclass(frozen=True, slots=True)
class _Layout:
    step: Decimal
    top_row: int
    bottom_row: int
    body_height: int
    axis_width: int
    columns: int
    first_index: int
    newest: int
    cross_index: int
    cross_row: int


class _LevelScale:
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


def _column_codes(sums: dict[int, int], top_row: int, body: int, levels: _LevelScale) -> bytes:
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
class _Palette:
    background: Style
    swatches: list[Style]  # per level: a background colour
    cells: list[tuple[str, Style]]  # per code (upper * 16 + lower): text and style
    buy: Style
    sell: Style
    crosshair: Style
    axis: Style
    title: Style
    readout: Style

    @classmethod
    def build(cls, *, background: Color, low: Style, mid: Style, high: Style, buy: Style, sell: Style,
              crosshair: Style, axis: Style, title: Style, readout: Style,
              truecolor: bool) -> _Palette:
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
        return cls(background_style, swatches, cells, Style(color=buy.color, bold=True),
                   Style(color=sell.color, bold=True), crosshair, axis + background_style,
                   title + background_style, readout)


def _rgb(style: Style, background: ColorTriplet) -> ColorTriplet:
    return style.color.get_truecolor() if style.color is not None else background


def _colour(triplet: ColorTriplet, truecolor: bool) -> Color:
    colour = Color.from_triplet(triplet)
    return colour if truecolor else colour.downgrade(ColorSystem.EIGHT_BIT)
