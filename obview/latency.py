"""Rolling latency statistics (p50 / p99 / max) over the last N samples."""

from __future__ import annotations

from collections import deque


class LatencyStats:
    """Samples in milliseconds; `None` samples are counted as unstamped, never as latency."""

    __slots__ = ("samples", "unstamped", "total")

    def __init__(self, window: int = 500) -> None:
        self.samples: deque[float] = deque(maxlen=window)
        self.unstamped = 0
        self.total = 0

    def add(self, value_ms: float | None) -> None:
        self.total += 1
        if value_ms is None:
            self.unstamped += 1
        else:
            self.samples.append(value_ms)

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
