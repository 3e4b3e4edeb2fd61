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
Docs: docs/replay.md, "A replay the machine cannot keep up with".
"""

from __future__ import annotations

import time
from collections.abc import Callable

WINDOW_S = 0.5
RECOVER_BELOW = 0.7  # of the budget: a window this quiet raises the throttle
RAISE = 1.25  # the throttle's step back up
FLOOR = 0.01  # never slower than this share of the chosen speed (see `sample`)


class CpuGovernor:
    """`played()` and `sample()` after each handover of paced lines."""

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
        self.restart()

    def restart(self, throttle: float = 1.0) -> None:
        """A new window (the user changed the speed, paused or seeked)."""
        self.throttle = throttle
        self._window_start = self._clock()
        self._cpu_start = self._cpu()
        self._played = False

    def played(self) -> None:
        self._played = True

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
        self._window_start, self._cpu_start, self._played = now, cpu, False
        throttle = self.throttle
        if played and used > self.budget:
            # the work scales with the lines played: aim a little under the budget
            throttle = max(floor, min(throttle, throttle * max(0.5, 0.95 * self.budget / used)))
        elif used < RECOVER_BELOW * self.budget and throttle < 1.0:
            throttle = min(1.0, throttle * RAISE)
        if throttle == self.throttle:
            return None
        self.throttle = throttle
        return throttle
