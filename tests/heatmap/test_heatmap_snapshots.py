"""Snapshots of the heatmap over a seeded history (no clock, UTC readout: repeatable).
Update with `pytest tests/heatmap --snapshot-update` after looking at the new SVGs."""

from __future__ import annotations

from tests.heatmap.heatmap_app import HeatmapApp, seeded_history


def _app(theme: str | None = None) -> HeatmapApp:
    history, _ = seeded_history(seed=1, steps=1500, levels=60)
    return HeatmapApp(history, theme=theme)


def test_heatmap_default_theme(snap_compare):
    assert snap_compare(_app(), press=["left", "left", "up"], terminal_size=(100, 30))


def test_heatmap_light_theme(snap_compare):
    assert snap_compare(_app("textual-light"), terminal_size=(100, 30))


def test_heatmap_grouped_and_zoomed(snap_compare):
    async def run_before(pilot) -> None:
        from decimal import Decimal

        from obview.tui.heatmap import HeatmapView
        pilot.app.query_one(HeatmapView).set_step(Decimal("0.2"))
        await pilot.press("Z")
        await pilot.pause()

    assert snap_compare(_app(), run_before=run_before, terminal_size=(80, 24))
