"""Slows a replay the machine cannot keep up with, so the screen keeps up instead.

At 100x a dense journal can ask for more decoding than a slow machine has. The player
then hands overdue lines over in every turn of the event loop, the loop is never idle,
and the screen paints a few times a second, long after the books changed (measured: p99
push-to-paint 212 ms at 12 paints/s, one core, on a machine a third as fast as the one
the targets were set on). A user would rather have the other trade: a screen that keeps
up, and a replay that slows down and says so.

The governor reads the CPU time of the thread that runs the event loop (the player, the
feeds and the screen all run there) over windows of `window_s`. After a window busier
than `budget` (a share of one core) in which lines were played, it lowers the throttle
in proportion to the excess; after a window well under budget, it raises the throttle
back towards 1 (the speed asked for). "Behind" is no signal: a replay can keep pace by
taking the whole core, and then the screen is what falls behind (measured: lines on
time at 57x, one core, p99 push-to-paint 51-433 ms).

The screen's own lateness is the second signal: each paint reports (`late`) how long
after the oldest change it drew it came. A window whose second-latest paint is later
than LATE_S slows the replay too, whatever the CPU says: the CPU time of our thread
cannot see a machine whose core other work is taking (measured with a busy process on
the same core: the CPU rule alone played at 100x, p99 push-to-paint 64-184 ms, median
of four runs 84 ms, at 20-26 paints/s; with lateness it slowed to 30-88x, p99 46-146 ms,
median of six 65 ms, at 27-29 paints/s). Where the screen keeps up, lateness lets the
CPU budget be larger (see obview/tui/app.py).
Docs: docs/replay.md, "A replay the machine cannot keep up with".
"""

from __future__ import annotations

import time
from collections.abc import Callable

WINDOW_S = 0.5
RECOVER_BELOW = 0.7  # of the budget: a window this quiet raises the throttle
RAISE = 1.25  # the throttle's step back up
FLOOR = 0.01  # never slower than this share of the chosen speed (see `sample`)
# The screen's lateness: how long after the oldest change it drew a paint came. A screen
# that keeps up paints 30 times a second, so that is a frame and a little (measured at 1x
# to 100x: 32-36 ms at the median, 37-40 ms at p90 of paints). A window's figure is its
# second-latest paint, so one stall (a full garbage collection) is not taken for a trend.
LATE_S = 0.050  # a window this late slows the replay (the push-to-paint target, 50 ms)
ON_TIME_S = 0.045  # and only a window at most this late lets it speed up again


class ReplayGovernor:
    """`played()` and `sample()` after each handover of paced lines; `late()` from each
    paint of the screen."""

    def __init__(self, budget: float, *, window_s: float = WINDOW_S,
                 cpu: Callable[[], float] = time.thread_time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"a CPU budget is a share of one core in (0, 1], not {budget}")
        self.budget = budget
        self.window_s = window_s
        self._cpu = cpu
        self._clock = clock
        self.throttle = 1.0
        self.used = 0.0  # the last window's share of a core
        self.lateness = 0.0  # the last window's lateness (see LATE_S), seconds
        self.restart()

    def restart(self, throttle: float = 1.0) -> None:
        """A new window (the user changed the speed, paused or seeked)."""
        self.throttle = throttle
        self._window_start = self._clock()
        self._cpu_start = self._cpu()
        self._played = False
        self._lates: list[float] = []

    def played(self) -> None:
        self._played = True

    def late(self, seconds: float) -> None:
        """A paint came `seconds` after the oldest change it drew."""
        self._lates.append(seconds)

    def sample(self, floor: float = FLOOR) -> float | None:
        """The new throttle (never under `floor`) if a window just ended and it changed,
        else None."""
        now = self._clock()
        span = now - self._window_start
        if span < self.window_s:
            return None
        cpu = self._cpu()
        used = self.used = (cpu - self._cpu_start) / span
        played = self._played
        lates = self._lates
        late = self.lateness = sorted(lates)[-2] if len(lates) > 1 else sum(lates)
        self._window_start, self._cpu_start, self._played = now, cpu, False
        self._lates = []
        throttle = self.throttle
        step = 1.0
        if played and used > self.budget:
            # the work scales with the lines played: aim a little under the budget
            step = 0.95 * self.budget / used
        if played and late > LATE_S:
            # lateness does not scale with the work (it explodes as the loop fills up):
            # a step in proportion, at least a tenth
            step = min(step, 0.9, LATE_S / late)
        if step < 1.0:
            throttle = max(floor, min(throttle, throttle * max(0.5, step)))
        elif used < RECOVER_BELOW * self.budget and late <= ON_TIME_S and throttle < 1.0:
            throttle = min(1.0, throttle * RAISE)
        if throttle == self.throttle:
            return None
        self.throttle = throttle
        return throttle
