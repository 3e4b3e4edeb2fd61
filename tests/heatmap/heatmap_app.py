"""A tiny app hosting one heatmap over a seeded history (no clock: repeatable)."""

from __future__ import annotations

from rich.console import ColorSystem
from textual.app import App, ComposeResult

from obview.depth_history import DepthHistory
from obview.tui.heatmap import HeatmapView
from tests.heatmap.walk import walk


def seeded_history(seed: int = 1, steps: int = 1200, interval: float = 0.1,
                   levels: int = 100) -> tuple[DepthHistory, list]:
    history = DepthHistory()
    steps_seen = []
    for book, step in walk(seed, steps, interval=interval, levels=levels):
        history.record(book, step.mono)
        for trade in step.trades:
            history.record_trade(trade)
        steps_seen.append(step)
    return history, steps_seen


class HeatmapApp(App):
    def __init__(self, history: DepthHistory, theme: str | None = None,
                 truecolor: bool = True) -> None:
        super().__init__()
        if truecolor:  # the same picture whatever terminal runs the tests
            self.console._color_system = ColorSystem.TRUECOLOR
        self.history = history
        self.wanted_theme = theme
        self.moves: list[HeatmapView.CrosshairMoved] = []

    def compose(self) -> ComposeResult:
        yield HeatmapView(self.history, clock=None, epoch_offset=0, utc=True)

    def on_mount(self) -> None:
        if self.wanted_theme:
            self.theme = self.wanted_theme
        self.query_one(HeatmapView).focus()

    def on_heatmap_view_crosshair_moved(self, message: HeatmapView.CrosshairMoved) -> None:
        self.moves.append(message)
