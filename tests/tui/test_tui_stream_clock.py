"""The push timing the TUI measures itself (`StreamClock`): intervals between the pushes
it sees, through the same `IntervalStats` the venues use."""

from __future__ import annotations

from obview.book import OrderBook
from obview.feed import Stream
from obview.latency import IntervalStats
from obview.tui.panels import StreamClock


def test_intervals_are_between_pushes_and_the_first_has_none():
    clock = StreamClock()
    stream = Stream("AAA", OrderBook())
    assert isinstance(clock.interval, IntervalStats)
    clock.on_push(stream)
    assert clock.interval.samples == [] and clock.interval.summary()["count"] == 0
    clock.on_push(stream)
    clock.on_push(stream)
    samples = clock.interval.samples
    assert len(samples) == 2 and all(value >= 0 for value in samples)
    assert clock.venue_age.unstamped == 3  # no venue stamp on these books


def test_a_sparkline_with_samples_below_zero_draws_every_sample():
    """A venue stamp a little ahead of our receive clock gives an age below 0 (the VM's
    clocks drift apart: -75 ms was seen): the sparkline had indexed its bars with the
    negative ratio, from the end of the string and past it (IndexError, the app gone)."""
    from obview.latency import LatencyStats
    from obview.tui.panels import SPARK, sparkline

    stats = LatencyStats()
    for value in (0.25, -0.63, -1.37, -2.3):
        stats.add(value)
    line = sparkline(stats)
    assert len(line) == 4 and set(line) <= set(SPARK)
    assert line[0] == SPARK[-1] and line[-1] == SPARK[0]  # highest and lowest sample
    assert list(line) == sorted(line, reverse=True)  # in the samples' order
    stats = LatencyStats()
    for value in (0.0, 2.0, 4.0):  # none below 0: from 0 up, as before
        stats.add(value)
    assert sparkline(stats) == SPARK[0] + SPARK[3] + SPARK[7]


def test_the_message_rate_starts_over_when_a_replay_s_count_goes_back():
    """A seek back sets a replay's message count to the journal's at the target, lower
    than the count the meter last saw: the rate starts over, never below zero."""
    from obview.tui.panels import RateMeter

    now = [100.0]
    meter = RateMeter(clock=lambda: now[0])
    assert meter.sample(1000) is None
    now[0] += 1.0
    assert meter.sample(1200) == 200
    now[0] += 1.0
    assert meter.sample(300) is None  # seeked back: no figure yet, not -900
    now[0] += 0.5
    assert meter.sample(350) == 100


def test_a_replay_s_message_rate_is_on_the_journal_s_clock_and_starts_over_at_a_seek():
    """Given the journal's time, the rate is messages a journal second whatever the
    screen's clock does; a seek (a new epoch) starts it over, forward as well as back."""
    from obview.tui.panels import RateMeter

    meter = RateMeter(clock=lambda: 0.0)  # the screen's clock stands: not read
    assert meter.sample(1000, 50.0) is None
    assert meter.sample(1100, 50.5) == 200  # 100 messages in half a journal second
    assert meter.sample(1100, 50.5) == 200  # paused: the figure at the playhead stands
    assert meter.sample(9000, 90.0, epoch=1) is None  # a seek forward: no burst
    assert meter.sample(9050, 90.5, epoch=1) == 100
    assert meter.sample(9050, 20.0, epoch=1) is None  # back in time: starts over too
