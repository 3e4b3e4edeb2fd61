"""Record tables: orders (with their executions) and risk positions.

These change a few times a second at most, so a DataTable is fine here (the ladder
is the hot path). Rows are rebuilt from `feed.records[kind]` on each coalesced
update; number columns are aligned on the decimal point (`fmt.figure_column`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.cells import cell_len
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
ID_TAIL = 8  # the characters an abbreviated id keeps: where a venue's ids differ
RECORD_CLASSES = {"records--buy", "records--sell", *(cls for _, cls in STATUS_CLASSES)}


def status_class(status: str) -> str:
    upper = status.upper()
    return next((cls for statuses, cls in STATUS_CLASSES if upper in statuses), "")


def _num(value: Decimal | None) -> str:
    return "-" if value is None else fmt.grouped(value)


def _figures(values: list[Decimal | None], header: str) -> list[str]:
    """A number column's cells, held as they are (see `fmt.figure_column`)."""
    return fmt.figure_column([_num(v) for v in values], header)


@dataclass
class Column:
    """A table column as it is about to be shown. Where the table is narrower than its
    columns, `fit` abbreviates the `tail` columns (ids: their last `tail` characters
    stay, and `enter` shows the whole) and then drops columns by `drop`, lowest first;
    0 is never dropped. A figure is never cut."""

    name: str
    cells: list[str | Text]
    drop: int = 0
    tail: int = 0

    @property
    def width(self) -> int:
        return max([cell_len(self.name), *(_cells(c) for c in self.cells)])

    def abbreviate(self) -> None:
        self.cells = [fmt.id_tail(str(c), self.tail) for c in self.cells]


def _cells(cell: str | Text) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def fit(columns: list[Column], width: int, padding: int) -> list[Column]:
    """The columns that fit `width` cells, each cell padded by `padding` on both sides."""
    def used() -> int:
        return sum(c.width + 2 * padding for c in columns)

    for column in columns:
        if column.tail and used() > width:
            column.abbreviate()
    for rank in sorted({c.drop for c in columns if c.drop}):
        if used() <= width:
            break
        columns = [c for c in columns if c.drop != rank]
    return columns


class RecordsTable(DataTable):
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | RECORD_CLASSES

    def __init__(self, feed: Feed, kind: str, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.feed = feed
        self.kind = kind
        self._shape: list[tuple[str, int]] = []  # the columns' names and widths as shown

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

    def on_resize(self) -> None:
        if self.columns:
            self.reload()  # columns give way, or come back, at the new width

    def show(self, columns: list[Column], keys: list[str]) -> None:
        """Rebuild the rows as `columns` (fitted to the width), one row per key, keeping
        the cursor's row."""
        if self.size.width > 0:  # a hidden table has no width: fitted when shown
            width = self.size.width - self.styles.scrollbar_size_vertical
            columns = fit(columns, width, self.cell_padding)
        row = self.cursor_row
        # a DataTable column only ever widens to its cells: where the fitted widths change
        # (ids abbreviated, a wide figure gone), the columns are made anew at their widths
        shape = [(c.name, c.width) for c in columns]
        if shape != self._shape:
            self._shape = shape
            self.clear(columns=True)
            for column in columns:
                self.add_column(column.name, key=column.name)
        else:
            self.clear()
        for key, *cells in zip(keys, *(c.cells for c in columns), strict=True):
            self.add_row(*cells, key=key)
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))


class OrdersTable(RecordsTable):
    """Orders by id: status, side, filled / ordered, pending. `enter` shows executions."""

    BINDINGS = bindings(Owner.FOCUS)

    def __init__(self, feed: Feed, **kw) -> None:
        super().__init__(feed, RecordKind.ORDERS, **kw)

    def on_mount(self) -> None:
        # the feed keeps only the requested symbols' orders; more than one needs a column
        self.with_symbol = len({s.symbol for s in self.feed.streams.values()}) > 1
        self.reload()

    def reload(self) -> None:
        orders = list(reversed(list(self.records().values())))  # newest first
        filled = _figures([o.execute_volume for o in orders], "")
        ordered = _figures([o.order_volume for o in orders], "")
        progress = fmt.figure_column([f"{f} / {o}" for f, o in zip(filled, ordered, strict=True)],
                                     "filled / ordered", points=False)
        sides = [Text(o.side, self._s("records--buy" if o.side.upper() == "BUY"
                                      else "records--sell")) for o in orders]
        columns = [
            Column("order id", [o.order_id for o in orders], tail=ID_TAIL),
            *([Column("symbol", [o.symbol for o in orders])] if self.with_symbol else []),
            Column("side", sides),
            Column("status", [Text(o.status, self._s(status_class(o.status))) for o in orders]),
            Column("filled / ordered", progress),
            # at 80 columns pending goes first (filled / ordered says most of it), then amount
            Column("pending", _figures([o.pending_volume for o in orders], "pending"), drop=1),
            Column("amount", _figures([o.execute_amount for o in orders], "amount"), drop=2),
            Column("cps", [", ".join(sorted({cp.cp for cp in o.cp_orders.values()}))
                           for o in orders]),
        ]
        self.show(columns, [o.order_id for o in orders])

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
        self.reload()

    def reload(self) -> None:
        risk = list(self.records().values())
        volumes = _figures([r.open_volume for r in risk], "open volume")
        styles = ["records--buy" if r.open_volume and r.open_volume > 0 else
                  "records--sell" if r.open_volume and r.open_volume < 0 else "" for r in risk]
        columns = [
            Column("book", [r.book for r in risk], drop=1),
            Column("counterparty", [r.cp for r in risk]),
            Column("symbol", [r.symbol for r in risk]),
            Column("open volume", [Text(v, self._s(s)) for v, s in zip(volumes, styles,
                                                                           strict=True)]),
            Column("open amount", _figures([r.open_amount for r in risk], "open amount")),
        ]
        self.show(columns, [str(n) for n in range(len(risk))])
