"""Redraw pacing shared by the widgets that follow a live feed (heatmap, tape).

A request draws at once after a quiet spell, else one frame after the last draw, with at
most one draw pending: however many updates arrive, a widget redraws at most once a frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class FramePacer:
    __slots__ = ("frame", "draw", "pending", "last")

    def __init__(self, frame: float, draw: Callable[[], None]) -> None:
        self.frame = frame  # seconds between draws at the most
        self.draw = draw
        self.pending = False
        self.last = 0.0

    def request(self) -> None:
        if self.pending:
            return
        self.pending = True
        delay = self.last + self.frame - time.monotonic()
        asyncio.get_running_loop().call_later(max(0.0, delay), self._fire)

    def _fire(self) -> None:
        self.pending = False
        self.last = time.monotonic()
        self.draw()


class PacedRedraw:
    """For a widget with a `_pacer` (a FramePacer that calls its `_flush`): `mark_dirty()`
    asks for a redraw within one frame, however often it is called."""

    _pacer: FramePacer

    def mark_dirty(self) -> None:
        if self.is_mounted:  # (a Textual widget's)
            self._pacer.request()

    @property
    def _timer_pending(self) -> bool:
        return self._pacer.pending
