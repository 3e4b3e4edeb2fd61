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

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.filter import ANSIToTruecolor
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from obview import fmt
from obview.book import nice_step
from obview.depth_history import (
    DEFAULT_RESOLUTION,
    RESOLUTIONS_MS,
    Column,
    DepthHistory,
    TradeCell,
)
from obview.tui.heatmap_cells import (
    LEVELS,
    LevelScale,
    Palette,
    column_codes,
    segments_of,
    splice,
    trim_left,
)
from obview.tui.pacing import FramePacer, PacedRedraw

FPS = 30
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


class HeatmapView(PacedRedraw, Widget, can_focus=True):
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
        `clock` is whatever the history's times are on (the screen's monotonic clock
        live, the journal's wall clock in replay); `epoch_offset` turns it into epoch
        seconds for the readout's clock."""
        super().__init__(id=id, classes=classes)
        self.history = history
        self.step = step
        self.clock = clock
        self.epoch_offset = time.time() - time.monotonic() if epoch_offset is None else epoch_offset
        self.utc = utc
        self.resolution = DEFAULT_RESOLUTION
        self.note: str | None = None  # said in the title ("rebuilding history…")
        self.cross_index: int | None = None  # pinned time column (None: the newest)
        self.cross_row: int | None = None  # pinned price row (None: at the touch)
        self.cpu_ns = 0  # thread CPU spent building and rendering lines (the bench reads it)
        self.builds = 0
        self.build_ns = 0  # of which building the lines (the rest is Textual's render_lines)
        self.full_builds = 0  # builds from scratch (zoom, grouping, scale, recentring, resize)
        self._center: int | None = None
        self._center_step: Decimal | None = None
        self.price_range: tuple[Decimal, Decimal] | None = None  # see follow_prices
        # alone, no ladder hands it prices: it asks for them at each frame (see hold_prices)
        self._prices_to_hold: Callable[[int], tuple[Decimal, Decimal] | None] | None = None
        self._fit_key: tuple | None = None  # _step_to_fit's last question and answer
        self._fit_step: Decimal | None = None
        self._columns_step: Decimal | None = None  # the rows' height `_columns` summed for
        self._layout: _Layout | None = None
        self._lines: list[Strip] | None = None
        self._runs: tuple[int, int, list[list[Segment]], int] | None = None
        self._trade_rows: dict[int, tuple] = {}
        self._runs_version = 0
        self._closed_key: tuple | None = None
        self._line_keys: list[tuple | None] = []
        self._closed_lines: list[list[Segment]] = []
        self._biggest_trade = 0
        self._columns: dict[int, list] = {}  # id(column) -> [column, sums, lo, hi, key, codes]
        self._codes_key: tuple | None = None
        self._labels_key: tuple | None = None  # _labels: the axis, kept between frames
        self._label_texts: list[str] = []
        self._label_segments: list[Segment] = []
        self._title_key: tuple | None = None  # the title and readout lines, likewise
        self._title: Strip | None = None
        self._readout_key: tuple | None = None
        self._readout_strip: Strip | None = None
        self._palette: Palette | None = None
        self._plain_rgb = False
        self._built_version = -1
        self._built_size: Size | None = None  # the size `_lines` were built for
        self._pacer = FramePacer(1 / FPS, self._flush)

    # -- feeding ---------------------------------------------------------------------
    def _flush(self) -> None:
        if not (self.display and self.is_on_screen):  # a hidden tab costs nothing
            self._lines = None  # rebuilt when shown
            return
        if self.clock is not None:
            self.history.advance(self.clock())
        if self._prices_to_hold is not None:
            # as many levels a side as it has lines: two price rows a line, so at the
            # book's tick they fit without coarsening where levels are a tick apart
            levels = max(1, self.size.height - 2)
            self.follow_prices(*(self._prices_to_hold(levels) or (None, None)))
        if self.history.version != self._built_version:
            self._repaint()

    def on_mount(self) -> None:
        if self.clock is not None:
            # the picture scrolls while the book rests: close columns on time alone
            self.set_interval(0.1, self.mark_dirty)

    def on_show(self) -> None:
        self.mark_dirty()

    def set_note(self, note: str | None) -> None:
        """A word in the title line about the history itself (None: none)."""
        if note != self.note:
            self.note = note
            self._built_version = -1
            self.mark_dirty()

    def history_replaced(self) -> None:
        """The history was cleared or rebuilt, not appended to: nothing drawn from it
        before still holds (a replay seeked)."""
        self._trade_rows = {}
        self._biggest_trade = 0
        self._built_version = -1
        self._invalidate()
        self.mark_dirty()

    def set_step(self, step: Decimal | None) -> None:
        """The ladder's grouping step (None: ungrouped), so rows line up with its rows."""
        if step != self.step:
            self.step = step
            self._invalidate()
            self._update_readout()

    def follow_prices(self, low: Decimal | None, high: Decimal | None) -> None:
        """Keep the prices low..high on screen (beside a ladder: the ones it shows), so
        the two read across; None: centre on the touch. The picture moves only when the
        range leaves the screen, not on every change at its edges."""
        wanted = None if low is None or high is None else (low, high)
        if wanted != self.price_range:
            self.price_range = wanted
            self._built_version = -1  # the same history, maybe other rows on screen
            self.mark_dirty()

    def hold_prices(self, prices: Callable[[int], tuple[Decimal, Decimal] | None] | None) -> None:
        """Alone, keep on screen whatever range `prices(levels)` gives at each frame (the
        rows a ladder would show, at most `levels` a side): without it the rows are the
        book's tick round the touch, and an aggregated book's tick, a hundredth of its
        sources', leaves a screen of empty rows. None: only `follow_prices` moves them."""
        if prices != self._prices_to_hold:
            self._prices_to_hold = prices
            self.mark_dirty()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._palette = None  # a theme change: new colours
        self._invalidate()

    def on_resize(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        self._lines = None
        self._columns.clear()
        self._codes_key = None
        self._runs = None
        self._closed_key = None
        self._labels_key = self._title_key = self._readout_key = None
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
        if rows:  # beyond the edge the view follows the crosshair (see _compute_layout)
            self.cross_row = layout.cross_row + rows
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
        self._repaint()
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
        if self.price_range is not None:
            step = self._step_to_fit(step, rows)
        if self.cross_row is not None and self._center_step not in (None, step):
            # a pinned row stays on its price when the rows' height changes
            self.cross_row = history.price_row(
                history.row_price(self.cross_row, self._center_step), step)
        mid = history.mid()
        touch = history.price_row(mid, step) if mid is not None else 0
        bid = history.best_bid
        home = touch if bid is None else history.price_row(bid, step)  # the crosshair's rest
        center = self._center
        if self.price_range is not None:
            low = history.price_row(self.price_range[0], step, is_bid=True)
            high = history.price_row(self.price_range[1], step, is_bid=False)
            if high - low + 1 > rows:
                wanted = (low + high) // 2
                if center is None or self._center_step != step or abs(wanted - center) > rows // 4:
                    center = wanted
            elif (center is None or self._center_step != step or low < center - rows // 2
                  or high > center + rows // 2 - 1):
                center = (low + high + 1) // 2
        elif center is None or self._center_step != step or abs(touch - center) > rows // 4:
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

    def _step_to_fit(self, step: Decimal, rows: int) -> Decimal:
        """Beside the ladder, every price it shows is on the heatmap. Where they span more
        rows of `step` than fit (an aggregated book's prices from several sources lie a
        hundredth of a tick apart, so its "tick" is tiny), rows are the finest step of the
        1-2-5 series above `step` that fits them, and the title says so."""
        key = (self.price_range, step, rows)
        if key == self._fit_key:
            return self._fit_step
        low, high = self.price_range
        price_row = self.history.price_row
        fitted, index = step, 0
        # the ladder's own grouping series (`g`), so the rows read as a grouped ladder's
        while price_row(high, fitted, False) - price_row(low, fitted, True) + 1 > rows:
            index += 1
            fitted = nice_step(step, index)
        self._fit_key, self._fit_step = key, fitted
        return fitted

    # -- painting ------------------------------------------------------------------
    def _repaint(self) -> None:
        """Build the lines now; ask Textual to re-render only the lines that differ (between
        two shifts of the picture only the open column's cells and the readout change)."""
        if not self.display or self.size.height <= 0:
            self._lines = None
            return
        start = time.thread_time_ns()
        old, old_keys = self._lines, self._line_keys
        new = self._lines = self._build()
        spent = time.thread_time_ns() - start
        self.cpu_ns += spent
        self.build_ns += spent
        keys = self._line_keys
        if old is None or len(old) != len(new) or len(old_keys) != len(keys) \
                or len(keys) != len(new):  # (no keys: the "waiting" lines)
            self.refresh()
            return
        width, y, count = self.size.width, 0, len(new)
        while y < count:
            if keys[y] is not None and keys[y] == old_keys[y] or keys[y] is None and old[y] == new[y]:
                y += 1
                continue
            first = y
            while y < count and not (keys[y] is not None and keys[y] == old_keys[y]
                                     or keys[y] is None and old[y] == new[y]):
                y += 1
            self.refresh(Region(0, first, width, y - first))

    def render_lines(self, crop):
        start = time.thread_time_ns()
        if self._lines is None or self._built_size != self.size:
            self._lines = self._build()
            self.build_ns += time.thread_time_ns() - start
        lines = super().render_lines(crop)
        self.cpu_ns += time.thread_time_ns() - start
        return lines

    def get_line_filters(self):
        """Textual's filters, less the ANSI-to-truecolor one when every colour drawn is
        RGB already: it would copy each of the line's segments unchanged, and at 100 ms
        a column every line is new each frame (a quarter of a frame's CPU, measured)."""
        filters = super().get_line_filters()
        palette = self._palette
        if palette is not None and self._plain_rgb:
            return [f for f in filters if not isinstance(f, ANSIToTruecolor)]
        return filters

    def render_line(self, y: int) -> Strip:
        lines = self._lines
        if lines is None or y >= len(lines):
            return Strip.blank(self.size.width)
        return lines[y]

    def _build(self) -> list[Strip]:
        self.builds += 1
        if self._built_size != self.size:
            # a paint (or a flush) can come before our Resize event is handled: the
            # layout sets the new size first. Nothing built for the old one is kept.
            self._invalidate()
            self._built_size = self.size
        self._built_version = self.history.version
        width, height = self.size.width, self.size.height
        palette = self._palette or self._make_palette()
        layout = self._layout = self._compute_layout()
        if layout is None:
            self._line_keys = []
            blank = [Strip.blank(width, palette.background)] * max(0, height - 2)
            waiting = f" depth heatmap: {self.note or 'waiting for the book'}"
            title = Strip([Segment(waiting, palette.axis)])
            return ([title.adjust_cell_length(width, palette.background)] + blank
                    + [Strip.blank(width, palette.readout)])[:height]
        history = self.history
        tier = history.tiers[self.resolution]
        step = layout.step
        body = layout.body_height
        first_index, newest = layout.first_index, layout.newest
        window = tier.window(first_index, newest)

        # every visible column's row sums, and the window's smallest and largest size;
        # a closed column's entry [column, sums, lo, hi, codes key, codes] is kept
        if step != self._columns_step:  # (set_step invalidates; a fitted step may change alone)
            self._columns.clear()
            self._columns_step = step
        cache, cache_next = self._columns, {}
        entries: list[list | None] = []
        lo = hi = 0
        for cells in window:
            if cells is None:
                entries.append(None)
                continue
            if type(cells) is Column:
                key = id(cells)
                entry = cache.get(key)
                if entry is None or entry[0] is not cells:
                    sums = history.row_sizes(cells, step)
                    entry = [cells, sums, min(sums.values(), default=0),
                             max(sums.values(), default=0), None, b""]
                cache_next[key] = entry
            else:
                sums = history.row_sizes(cells, step)
                entry = [None, sums, min(sums.values(), default=0),
                         max(sums.values(), default=0), None, b""]
            entries.append(entry)
            if entry[3]:
                if entry[3] > hi:
                    hi = entry[3]
                if not lo or entry[2] < lo:
                    lo = entry[2]
        self._columns = cache_next
        # the scale: powers of two around the window's sizes, so it moves only by doublings
        scale_lo = 1 << (lo.bit_length() - 1) if lo else 1
        scale_hi = max(scale_lo * 2, 1 << hi.bit_length()) if hi else 2
        codes_key = (step, layout.top_row, body, scale_lo, scale_hi, history.places,
                     self.resolution, width, layout.axis_width, id(palette))
        if codes_key != self._codes_key:
            self._codes_key = codes_key
            self._runs = None
        levels = LevelScale(scale_lo, scale_hi)
        empty = bytes(body)
        parts = []
        for entry in entries:
            if entry is None:
                parts.append(empty)
                continue
            if entry[4] != codes_key:
                entry[4] = codes_key
                entry[5] = column_codes(entry[1], layout.top_row, body, levels)
            parts.append(entry[5])
        matrix = b"".join(parts)  # column-major: line y of column x is matrix[x * body + y]

        closed = newest - first_index  # positions 0..closed-1 are closed columns
        lines_segments = self._closed_segments(layout, tier, matrix, closed, palette)
        # prints and the crosshair on closed columns: spliced into the lines only when the
        # picture shifted, a print landed late, or the crosshair moved; the open column's
        # every frame
        open_trades = tier.trade_counts.get(newest, 0)
        closed_key = (self._runs_version, layout.cross_index, layout.cross_row,
                      tier.trades_added - open_trades)
        if closed_key != self._closed_key:
            self._closed_key = closed_key
            over, self._biggest_trade = self._overlays(layout, tier, palette, first_index,
                                                       newest - 1, 0)
            self._closed_lines = [splice(base, over[line]) if line in over else base
                                  for line, base in enumerate(lines_segments)]
        closed_lines = self._closed_lines
        open_over, _ = self._overlays(layout, tier, palette, newest, newest, self._biggest_trade)
        cells_of = palette.cells
        labels, label_segments = self._labels(layout, palette)
        cross_line = (layout.top_row - layout.cross_row) // 2
        axis_width = layout.axis_width
        used = axis_width + closed + 1
        pad = Segment(" " * (width - used), palette.background) if used < width else None
        coarser = step if step != history.row_step(self.step) else None
        title_key = (scale_lo, scale_hi, history.places, self.resolution, width, id(palette),
                     self.note, coarser, self.step)
        if title_key != self._title_key:  # (formatting two sizes is a fair part of a frame)
            self._title_key, self._title = title_key, self._title_line(
                width, palette, scale_lo, scale_hi, coarser)
        lines = [self._title]
        keys: list[tuple | None] = [None]  # what each body line shows, to skip unchanged ones
        old_lines, old_keys = self._lines, self._line_keys
        reuse = old_lines is not None and len(old_lines) == body + 2 and len(old_keys) == body + 2
        runs_version = self._runs_version
        open_at = closed * body
        for line in range(body):
            label = labels[line]
            glyph = open_over.get(line, {}).get(closed) if open_over else None
            last = glyph or cells_of[matrix[open_at + line]]
            key = (runs_version, closed_key, label, line == cross_line, last, width)
            keys.append(key)
            if reuse and old_keys[line + 1] == key:
                lines.append(old_lines[line + 1])  # nothing on this line changed
                continue
            segments = [label_segments[line]]
            segments += closed_lines[line]
            segments.append(Segment(*last))
            if pad is not None:  # (never negative: the layout fits the columns to the width)
                segments.append(pad)
            lines.append(Strip(segments, max(width, used)))
        self.readout = readout = self._read(layout)
        readout_key = (readout, step, width, id(palette), self.epoch_offset, self.utc)
        if readout_key != self._readout_key:
            self._readout_key = readout_key
            self._readout_strip = self._readout_line(width, palette)
        lines.append(self._readout_strip)
        keys.append(None)
        self._line_keys = keys
        self._lines = lines  # (the next build reuses the unchanged ones)
        return lines

    def _labels(self, layout: _Layout, palette: Palette) -> tuple[list[str], list[Segment]]:
        """Per body line, its price label ("" between labels) and the axis segment, kept
        while the rows on screen, the crosshair's row and the palette stay."""
        key = (layout.step, layout.top_row, layout.body_height, layout.cross_row,
               layout.axis_width, id(palette))
        if key != self._labels_key:
            history, step, body = self.history, layout.step, layout.body_height
            aligned = fmt.prices_aligned(
                [history.row_price(layout.top_row - 2 * line, step) for line in range(body)]
                + [history.row_price(layout.cross_row, step)])
            cross_line = (layout.top_row - layout.cross_row) // 2
            texts, segments = [], []
            for line in range(body):
                upper_row = layout.top_row - 2 * line
                is_cross = line == cross_line
                # labels sit on fixed prices (every AXIS_EVERY rows), not fixed lines
                label = aligned[-1] if is_cross else (
                    aligned[line] if (upper_row >> 1) % (AXIS_EVERY // 2) == 0 else "")
                texts.append(label)
                segments.append(Segment(label.rjust(layout.axis_width - 1) + " ",
                                        palette.crosshair if is_cross else palette.axis))
            self._labels_key, self._label_texts, self._label_segments = key, texts, segments
        return self._label_texts, self._label_segments

    def _closed_segments(self, layout: _Layout, tier, matrix: bytes, closed: int,
                         palette: Palette) -> list[list[Segment]]:
        """Per line, the segments of the closed columns, kept from frame to frame: when
        the picture shifts by k columns, each line drops k cells at the left and gains
        the newly closed ones at the right (no line is rebuilt from scratch)."""
        body = layout.body_height
        first, newest = layout.first_index, layout.newest
        runs = self._runs
        drop = start = 0
        held = tier.first_index if tier.first_index is not None else newest
        incremental = (runs is not None and runs[0] <= first and runs[1] <= newest
                       and newest - runs[1] < closed)
        if not incremental:
            self.full_builds += 1
            lines = [segments_of(matrix[line::body][:closed], palette) for line in range(body)]
        else:
            lines = runs[2]
            drop = first - runs[0]
            start = runs[1] - first
            if drop or start < closed:
                cells = palette.cells
                for line in range(body):
                    segments = lines[line]
                    if drop:
                        trim_left(segments, drop)
                    for code in matrix[line::body][start:closed]:
                        text, style = cells[code]
                        last = segments[-1] if segments else None
                        if last is not None and last.style is style and last.text[0] == text:
                            segments[-1] = Segment(last.text + text, style)
                        else:
                            segments.append(Segment(text, style))
            forgotten = min(closed, held - first)
            if forgotten > 0 and held != runs[3]:
                # a history shorter than the screen: the ring let go of columns on screen
                empty = palette.cells[0]
                for segments in lines:
                    trim_left(segments, forgotten)
                    segments.insert(0, Segment(empty[0] * forgotten, empty[1]))
        if not incremental or drop or start < closed:
            self._runs_version += 1
        self._runs = (first, newest, lines, held)
        return lines

    def _overlays(self, layout: _Layout, tier, palette: Palette, first: int, last: int,
                  biggest: int) -> tuple[dict[int, dict[int, tuple]], int]:
        """line -> x -> (glyph, style) for columns `first`..`last`: the trade markers (glyph
        by the print's share of `biggest`, or of the largest among them) and the crosshair.
        Returns them and the largest print's units."""
        history = self.history
        body = layout.body_height
        found: list[tuple[int, int, TradeCell]] = []
        cache, cache_next = self._trade_rows, {}
        counts = tier.trade_counts
        for index in range(first, last + 1):  # (at most a screen of columns)
            count = counts.get(index)
            if count is None:
                continue
            hit = cache.get(index)
            if hit is None or hit[0] != (count, layout.step):
                hit = ((count, layout.step), history.trade_rows(self.resolution, index, layout.step))
            cache_next[index] = hit
            for row, cell in hit[1].items():
                offset = layout.top_row - row
                if 0 <= offset < body * 2:
                    found.append((offset >> 1, index - layout.first_index, cell))
        if first != last:
            self._trade_rows = cache_next | {i: h for i, h in cache.items() if i > last}
        out: dict[int, dict[int, tuple]] = {}
        biggest = max([c.buy_units + c.sell_units for _, _, c in found] + [biggest])
        for line, x, cell in found:
            share = (cell.buy_units + cell.sell_units) / biggest
            glyph = TRADE_GLYPHS[0 if share < 0.1 else 1 if share < 0.5 else 2]
            # on the empty background, so a print shows on any cell colour
            style = palette.buy if cell.buy_units >= cell.sell_units else palette.sell
            out.setdefault(line, {})[x] = (glyph, style)
        if first <= layout.cross_index <= last:
            out.setdefault((layout.top_row - layout.cross_row) // 2, {})[
                layout.cross_index - layout.first_index] = (CROSSHAIR, palette.crosshair)
        return out, biggest

    def _title_line(self, width: int, palette: Palette, scale_lo: int, scale_hi: int,
                    coarser: Decimal | None = None) -> Strip:
        """`coarser`: the rows' height, where it is coarser than the ladder's rows."""
        ms = RESOLUTIONS_MS[self.resolution]
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        label = f" depth  {label}/col  "
        if self.step is not None:  # the ladder's grouping (`g`): alone, nothing else says it
            label += f"group {fmt.dec_str(self.step)}  "
        if coarser is not None:
            label += f"rows of {fmt.dec_str(coarser)}  "
        size = self.history.size_of
        scale = [Segment(f"{fmt.grouped(size(scale_lo))} ", palette.axis)]
        scale += [Segment(" ", palette.swatches[level]) for level in range(1, LEVELS + 1)]
        scale.append(Segment(f" {fmt.grouped(size(scale_hi))}  log", palette.axis))
        groups = [[Segment(label, palette.title)], scale]
        if self.note:
            groups.append([Segment(f"  {self.note}", palette.title)])
        return _whole_groups(groups, width, palette.background)

    def _readout_line(self, width: int, palette: Palette) -> Strip:
        readout = self.readout
        if readout is None:
            return Strip.blank(width, palette.readout)
        tenths = readout.column_seconds < 1
        when = fmt.clock(readout.column_mono + self.epoch_offset, tenths, self.utc)
        age = f"-{fmt.seconds(readout.age_seconds)}" if readout.age_seconds else "now"
        step = self._layout.step if self._layout is not None else readout.price
        price = fmt.prices_aligned([readout.price, step])[0]
        parts = [f" ╋ {when} ({age})", f"  {price}"]
        if readout.bid_size:
            parts.append(f"  bid {fmt.grouped(readout.bid_size)}")
        if readout.ask_size:
            parts.append(f"  ask {fmt.grouped(readout.ask_size)}")
        if not readout.size:
            parts.append("  nothing resting")
        # "in 3 prints": a bare "in 3" read as 3 seconds, or a price
        if readout.buys:
            parts.append(f"  bought {fmt.grouped(readout.buy_size)} in {_prints(readout.buys)}")
        if readout.sells:
            parts.append(f"  sold {fmt.grouped(readout.sell_size)} in {_prints(readout.sells)}")
        return _whole_groups([[Segment(part, palette.readout)] for part in parts], width,
                             palette.readout)

    def _make_palette(self) -> Palette:
        def component(name: str) -> Style:
            return self.get_component_rich_style(name)

        background = self.rich_style.bgcolor or Color.parse("black")
        system = self.app.console.color_system
        palette = Palette.build(
            background=background, low=component("heatmap--low"), mid=component("heatmap--mid"),
            high=component("heatmap--high"),
            buy=component("heatmap--buy-trade"), sell=component("heatmap--sell-trade"),
            crosshair=component("heatmap--crosshair"), axis=component("heatmap--axis"),
            title=component("heatmap--title"), readout=component("heatmap--readout"),
            truecolor=system in (None, "truecolor"))
        self._palette = palette
        self._plain_rgb = palette.plain_rgb
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


def _prints(count: int) -> str:
    return f"{count} print" if count == 1 else f"{count} prints"


def _whole_groups(groups: list[list[Segment]], width: int, fill: Style) -> Strip:
    """The leading groups of segments that fit whole, in order of importance: a figure
    is dropped with its group, never cut short (a size cut to "26,2" reads as 26.2)."""
    kept = fmt.fit_parts(["".join(segment.text for segment in group) for group in groups], width)
    return Strip([segment for group, _ in zip(groups, kept, strict=False) for segment in group]
                 ).adjust_cell_length(width, fill)
