"""Paces journal lines for replay: no I/O, no sleeping, an injectable clock.

A driver asks `delay()` how long to wait, waits however it likes (asyncio, a Textual timer,
nothing at all in tests), then takes `due()`. The journal's own stamps (monotonic ns by
default) set the pace: at speed s, a line stamped t ns after the anchor is due t / s ns of
real time after it. Every control (pause, speed, seek) re-anchors at the current journal
position, so changing speed never jumps in journal time.

`throttle` (0 < t <= 1) scales the chosen speed without replacing it: a replay that the
machine cannot keep up with is slowed by its driver (obview/replay/governor.py) and
still says which speed the user asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Generic, TypeVar

T = TypeVar("T")
MIN_SPEED, MAX_SPEED = 0.1, 100.0
# The steps of the +/- keys; None is "as fast as possible".
SPEEDS: tuple[float | None, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, None)
_END = object()


def _mono_stamp(line: Any) -> int:
    return line.m


class ReplayClock(Generic[T]):
    """Lines in, lines out at the pace of their stamps times `speed` (None: max)."""

    def __init__(self, lines: Iterable[T], *, speed: float | None = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 stamp: Callable[[T], int] = _mono_stamp, batch: int = 1000) -> None:
        self._clock = clock
        self._stamp = stamp
        self.batch = batch  # at most this many lines per due() when not pacing
        self.speed: float | None = self._clamp(speed)
        self.paused = False
        self.throttle = 1.0  # the share of `speed` played at (see the module's docstring)
        self._catch_up_to: int | None = None
        self._source: Iterator[T] = iter(())
        self._next: Any = _END
        self._anchor_real = clock()
        self._anchor_stamp: int | None = None
        self._last_stamp: int | None = None
        self._load(lines)

    # -- what the driver reads ---------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._next is _END

    @property
    def catching_up(self) -> bool:
        """Lines before a seek's target are still to come (they come out at once)."""
        return self._catching_up()

    def peek(self) -> T | None:
        """The next line, not taken (None at the end)."""
        return None if self._next is _END else self._next

    def next_stamp(self) -> int | None:
        return None if self._next is _END else self._stamp(self._next)

    def position(self) -> int | None:
        """The journal time being replayed now (ns in the stamps' clock)."""
        if self._anchor_stamp is None:
            return None
        if self.paused:
            return self._anchor_stamp
        if self.finished or self.speed is None:
            return self._last_stamp if self._last_stamp is not None else self._anchor_stamp
        elapsed = self._clock() - self._anchor_real
        return self._anchor_stamp + round(elapsed * self.speed * self.throttle * 1e9)

    def delay(self) -> float | None:
        """Seconds until the next line is due: 0.0 if one is due now, None when paused
        or finished (nothing will become due by waiting)."""
        if self.finished:
            return None
        if self._catching_up():
            return 0.0
        if self.paused:
            return None
        if self.speed is None:
            return 0.0
        ahead = self._stamp(self._next) - self.position()
        return max(ahead / (self.speed * self.throttle) / 1e9, 0.0)

    def due(self) -> list[T]:
        """The lines whose time has come (at most `batch` at a time)."""
        if self.speed is None and not self.paused and self._catch_up_to is None:
            return self._take_batch()  # as fast as possible: no stamp to look at
        out: list[T] = []
        now_stamp = self.position() if self.speed is not None else None
        while self._next is not _END and len(out) < self.batch:
            if self._catching_up():
                out.append(self._take())
                continue
            if self._catch_up_to is not None:  # caught up: the pace starts at the target
                self._reanchor(self._catch_up_to)
                self._catch_up_to = None
                now_stamp = self._anchor_stamp
            if self.paused:
                break
            if self.speed is not None:
                stamp = self._stamp(self._next)
                if self._last_stamp is not None and stamp < self._last_stamp:
                    # the stamps went backwards (another session's clock): go on from there
                    self._reanchor(stamp)
                    now_stamp = stamp
                if stamp > now_stamp:
                    break
            out.append(self._take())
        if self._catch_up_to is not None and self._next is _END:
            self._reanchor(self._catch_up_to)
            self._catch_up_to = None
        return out

    # -- controls ------------------------------------------------------------------------
    def pause(self) -> None:
        if not self.paused:
            self._reanchor(self._pause_position())
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._reanchor(self._anchor_stamp)

    def toggle(self) -> None:
        self.resume() if self.paused else self.pause()

    def step(self) -> T | None:
        """Pause (if running) and hand over the next line, whatever its stamp."""
        self.pause()
        if self._next is _END:
            return None
        line = self._take()
        self._catch_up_to = None
        self._anchor_stamp = self._last_stamp
        return line

    @property
    def playing_speed(self) -> float | None:
        """The speed journal time passes at: `speed` times `throttle` (None: max)."""
        return None if self.speed is None else self.speed * self.throttle

    def set_speed(self, speed: float | None) -> None:
        """A speed the user chose: it starts unthrottled."""
        if not self.paused:
            self._reanchor(self._pause_position())
        self.speed = self._clamp(speed)
        self.throttle = 1.0

    def set_throttle(self, throttle: float) -> None:
        """Play at `throttle` (0 < t <= 1) of the chosen speed from now on."""
        if not 0.0 < throttle <= 1.0:
            raise ValueError(f"a throttle is in (0, 1], not {throttle}")
        if not self.paused:
            position = self._pause_position()
            upcoming = self.next_stamp()
            if (position is not None and upcoming is not None and upcoming < position
                    and not self._catching_up()):
                position = upcoming  # behind: the pace goes on from where the lines are
            self._reanchor(position)
        self.throttle = throttle

    def faster(self) -> None:
        self.set_speed(self._neighbour(+1))

    def slower(self) -> None:
        self.set_speed(self._neighbour(-1))

    def seek(self, target: int, lines: Iterable[T] | None = None) -> None:
        """Go to journal time `target`. `lines` is a fresh source that starts at or before
        it (a reader's `seek()`: from the checkpoint before the target); without one the
        target must be ahead. Lines before the target come out of `due()` at once (they
        rebuild the state the target had), then pacing resumes from the target."""
        if lines is not None:
            self._load(lines)
        elif (pos := self.position()) is not None and target < pos:
            raise ValueError("seeking backwards needs lines that start before the target")
        self._catch_up_to = target
        self._reanchor(target)

    def stop(self) -> None:
        """No line after the ones handed over: the rest of the source is dropped (damage
        found in a line already handed over ends the lines there, as a reader's does)."""
        self._load(())
        self._catch_up_to = None

    # -- inside --------------------------------------------------------------------------
    @staticmethod
    def _clamp(speed: float | None) -> float | None:
        if speed is None:
            return None
        return min(max(float(speed), MIN_SPEED), MAX_SPEED)

    def _neighbour(self, direction: int) -> float | None:
        current = self.speed
        ranked = [s if s is not None else float("inf") for s in SPEEDS]
        value = float("inf") if current is None else current
        if direction > 0:
            higher = [i for i, s in enumerate(ranked) if s > value]
            return SPEEDS[higher[0]] if higher else SPEEDS[-1]
        lower = [i for i, s in enumerate(ranked) if s < value]
        return SPEEDS[lower[-1]] if lower else SPEEDS[0]

    def _catching_up(self) -> bool:
        return (self._catch_up_to is not None and self._next is not _END
                and self._stamp(self._next) < self._catch_up_to)

    def _pause_position(self) -> int | None:
        if self._catching_up():
            return self._catch_up_to
        return self.position()

    def _reanchor(self, stamp: int | None) -> None:
        self._anchor_real = self._clock()
        self._anchor_stamp = stamp

    def _load(self, lines: Iterable[T]) -> None:
        self._source = iter(lines)
        self._next = next(self._source, _END)
        self._last_stamp = None
        if self._next is not _END:
            self._reanchor(self._stamp(self._next))

    def _take_batch(self) -> list[T]:
        if self._next is _END:
            return []
        out = [self._next]
        out.extend(islice(self._source, self.batch - 1))
        self._next = next(self._source, _END) if len(out) == self.batch else _END
        self._last_stamp = self._stamp(out[-1])
        return out

    def _take(self) -> T:
        line = self._next
        self._last_stamp = self._stamp(line)
        self._next = next(self._source, _END)
        return line
