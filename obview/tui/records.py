"""bthub's non-book screens: the orders table and the risk positions table.

These change a few times a second at most, so a DataTable is fine here (the ladder
is the hot path). Rows are rebuilt from the feed's dicts on each coalesced update.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from obview import fmt
from obview.feed import Feed

STATUS_STYLES = {"FILLED": "#5fd75f", "PARTIALLY_FILLED": "#ffd75f", "NEW": "#5fafff",
                 "CANCELED": "#808080", "CANCELLED": "#808080", "REJECTED": "#ff5f5f"}


def _num(value: Decimal | None) -> str:
    return "-" if value is None else fmt.grouped(value)


class OrdersTable(DataTable):
    """Orders by id: status, side, filled / ordered, pending. `enter` shows executions."""

    BINDINGS = [Binding("enter", "app.drilldown", "Executions")]

    def __init__(self, feed: Feed, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.feed = feed

    def on_mount(self) -> None:
        # the feed keeps only the requested symbols' orders; more than one needs a column
        self.with_symbol = bool(getattr(self.feed, "symbol_column", False))
        names = ("order id", "symbol") if self.with_symbol else ("order id",)
        for name in (*names, "side", "status", "filled / ordered", "pending", "amount", "cps"):
            self.add_column(name, key=name)
        self.reload()

    def reload(self) -> None:
        orders = getattr(self.feed, "orders", {})
        row = self.cursor_row
        self.clear()
        for order in reversed(list(orders.values())):  # newest first
            side_style = "#5fd75f" if order.side.upper() == "BUY" else "#ff5f5f"
            self.add_row(
                order.order_id,
                *((order.symbol,) if self.with_symbol else ()),
                Text(order.side, side_style),
                Text(order.status, STATUS_STYLES.get(order.status.upper(), "")),
                Text(f"{_num(order.execute_volume)} / {_num(order.order_volume)}",
                     justify="right"),
                Text(_num(order.pending_volume), justify="right"),
                Text(_num(order.execute_amount), justify="right"),
                ", ".join(sorted({cp.cp for cp in order.cp_orders.values()})),
                key=order.order_id,
            )
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))

    def selected_order(self):
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return getattr(self.feed, "orders", {}).get(key)


class RiskTable(DataTable):
    """Risk positions keyed by (book, counterparty, symbol)."""

    def __init__(self, feed: Feed, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.feed = feed

    def on_mount(self) -> None:
        for name in ("book", "counterparty", "symbol", "open volume", "open amount"):
            self.add_column(name, key=name)
        self.reload()

    def reload(self) -> None:
        risk = getattr(self.feed, "risk", {})
        self.clear()
        for row in risk.values():
            vol = row.open_volume
            style = "#5fd75f" if vol and vol > 0 else "#ff5f5f" if vol and vol < 0 else ""
            self.add_row(row.book, row.cp, row.symbol, Text(_num(vol), style, justify="right"),
                         Text(_num(row.open_amount), justify="right"))
