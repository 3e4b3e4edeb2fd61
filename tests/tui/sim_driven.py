"""An app over the Loopring simulator that the test moves push by push (rate=0 plus
`advance()`), so a heatmap's columns come from real wire pushes, one recorded book per
push, and the picture is the same on every run (masked times: a book a second)."""

from __future__ import annotations

from obview.tui.app import ObviewApp
from obview.venues import config
from obview.venues.loopring import start_sim
from tests.conftest import wait_until
from tests.tui.conftest import ready, settle

MARKET = "LRC-ETH"


class DrivenLoopringApp(ObviewApp):
    def __init__(self, **kw) -> None:
        super().__init__([], mask_times=True, **kw)
        self.sim = None

    async def _open_feeds(self) -> None:
        self.sim = await start_sim("127.0.0.1", 0, 1, {"rate": "0"})
        self._stack.push_async_callback(self.sim.close)
        self.configs = [config("loopring", [MARKET], level=0, api="v3",
                               rest_url=self.sim.rest_url, ws_url=self.sim.ws_url("v3"),
                               verify=0)]
        await super()._open_feeds()


async def drive(pilot, pushes: int) -> None:
    """Wait for the book, then send `pushes` pushes, each recorded before the next."""
    app = pilot.app
    await ready(pilot)
    pane = app.active_stream_pane()
    for _ in range(pushes):
        recorded = pane._books_recorded
        app.sim.advance(MARKET)
        # recorded, and drawn by the ladder on its own (its flashes never fade when
        # masked, so two pushes in one frame would flash differently)
        await wait_until(lambda recorded=recorded: pane._books_recorded > recorded
                         and not app._queued
                         and not pane.ladder._dirty and not pane.ladder._timer_pending, 5,
                         "push recorded and drawn")
    await settle(pilot)


def driven(pushes: int, *keys: str):
    async def run_before(pilot) -> None:
        await drive(pilot, pushes)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        pane = pilot.app.active_stream_pane()
        await wait_until(lambda: not pane.heatmap._timer_pending, 5, "heatmap painted")
        await pilot.pause()

    return run_before
