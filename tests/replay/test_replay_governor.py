"""The replay's governor, on hand-moved clocks: it slows a replay that plays over its CPU
budget or paints late, leaves a busy loop that plays nothing alone, and gives the speed
back when quiet and on time."""

from __future__ import annotations

import pytest

from obview.replay.governor import FLOOR, ReplayGovernor


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


def governor(clocks: Clocks, budget: float = 0.6) -> ReplayGovernor:
    return ReplayGovernor(budget, cpu=lambda: clocks.cpu, clock=lambda: clocks.wall)


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
        ReplayGovernor(0)
    with pytest.raises(ValueError):
        ReplayGovernor(1.5)


def late_window(gov: ReplayGovernor, clocks: Clocks, lates: list[float], share: float = 0.3,
                played: bool = True) -> float | None:
    """A window at `share` of a core in which the screen painted `lates` late."""
    clocks.run(0.5, share)
    for seconds in lates:
        gov.late(seconds)
    if played:
        gov.played()
    return gov.sample()


def test_a_late_screen_slows_the_replay_within_the_cpu_budget(clocks: Clocks) -> None:
    gov = governor(clocks, budget=0.8)
    # the second-latest paint counts (80 ms): the step is 50/80, the window's CPU is low
    assert late_window(gov, clocks, [0.035, 0.100, 0.080]) == pytest.approx(0.05 / 0.08)
    assert gov.lateness == pytest.approx(0.08)
    # a window just over the mark still steps down by a tenth at least
    assert late_window(gov, clocks, [0.051, 0.052]) == pytest.approx(0.05 / 0.08 * 0.9)
    # very late: at most halved at a step
    gov.restart()
    assert late_window(gov, clocks, [0.5, 0.6]) == 0.5


def test_one_stall_is_not_a_late_screen(clocks: Clocks) -> None:
    gov = governor(clocks, budget=0.8)
    assert late_window(gov, clocks, [0.035, 0.036, 0.250]) is None  # a GC pause, say
    assert gov.throttle == 1.0
    assert late_window(gov, clocks, [0.250]) == 0.5  # but the only paint of a window counts


def test_the_speed_comes_back_only_when_the_screen_is_on_time(clocks: Clocks) -> None:
    gov = governor(clocks, budget=0.8)
    late_window(gov, clocks, [0.1, 0.1])
    slowed = gov.throttle
    assert slowed == 0.5
    # quiet CPU, but paints still later than ON_TIME_S (under the mark that slows it)
    assert late_window(gov, clocks, [0.047, 0.048], share=0.1) is None
    assert late_window(gov, clocks, [0.030, 0.035], share=0.1) == pytest.approx(slowed * 1.25)


def test_a_late_screen_while_nothing_plays_is_left_alone(clocks: Clocks) -> None:
    gov = governor(clocks, budget=0.8)
    assert late_window(gov, clocks, [0.2, 0.3], played=False) is None  # paused, say
    assert gov.throttle == 1.0
