"""The replay clock, driven by a hand-moved clock: pace, speed, pause, step, seek."""

from __future__ import annotations

import pytest

from obview.journal.clock import MAX_SPEED, MIN_SPEED, ReplayClock

S = 10**9


class Line:
    def __init__(self, m: int) -> None:
        self.m = m

    def __repr__(self) -> str:
        return f"L{self.m / S:g}"


class Now:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


def lines(*seconds: float) -> list[Line]:
    return [Line(int(100 * S + s * S)) for s in seconds]


def stamps(out: list[Line]) -> list[float]:
    return [(line.m - 100 * S) / S for line in out]


@pytest.fixture
def now() -> Now:
    return Now()


def test_lines_come_at_the_pace_of_their_stamps(now: Now) -> None:
    clock = ReplayClock(lines(0, 1, 1, 2.5), clock=now)
    assert stamps(clock.due()) == [0]
    assert clock.delay() == pytest.approx(1.0)
    now.t += 0.999
    assert clock.due() == []
    now.t += 0.001
    assert stamps(clock.due()) == [1, 1]
    assert clock.delay() == pytest.approx(1.5)
    now.t += 5
    assert stamps(clock.due()) == [2.5]
    assert clock.finished and clock.delay() is None and clock.due() == []


@pytest.mark.parametrize("speed,expected", [(10, 0.1), (0.1, 10.0), (100, 0.01), (0.5, 2.0)])
def test_speed_scales_the_waits(now: Now, speed: float, expected: float) -> None:
    clock = ReplayClock(lines(0, 1), clock=now, speed=speed)
    clock.due()
    assert clock.delay() == pytest.approx(expected)
    now.t += expected * 0.99
    assert clock.due() == []
    now.t += expected * 0.02
    assert stamps(clock.due()) == [1]


def test_max_speed_hands_everything_over_in_batches(now: Now) -> None:
    clock = ReplayClock(lines(*range(25)), clock=now, speed=None, batch=10)
    assert clock.delay() == 0.0
    assert [len(clock.due()), len(clock.due()), len(clock.due())] == [10, 10, 5]
    assert clock.finished


def test_speed_is_clamped_and_stepped(now: Now) -> None:
    clock = ReplayClock(lines(0), clock=now, speed=0.01)
    assert clock.speed == MIN_SPEED
    clock.set_speed(1e6)
    assert clock.speed == MAX_SPEED
    clock.faster()
    assert clock.speed is None  # past 100x: as fast as possible
    clock.slower()
    assert clock.speed == 100.0
    clock.set_speed(1)
    clock.slower()
    clock.slower()
    assert clock.speed == 0.25
    for _ in range(5):
        clock.slower()
    assert clock.speed == MIN_SPEED


def test_pause_freezes_journal_time_and_resume_goes_on(now: Now) -> None:
    clock = ReplayClock(lines(0, 1, 2), clock=now)
    clock.due()
    now.t += 0.4
    clock.pause()
    assert clock.position() == 100 * S + int(0.4 * S)
    now.t += 60
    assert clock.due() == [] and clock.delay() is None
    assert clock.position() == 100 * S + int(0.4 * S)
    clock.toggle()  # space: resume
    assert not clock.paused and clock.delay() == pytest.approx(0.6)
    now.t += 0.6
    assert stamps(clock.due()) == [1]
    clock.toggle()
    assert clock.paused


def test_step_hands_one_line_while_paused(now: Now) -> None:
    clock = ReplayClock(lines(0, 30, 90), clock=now)
    clock.due()
    assert stamps([clock.step()]) == [30]  # pauses first, then one line whatever its stamp
    assert clock.paused and clock.position() == 130 * S
    assert clock.due() == []
    clock.resume()
    assert clock.delay() == pytest.approx(60.0)
    assert stamps([clock.step()]) == [90]
    assert clock.step() is None


def test_a_speed_change_keeps_the_journal_position(now: Now) -> None:
    clock = ReplayClock(lines(0, 10), clock=now)
    clock.due()
    now.t += 2  # 2 s of journal time at 1x
    clock.set_speed(4)
    assert clock.position() == 102 * S
    assert clock.delay() == pytest.approx(2.0)  # 8 journal seconds at 4x
    now.t += 2
    assert stamps(clock.due()) == [10]


def test_seek_forward_catches_up_at_once_then_paces(now: Now) -> None:
    clock = ReplayClock(lines(0, 1, 2, 3, 4, 6), clock=now)
    clock.due()
    clock.seek(103 * S + S // 2)
    assert clock.delay() == 0.0
    assert stamps(clock.due()) == [1, 2, 3]  # rebuild the state at 3.5 s
    assert clock.position() == 103 * S + S // 2
    assert clock.delay() == pytest.approx(0.5)
    now.t += 0.5
    assert stamps(clock.due()) == [4]


def test_seek_back_with_fresh_lines_from_a_checkpoint(now: Now) -> None:
    journal = lines(0, 10, 20, 21, 22, 30)
    clock = ReplayClock(journal, clock=now, speed=10)
    now.t += 100
    assert len(clock.due()) == 6
    with pytest.raises(ValueError):
        clock.seek(105 * S)
    clock.seek(121 * S + S // 2, journal[2:])  # the reader's lines from the 20 s checkpoint
    assert stamps(clock.due()) == [20, 21]
    assert clock.delay() == pytest.approx(0.05)


def test_a_seek_while_paused_rebuilds_and_stays_paused(now: Now) -> None:
    clock = ReplayClock(lines(0, 1, 2, 3), clock=now)
    clock.pause()
    clock.seek(102 * S)
    assert stamps(clock.due()) == [0, 1]
    assert clock.paused and clock.due() == [] and clock.position() == 102 * S
    assert stamps([clock.step()]) == [2]


def test_stamps_going_backwards_start_the_pace_over(now: Now) -> None:
    # two sessions one after the other: the second's monotonic clock starts lower
    clock = ReplayClock(lines(50, 51, -90, -89), clock=now)
    now.t += 1
    assert stamps(clock.due()) == [50, 51, -90]
    assert clock.delay() == pytest.approx(1.0)
    now.t += 1
    assert stamps(clock.due()) == [-89]


def test_a_throttle_slows_the_pace_and_keeps_the_chosen_speed(now: Now) -> None:
    clock = ReplayClock(lines(0, 10, 20), clock=now, speed=10)
    clock.due()
    now.t += 0.5  # 5 journal seconds at 10x
    clock.set_throttle(0.5)
    assert clock.position() == 105 * S and clock.speed == 10 and clock.playing_speed == 5
    assert clock.delay() == pytest.approx(1.0)  # 5 journal seconds at 5x
    now.t += 1
    assert stamps(clock.due()) == [10]
    clock.set_speed(25)  # a speed the user chose starts unthrottled
    assert clock.throttle == 1.0 and clock.playing_speed == 25
    with pytest.raises(ValueError):
        clock.set_throttle(0)


def test_a_throttle_on_a_pace_behind_goes_on_from_the_lines(now: Now) -> None:
    """Lines overdue when the pace is throttled are not owed any more: journal time goes
    on from the next line at the new rate, instead of racing ahead of what was shown."""
    clock = ReplayClock(lines(0, 1, 2, 3), clock=now, speed=1, batch=1)
    clock.due()
    now.t += 3  # every line due; one handed over a call
    assert stamps(clock.due()) == [1]
    clock.set_throttle(0.5)
    assert clock.position() == 102 * S
    assert stamps(clock.due()) == [2]
    assert clock.delay() == pytest.approx(2.0)  # 1 journal second at 0.5x

