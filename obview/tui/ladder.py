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
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from obview import fmt
from obview.book import BookView, Row, group_price, nice_step
from obview.feed import Feed, Stream
from obview.latency import LatencyStats
from obview.tui.actions import Owner, bindings
from obview.tui.messages import CursorMoved

FPS = 30
FRAME = 1 / FPS
FLASH_SECONDS = 1.2
FADE_STEP = 0.2  # seconds between fade repaints (3 colour steps over FLASH_SECONDS)
# how long the readout says the cursor's level went: news, not a state (the price may
# well come back, and "512.0 gone" beside a 512.0 row a minute later misleads)
NOTE_SECONDS = 5.0
DEPTH_PRESETS = (10, 20, 50)
MAX_GROUP = 12  # grouping steps above the tick (1-2-5 series: 4 decades)
CP_CLASSES = 6  # counterparty colours: `cp--0` ... `cp--5` in the stylesheet
BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
FLASH_STEPS = 3
FLASH_CLASSES = {sign * n: f"ladder--flash-{way}-{n}" for sign, way in ((1, "up"), (-1, "down"))
                 for n in range(1, FLASH_STEPS + 1)}
# Cells a row needs besides the bar; which columns go first when they do not fit.
DROP_ORDER = ("ord", "delta", "cum", "cp")

def cp_class(source: str | None) -> str:
    """A stable colour class per counterparty: the same in every ladder, screen and run."""
    if source is None:
        return "ladder--dim"
    return f"cp--{zlib.crc32(source.encode()) % CP_CLASSES}"


def price_places(book) -> int:
    """The instrument's price decimals, as the book's best levels show them."""
    return max((fmt.decimals_of(lv.price) for side in (book.bids, book.asks)
                for lv in side.top(3)), default=0)  # the ladder: the same 3 rows a side


def shown_places(book, step: Decimal | None) -> int:
    """Decimals every price on a screen is shown with: the instrument's, or the
    grouping step's (a 1.0 group shows 348, on the ladder and in the drilldown)."""
    return fmt.decimals_of(step) if step else price_places(book)


def in_sight(screen: Screen) -> bool:
    """Is `screen` seen: on top, or under screens that all let it show through?

    Textual's `Screen.is_current` also holds for the screen just under an opaque one
    (help, a drilldown), where nothing of it is painted."""
    stack = screen.app.screen_stack
    if screen not in stack:
        return False
    return all(above.styles.background.a < 1 for above in stack[stack.index(screen) + 1:])


@dataclass(slots=True)
class Cursor:
    is_bid: bool = True
    index: int = 0  # the row it is on: 0 = best level of that side (scrolled or not)
    price: Decimal | None = None  # the level it follows as the book moves
    source: str | None = None
    # Put there by the user (a key, a click, the wheel). Until then it rides its row (the
    # best bid): following whatever price the first frame had there would walk a cursor
    # nobody placed into the book, "bid 3 @ 512.0 (512.5 gone)" a minute after start.
    placed: bool = False


@dataclass
class RedrawStats:
    """What the benchmark reads: how often and how expensively the ladder redrew."""

    flushes: int = 0  # frames with new data (or new settings)
    builds: int = 0  # ladder redraws: every line rebuilt (data, cursor, fade)
    paints: int = 0  # builds that changed something on screen
    cpu_ns: int = 0  # thread CPU: _flush(), line building, Textual's render_lines
    last_paint: float = 0.0


STYLE_NAMES = ("ask", "bid", "size", "dim", "cum", "head", "title", "name", "spread",
               "crossed", "askbar", "bidbar", "cursor", "readout", "frozen", "unsynced",
               "note", "pad")


def price_span(bids: list[Row], asks: list[Row]) -> tuple[Decimal, Decimal] | None:
    """(lowest, highest) price of two sides' rows (each best first), or None."""
    prices = [row.price for row in (bids[-1:] + asks[-1:] + bids[:1] + asks[:1])]
    return (min(prices), max(prices)) if prices else None


