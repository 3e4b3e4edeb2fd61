"""The Textual TUI. `run_app` is the only thing the CLI imports from here."""

from __future__ import annotations

from obview.venues import VenueConfig


def run_app(configs: list[VenueConfig]) -> None:
    from obview.tui.app import ObviewApp

    ObviewApp(configs).run()
