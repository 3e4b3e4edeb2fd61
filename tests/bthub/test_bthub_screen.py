"""What the TUI shows of a churning bthub connection never includes the password or a token.

Runs only where the Textual app is present (it lives on the TUI branch)."""

from __future__ import annotations

import pytest

from obview.venues import VenueConfig
from obview.venues.bthub.sim import TOKEN_PREFIX
from tests.conftest import wait_until

PASSWORD = "Pw-SCREEN-CHECK-3141"


async def test_screen_never_shows_secrets():
    app_module = pytest.importorskip("obview.tui.app")
    cfg = VenueConfig(
        "bthub", ["BTCUSDT"], sim=True, seed=1,
        faults={"rate": "100", "drop_after": "40", "malformed": "5", "token_ttl": "0.3"},
        options={"url": "", "insecure": True, "cp": None, "book": "B",
                 "user": "screen-user", "password": PASSWORD},
    )
    app = app_module.ObviewApp([cfg])
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: bool(app.feeds) and app.feeds[0].logins >= 3, timeout=20,
                         message="several logins")
        feed = app.feeds[0]
        await wait_until(lambda: feed.risk and feed.orders, timeout=20, message="records")
        screens = []
        for _ in range(len(app.panes) + 1):
            await pilot.pause()
            screens.append(app.export_screenshot())
            await pilot.press("tab")
        assert len(screens) >= 6  # aggregated, orders, risk, one ladder per counterparty
        for screen in screens:
            assert PASSWORD not in screen
            assert TOKEN_PREFIX not in screen