class Ladder(Widget, can_focus=True):
    """One stream's ladder. The app calls `mark_dirty()`; everything else is internal."""

    BINDINGS = bindings(Owner.LADDER, Owner.FOCUS)

    COMPONENT_CLASSES = {f"ladder--{name}" for name in STYLE_NAMES} | {
        f"ladder--flash-{way}-{n}" for way in ("up", "down") for n in range(1, FLASH_STEPS + 1)
    } | {f"cp--{n}" for n in range(CP_CLASSES)}

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
        self.cursor_note = ""  # said in the readout when the cursor's level went away
        self._off_screen_note = ""  # ... or is below the rows that fit: a state, no timer
        # the first row shown of each side (by is_bid): 0 = from the touch. The user
        # scrolls the cursor's side (moving it past the last row); once scrolled, the side
        # follows the cursor's level as the book moves (`_follow_cursor`)
        self._offsets = {True: 0, False: 0}
        self.note_seconds = NOTE_SECONDS
        self._note_timer: Timer | None = None
        self.stats = RedrawStats()
        self.paint_delay = LatencyStats(window=300)  # receive -> first paint of it, ms
        self.view: BookView | None = None
        self._view_recv: float | None = None  # book.recv_mono of the view not yet painted
        # books received before this (monotonic s) were not due on screen: the ladder was
        # hidden or frozen until then, so their wait is no paint delay (see `_update_view`).
        # `_nothing_late` sets it to infinity; the next flush that draws sets it to then.
        self._due_from = time.monotonic()
        # the screen's lateness: when the oldest change not yet drawn happened (monotonic),
        # before and after it went into the view; `on_late(seconds)` hears it at the paint
        self._oldest_change: float | None = None
        self._view_oldest: float | None = None
        self.on_late: Callable[[float], None] | None = None
        self._prev_sizes: dict[tuple, Decimal] = {}
        self._deltas: dict[tuple, Decimal] = {}
        self._flashes: dict[tuple, tuple[float, bool]] = {}
        self._strips: list[Strip] | None = None
        self._line_rows: list[tuple[bool, int] | None] = []  # screen line -> (is_bid, index)
        self._unpainted = False  # lines built since the last paint
        self._row_cache: dict[tuple, Strip] = {}
        self._row_cache_next: dict[tuple, Strip] = {}
        self._styles: dict[str, Style] = {}
        self._row_style_sets: dict[bool, dict[str, Style]] = {}
        self._line_cache: dict[tuple, Strip] = {}  # title, header, spread and readout lines
        self._places = 0  # price decimals of the lines last built
        self._rows_built = 0  # rows per side of the lines last built
        self._places_for: tuple | None = None  # (step, best bid, best ask) of `_places`
        self._dirty = True
        self._timer_pending = False
        self._built_size: Size | None = None  # the size `_strips` were built for
        self._fade_pending = False
        self._last_flush = 0.0
        # called after each new view, and when a side scrolls (other prices on screen)
        self.on_view: Callable[[], None] | None = None

    # -- colours: from the stylesheet, so every theme recolours the ladder --------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._row_style_sets = {}
        self._line_cache = {}
        self._row_cache = {}
        self._strips = None

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def _row_styles(self, under_cursor: bool) -> dict[str, Style]:
        """Every style a row uses, by short name ("bid", "cp--1"), on or off the cursor."""
        styles = self._row_style_sets.get(under_cursor)
        if styles is None:
            names = [f"ladder--{name}" for name in STYLE_NAMES] + [
                f"cp--{n}" for n in range(CP_CLASSES)]
            cursor = Style(bgcolor=self._style("ladder--cursor").bgcolor)
            styles = {name.removeprefix("ladder--"): self._style(name) + cursor
                      if under_cursor else self._style(name) for name in names}
            self._row_style_sets[under_cursor] = styles
        return styles

    # -- feeding -------------------------------------------------------------------
    def mark_dirty(self, changed_at: float | None = None) -> None:
        """The book changed (first at `changed_at`, monotonic, if known): redraw within
        one frame, at most `FPS` times a second."""
        self._dirty = True
        if changed_at is not None and self._oldest_change is None and not self.frozen:
            self._oldest_change = changed_at
        self._schedule()

    def _schedule(self) -> None:
        # a hidden ladder (another tab, a screen on top) only stays dirty: `on_show`, or
        # the next push once it is visible again, draws it from the book as it is then
        if self._timer_pending:
            return
        if not self._visible():
            self._nothing_late()
            return
        self._timer_pending = True
        delay = self._last_flush + FRAME - time.monotonic()
        # a bare loop timer: cheaper and more punctual than a Textual Timer (a task
        # per frame); asyncio runs it in this context, so the app stays active
        asyncio.get_running_loop().call_later(max(0.0, delay), self._flush)

    def _flush(self) -> None:
        self._timer_pending = False
        if not self._visible():
            self._nothing_late()
            return  # recomputed by on_show / the next mark_dirty while visible
        start = time.thread_time_ns()
        self._last_flush = time.monotonic()
        if self._dirty and not self.frozen:
            if self._due_from == math.inf:  # shown (again), unfrozen: books are due from now
                self._due_from = self._last_flush
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
        return self.display and self.is_mounted and self.size.height > 0 \
            and in_sight(self.screen)

    def _nothing_late(self) -> None:
        # hidden (another tab, a screen on top) or frozen: nothing was due on screen, so
        # no change waiting now is late when the ladder shows it again
        self._oldest_change = self._view_oldest = None
        self._due_from = math.inf

    def on_mount(self) -> None:
        # a screen opened on top (help, a drilldown, the tab picker) sends the ladder no
        # Hide, and closing it no Show: hear every change of the screen on top instead
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def _screen_changed(self, _top: Screen) -> None:
        if self._visible():
            self.mark_dirty()  # in sight again: draw the book as it is now
        else:
            self._nothing_late()

    def on_hide(self) -> None:
        self._nothing_late()

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
        return Decimal(1).scaleb(-price_places(book))

    def set_group(self, delta: int) -> None:
        """g: the next coarser "nice" step (1-2-5 series) above the book's tick; G: finer."""
        if self.group_index == 0 and delta > 0:
            self._base_gap = self.level_gap()  # fixed while grouping, so steps stay put
        self.group_index = max(0, min(MAX_GROUP, self.group_index + delta))
        self._prev_sizes.clear()
        self._regroup_cursor()
        self.mark_dirty()

    def _regroup_cursor(self) -> None:
        """The cursor follows its level into (or out of) a price group, silently."""
        cursor, step = self.cursor, self.step
        if cursor.price is None:
            return
        levels = self.stream.book.side(cursor.is_bid)
        if step is not None:
            cursor.price = group_price(cursor.price, step, cursor.is_bid)
        elif levels.get(cursor.price) is None:
            cursor.price = None  # ungrouped: keep the row, take its price on the next frame
        cursor.source = None

    def reset_history(self) -> None:
        """A different book is coming (new level): no flashes or deltas against the old."""
        self._prev_sizes.clear()
        self._flashes.clear()
        self._deltas = {}
        self.group_index = 0
        self._base_gap = None
        self.cursor = Cursor(self.cursor.is_bid)
        self._offsets = {True: 0, False: 0}
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
        self._nothing_late()
        self.mark_dirty()

    # -- cursor --------------------------------------------------------------------
    def rows_per_side(self) -> int:
        return max(1, min(self.depth, (self.size.height - 4) // 2))

    def _side_rows(self, is_bid: bool) -> list[Row]:
        """Every row of one side in the view (the depth asked for), shown or not."""
        view = self.view
        if view is None:
            return []
        return view.bids if is_bid else view.asks

    def _window(self, is_bid: bool, n: int | None = None) -> tuple[int, int]:
        """The rows of one side on screen: indices lo..hi-1 of the view's side. A side
        scrolled further than the book now goes shows its last `n` rows."""
        rows = len(self._side_rows(is_bid))
        n = n or self._rows_built or self.rows_per_side()
        lo = max(0, min(self._offsets[is_bid], rows - n))
        return lo, min(rows, lo + n)

    def _shown(self, is_bid: bool) -> list[Row]:
        """The rows of one side on screen (as last built: what the user sees)."""
        lo, hi = self._window(is_bid)
        return self._side_rows(is_bid)[lo:hi]

    def _scroll_to(self, is_bid: bool, index: int) -> bool:
        """Scroll one side as little as brings row `index` on screen; True if it moved."""
        n = self._rows_built or self.rows_per_side()
        lo, _ = self._window(is_bid, n)
        if index < lo:
            lo = index
        elif index >= lo + n:
            lo = index - n + 1
        lo = max(0, min(lo, len(self._side_rows(is_bid)) - n))
        moved = lo != self._offsets[is_bid]
        self._offsets[is_bid] = lo
        return moved

    def _cursor_index(self) -> int | None:
        """The row the cursor shows on (on screen), or None for an empty side."""
        lo, hi = self._window(self.cursor.is_bid)
        if lo >= hi:
            return None
        return max(lo, min(self.cursor.index, hi - 1))

    def shown_prices(self) -> tuple[Decimal, Decimal] | None:
        """(lowest, highest) price of the rows on screen (as last built), or None."""
        return price_span(self._shown(True), self._shown(False))

    def depth_prices(self, most: int | None = None) -> tuple[Decimal, Decimal] | None:
        """(lowest, highest) price of the rows of its depth (at most `most` a side) and
        grouping in the book now, on screen or not (a hidden ladder builds no view), or
        None."""
        depth = self.depth if most is None else min(self.depth, most)
        view = self.stream.book.view(depth, self.step)
        return price_span(view.bids, view.asks)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(step)

    def move_cursor(self, step: int) -> None:
        """Move up (-1) or down (+1) through asks (worst..best) then bids (best..worst),
        every row of the view: past the last row on screen, that side scrolls."""
        asks = len(self._side_rows(False))
        bids = len(self._side_rows(True))
        # linear position: asks top-down are indices asks-1..0, then bids 0..
        cur = self.cursor
        index = self._cursor_index()
        index = cur.index if index is None else index
        pos = (asks - 1 - index) if not cur.is_bid else asks + index
        pos = max(0, min(asks + bids - 1, pos + step))
        if pos < asks:
            self._put_cursor(False, asks - 1 - pos)
        else:
            self._put_cursor(True, pos - asks)

    def _put_cursor(self, is_bid: bool, index: int) -> None:
        rows = self._side_rows(is_bid)
        row = rows[index] if 0 <= index < len(rows) else None
        # the cursor's side scrolls to its row; the side it left goes back to the touch
        scrolled = self._scroll_to(is_bid, max(0, index))
        if self._offsets[not is_bid]:
            self._offsets[not is_bid] = 0
            scrolled = True
        self.cursor = Cursor(is_bid, index, row.price if row else None, row.source if row else None,
                             placed=True)
        self.cursor_note = ""
        self._repaint()
        if scrolled and self.on_view is not None:
            self.on_view()  # (the heatmap beside it follows the prices shown)
        self.post_message(CursorMoved(self, self.cursor_row()))

    def cursor_row(self) -> Row | None:
        index = self._cursor_index()
        return None if index is None else self._side_rows(self.cursor.is_bid)[index]

    def _follow_cursor(self, places: int) -> None:
        """After new data: keep the cursor on its price; if that level went, the nearest.

        A scrolled side follows the cursor's level as the book moves it; a side shown
        from the touch stays there (the spread in sight), and a level the book pushes
        below its last row is "off screen" until it comes back or the user scrolls."""
        cursor = self.cursor
        side = self._side_rows(cursor.is_bid)
        lo, hi = self._window(cursor.is_bid)
        self._offsets[cursor.is_bid] = lo  # (a book shorter than the scroll: its end)
        if lo >= hi:
            return
        if lo <= cursor.index < hi and side[cursor.index].price == cursor.price \
                and side[cursor.index].source == cursor.source:
            return  # the usual case: the book moved elsewhere
        if cursor.price is None or not cursor.placed:
            index = max(lo, min(cursor.index, hi - 1))
            row = side[index]
            cursor.index, cursor.price, cursor.source = index, row.price, row.source
            return

        def follows(row: Row) -> bool:
            return row.price == cursor.price and (cursor.source is None
                                                  or row.source == cursor.source)

        found = next((i for i in range(lo, hi) if follows(side[i])), None)
        if found is None:
            found = next((i for i, row in enumerate(side) if follows(row)), None)
            if found is not None and lo > 0 and self._scroll_to(cursor.is_bid, found):
                lo, hi = self._window(cursor.is_bid)  # scrolled: the window follows it
        if found is not None and lo <= found < hi:
            cursor.index = found
            if self.cursor_note == self._off_screen_note:
                self.cursor_note = ""  # back on screen
            return
        if found is not None:
            # still in the book, below the rows that fit (a smaller terminal, or the book
            # moved it outwards): the cursor waits on the edge row, still following it
            cursor.index = hi - 1
            self.cursor_note = self._off_screen_note = (
                f"{fmt.at_least(cursor.price, places)} off screen")
            if self._note_timer is not None:  # (a "gone" note's timer must not clear it)
                self._note_timer.stop()
                self._note_timer = None
            return
        gone = cursor.price
        index = min(range(lo, hi), key=lambda i: abs(side[i].price - gone))
        cursor.index, cursor.price, cursor.source = index, side[index].price, side[index].source
        self.cursor_note = f"{fmt.at_least(gone, places)} gone: nearest"  # as it was shown
        if self._note_timer is not None:
            self._note_timer.stop()
        if not self.frozen_time:  # (snapshots: kept, as flashes are)
            self._note_timer = self.set_timer(self.note_seconds, self._note_expired)

    def _note_expired(self) -> None:
        self._note_timer = None
        if self.cursor_note:
            self.cursor_note = ""
            self._repaint()

    # -- mouse -----------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        target = self._line_rows[event.y] if 0 <= event.y < len(self._line_rows) else None
        if target is not None:
            self._put_cursor(*target)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.move_cursor(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.move_cursor(-1)

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
        recv = self.stream.book.recv_mono
        self._view_recv = recv if recv is not None and recv >= self._due_from else None
        if self._view_oldest is None:  # (a view that painted nothing new keeps the oldest)
            self._view_oldest = self._oldest_change
        self._oldest_change = None
        shown_before = self._places
        # the instrument's decimals from the best rows already in hand (no book walk),
        # worked out again only when the best prices (or the grouping) change
        best = (step, view.bids[0].price if view.bids else None,
                view.asks[0].price if view.asks else None)
        if best != self._places_for:
            self._places_for = best
            self._places = fmt.decimals_of(step) if step else max(
                (fmt.decimals_of(r.price) for r in view.bids[:3] + view.asks[:3]), default=0)
        self._follow_cursor(shown_before)
        if self.on_view is not None:
            self.on_view()

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
        if not self._unpainted:  # the change showed nothing (a level below the rows shown)
            self._view_oldest = None

    def render_lines(self, crop: Region) -> list[Strip]:
        start = time.thread_time_ns()
        # built for another size: a paint can come before our Resize event is handled
        # (the layout sets the new size first), and lines built for the old width would
        # be cropped, their depth bars scaled to columns no longer there
        if self._strips is None or self._built_size != self.size:
            self._strips = self._build_strips()
            self._unpainted = True
        if self._unpainted:  # the first paint of freshly built lines
            self._unpainted = False
            self.stats.paints += 1
            self.stats.last_paint = time.monotonic()
            if self._view_recv is not None:
                self.paint_delay.add((self.stats.last_paint - self._view_recv) * 1000)
                self._view_recv = None
            if self._view_oldest is not None:
                if self.on_late is not None:
                    self.on_late(self.stats.last_paint - self._view_oldest)
                self._view_oldest = None
        lines = super().render_lines(crop)  # Textual's styling and cropping: counted too
        self.stats.cpu_ns += time.thread_time_ns() - start
        return lines

    def render_line(self, y: int) -> Strip:
        strips = self._strips
        if strips is None or y >= len(strips):
            return Strip.blank(self.size.width, self._style("ladder--pad"))
        return strips[y]

    def _build_strips(self) -> list[Strip]:
        self.stats.builds += 1
        self._built_size = self.size
        self._row_cache_next = {}  # rows used by this build: the cache for the next one
        try:
            return self._build_lines()
        finally:
            self._row_cache = self._row_cache_next

    def _columns(self, width: int, prices: list[str], sizes: list[str], cums: list[str],
                 sourced: bool) -> dict[str, int]:
        """Column widths; at a narrow width whole columns go (DROP_ORDER), never digits."""
        cols = {
            "cp": 9 if sourced else 0,
            "price": max([len("Price")] + [len(p) for p in prices]) + 1,
            "size": max([len("Size")] + [len(s) for s in sizes]) + 2,
            "ord": 6 if self.feed.capabilities.order_counts else 0,
            "delta": 10 if self.show_delta else 0,
            "cum": max([len("Cum")] + [len(c) for c in cums]) + 2,
        }
        for name in DROP_ORDER:
            if sum(cols.values()) + 2 <= width:
                break
            cols[name] = 0
        cols["bar"] = max(0, width - sum(cols.values()) - 2)
        return cols

    def _build_lines(self) -> list[Strip]:
        width, height = self.size.width, self.size.height
        view = self.view
        if view is None or height <= 0:
            self.view = view = self.stream.book.view(self.depth, self.step)
            self._places = shown_places(self.stream.book, self.step)
        n = self._rows_built = self.rows_per_side()
        ask_lo, ask_hi = self._window(False, n)
        bid_lo, bid_hi = self._window(True, n)
        asks = view.asks[ask_lo:ask_hi]
        bids = view.bids[bid_lo:bid_hi]
        # no room for a row a side (title, header, spread and readout leave one line): the
        # cursor's side alone, so the row the readout names is on screen (an ask row had
        # taken the line and the bids were cut off below it)
        one_side = height - 4 < 2
        if one_side:
            if self.cursor.is_bid:
                asks = []
            else:
                bids = []
        # the imbalance: over as many rows from the touch on each side as the deepest
        # row on screen (a scrolled side's rows above it count, and as many of the other)
        deepest = max(ask_hi, bid_hi)
        near = (view.asks[:deepest], view.bids[:deepest])
        sourced = self.stream.book.bids.sourced
        shown = list(reversed(asks)) + bids
        places = self._places
        prices = [fmt.at_least(r.price, places) for r in shown]
        sizes = fmt.align_points([fmt.grouped(r.size) for r in shown])
        cums = fmt.align_points([fmt.grouped(r.cum_size) for r in shown])
        cols = self._columns(width, prices, sizes, cums, sourced)
        widths = (cols["cp"], cols["price"], cols["size"], cols["ord"], cols["cum"],
                  cols["delta"], cols["bar"])
        max_cum = max((r.cum_size for r in (asks[-1:] + bids[-1:])), default=Decimal(0))

        scrolled = tuple((name, lo, hi) for name, lo, hi in
                         (("ask", ask_lo, ask_hi), ("bid", bid_lo, bid_hi)) if lo)
        lines: list[Strip] = [self._title_line(width, max(len(asks), len(bids)), scrolled),
                              self._header_line(width, cols)]
        line_rows: list[tuple[bool, int] | None] = [None, None]
        for _ in range(0 if one_side else n - len(asks)):
            lines.append(Strip.blank(width, self._style("ladder--pad")))
            line_rows.append(None)
        now = self.clock()
        cursor_index = self._cursor_index()
        if not asks:
            lines.append(self._spread_line(view, *near, width))
            line_rows.append(None)
        for i, row in enumerate(shown):
            is_bid = i >= len(asks)
            index = (bid_lo + i - len(asks)) if is_bid else (ask_lo + len(asks) - 1 - i)
            under_cursor = self.cursor.is_bid == is_bid and index == cursor_index
            lines.append(self._row_line(row, is_bid, prices[i], sizes[i], cums[i], width,
                                        widths, max_cum, under_cursor, now))
            line_rows.append((is_bid, index))
            if i == len(asks) - 1:
                lines.append(self._spread_line(view, *near, width))
                line_rows.append(None)
        while len(lines) < height - 1:
            lines.append(Strip.blank(width, self._style("ladder--pad")))
        lines = lines[: height - 1]
        lines.append(self._readout_line(width))
        self._line_rows = line_rows[: height - 1]
        return lines[:height]

    def _title_line(self, width: int, rows_shown: int,
                    scrolled: tuple[tuple[str, int, int], ...] = ()) -> Strip:
        """`scrolled`: (side, lo, hi) of each side not shown from the touch."""
        stream = self.stream
        parts = [(f" {stream.symbol}", self._style("ladder--title"))]
        if stream.source:
            parts.append((f" @{stream.source}", self._style(cp_class(stream.source))))
        # the states come before the name and the figures: a narrow title drops parts
        # from its end, and these say the rows below are not the live book
        if self.frozen:
            parts.append(("  ❚❚ FROZEN", self._style("ladder--frozen")))
        if not stream.synced:
            parts.append(("  (not synced)", self._style("ladder--unsynced")))
        if stream.name:
            parts.append((f"  {stream.name}", self._style("ladder--name")))
        dim = self._style("ladder--dim")
        if scrolled:  # "bid rows 5-8 of 20": which rows of the depth are on screen
            rows = ", ".join(f"{name} rows {lo + 1}-{hi}" for name, lo, hi in scrolled)
            parts.append((f"  {rows} of {self.depth}", dim))
        else:
            parts.append((f"  {rows_shown} of {self.depth} rows", dim))
        step = self.step
        if step:
            parts.append((f"  group {fmt.dec_str(step)}", dim))
        if stream.level is not None:
            parts.append((f"  level {stream.level}", dim))
        if self.show_delta:
            parts.append(("  Δ", dim))
        return self._fitted(parts, width)

    def _fitted(self, parts: list[tuple[str, Style]], width: int,
                fill: Style | None = None) -> Strip:
        """Whole parts that fit, in order of importance; the rest dropped, not cut."""
        key = (tuple(parts), width, fill)
        strip = self._line_cache.get(key)
        if strip is None:
            if len(self._line_cache) > 256:
                self._line_cache.clear()
            strip = self._line_cache[key] = self._fit_line(parts, width, fill)
        return strip

    def _fit_line(self, parts: list[tuple[str, Style]], width: int,
                  fill: Style | None) -> Strip:
        texts = [text for text, _ in parts]
        joined = "".join(texts)
        if len(joined) <= width and cell_len(joined) <= width:  # the usual case: all fits
            segs = [Segment(text, style) for text, style in parts]
        else:
            kept = fmt.fit_parts(texts, width)
            segs = [Segment(text, style) for (text, style), _ in zip(parts, kept, strict=False)]
        return Strip(segs).adjust_cell_length(width, fill or self._style("ladder--pad"))

    def _header_line(self, width: int, cols: dict[str, int]) -> Strip:
        key = ("header", width, tuple(cols.values()))
        strip = self._line_cache.get(key)
        if strip is None:
            strip = self._line_cache[key] = self._make_header(width, cols)
        return strip

    def _make_header(self, width: int, cols: dict[str, int]) -> Strip:
        text = ""
        if cols["cp"]:
            text += " Source".ljust(cols["cp"])
        text += "Price".rjust(cols["price"]) + "Size".rjust(cols["size"])
        if cols["ord"]:
            text += "Ord".rjust(cols["ord"])
        if cols["delta"]:
            text += "Δ".rjust(cols["delta"])
        if cols["cum"]:
            text += "Cum".rjust(cols["cum"])
        if cols["bar"] >= len("Depth"):
            text += "  Depth"
        return Strip([Segment(text, self._style("ladder--head"))]).adjust_cell_length(
            width, self._style("ladder--pad"))

    def _row_line(self, row: Row, is_bid: bool, price: str, size: str, cum: str, width: int,
                  widths: tuple, max_cum: Decimal, under_cursor: bool, now: float) -> Strip:
        # Hot path (every row, every frame). Everything a row shows goes into one key;
        # an unchanged row (cursor moves, fades, deep levels) reuses last frame's Strip.
        level_key = (is_bid, row.price, row.source)
        flash = self._flashes.get(level_key)
        flash_step = 0
        if flash is not None:
            age = 0.0 if self.frozen_time else now - flash[0]
            if age <= FLASH_SECONDS:
                step = min(FLASH_STEPS - 1, int(age / FLASH_SECONDS * FLASH_STEPS)) + 1
                flash_step = step if flash[1] else -step
        delta = self._deltas.get(level_key) if widths[5] else None
        bar_w = widths[6]
        bar_eighths = int(row.cum_size * bar_w * 8 / max_cum) if bar_w > 0 and max_cum else 0
        key = (is_bid, row.source, price, size, row.orders, cum, width, widths, bar_eighths,
               under_cursor, flash_step, delta)
        strip = self._row_cache.get(key)
        if strip is None:
            strip = self._make_row(key)
        self._row_cache_next[key] = strip
        return strip

    def _make_row(self, key: tuple) -> Strip:
        (is_bid, source, price, size, orders, cum, width, widths, bar_eighths, under_cursor,
         flash_step, delta) = key
        cp_w, price_w, size_w, ord_w, cum_w, delta_w, bar_w = widths
        styles = self._row_styles(under_cursor)
        segs = []
        used = 0
        if cp_w:
            name = fmt.fit_cells(f" {source or '·'}", cp_w)
            segs.append(Segment(name, styles[cp_class(source).removeprefix("ladder--")]))
            used += cp_w
        text = price.rjust(price_w)
        segs.append(Segment(text, styles["bid" if is_bid else "ask"]))
        used += len(text)
        text = size.rjust(size_w)
        segs.append(Segment(text, self._style(FLASH_CLASSES[flash_step]) if flash_step
                            else styles["size"]))
        used += len(text)
        if ord_w:
            text = (str(orders) if orders else "").rjust(ord_w)
            segs.append(Segment(text, styles["dim"]))
            used += len(text)
        if delta_w:
            text = (fmt.signed(delta) if delta else "").rjust(delta_w)
            segs.append(Segment(text, styles["bid" if delta and delta > 0 else "ask"]))
            used += len(text)
        text = (cum.rjust(cum_w) if cum_w else "") + "  "
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

    def _spread_line(self, view: BookView, asks: list[Row], bids: list[Row],
                     width: int) -> Strip:
        """`asks`, `bids`: the rows from the touch the imbalance is over."""
        spread_style = self._style("ladder--spread")
        if view.spread is None:
            return self._fitted([(" spread -", spread_style)], width, spread_style)
        places = self._places
        parts = [(f" spread {fmt.at_least(view.spread, places)}", spread_style),
                 (f"  ({fmt.bps_precise(view.spread_bps)} bps)", spread_style),
                 (f"  mid {fmt.at_least(view.mid, places)}", spread_style)]
        if view.crossed:  # best bid at or above best ask: said as the headless lines do
            word = "LOCKED" if view.spread == 0 else "CROSSED"
            parts.append((f"  {word} ", self._style("ladder--crossed")))
        imbalance = shown_imbalance(asks, bids)
        if imbalance is not None:
            rows = max(len(asks), len(bids))
            parts.append((f"  imbalance {fmt.pct(imbalance)} over {rows} row{'s' * (rows != 1)}",
                          spread_style))
        return self._fitted(parts, width, spread_style)

    def _readout_line(self, width: int) -> Strip:
        style = self._style("ladder--readout")
        row = self.cursor_row()
        if row is None:
            return self._fitted([(" (empty book)", style)], width, style)
        side = "bid" if self.cursor.is_bid else "ask"
        places = self._places
        index = self._cursor_index()
        parts = [(f" ▶ {side} {index + 1} @ {fmt.at_least(row.price, places)}", style),
                 (f"  cum {fmt.grouped(row.cum_size)}", style),
                 (f"  notional {fmt.grouped_places(row.cum_notional, places)}", style),
                 (f"  {fmt.bps_precise(row.bps_from_mid)} bps from mid", style)]
        if self.cursor_note:
            parts.insert(1, (f"  ({self.cursor_note})", self._style("ladder--note") + style))
        return self._fitted(parts, width, style)


def shown_imbalance(asks: list[Row], bids: list[Row]) -> Decimal | None:
    """(bid - ask) / (bid + ask) size over the rows given (from the touch)."""
    bid = bids[-1].cum_size if bids else Decimal(0)
    ask = asks[-1].cum_size if asks else Decimal(0)
    total = bid + ask
    return (bid - ask) / total if total else None
