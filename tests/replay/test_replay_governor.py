"""The replay's CPU governor, on hand-moved clocks: it slows a replay that plays over its
budget, leaves a busy loop that plays nothing alone, and gives the speed back when quiet."""

from __future__ import annotations

import pytest

from obview.replay.governor import FLOOR, CpuGovernor


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 7.0

    def run(self, seconds: float, share: float) -> None:
        """`seconds` pass, `share` of a core busy."""
        self.wall += seconds
        self.cpu += seconds * share


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def governor(clocks: Clocks, budget: float = 0.6) -> CpuGovernor:
    return CpuGovernor(budget, cpu=lambda: clocks.cpu, clock=lambda: clocks.wall)


def test_playing_over_budget_slows_in_proportion(clocks: Clocks) -> None:
    gov = governor(clocks)
    clocks.run(0.4, 1.0)
    gov.played()
    assert gov.sample() is None  # the window is not over yet
    clocks.run(0.2, 1.0)
    assert gov.sample() == pytest.approx(0.95 * 0.6)
    assert gov.used == pytest.approx(1.0)
    clocks.run(0.6, 0.9)
    gov.played()
    assert gov.sample() == pytest.approx(0.57 * 0.95 * 0.6 / 0.9)


def test_busy_without_playing_is_left_alone(clocks: Clocks) -> None:
    gov = governor(clocks)
    clocks.run(1.0, 1.0)  # paused, say, while the screen or a rebuild keeps the loop busy
    assert gov.sample() is None and gov.throttle == 1.0
    clocks.run(1.0, 0.5)
    gov.played()  # playing within the budget
    assert gov.sample() is None and gov.throttle == 1.0


def test_a_step_down_is_at_most_half_and_never_below_the_floor(clocks: Clocks) -> None:
    gov = governor(clocks, budget=0.1)
    throttles = []
    for _ in range(12):
        clocks.run(0.5, 1.0)
        gov.played()
        throttles.append(gov.sample())
    assert throttles[0] == 0.5
    assert throttles[-1] is None and gov.throttle == FLOOR
    gov.restart()
    for _ in range(4):  # the player's floor: real time (1x of a 10x replay)
        clocks.run(0.5, 1.0)
        gov.played()
        gov.sample(floor=0.1)
    assert gov.throttle == 0.1


def test_quiet_windows_give_the_speed_back(clocks: Clocks) -> None:
    gov = governor(clocks)
    clocks.run(0.5, 1.0)
    gov.played()
    gov.sample()
    steps = []
    while gov.throttle < 1.0 and len(steps) < 10:
        clocks.run(0.5, 0.2)
        steps.append(gov.sample())
    assert steps[-1] == 1.0 and all(b > a for a, b in zip(steps, steps[1:], strict=False))
    clocks.run(0.5, 0.4)  # under the budget but not quiet: a throttle would stay
    assert gov.sample() is None


def test_a_budget_is_a_share_of_one_core() -> None:
    with pytest.raises(ValueError):
        CpuGovernor(0)
    with pytest.raises(ValueError):
        CpuGovernor(1.5)
