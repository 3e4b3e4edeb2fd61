"""Drilldown, help and order-executions screens.

The drilldown shows the level under the ladder's cursor, in the richest form the
venue allows: Futu's per-order queue (with `--details`), bthub's contribution per
counterparty (aggregated book), elsewhere the level's size history while open.
It redraws at most `REDRAW_HZ` times a second: a queue can hold a thousand orders.
"""

from __future__ import annotations

import time
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from obview import fmt
from obview.book import Level, group_price
from obview.feed import Feed, Stream
from obview.tui.ladder import cp_style
from obview.venues.bthub.models import Order

REDRAW_HZ = 10
BAR_WIDTH = 24


def _bar(value: Decimal, top: Decimal, width: int = BAR_WIDTH) -> str:
    if not top:
        return ""
    return "█" * max(1 if value else 0, int(value * width / top))


class DrilldownScreen(Screen):
    """One level in detail; `escape` goes back to the ladder."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"),
                Binding("q", "app.quit", "Quit")]

    def __init__(self, feed: Feed, stream: Stream, is_bid: bool, price: Decimal,
                 step: Decimal | None, mask_times: bool = False) -> None:
        super().__init__()
        self.feed = feed
        self.stream = stream
        self.is_bid = is_bid
        self.price = price
        self.step = step
        self.mask_times = mask_times
        self.opened = time.monotonic()
        self.new_ids: set = set()
        self.last_queue_ids: set | None = None
        self.history: list[tuple[float, Decimal | None, Decimal | None]] = []
        self.last_levels: list[Level] = []  # copies, shown when the level has gone
        self.mode = self._mode()
        self.updates = 0  # coalesced BookUpdated messages seen
        self.pushes = 0  # feed pushes seen
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
        yield Footer()

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

    def on_push(self) -> None:
        """Called by the app's feed listener for every push to this stream (not
        coalesced), so "new since the previous push" and the size history are exact."""
        self.pushes += 1
        self._record()

    def book_updated(self) -> None:
        """The app tells us the stream's book changed (coalesced per frame): redraw soon."""
        self.updates += 1
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
                self.history.append((time.monotonic() - self.opened, last, size))
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
        title.append(f"  {side} {fmt.dec_str(self.price)}{group}", "bold #5fd75f" if self.is_bid
                     else "bold #ff5f5f")
        size = self.total_size()
        title.append(f"  level size {fmt.grouped(size) if size is not None else 'gone'}")
        title.append(f"  [{self.mode}]", "#808080")
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
        table = Table(expand=False, box=None, header_style="bold #a8a8a8", pad_edge=False)
        for name, justify in (("#", "right"), ("order id", "left"), ("volume", "right"),
                              ("", "left"), ("", "left")):
            table.add_column(name, justify=justify)
        entries = [(oid, vol) for lv in levels for oid, vol in (lv.queue or {}).items()]
        top = max((v for _, v in entries), default=Decimal(0))
        vols = fmt.align_points([fmt.grouped(v) for _, v in entries])
        total = Decimal(0)
        for pos, ((oid, vol), vtext) in enumerate(zip(entries, vols, strict=True), 1):
            total += vol
            new = oid in self.new_ids
            table.add_row(str(pos), str(oid), vtext, Text(_bar(vol, top), "#5f87af"),
                          Text("● new", "bold #ffd75f") if new else "")
        size = sum((lv.size for lv in levels), Decimal(0))
        check = Text(f"total {fmt.grouped(total)} ", "bold")
        if total == size:
            check.append(f"= level size {fmt.grouped(size)} ✓", "#5fd75f")
        else:
            check.append(f"≠ level size {fmt.grouped(size)} ✗", "bold #ff5f5f")
        table.add_row("", Text(f"{len(entries)} orders"), "", check, "")
        if gone:
            table.add_row("", Text("level gone: last seen state", "bold #ffaf00"), "", "", "")
        return table

    def _sources_table(self) -> Table:
        levels, gone = self.shown_levels()
        table = Table(box=None, header_style="bold #a8a8a8", pad_edge=False)
        for name, justify in (("counterparty", "left"), ("price", "right"), ("size", "right"),
                              ("orders", "right"), ("share", "right"), ("", "left")):
            table.add_column(name, justify=justify)
        total = sum((lv.size for lv in levels), Decimal(0))
        sizes = fmt.align_points([fmt.grouped(lv.size) for lv in levels])
        prices = fmt.prices_aligned([lv.price for lv in levels])
        for level, size, price in zip(levels, sizes, prices, strict=True):
            share = level.size / total if total else None
            table.add_row(Text(level.source or "-", cp_style(level.source)), price, size,
                          str(level.orders or ""),
                          fmt.pct(share), Text(_bar(level.size, total), "#5f87af"))
        table.add_row(Text("total", "bold"), "", fmt.grouped(total), "", "", "")
        if gone:
            table.add_row(Text("level gone: last seen state", "bold #ffaf00"), "", "", "", "", "")
        return table

    def _history_table(self) -> Table:
        table = Table(box=None, header_style="bold #a8a8a8", pad_edge=False)
        for name in ("since open", "size before", "size after", "change"):
            table.add_column(name, justify="right")
        for at, before, after in reversed(self.history):
            change = (after or Decimal(0)) - (before or Decimal(0))
            style = "#5fd75f" if change > 0 else "#ff5f5f" if change < 0 else ""
            table.add_row("–" if self.mask_times else fmt.seconds(at),
                          fmt.grouped(before) if before is not None else "-",
                          fmt.grouped(after) if after is not None else "gone",
                          Text(fmt.signed(change) if before is not None else "open", style))
        return table


