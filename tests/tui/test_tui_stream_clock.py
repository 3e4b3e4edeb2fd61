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
