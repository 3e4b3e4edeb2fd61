"""The trade tape: one stream's prints, newest on top, drawn with the Line API.

Line 0 is the status (last price, session volume, VWAP, the highlight threshold),
line 1 the header, then one print a line: time, price, size, side, in the side's
colour; a print at or above the threshold is highlighted. Prices and sizes line up on
their points, as the ladder's do: a print with more decimals than the tape has shown
redraws the kept lines once, at that finer width. Cheap per frame: a print's
line is built once (its `Strip` is kept with it) and a frame only slices the newest
`height - 2` of them, so 1,000 prints a second cost one line each, not a redraw of
the tape each.

The figures come from whatever keeps them (`TapeFigures` here; a feed's per-stream
session figures have the same three attributes): the tape only shows them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from obview import fmt
from obview.trades import BUY, SELL, Trade
from obview.tui.pacing import FramePacer, PacedRedraw

FPS = 30
KEEP = 500  # prints kept on the tape (a screen shows at most a few dozen)
SIDE_WORDS = {BUY: "buy", SELL: "sell", None: ""}
FIGURE_CELLS = 12  # a price or size column (each of `_row_text`'s 13 starts with a blank)


def _fitted(aligned: str, exact: str) -> str:
    """A price or size in its column: lined up on the point when that fits, else its own
    exact text, else visibly abbreviated (a print far finer than the rest, say one unit of
    an 18-decimal token, must not push every line's side off the tape)."""
    if len(aligned) <= FIGURE_CELLS:
        return aligned
    return fmt.fit_number(exact, FIGURE_CELLS)


class TapeFigures:
    """Last price, session volume and VWAP of the prints added, exactly."""

    __slots__ = ("last_price", "last_side", "volume", "notional", "count")

    def __init__(self) -> None:
        self.last_price: Decimal | None = None
        self.last_side: str | None = None
        self.volume = Decimal(0)
        self.notional = Decimal(0)
        self.count = 0

    def add(self, trade: Trade) -> None:
        self.last_price = trade.price
        self.last_side = trade.side
        self.volume += trade.size
        self.notional += trade.price * trade.size
        self.count += 1

    @property
    def vwap(self) -> Decimal | None:
        return self.notional / self.volume if self.volume else None


class TapeView(PacedRedraw, Widget):
    """One stream's tape. The owner calls `add(trades)` (oldest first) and, if it keeps
    the session figures itself, passes them as `figures`."""

    COMPONENT_CLASSES = {"tape--status", "tape--head", "tape--buy", "tape--sell",
                         "tape--neutral", "tape--big", "tape--muted", "tape--pad"}

    def __init__(self, figures=None, *, threshold: Decimal | None = None,
                 epoch_offset: float | None = None, utc: bool = False,
                 mask_times: bool = False, own: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        # the account's own fills (TradeKind.OWN), not the market's prints: its figures
        # say so ("last" and "vol" alone read as the market's last trade and volume)
        self.own = own
        self.own_figures = figures is None
        self.figures = TapeFigures() if figures is None else figures
        self.threshold = threshold
        self.epoch_offset = time.time() - time.monotonic() if epoch_offset is None else epoch_offset
        self.utc = utc
        self.mask_times = mask_times  # snapshots: no clock times
        self.places = 0  # price decimals: the instrument's, as the ladder shows them
        # the decimals the kept lines were built with: the finest price (at least the
        # instrument's) and the finest size among the prints, so each column's points
        # line up (a finer print redraws every kept line, see `add`)
        self._price_places = 0
        self._size_places = 0
        self._size_whole = 0  # the widest whole part among the sizes lined up (cells)
        self.prints: deque[Trade] = deque(maxlen=KEEP)  # newest at the right
        self._lines: deque[Strip | None] = deque(maxlen=KEEP)  # built once, per print
        self._styles: dict[str, Style] = {}
        self._pacer = FramePacer(1 / FPS, self._flush)
        self.cpu_ns = 0  # thread CPU building and rendering (the bench reads it)
        self.paints = 0

    # -- feeding ---------------------------------------------------------------------
    def add(self, trades: Iterable[Trade]) -> None:
        price_places, size_places = max(self._price_places, self.places), self._size_places
        whole = self._size_whole
        for trade in trades:
            self.prints.append(trade)
            self._lines.append(None)
            if self.own_figures:
                self.figures.add(trade)
            price_places = max(price_places, fmt.decimals_of(trade.price))
            # a size widens the column's decimals (or whole part) only while every size
            # lined up still fits: one print far finer or larger than the rest is shown
            # on its own (see `_fitted`) rather than unaligning all the others
            size_whole = len(fmt.grouped(trade.size).partition(".")[0])
            places = max(size_places, fmt.decimals_of(trade.size))
            if max(whole, size_whole) + 1 + places <= FIGURE_CELLS:
                whole, size_places = max(whole, size_whole), places
        self._size_whole = whole
        if price_places != self._price_places or size_places != self._size_places:
            self._price_places, self._size_places = price_places, size_places
            self._forget_lines()  # lines built for fewer decimals would stand out of line
        self.mark_dirty()

    def clear(self) -> None:
        self.prints.clear()
        self._lines.clear()
        self._price_places = self._size_places = self._size_whole = 0
        if self.own_figures:
            self.figures = TapeFigures()
        self.mark_dirty()

    def set_threshold(self, threshold: Decimal | None) -> None:
        """Prints of at least this size are highlighted (None: none)."""
        self.threshold = threshold
        self._forget_lines()
        self.mark_dirty()

    def _forget_lines(self) -> None:
        self._lines = deque([None] * len(self.prints), maxlen=KEEP)

    def _flush(self) -> None:
        if self.display and self.is_on_screen:  # a hidden tape only keeps its prints
            self.refresh()

    def on_show(self) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}
        self._forget_lines()

    # -- painting ------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def render_lines(self, crop):
        start = time.thread_time_ns()
        self.paints += 1
        lines = super().render_lines(crop)
        self.cpu_ns += time.thread_time_ns() - start
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._status_line(width)
        if y == 1:
            return self._text_line(self._row_text("Time", "Price", "Size", "Side"), "tape--head",
                                   width)
        index = len(self.prints) - 1 - (y - 2)  # newest on top
        if index < 0:
            return Strip.blank(width, self._style("tape--pad"))
        strip = self._lines[index]
        if strip is None or strip.cell_length != width:
            strip = self._lines[index] = self._print_line(self.prints[index], width)
        return strip

    def _row_text(self, when: str, price: str, size: str, side: str) -> str:
        return f" {when:<11}{price:>13}{size:>13} {side:<4}"

    def _print_line(self, trade: Trade, width: int) -> Strip:
        when = "–" if self.mask_times else fmt.clock(trade.mono + self.epoch_offset, True,
                                                     self.utc)
        exact = fmt.grouped(trade.size)
        text = self._row_text(
            when, _fitted(fmt.fixed(trade.price, self._price_places),
                          fmt.at_least(trade.price, self.places)),
            _fitted(fmt.point_padded(exact, self._size_places), exact), SIDE_WORDS[trade.side])
        name = "tape--buy" if trade.side == BUY else "tape--sell" if trade.side == SELL \
            else "tape--neutral"
        style = self._style(name)
        if self.threshold is not None and trade.size >= self.threshold:
            style = style + self._style("tape--big")
        return self._text_line(text, style, width)

    def _text_line(self, text: str, style: Style | str, width: int) -> Strip:
        if isinstance(style, str):
            style = self._style(style)
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)

    def status_text(self) -> str:
        figures = self.figures
        last = "–" if figures.last_price is None else fmt.at_least(figures.last_price, self.places)
        vwap = figures.vwap
        # the VWAP is a quotient: shown to two decimals beyond the prices', rounded, and
        # written as the prices are (no separators), so it reads beside `last`. The
        # prints' own decimals count: a coarser aggregation level shows the ladder's
        # prices with fewer, while every print keeps the market's.
        places = 2 + max(self.places, self._price_places)
        shown = "–" if vwap is None else fmt.rounded(vwap, places)
        parts = [f" {'own fills: ' if self.own else ''}last {last}",
                 f"  vol {fmt.grouped(figures.volume)}", f"  VWAP {shown}"]
        if self.threshold is not None:
            parts.append(f"  ≥ {fmt.grouped(self.threshold)}")  # in the highlight's colour
        # whole parts that fit, in order of importance (never a number cut short)
        return "".join(fmt.fit_parts(parts, self.size.width or 200))

    def _status_line(self, width: int) -> Strip:
        text = self.status_text()
        status = self._style("tape--status")
        if self.threshold is None or "≥" not in text:
            return self._text_line(text, status, width)
        figures, _, mark = text.rpartition("  ≥")
        return Strip([Segment(figures, status), Segment("  ", status),
                      Segment(f"≥{mark}", status + self._style("tape--big"))]
                     ).adjust_cell_length(width, status)
