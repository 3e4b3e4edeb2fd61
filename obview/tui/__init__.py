"""The Textual TUI. `run_app` is the only thing the CLI imports from here."""

from __future__ import annotations

import os

from obview.venues import VenueConfig

# Textual repaints a dirty screen on a timer of 1/TEXTUAL_FPS (default 60 -> up to 16.7 ms
# after our ladder asked). Our ladders pace themselves at <= 30 fps, so a faster timer
# only shortens push-to-paint latency; it does not add frames. Must be set before
# Textual is imported; a user's own setting wins.
os.environ.setdefault("TEXTUAL_FPS", "120")


def run_app(configs: list[VenueConfig], history_s: float | None = None) -> None:
    from obview.tui.app import ObviewApp

    app = ObviewApp(configs) if history_s is None else ObviewApp(configs, history_s=history_s)
    _apply_theme(app)
    app.run()


def _apply_theme(app) -> None:
    """`theme = "..."` from the config file, checked against the themes the app has."""
    from obview import config

    cfg = config.current()
    theme = cfg.setting("theme")
    if theme is None:
        return
    if theme not in app.available_themes:
        known = ", ".join(sorted(app.available_themes))
        raise cfg.error(None, "theme", f"unknown theme {theme!r} (known: {known})")
    app.theme = theme
