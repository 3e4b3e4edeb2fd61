"""Helpers for TUI tests: an app over fake feeds, the screen as text, settling."""

from __future__ import annotations

import pytest

from obview.tui.app import ObviewApp
from tests.conftest import wait_until
from tests.support.fake_feed import FakeFeed


def fake_feeds() -> list[FakeFeed]:
    return [
        FakeFeed("futu", ("HK.00700",), seed=1),
        FakeFeed("bthub", ("BTCUSDT",), seed=2, details=False),
        FakeFeed("loopring", ("LRC-ETH",), seed=3, details=False),
    ]


def only(kind: str) -> list[FakeFeed]:
    """One venue's fake feed (fewer tabs: faster tests)."""
    return [feed for feed in fake_feeds() if feed.kind == kind]


class RecordingApp(ObviewApp):
    """The real app, remembering the messages tests assert on."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.cursor_messages = []

    def on_cursor_moved(self, message) -> None:
        self.cursor_messages.append(message)


def make_app(feeds: list[FakeFeed] | None = None, **kw) -> RecordingApp:
    return RecordingApp([], feeds if feeds is not None else fake_feeds(), mask_times=True, **kw)


def screen_text(app: ObviewApp) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def ladder_lines(app: ObviewApp) -> list[str]:
    """The active ladder's lines as last built (what its next paint shows)."""
    return ["".join(seg.text for seg in strip) for strip in app.active_ladder()._strips]


def ladders_settled(app: ObviewApp) -> bool:
    ladder = app.active_ladder()
    return all(not pane.ladder._timer_pending for pane in app.stream_panes()) and (
        ladder is None or not ladder.display  # the heatmap alone (`h`)
        or (ladder.view is not None and ladder._strips is not None))


async def ready(pilot) -> None:
    """Wait until every feed is synced and the visible ladder has painted."""
    app = pilot.app
    await wait_until(lambda: app.feeds and all(
        s.synced for f in app.feeds for s in f.streams.values()), 10, "feeds synced")
    await settle(pilot)


async def settle(pilot) -> None:
    await pilot.pause()
    await wait_until(lambda: ladders_settled(pilot.app), 10, "ladders settled")
    pilot.app._tick()  # the status bar and health panel refresh on a 4 Hz timer: now
    await pilot.pause()


def keys(*presses: str):
    """A snapshot's `run_before`: wait for the books, then press keys as a user would."""

    async def run_before(pilot) -> None:
        await ready(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.fixture
def app() -> RecordingApp:
    """Every venue's fake feed (8 tabs)."""
    return make_app()


@pytest.fixture
def futu_app() -> RecordingApp:
    """Futu's fake feed only: one tab, quicker to start."""
    return make_app(only("futu"))
