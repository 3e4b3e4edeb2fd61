"""Record tables: orders (with their executions) and risk positions.

These change a few times a second at most, so a DataTable is fine here (the ladder
is the hot path). Rows are rebuilt from `feed.records[kind]` on each coalesced
update; number columns are aligned on the decimal point (`fmt.figure_column`).
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.widgets import DataTable

from obview import fmt
from obview.feed import Feed, RecordKind
from obview.records import (
    DONE_STATUSES,
    ENDED_STATUSES,
    FAILED_STATUSES,
    OPEN_STATUSES,
    WORKING_STATUSES,
)
from obview.tui.actions import Owner, bindings
from obview.tui.themes import NO_STYLE

STATUS_CLASSES = ((DONE_STATUSES, "records--done"), (WORKING_STATUSES, "records--working"),
                  (OPEN_STATUSES, "records--open"), (ENDED_STATUSES, "records--ended"),
                  (FAILED_STATUSES, "records--failed"))
RECORD_CLASSES = {"records--buy", "records--sell", *(cls for _, cls in STATUS_CLASSES)}


def status_class(status: str) -> str:
    upper = status.upper()
    return next((cls for statuses, cls in STATUS_CLASSES if upper in statuses), "")


def _num(value: Decimal | None) -> str:
    return "-" if value is None else fmt.grouped(value)


def _figures(values: list[Decimal | None], header: str) -> list[str]:
    """A number column's cells, held as they are (see `fmt.figure_column`)."""
    return fmt.figure_column([_num(v) for v in values], header)


class RecordsTable(DataTable):
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | RECORD_CLASSES

    def __init__(self, feed: Feed, kind: str, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.feed = feed
        self.kind = kind

    def records(self) -> dict:
        return self.feed.records.get(self.kind, {})

    def _s(self, name: str):
        # partial: zebra stripes and the cursor row keep their background
        return self.get_component_rich_style(name, partial=True, default=NO_STYLE) if name else ""

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted and self.columns:
            self.reload()

    def reload(self) -> None:
        raise NotImplementedError


class OrdersTable(RecordsTable):
    """Orders by id: status, side, filled / ordered, pending. `enter` shows executions."""

    BINDINGS = bindings(Owner.FOCUS)

    def __init__(self, feed: Feed, **kw) -> None:
        super().__init__(feed, RecordKind.ORDERS, **kw)

    def on_mount(self) -> None:
        # the feed keeps only the requested symbols' orders; more than one needs a column
        self.with_symbol = len({s.symbol for s in self.feed.streams.values()}) > 1
        names = ("order id", "symbol") if self.with_symbol else ("order id",)
        for name in (*names, "side", "status", "filled / ordered", "pending", "amount", "cps"):
            self.add_column(name, key=name)
        self.reload()

    def reload(self) -> None:
        orders = list(reversed(list(self.records().values())))  # newest first
        row = self.cursor_row
        self.clear()
        filled = _figures([o.execute_volume for o in orders], "")
        ordered = _figures([o.order_volume for o in orders], "")
        progress = fmt.figure_column([f"{f} / {o}" for f, o in zip(filled, ordered, strict=True)],
                                     "filled / ordered", points=False)
        pending = _figures([o.pending_volume for o in orders], "pending")
        amount = _figures([o.execute_amount for o in orders], "amount")
        for order, fo, p, a in zip(orders, progress, pending, amount, strict=True):
            side = "records--buy" if order.side.upper() == "BUY" else "records--sell"
            self.add_row(
                order.order_id,
                *((order.symbol,) if self.with_symbol else ()),
                Text(order.side, self._s(side)),
                Text(order.status, self._s(status_class(order.status))),
                fo, p, a,
                ", ".join(sorted({cp.cp for cp in order.cp_orders.values()})),
                key=order.order_id,
            )
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))

    def selected_order(self):
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return self.records().get(key)


class RiskTable(RecordsTable):
    """Risk positions keyed by (book, counterparty, symbol)."""

    def __init__(self, feed: Feed, **kw) -> None:
        super().__init__(feed, RecordKind.RISK, **kw)

    def on_mount(self) -> None:
        for name in ("book", "counterparty", "symbol", "open volume", "open amount"):
            self.add_column(name, key=name)
        self.reload()

    def reload(self) -> None:
        risk = list(self.records().values())
        self.clear()
        volumes = _figures([r.open_volume for r in risk], "open volume")
        amounts = _figures([r.open_amount for r in risk], "open amount")
        for row, volume, amount in zip(risk, volumes, amounts, strict=True):
            vol = row.open_volume
            style = "records--buy" if vol and vol > 0 else "records--sell" if vol and vol < 0 else ""
            self.add_row(row.book, row.cp, row.symbol, Text(volume, self._s(style)), amount)
