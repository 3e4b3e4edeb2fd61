"""The app's tabs. Each pane owns what it shows, so the app keeps one list of panes
instead of parallel dicts keyed by feed and stream."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static, TabPane

from obview.feed import Feed, Stream
from obview.tui.ladder import Ladder
from obview.tui.panels import HealthPanel, StreamClock
from obview.tui.records import OrdersTable, RiskTable


class StreamPane(TabPane):
    """One stream's tab: its ladder, its health panel and the push clock they share."""

    def __init__(self, pane_id: str, feed: Feed, stream: Stream, depth: int, *,
                 mask_times: bool, frozen: bool, compact: bool) -> None:
        self.feed = feed
        self.stream = stream
        self.label_text = stream.key
        self.clock = StreamClock()
        self.ladder = Ladder(feed, stream, depth, frozen_time=mask_times)
        self.ladder.frozen = frozen
        self.health = HealthPanel(feed, stream, self.clock, self.ladder.paint_delay,
                                  mask_times=mask_times)
        self.health.compact = compact
        super().__init__(stream.key, Horizontal(self.ladder, self.health, classes="book"),
                         id=pane_id)

    def focus_target(self):
        return self.ladder

    def tick(self) -> None:
        if self.health.is_mounted:
            self.health.tick()


class RecordsPane(TabPane):
    """A feed's records of one kind (orders or risk) as a table."""

    def __init__(self, pane_id: str, feed: Feed, kind: str) -> None:
        self.feed = feed
        self.kind = kind
        self.table = OrdersTable(feed) if kind == "orders" else RiskTable(feed)
        symbols = sorted({s.symbol for s in feed.streams.values()})
        self.label_text = f"{' '.join(symbols)} {kind}".strip()
        super().__init__(self.label_text, self.table, id=pane_id)

    @property
    def stream(self) -> Stream | None:
        """The stream the status bar describes while this tab is in front."""
        return next(iter(self.feed.streams.values()), None)

    def focus_target(self):
        return self.table

    def tick(self) -> None:
        pass


class ErrorPane(TabPane):
    """A venue that could not start: what and why, in place of its books."""

    feed = None
    stream = None

    def __init__(self, pane_id: str, venue: str, symbols: list[str], reason: str) -> None:
        self.label_text = f"{venue} ✗"
        text = Text(f"\n  {venue} {' '.join(symbols)}: cannot start\n\n  {reason}\n")
        super().__init__(self.label_text, Static(text, classes="error-text"), id=pane_id)

    def focus_target(self):
        return None

    def tick(self) -> None:
        pass
