"""The price ladder: asks above, a spread row, bids below, drawn with the Line API.

Why the Line API: a 40-row DataTable redraw costs ~15 ms of CPU, far too much at
30 fps across several books. Here a redraw is one `book.view()` of the rows shown
plus one `Strip` per line, built once per frame and only when something changed.

Frame pacing: `mark_dirty()` may be called thousands of times a second; it only
schedules one `_flush()` per frame (<= `FPS`). `_flush()` reads the book, diffs sizes
against the previous frame (flashes, deltas) and asks Textual to repaint.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from obview import fmt
from obview.book import BookView, Row, group_price
from obview.feed import Feed, Stream
from obview.tui.messages import CursorMoved

FPS = 30
FRAME = 1 / FPS
FLASH_SECONDS = 1.2
FADE_STEP = 0.2  # seconds between fade repaints (3 colour steps over FLASH_SECONDS)
DEPTH_PRESETS = (10, 20, 50)
MAX_GROUP = 12  # grouping steps above the tick (1-2-5 series: 4 decades)
CP_COLOURS = ("#5fafff", "#ffaf00", "#d787ff", "#00d7af", "#ff875f", "#afd700")
BAR_EIGHTHS = " ▏▎▍▌▋▊▉"

ASK = Style(color="#ff5f5f")
BID = Style(color="#5fd75f")
DIM = Style(color="#808080")
HEAD = Style(color="#a8a8a8", bold=True)
TITLE = Style(color="#ffffff", bold=True)
SPREAD = Style(color="#ffd75f")
CROSSED = Style(color="#ffffff", bgcolor="#af0000", bold=True)
ASK_BAR = Style(color="#5f2f2f")
BID_BAR = Style(color="#2f5f2f")
CURSOR_BG = Style(bgcolor="#303060")

def _row_styles(under_cursor: bool) -> dict[str, Style]:
    base = {
        "ask": ASK + Style(bold=True), "bid": BID + Style(bold=True),
        "size": Style(color="#e4e4e4"), "dim": DIM, "cum": Style(color="#bcbcbc"),
        "up": BID, "down": ASK, "askbar": ASK_BAR, "bidbar": BID_BAR, "pad": Style(),
    }
    if under_cursor:
        return {name: style + CURSOR_BG for name, style in base.items()}
    return base


ROW_STYLES = {False: _row_styles(False), True: _row_styles(True)}
# flash backgrounds, strongest first; the fade walks down the list
FLASH_UP = [Style(bgcolor=c, color="#ffffff") for c in ("#008700", "#005f00", "#003700")]
FLASH_DOWN = [Style(bgcolor=c, color="#ffffff") for c in ("#af0000", "#5f0000", "#370000")]


def nice_step(base: Decimal, index: int) -> Decimal:
    """The `index`-th number of the 1-2-5 series strictly above `base` (index >= 1)."""
    exponent = base.adjusted()
    found = 0
    while True:
        for mantissa in (1, 2, 5):
            step = Decimal(mantissa).scaleb(exponent)
            if step > base:
                found += 1
                if found == index:
                    return step
        exponent += 1


def cp_style(source: str | None) -> Style:
    """A stable colour per counterparty: the same in every ladder, screen and run."""
    if source is None:
        return DIM
    style = _CP_STYLES.get(source)
    if style is None:
        index = zlib.crc32(source.encode()) % len(CP_COLOURS)
        style = _CP_STYLES[source] = Style(color=CP_COLOURS[index])
    return style


_CP_STYLES: dict[str, Style] = {  # the simulator's (and the hub's usual) counterparties
    "okex": Style(color=CP_COLOURS[0]),
    "binance": Style(color=CP_COLOURS[1]),
    "huobi": Style(color=CP_COLOURS[2]),
}


@dataclass(slots=True)
class Cursor:
    is_bid: bool = True
    index: int = 0  # 0 = best level of that side


@dataclass
class RedrawStats:
    """What the benchmark reads: how often and how expensively the ladder redrew."""

    flushes: int = 0  # frames with new data (or new settings)
    builds: int = 0  # ladder redraws: every line rebuilt (data, cursor, fade)
    paints: int = 0  # builds that changed something on screen
    cpu_ns: int = 0  # thread CPU: _flush(), line building, Textual's render_lines
    last_paint: float = 0.0


class Ladder(Widget, can_focus=True):
    """One stream's ladder. The app calls `mark_dirty()`; everything else is internal."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("enter", "app.drilldown", "Drilldown"),
    ]

    DEFAULT_CSS = """
    Ladder { height: 1fr; width: 1fr; }
    """

    def __init__(self, feed: Feed, stream: Stream, depth: int = 20, *,
                 clock: Callable[[], float] = time.monotonic, frozen_time: bool = False,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.feed = feed
        self.stream = stream
        self.depth = depth
        self.clock = clock
        self.frozen_time = frozen_time  # snapshots: flashes never fade
        self.group_index = 0  # 0 = no grouping, N = the N-th nice step above the tick
        self._base_gap: Decimal | None = None
        self.show_delta = False
        self.frozen = False
        self.cursor = Cursor()
        self.stats = RedrawStats()
        self.paint_hooks: list[Callable[[Ladder], None]] = []
        self.view: BookView | None = None
        self._prev_sizes: dict[tuple, Decimal] = {}
        self._deltas: dict[tuple, Decimal] = {}
        self._flashes: dict[tuple, tuple[float, bool]] = {}
        self._strips: list[Strip] | None = None
        self._unpainted = False  # lines built since the last paint
        self._row_cache: dict[tuple, Strip] = {}
        self._row_cache_next: dict[tuple, Strip] = {}
        self._dirty = True
        self._timer_pending = False
        self._fade_pending = False
        self._last_flush = 0.0

    # -- feeding -------------------------------------------------------------------
    def mark_dirty(self) -> None:
        """The book changed: redraw within one frame, at most `FPS` times a second."""
        self._dirty = True
        self._schedule()

    def _schedule(self) -> None:
        if self._timer_pending or not self.is_mounted:
            return
        self._timer_pending = True
        delay = self._last_flush + FRAME - time.monotonic()
        # a bare loop timer: cheaper and more punctual than a Textual Timer (a task
        # per frame); asyncio runs it in this context, so the app stays active
        asyncio.get_running_loop().call_later(max(0.0, delay), self._flush)

    def _flush(self) -> None:
        self._timer_pending = False
        if not self._visible():
            return  # recomputed by on_show / the next mark_dirty while visible
        start = time.thread_time_ns()
        self._last_flush = time.monotonic()
        if self._dirty and not self.frozen:
            self._dirty = False
            self._recompute()
        self.stats.flushes += 1
        self.stats.cpu_ns += time.thread_time_ns() - start
        self._repaint()
        if self._flashes and not self.frozen_time:
            self._schedule_fade()

    def _schedule_fade(self) -> None:
        # a separate, slower timer: fading must never delay a data frame
        if not self._fade_pending:
            self._fade_pending = True
            self.set_timer(FADE_STEP, self._fade)

    def _fade(self) -> None:
        self._fade_pending = False
        now = self.clock()
        flashes = self._flashes
        for key in [k for k, (t, _) in flashes.items() if now - t > FLASH_SECONDS]:
            del flashes[key]
        if not self._visible():
            return
        self._repaint()
        if flashes:
            self._schedule_fade()

    def _visible(self) -> bool:
        return self.display and self.screen.is_current and self.size.height > 0

    def on_show(self) -> None:
        self._prev_sizes.clear()  # no flash storm after a tab switch
        self.mark_dirty()

    def on_resize(self) -> None:
        self._dirty = True
        self._strips = None
        self._schedule()

    # -- settings the app changes ------------------------------------------------------
    @property
    def step(self) -> Decimal | None:
        if not self.group_index or self._base_gap is None:
            return None
        return nice_step(self._base_gap, self.group_index)

    def level_gap(self) -> Decimal:
        """The smallest price gap between adjacent shown levels (the book's real tick)."""
        book = self.stream.book
        gaps = []
        for side in (book.bids, book.asks):
            prices = sorted({level.price for level in side.top(20)})
            gaps += [b - a for a, b in zip(prices, prices[1:], strict=False) if b > a]
        if gaps:
            return min(gaps)
        places = max((fmt.decimals_of(lv.price) for side in (book.bids, book.asks)
                      for lv in side.top(5)), default=0)
        return Decimal(1).scaleb(-places)

    def set_group(self, delta: int) -> None:
        """g: the next coarser "nice" step (1-2-5 series) above the book's tick; G: finer."""
        if self.group_index == 0 and delta > 0:
            self._base_gap = self.level_gap()  # fixed while grouping, so steps stay put
        self.group_index = max(0, min(MAX_GROUP, self.group_index + delta))
        self._prev_sizes.clear()
        self.mark_dirty()

    def reset_history(self) -> None:
        """A different book is coming (new level): no flashes or deltas against the old."""
        self._prev_sizes.clear()
        self._flashes.clear()
        self._deltas = {}
        self.group_index = 0
        self._base_gap = None
        self.mark_dirty()

    def cycle_depth(self) -> None:
        presets = DEPTH_PRESETS
        later = [d for d in presets if d > self.depth]
        self.depth = later[0] if later else presets[0]
        self.mark_dirty()

    def toggle_delta(self) -> None:
        self.show_delta = not self.show_delta
        self._repaint()

    def set_frozen(self, frozen: bool) -> None:
        self.frozen = frozen
        self.mark_dirty()

    # -- cursor --------------------------------------------------------------------
    def rows_per_side(self) -> int:
        return max(1, min(self.depth, (self.size.height - 4) // 2))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(step)

    def move_cursor(self, step: int) -> None:
        """Move up (-1) or down (+1) through asks (worst..best) then bids (best..worst)."""
        view = self.view
        asks = len(view.asks[: self.rows_per_side()]) if view else 0
        bids = len(view.bids[: self.rows_per_side()]) if view else 0
        # linear position: asks shown top-down are indices asks-1..0, then bids 0..
        cur = self.cursor
        pos = (asks - 1 - cur.index) if not cur.is_bid else asks + cur.index
        pos = max(0, min(asks + bids - 1, pos + step))
        if pos < asks:
            self.cursor = Cursor(False, asks - 1 - pos)
        else:
            self.cursor = Cursor(True, pos - asks)
        self._repaint()
        self.post_message(CursorMoved(self, self.cursor_row()))

    def cursor_row(self) -> Row | None:
        view = self.view
        if view is None:
            return None
        rows = view.bids if self.cursor.is_bid else view.asks
        rows = rows[: self.rows_per_side()]
        if not rows:
            return None
        return rows[min(self.cursor.index, len(rows) - 1)]

    # -- computing a frame ---------------------------------------------------------
    def _recompute(self) -> None:
        step = self.step
        view = self.stream.book.view(self.depth, step)
        now = self.clock()
        prev = self._prev_sizes
        sizes: dict[tuple, Decimal] = {}
        deltas: dict[tuple, Decimal] = {}
        flashes = self._flashes
        first = not prev
        for is_bid, rows in ((True, view.bids), (False, view.asks)):
            for row in rows:
                key = (is_bid, row.price, row.source)
                sizes[key] = row.size
                if first:
                    continue
                old = prev.get(key)
                if old != row.size:
                    change = row.size - (old or 0)
                    deltas[key] = change
                    flashes[key] = (now, change > 0)
        if not first:
            for key, old in prev.items():
                if key not in sizes:
                    deltas[key] = -old
        if deltas or first:
            self._deltas = deltas
        self._prev_sizes = sizes
        if flashes and not self.frozen_time:
            for key in [k for k, (t, _) in flashes.items() if now - t > FLASH_SECONDS]:
                del flashes[key]
        self.view = view

    # -- painting ------------------------------------------------------------------
    def _repaint(self) -> None:
        """Build the lines now; ask Textual to repaint only the lines that differ."""
        if not self._visible():
            self._strips = None  # built on the next paint
            return
        start = time.thread_time_ns()
        old = self._strips
        new = self._strips = self._build_strips()
        self.stats.cpu_ns += time.thread_time_ns() - start
        if old is None or len(old) != len(new):
            self._unpainted = True
            self.refresh()
            return
        width, y, count = self.size.width, 0, len(new)
        while y < count:
            if old[y] == new[y]:
                y += 1
                continue
            first = y
            while y < count and old[y] != new[y]:
                y += 1
            self._unpainted = True
            self.refresh(Region(0, first, width, y - first))

    def render_lines(self, crop: Region) -> list[Strip]:
        start = time.thread_time_ns()
        if self._strips is None or len(self._strips) != self.size.height:
            self._strips = self._build_strips()
            self._unpainted = True
        if self._unpainted:  # the first paint of freshly built lines
            self._unpainted = False
            self.stats.paints += 1
            self.stats.last_paint = time.monotonic()
            for hook in self.paint_hooks:
                hook(self)
        lines = super().render_lines(crop)  # Textual's styling and cropping: counted too
        self.stats.cpu_ns += time.thread_time_ns() - start
        return lines

    def render_line(self, y: int) -> Strip:
        strips = self._strips
        if strips is None or y >= len(strips):
            return Strip.blank(self.size.width)
        return strips[y]

    def _build_strips(self) -> list[Strip]:
        self.stats.builds += 1
        self._row_cache_next = {}  # rows used by this build: the cache for the next one
        try:
            return self._build_lines()
        finally:
            self._row_cache = self._row_cache_next

    def _build_lines(self) -> list[Strip]:
        width, height = self.size.width, self.size.height
        view = self.view
        if view is None or height <= 0:
            self.view = view = self.stream.book.view(self.depth, self.step)
        n = self.rows_per_side()
        asks = view.asks[:n]
        bids = view.bids[:n]
        sourced = self.stream.book.bids.sourced
        shown = list(reversed(asks)) + bids
        prices = fmt.prices_aligned([r.price for r in shown])
        sizes = fmt.align_points([fmt.grouped(r.size) for r in shown])
        cums = fmt.align_points([fmt.grouped(r.cum_size) for r in shown])
        price_w = max([len("Price")] + [len(p) for p in prices]) + 1
        size_w = max([len("Size")] + [len(s) for s in sizes]) + 2
        cum_w = max([len("Cum")] + [len(c) for c in cums]) + 2
        ord_w = 6
        cp_w = 9 if sourced else 0
        delta_w = 10 if self.show_delta else 0
        bar_w = max(0, width - cp_w - price_w - size_w - ord_w - cum_w - delta_w - 2)
        max_cum = max((r.cum_size for r in (asks[-1:] + bids[-1:])), default=Decimal(0))

        lines: list[Strip] = [self._title_line(width), self._header_line(
            width, cp_w, price_w, size_w, ord_w, cum_w, delta_w)]
        ask_pad = n - len(asks)
        for _ in range(ask_pad):
            lines.append(Strip.blank(width))
        now = self.clock()
        cursor_side = bids if self.cursor.is_bid else asks
        cursor_index = min(self.cursor.index, len(cursor_side) - 1)
        if not asks:
            lines.append(self._spread_line(view, width))
        for i, row in enumerate(shown):
            is_bid = i >= len(asks)
            index = (i - len(asks)) if is_bid else (len(asks) - 1 - i)
            under_cursor = self.cursor.is_bid == is_bid and index == cursor_index
            lines.append(self._row_line(
                row, is_bid, prices[i], sizes[i], cums[i], width, cp_w, price_w, size_w,
                ord_w, cum_w, delta_w, bar_w, max_cum, under_cursor, now))
            if i == len(asks) - 1:
                lines.append(self._spread_line(view, width))
        while len(lines) < height - 1:
            lines.append(Strip.blank(width))
        lines = lines[: height - 1]
        lines.append(self._readout_line(width))
        return lines[:height]

    def _title_line(self, width: int) -> Strip:
        stream = self.stream
        parts = [Segment(f" {stream.symbol}", TITLE)]
        if stream.source:
            parts.append(Segment(f" @{stream.source}", cp_style(stream.source)))
        if stream.name:
            parts.append(Segment(f"  {stream.name}", Style(color="#d0d0d0")))
        info = f"  depth {self.depth}"
        step = self.step
        info += f"  group {fmt.dec_str(step)}" if step else ""
        if stream.level is not None:
            info += f"  level {stream.level}"
        if self.show_delta:
            info += "  Δ"
        parts.append(Segment(info, DIM))
        if self.frozen:
            parts.append(Segment("  ❚❚ FROZEN", Style(color="#000000", bgcolor="#ffd75f", bold=True)))
        if not stream.synced:
            parts.append(Segment("  (not synced)", Style(color="#ffaf00")))
        return Strip(parts).adjust_cell_length(width)

    def _header_line(self, width: int, cp_w: int, price_w: int, size_w: int, ord_w: int,
                     cum_w: int, delta_w: int) -> Strip:
        text = ""
        if cp_w:
            text += " Source".ljust(cp_w)
        text += "Price".rjust(price_w) + "Size".rjust(size_w) + "Ord".rjust(ord_w)
        if delta_w:
            text += "Δ".rjust(delta_w)
        text += "Cum".rjust(cum_w) + "  Depth"
        return Strip([Segment(text, HEAD)]).adjust_cell_length(width)

    def _row_line(self, row: Row, is_bid: bool, price: str, size: str, cum: str, width: int,
                  cp_w: int, price_w: int, size_w: int, ord_w: int, cum_w: int, delta_w: int,
                  bar_w: int, max_cum: Decimal, under_cursor: bool, now: float) -> Strip:
        # Hot path (every row, every frame). Everything a row shows goes into one key;
        # an unchanged row (cursor moves, fades, deep levels) reuses last frame's Strip.
        level_key = (is_bid, row.price, row.source)
        flash = self._flashes.get(level_key)
        flash_style = None
        if flash is not None:
            age = 0.0 if self.frozen_time else now - flash[0]
            if age <= FLASH_SECONDS:
                steps = FLASH_UP if flash[1] else FLASH_DOWN
                flash_style = steps[min(len(steps) - 1, int(age / FLASH_SECONDS * len(steps)))]
        delta = self._deltas.get(level_key) if delta_w else None
        bar_eighths = int(row.cum_size * bar_w * 8 / max_cum) if bar_w > 0 and max_cum else 0
        key = (is_bid, row.source, price, size, row.orders, cum, width, cp_w, price_w, size_w,
               ord_w, cum_w, delta_w, bar_w, bar_eighths, under_cursor, flash_style, delta)
        strip = self._row_cache.get(key)
        if strip is None:
            strip = self._make_row(key)
        self._row_cache_next[key] = strip
        return strip

    def _make_row(self, key: tuple) -> Strip:
        (is_bid, source, price, size, orders, cum, width, cp_w, price_w, size_w, ord_w, cum_w,
         delta_w, bar_w, bar_eighths, under_cursor, flash_style, delta) = key
        styles = ROW_STYLES[under_cursor]
        segs = []
        used = 0
        if cp_w:
            name = fmt.fit_cells(f" {source or '·'}", cp_w)
            segs.append(Segment(name, self._cp_style(source, under_cursor)))
            used += cp_w
        text = price.rjust(price_w)
        segs.append(Segment(text, styles["bid" if is_bid else "ask"]))
        used += len(text)
        text = size.rjust(size_w)
        segs.append(Segment(text, flash_style or styles["size"]))
        used += len(text)
        text = (str(orders) if orders else "").rjust(ord_w)
        segs.append(Segment(text, styles["dim"]))
        used += len(text)
        if delta_w:
            text = (fmt.signed(delta) if delta else "").rjust(delta_w)
            segs.append(Segment(text, styles["up" if delta and delta > 0 else "down"]))
            used += len(text)
        text = cum.rjust(cum_w) + "  "
        segs.append(Segment(text, styles["cum"]))
        used += len(text)
        if bar_eighths:
            full, part = divmod(min(bar_eighths, bar_w * 8), 8)
            bar = "█" * full + (BAR_EIGHTHS[part] if part else "")
            segs.append(Segment(bar, styles["bidbar" if is_bid else "askbar"]))
            used += len(bar)
        if used > width:
            return Strip(segs).crop(0, width)
        if used < width:
            segs.append(Segment(" " * (width - used), styles["pad"]))
        return Strip(segs, width)

    def _cp_style(self, source: str | None, under_cursor: bool) -> Style:
        style = cp_style(source)
        return style + CURSOR_BG if under_cursor else style

    def _spread_line(self, view: BookView, width: int) -> Strip:
        if view.spread is None:
            text = " spread -"
            return Strip([Segment(text, SPREAD)]).adjust_cell_length(width)
        prices = fmt.prices_aligned([view.spread, view.mid])
        text = f" spread {prices[0]}  ({fmt.bps(view.spread_bps)} bps)  mid {prices[1]}"
        if view.imbalance is not None:
            text += f"  imbalance {fmt.pct(view.imbalance)}"
        segs = [Segment(text, SPREAD)]
        if view.crossed:
            segs.append(Segment("  CROSSED ", CROSSED))
        return Strip(segs).adjust_cell_length(width, Style(bgcolor="#262626"))

    def _readout_line(self, width: int) -> Strip:
        row = self.cursor_row()
        if row is None:
            return Strip([Segment(" (empty book)", DIM)]).adjust_cell_length(width)
        side = "bid" if self.cursor.is_bid else "ask"
        text = (f" ▶ {side} {self.cursor.index + 1} @ {fmt.dec_str(row.price)}"
                f"  cum {fmt.grouped(row.cum_size)}"
                f"  notional {fmt.grouped(row.cum_notional)}"
                f"  {fmt.bps(row.bps_from_mid)} bps from mid")
        return Strip([Segment(text, Style(color="#ffffff", bgcolor="#303060"))]).adjust_cell_length(
            width, Style(bgcolor="#303060"))

    # -- what the drilldown needs ----------------------------------------------------
    def levels_under_cursor(self) -> list:
        """The book levels behind the cursor row (several for a price group or a cp mix)."""
        row = self.cursor_row()
        if row is None:
            return []
        side = self.stream.book.side(self.cursor.is_bid)
        step = self.step
        if step is None and not side.sourced:
            level = side.get(row.price)
            return [level] if level else []
        out = []
        for level in side.iter_levels():
            price = group_price(level.price, step, side.is_bid) if step else level.price
            if price == row.price:
                out.append(level)
            elif (price < row.price) if side.is_bid else (price > row.price):
                break
        return out
