"""Drilldown, help and order-executions screens.

The drilldown shows the level under the ladder's cursor, in the richest form the
venue's book allows: the per-order queue (books with order details), the
contribution per source (a book aggregated over counterparties), elsewhere the
level's size history while open. It is fed by the app's coalesced `BookUpdated`
(never from the feed listener) and redraws at most `REDRAW_HZ` times a second: a
queue can hold a thousand orders. `escape` / `q` close it (the app's keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from obview import fmt
from obview.book import Level, group_price
from obview.feed import Feed, Stream
from obview.records import Order
from obview.tui.actions import KEYS, Owner, bindings
from obview.tui.footer import KeyFooter
from obview.tui.ladder import CP_CLASSES, cp_class, shown_places
from obview.tui.records import ID_TAIL, Column, fit
from obview.tui.themes import NO_STYLE

REDRAW_HZ = 10
BAR_WIDTH = 24
FIGURES = ("price", "volume", "amount")  # the executions' flush-right columns


def _bar(value: Decimal, top: Decimal, width: int = BAR_WIDTH) -> str:
    if not top:
        return ""
    return "█" * max(1 if value else 0, int(value * width / top))


class DrilldownScreen(Screen):
    """One level in detail; `escape` goes back to the ladder."""

    BINDINGS = bindings(Owner.SCREEN)

    COMPONENT_CLASSES = {"drill--bid", "drill--ask", "drill--muted", "drill--head",
                         "drill--bar", "drill--new", "drill--ok", "drill--bad", "drill--warn",
                         *(f"cp--{n}" for n in range(CP_CLASSES))}

    def __init__(self, feed: Feed, stream: Stream, is_bid: bool, price: Decimal,
                 step: Decimal | None, mask_times: bool = False,
                 clock: Callable[[], float] = time.time, utc: bool = False) -> None:
        super().__init__()
        self.feed = feed
        self.stream = stream
        self.is_bid = is_bid
        self.price = price
        self.step = step
        self.mask_times = mask_times
        self.clock = clock  # epoch seconds of the data (a replay's: the journal's)
        self.utc = utc
        self.new_ids: set = set()
        self.last_queue_ids: set | None = None
        # (epoch seconds, size before, size after) of each change of the level's size
        self.history: list[tuple[float, Decimal | None, Decimal | None]] = []
        self.last_levels: list[Level] = []  # copies, shown when the level has gone
        self.mode = self._mode()
        self.updates = 0  # coalesced BookUpdated messages seen
        self.places = shown_places(stream.book, step)
        self._pending = False
        self._last_draw = 0.0

    def _mode(self) -> str:
        side = self.stream.book.side(self.is_bid)
        if side.sourced:
            return "sources"
        levels = self.levels()
        if levels and any(lv.queue is not None for lv in levels):
            return "queue"
        return "history"

    def compose(self) -> ComposeResult:
        yield Static(id="drill-title")
        with VerticalScroll(id="drill-body"):
            yield Static(id="drill-content")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._record()
        self.redraw()

    def levels(self) -> list[Level]:
        side = self.stream.book.side(self.is_bid)
        out = []
        for level in side.iter_levels():
            price = group_price(level.price, self.step, self.is_bid) if self.step else level.price
            if price == self.price:
                out.append(level)
            elif (price < self.price) if self.is_bid else (price > self.price):
                break
        return out

    def total_size(self) -> Decimal | None:
        levels = self.levels()
        return sum((lv.size for lv in levels), Decimal(0)) if levels else None

    def _s(self, name: str):
        # partial: the title bar and tables keep their own background
        return self.get_component_rich_style(name, partial=True, default=NO_STYLE)

    def book_updated(self) -> None:
        """The app tells us the stream's book changed (coalesced per frame, like the
        ladder): record what changed since the last one, redraw soon."""
        self.updates += 1
        self._record()
        if self._pending:
            return
        self._pending = True
        delay = self._last_draw + 1 / REDRAW_HZ - time.monotonic()
        if delay > 0:
            self.set_timer(delay, self.redraw)
        else:
            self.call_later(self.redraw)

    def _record(self) -> None:
        levels = self.levels()
        if levels:
            self.last_levels = [Level(lv.price, lv.size, lv.orders,
                                      dict(lv.queue) if lv.queue is not None else None,
                                      lv.source) for lv in levels]
        if self.mode == "queue":
            ids = set()
            for level in levels:
                ids.update((level.queue or {}).keys())
            if self.last_queue_ids is not None and ids != self.last_queue_ids:
                self.new_ids = ids - self.last_queue_ids
            self.last_queue_ids = ids
        elif self.mode == "history":
            size = self.total_size()
            last = self.history[-1][2] if self.history else None
            if not self.history or size != last:
                self.history.append((self.clock(), last, size))
                del self.history[:-500]

    def redraw(self) -> None:
        self._pending = False
        self._last_draw = time.monotonic()
        side = "bid" if self.is_bid else "ask"
        group = f" (group {fmt.dec_str(self.step)})" if self.step else ""
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f" {self.stream.symbol}", "bold")
        if self.stream.source:
            title.append(f"@{self.stream.source}")
        if self.stream.name:
            title.append(f" {self.stream.name}")
        title.append(f"  {side} {fmt.at_least(self.price, self.places)}{group}",
                     self._s("drill--bid" if self.is_bid else "drill--ask"))
        size = self.total_size()
        title.append(f"  level size {fmt.grouped(size) if size is not None else 'gone'}")
        title.append(f"  [{self.mode}]", self._s("drill--muted"))
        self.query_one("#drill-title", Static).update(title)
        content = {"queue": self._queue_table, "sources": self._sources_table,
                   "history": self._history_table}[self.mode]()
        self.query_one("#drill-content", Static).update(content)

    def shown_levels(self) -> tuple[list[Level], bool]:
        """The live levels, or the last seen ones (and True) when the level has gone."""
        levels = self.levels()
        return (levels, False) if levels else (self.last_levels, True)

    def _queue_table(self) -> Table:
        levels, gone = self.shown_levels()
        table = Table(expand=False, box=None, header_style=self._s("drill--head"), pad_edge=False)
        for name, justify in (("#", "right"), ("order id", "left"), ("volume", "right"),
                              ("", "left"), ("", "left")):
            _add_column(table, name, justify)
        entries = [(oid, vol) for lv in levels for oid, vol in (lv.queue or {}).items()]
        top = max((v for _, v in entries), default=Decimal(0))
        vols = _held(fmt.figure_column([fmt.grouped(v) for _, v in entries], "volume"))
        total = Decimal(0)
        for pos, ((oid, vol), vtext) in enumerate(zip(entries, vols, strict=True), 1):
            total += vol
            new = oid in self.new_ids
            table.add_row(str(pos), str(oid), vtext, Text(_bar(vol, top), self._s("drill--bar")),
                          Text("● new", self._s("drill--new")) if new else "")
        size = sum((lv.size for lv in levels), Decimal(0))
        check = Text(f"total {fmt.grouped(total)} ", "bold")
        if total == size:
            check.append(f"= level size {fmt.grouped(size)} ✓", self._s("drill--ok"))
        else:
            check.append(f"≠ level size {fmt.grouped(size)} ✗", self._s("drill--bad"))
        table.add_row("", Text(f"{len(entries)} orders"), "", check, "")
        if gone:
            self._gone_note(table)
        return table

    def _gone_note(self, table: Table) -> None:
        """Under the table, not in a cell: a narrow column would wrap the words."""
        table.caption = Text("level gone: last seen state", self._s("drill--warn"))
        table.caption_justify = "left"

    def _sources_table(self) -> Table:
        levels, gone = self.shown_levels()
        table = Table(box=None, header_style=self._s("drill--head"), pad_edge=False)
        counts = self.feed.capabilities.order_counts  # no column a venue never fills
        for name, justify in (("counterparty", "left"), ("price", "right"), ("size", "right"),
                              *((("orders", "right"),) if counts else ()),
                              ("share", "right"), ("", "left")):
            _add_column(table, name, justify)
        total = sum((lv.size for lv in levels), Decimal(0))
        *sizes, total_text = _held(fmt.figure_column(
            [fmt.grouped(lv.size) for lv in levels] + [fmt.grouped(total)], "size"))
        prices = [fmt.at_least(lv.price, self.places) for lv in levels]
        for level, size, price in zip(levels, sizes, prices, strict=True):
            share = level.size / total if total else None
            orders = (str(level.orders or ""),) if counts else ()
            table.add_row(Text(level.source or "-", self._s(cp_class(level.source))), price,
                          size, *orders,
                          fmt.pct(share), Text(_bar(level.size, total), self._s("drill--bar")))
        table.add_row(Text("total", "bold"), "", total_text, *(("",) if counts else ()), "", "")
        if gone:
            self._gone_note(table)
        return table

    def _history_table(self) -> Table:
        table = Table(box=None, header_style=self._s("drill--head"), pad_edge=False)
        for name in ("time", "size before", "size after", "change"):
            _add_column(table, name, "right")
        entries = list(reversed(self.history))
        befores = _held(fmt.figure_column([fmt.grouped(b) if b is not None else "-"
                                           for _, b, _ in entries], "size before"))
        afters = _held(fmt.figure_column([fmt.grouped(a) if a is not None else "gone"
                                          for _, _, a in entries], "size after"))
        changes = fmt.figure_column([fmt.signed((a or Decimal(0)) - (b or Decimal(0)))
                                     if b is not None else "open" for _, b, a in entries], "change")
        for (at, before, after), btext, atext, ctext in zip(entries, befores, afters, changes,
                                                          strict=True):
            change = (after or Decimal(0)) - (before or Decimal(0))
            style = self._s("drill--bid" if change > 0 else "drill--ask") if change else ""
            table.add_row("–" if self.mask_times else fmt.clock(at, True, self.utc), btext, atext,
                          Text(ctext, style, justify="left"))
        return table


class HelpScreen(ModalScreen):
    """Every key, from the actions table (the same one the bindings are made from)."""

    BINDINGS = bindings(Owner.SCREEN)

    COMPONENT_CLASSES = {"help--key"}

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style=self.get_component_rich_style("help--key", partial=True, default=NO_STYLE),
                         justify="right", no_wrap=True)
        table.add_column()
        for row in KEYS:
            table.add_row(row.keys, row.text)
        # in a focused scroll box: on a short terminal (80x24) the keys run past the
        # bottom, and up / down / page keys must reach them without a mouse
        with VerticalScroll(id="help-box"):
            yield Static(Text("obview keys\n\n", "bold underline"), id="help-title")
            yield Static(table, id="help-body")
            yield Static(Text("Ladder colours follow the theme (ctrl+p > Theme; obview-cb is "
                              "colour-blind safe): bids and \"grew\" in its success colour, "
                              "asks and \"shrank\" in its error colour; a size cell flashes "
                              "and fades. Books aggregated over sources: one colour per source."),
                         id="help-notes")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()


class ExecutionsScreen(ModalScreen):
    """One order: its counterparty orders and their executions (escape / q close)."""

    BINDINGS = bindings(Owner.SCREEN)

    COMPONENT_CLASSES = {"exec--head"}

    def __init__(self, order: Order) -> None:
        super().__init__()
        self.order = order

    def compose(self) -> ComposeResult:
        order = self.order
        text = Text(f"Order {order.order_id}  {order.side} {order.symbol}  {order.status}\n",
                    "bold")
        total = sum((ex.volume or 0 for cp_order in order.cp_orders.values()
                     for ex in cp_order.executions.values()), Decimal(0))
        executed = order.execute_volume or Decimal(0)
        footer = Text(f"\nexecutions total {fmt.grouped(total)}; order executed "
                      f"{fmt.grouped(executed)} {'✓' if total == executed else '≠'}")
        with VerticalScroll(id="exec-body"):
            yield Static(text)
            yield Static(self._table(None), id="exec-table")
            yield Static(footer)

    def on_resize(self) -> None:
        table = self.query_one("#exec-table", Static)
        if table.size.width:
            table.update(self._table(table.size.width))

    def _table(self, width: int | None) -> Table:
        """The counterparty orders and their executions, fitted to `width` cells as the
        orders table is (`records.fit`): ids keep their tails first, and no figure is cut."""
        rows = []
        for cp_order in self.order.cp_orders.values():
            rows.append((cp_order.cp, cp_order.cp_order_id, cp_order.status, "", None,
                         cp_order.execute_volume, cp_order.execute_amount))
            for ex in cp_order.executions.values():
                rows.append(("", "", "", ex.exec_id, ex.price, ex.volume, ex.amount))
        # prices as the ladder shows them (no separators), volumes and amounts grouped
        prices = fmt.figure_column(["" if row[4] is None else fmt.dec_str(row[4]) for row in rows],
                                   "price")
        columns = [Column(name, [row[i] for row in rows], tail=ID_TAIL if i in (1, 3) else 0)
                   for i, name in enumerate(("cp", "cp order", "status", "exec id"))]
        columns += [Column("price", _held(prices))]
        columns += [Column(name, _held(fmt.figure_column([_opt(row[i]) for row in rows], name)))
                    for i, name in ((5, "volume"), (6, "amount"))]
        if width is not None:
            columns = fit(columns, width, 1)
        table = Table(box=None, pad_edge=False, header_style=self.get_component_rich_style(
            "exec--head", partial=True, default=NO_STYLE))
        for column in columns:
            _add_column(table, column.name, "right" if column.name in FIGURES else "left")
        for cells in zip(*(c.cells for c in columns), strict=True):
            table.add_row(*cells)
        return table


def _add_column(table: Table, name: str, justify: str) -> None:
    """Figures (the flush-right columns) never wrap and are never cut short: where the
    screen is narrow, Rich shrinks the other columns (ids, names, bars) instead."""
    table.add_column(name, justify=justify, no_wrap=justify == "right", overflow="ellipsis")


def _held(cells: list[str]) -> list[Text]:
    """Cells of `fmt.figure_column` as they are: in a right-justified column, a str
    would lose the trailing blanks that line the points up."""
    return [Text(cell, justify="left") for cell in cells]


def _opt(value: Decimal | None) -> str:
    return "-" if value is None else fmt.grouped(value)