HELP_KEYS = [
    ("↑ / ↓", "move the level cursor (readout: cum size, cum notional, bps from mid)"),
    ("enter", "drill down into the level under the cursor / an order's executions"),
    ("escape", "go back"),
    ("g / G", "coarser / finer price grouping (bids round down, asks round up)"),
    ("d", "cycle depth presets 10 / 20 / 50"),
    ("l", "change the Loopring aggregation level"),
    ("t", "toggle the +/- size delta column"),
    ("tab / shift+tab", "next / previous tab"),
    ("1 … 9", "jump to tab N"),
    ("p", "freeze / unfreeze the display (data keeps flowing)"),
    ("?", "this help"),
    ("ctrl+p", "command palette (every action)"),
    ("q / ctrl+c", "quit"),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold #ffd75f", justify="right")
        table.add_column()
        for key, what in HELP_KEYS:
            table.add_row(key, what)
        body = Text.assemble(("obview keys\n\n", "bold underline"))
        yield Static(body, id="help-title")
        yield Static(table, id="help-body")
        yield Static(Text("Ladder colours: asks red, bids green; a size cell flashes green "
                          "(grew) or red (shrank) and fades. bthub: one colour per "
                          "counterparty.", "#a8a8a8"), id="help-notes")


class ExecutionsScreen(ModalScreen):
    """One bthub order: its counterparty orders and their executions."""

    BINDINGS = [Binding("escape,enter,q", "app.pop_screen", "Close")]

    def __init__(self, order: Order) -> None:
        super().__init__()
        self.order = order

    def compose(self) -> ComposeResult:
        order = self.order
        text = Text(f"Order {order.order_id}  {order.side} {order.symbol}  {order.status}\n",
                    "bold")
        table = Table(box=None, header_style="bold #a8a8a8", pad_edge=False)
        for name in ("cp", "cp order", "status", "exec id", "price", "volume", "amount"):
            table.add_column(name, justify="right" if name in ("price", "volume", "amount")
                             else "left")
        total = Decimal(0)
        for cp_order in order.cp_orders.values():
            table.add_row(cp_order.cp, cp_order.cp_order_id, cp_order.status, "",
                          "", _opt(cp_order.execute_volume), _opt(cp_order.execute_amount))
            for ex in cp_order.executions.values():
                total += ex.volume or 0
                table.add_row("", "", "", ex.exec_id, _opt(ex.price), _opt(ex.volume),
                              _opt(ex.amount))
        executed = order.execute_volume or Decimal(0)
        footer = Text(f"\nexecutions total {fmt.grouped(total)}; order executed "
                      f"{fmt.grouped(executed)} {'✓' if total == executed else '≠'}")
        with VerticalScroll(id="exec-body"):
            yield Static(text)
            yield Static(table)
            yield Static(footer)


def _opt(value: Decimal | None) -> str:
    return "-" if value is None else fmt.grouped(value)
