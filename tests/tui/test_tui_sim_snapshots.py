"""Snapshot tests against the venues' own seeded simulators (static books: rate=0).

The real wire path end to end: simulator -> feed -> app -> SVG. Wall-clock numbers
and ephemeral ports are masked (`mask_times`) so the SVGs are repeatable.
"""

from __future__ import annotations

from obview.tui.app import ObviewApp
from obview.venues import VenueConfig, config
from tests.tui.conftest import keys

STATIC = {"rate": "0"}


def futu(details: bool = True) -> VenueConfig:
    return config("futu", ["HK.00700"], details=details, sim=True, seed=1, faults=dict(STATIC))


def loopring() -> VenueConfig:
    return config("loopring", ["LRC-ETH"], sim=True, seed=1, api="v2", faults=dict(STATIC))


def bthub() -> VenueConfig:
    return config("bthub", ["BTCUSDT"], sim=True, seed=1, faults=dict(STATIC), book="A")


def app_for(*configs: VenueConfig) -> ObviewApp:
    return ObviewApp(list(configs), mask_times=True)


def test_sim_futu_ladder(snap_compare):
    assert snap_compare(app_for(futu()), run_before=keys("down"), terminal_size=(120, 34))


def test_sim_futu_queue_drilldown(snap_compare):
    assert snap_compare(app_for(futu()), run_before=keys("up", "enter"), terminal_size=(100, 30))


def test_sim_loopring_ladder_grouped(snap_compare):
    assert snap_compare(app_for(loopring()), run_before=keys("g"), terminal_size=(120, 34))


def test_sim_bthub_aggregated_ladder(snap_compare):
    assert snap_compare(app_for(bthub()), run_before=keys(), terminal_size=(120, 34))


def test_sim_bthub_sources_drilldown(snap_compare):
    assert snap_compare(app_for(bthub()), run_before=keys("enter"), terminal_size=(100, 30))


def test_sim_bthub_orders(snap_compare):
    assert snap_compare(app_for(bthub()), run_before=keys("5"), terminal_size=(120, 30))


def test_sim_loopring_ladder_and_heatmap(snap_compare):
    from tests.tui.sim_driven import DrivenLoopringApp, driven

    assert snap_compare(DrivenLoopringApp(), run_before=driven(80, "h"), terminal_size=(140, 34))


def test_sim_loopring_heatmap_alone_grouped(snap_compare):
    from tests.tui.sim_driven import DrivenLoopringApp, driven

    assert snap_compare(DrivenLoopringApp(), run_before=driven(80, "h", "h", "g", "up", "left"),
                        terminal_size=(120, 34))
