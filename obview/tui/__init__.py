"""The Textual TUI. `run_app` is the only thing the CLI imports from here."""

from __future__ import annotations

import os
from collections.abc import Callable

from obview.venues import VenueConfig

# Textual repaints a dirty screen on a timer of 1/TEXTUAL_FPS (default 60 -> up to 16.7 ms
# after our ladder asked). Our ladders pace themselves at <= 30 fps, so a faster timer
# only shortens push-to-paint latency; it does not add frames. Must be set before
# Textual is imported; a user's own setting wins.
os.environ.setdefault("TEXTUAL_FPS", "120")


def run_app(configs: list[VenueConfig], recording=None, history_s: float | None = None,
            before_run: Callable[[], None] | None = None) -> None:
    """`before_run`: the caller's last check, once the app and its theme are known good
    and before it takes the terminal (the CLI refuses a missing terminal there)."""
    from obview.tui.app import ObviewApp

    app = ObviewApp(configs, recording=recording, **({} if history_s is None
                                                      else {"history_s": history_s}))
    _apply_theme(app)
    if before_run is not None:
        before_run()
    app.run()


async def run_replay_app(player, depth: int | None = None, history_s: float | None = None,
                         before_run: Callable[[], None] | None = None) -> None:
    """The normal app, its feeds driven by a journal (obview/replay); `before_run` as
    for `run_app`."""
    from obview.tui.app import ObviewApp

    configs = player.configs
    if depth is not None:
        for cfg in configs:
            cfg.depth = depth
    app = ObviewApp(configs, player.feeds, player=player,
                    **({} if history_s is None else {"history_s": history_s}))
    _apply_theme(app)
    if before_run is not None:
        before_run()
    await app.run_async()


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
