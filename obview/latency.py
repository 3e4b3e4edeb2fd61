"""Rolling latency statistics (p50 / p99 / max) over the last N samples, and the one
rule for turning a venue's receive stamp into a latency.

A stamp is only a latency when it is a plausible instant: positive, finite, and giving
a latency between `EARLIEST_MS` and `LATEST_MS`. Anything else (absent, zero, NaN,
infinite, years away) is counted as unstamped, never shown as a figure and never an
exception (a far-future double would overflow `int()`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from itertools import pairwise

# Clocks of two machines disagree a little; a stamp a minute in our future is not that.
EARLIEST_MS = -60_000.0
# Older than a day is not the receive time of a live push.
LATEST_MS = 86_400_000.0
# Epoch seconds accepted as a venue stamp: after 2000-01-01, before 2100-01-01.
_EPOCH_MIN_S = 946_684_800.0
_EPOCH_MAX_S = 4_102_444_800.0


def latency_ms(now_s: float, stamp_s: float) -> float | None:
    """`now_s - stamp_s` in ms (both epoch seconds), or None when the stamp is not plausible."""
    if not stamp_s > 0:  # also NaN
        return None
    value = (now_s - stamp_s) * 1000.0
    return value if EARLIEST_MS <= value <= LATEST_MS else None


def epoch_ms(stamp_s: float) -> int | None:
    """A venue's epoch-seconds stamp as integer ms, or None when absent or absurd."""
    if not _EPOCH_MIN_S <= stamp_s <= _EPOCH_MAX_S:  # NaN and infinities fail too
        return None
    return int(stamp_s * 1000)


class LatencyStats:
    """Samples in milliseconds; `None` samples are counted as unstamped, never as latency."""

    __slots__ = ("samples", "unstamped", "total")

    def __init__(self, window: int = 500) -> None:
        self.samples: deque[float] = deque(maxlen=window)
        self.unstamped = 0
        self.total = 0

    def reset(self) -> None:
        """Forget every sample and count (a replay's seek: another timeline)."""
        self.samples.clear()
        self.unstamped = 0
        self.total = 0

    def add(self, value_ms: float | None) -> None:
        self.total += 1
        # x - x is 0 for every finite number and NaN for NaN and the infinities: the
        # test math.isfinite makes, without a call (this runs once per push)
        if value_ms is not None and value_ms - value_ms == 0:
            self.samples.append(value_ms)
        else:
            self.unstamped += 1

    def fold(self, stamps: Iterable[float], now_s: float) -> None:
        """Add one latency per receive stamp (epoch seconds), as `latency_ms` judges them;
        the batch form of `add` for a read that carried many pushes."""
        stamps = list(stamps)
        if len(stamps) == 1:  # a read of one push (a client keeping up): no lists built
            self.add(latency_ms(now_s, stamps[0]))
            return
        samples = [v for v in ((now_s - s) * 1000.0 for s in stamps if s > 0)
                   if EARLIEST_MS <= v <= LATEST_MS]
        self.total += len(stamps)
        self.unstamped += len(stamps) - len(samples)
        self.samples.extend(samples)

    @property
    def last(self) -> float | None:
        return self.samples[-1] if self.samples else None

    def percentile(self, q: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    def summary(self) -> dict[str, float | int | None]:
        return {
            "p50": self.percentile(0.5),
            "p99": self.percentile(0.99),
            "max": max(self.samples) if self.samples else None,
            "count": len(self.samples),
            "unstamped": self.unstamped,
        }


class IntervalStats(LatencyStats):
    """Milliseconds between consecutive events (a venue's push cadence), read like any
    `LatencyStats`. An event costs one `mark(monotonic_s)`, an append: the intervals are
    worked out when read (a panel, a few times a second), not at every push. `restart()`
    starts a new series (a new subscription): no interval spans it."""

    __slots__ = ("stamps", "mark")

    def __init__(self, window: int = 500) -> None:
        self.unstamped = 0
        # one more stamp than intervals; None marks a restart (see `samples`)
        self.stamps: deque[float | None] = deque(maxlen=window + 1)
        self.mark = self.stamps.append

    def restart(self) -> None:
        if self.stamps and self.stamps[-1] is not None:
            self.mark(None)

    def reset(self) -> None:
        """Forget every interval (a replay's seek: another timeline)."""
        self.stamps.clear()
        self.unstamped = 0

    def stamp_with(self, now: Callable[[], float]) -> None:
        """From now on a mark takes its time from `now()`, whatever stamp it is given: a
        replay's, the receive stamp of the message being handled (on this machine's clock
        the intervals would be the replay's pace: a tenth of the venue's at 10x). A
        restart stays a restart. (Callers that bound `mark` before must bind it again.)"""
        append = self.stamps.append

        def mark(stamp: float | None) -> None:
            append(None if stamp is None else now())

        self.mark = mark

    @property
    def samples(self) -> list[float]:  # type: ignore[override]
        return [(b - a) * 1000.0 for a, b in pairwise(self.stamps)
                if a is not None and b is not None]

    @property
    def total(self) -> int:  # type: ignore[override]
        """Intervals in the window (older ones are not counted)."""
        return len(self.samples)

    def add(self, value_ms: float | None) -> None:
        raise TypeError("IntervalStats takes stamps (mark), not intervals")
