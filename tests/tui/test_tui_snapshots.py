"""Snapshot tests (pytest-textual-snapshot): the screens a user sees, keys pressed.

Books come from the seeded fake feed; wall-clock numbers (ages, rates, latencies)
are masked and flashes do not fade, so every snapshot is byte-for-byte repeatable.
Update with `pytest tests/tui --snapshot-update` after checking the new SVGs.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import keys, make_app, only, ready, settle


@pytest.mark.parametrize("size", [(80, 24), (120, 34)], ids=["80x24", "120x34"])
def test_futu_ladder_with_cursor(snap_compare, size):
    assert snap_compare(make_app(), run_before=keys("down", "down"), terminal_size=size)


def test_ladder_grouped_with_delta(snap_compare):
    assert snap_compare(make_app(only("futu")), run_before=keys("g", "g", "t"), terminal_size=(120, 34))


def test_futu_queue_drilldown(snap_compare):
    assert snap_compare(make_app(only("futu")), run_before=keys("up", "enter"), terminal_size=(100, 30))


def test_help_screen(snap_compare):
    assert snap_compare(make_app(only("futu")), run_before=keys("question_mark"), terminal_size=(100, 30))


def test_bthub_aggregated_ladder(snap_compare):
    assert snap_compare(make_app(only("bthub")), run_before=keys(), terminal_size=(120, 34))


def test_bthub_counterparty_ladder(snap_compare):
    assert snap_compare(make_app(only("bthub")), run_before=keys("2"), terminal_size=(120, 34))


def test_bthub_counterparty_drilldown(snap_compare):
    assert snap_compare(make_app(only("bthub")), run_before=keys("down", "enter"),
                        terminal_size=(100, 30))


def test_bthub_orders_and_executions(snap_compare):
    assert snap_compare(make_app(only("bthub")), run_before=keys("5", "down", "enter"), terminal_size=(100, 30))


def test_bthub_risk(snap_compare):
    assert snap_compare(make_app(only("bthub")), run_before=keys("6"), terminal_size=(100, 30))


def test_loopring_ladder(snap_compare):
    assert snap_compare(make_app(only("loopring")), run_before=keys(), terminal_size=(120, 34))


def test_ladder_flashes_and_deltas_after_pushes(snap_compare):
    app = make_app(only("futu"))

    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("t")
        feed = app.feeds[0]
        for _ in range(3):
            feed.walk(feed.streams["HK.00700"], changes=2)  # seeded: the same every run
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=(120, 34))


@pytest.mark.parametrize("theme", ["textual-light", "obview-cb"])
def test_futu_ladder_in_theme(snap_compare, theme):
    app = make_app(only("futu"), theme=theme)
    assert snap_compare(app, run_before=keys("down", "t"), terminal_size=(120, 34))


def test_bthub_ladder_colour_blind_theme(snap_compare):
    app = make_app(only("bthub"), theme="obview-cb")
    assert snap_compare(app, run_before=keys("down"), terminal_size=(120, 34))
