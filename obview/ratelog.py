"""Log lines that a misbehaving server can repeat thousands of times, without flooding.

A hostile or broken venue can make the same warning happen per frame (an error push,
a bad frame); the log keeps the first few of each kind, then one line per interval
that says how many were left out, so a log stays readable and its size bounded.
"""

from __future__ import annotations

import logging
import time

FIRST_LINES = 5  # of each kind, always written
INTERVAL = 10.0  # seconds between lines of one kind after that


class RateLimitedLog:
    """Per kind of message (`key`): the first `first` lines, then one per `interval`
    seconds carrying the number suppressed since the last one written."""

    __slots__ = ("logger", "first", "interval", "_kinds")

    def __init__(self, logger: logging.Logger, first: int = FIRST_LINES,
                 interval: float = INTERVAL) -> None:
        self.logger = logger
        self.first = first
        self.interval = interval
        self._kinds: dict[str, list] = {}  # key -> [lines seen, last written at, suppressed]

    def log(self, level: int, key: str, message: str, *args: object) -> bool:
        """Write the line unless this kind is over its budget; True when written."""
        if not self.logger.isEnabledFor(level):
            return False
        kind = self._kinds.get(key)
        now = time.monotonic()
        if kind is None:
            if len(self._kinds) >= 256:  # keys can come from server text: keep them bounded
                self._kinds.clear()
            kind = self._kinds[key] = [0, 0.0, 0]
        kind[0] += 1
        if kind[0] > self.first and now - kind[1] < self.interval:
            kind[2] += 1
            return False
        if kind[2]:
            message += f" ({kind[2]} similar lines suppressed)"
            kind[2] = 0
        kind[1] = now
        self.logger.log(level, message, *args)
        return True

    def flush(self) -> None:
        """Say how many lines of each kind were left out since the last one written (at
        the end of a run, so the log never hides that something kept happening)."""
        for key, kind in self._kinds.items():
            if kind[2]:
                self.logger.warning("%s: %d similar lines suppressed", key, kind[2])
                kind[2] = 0

    def warning(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, message, *args)

    def info(self, key: str, message: str, *args: object) -> bool:
        return self.log(logging.INFO, key, message, *args)
