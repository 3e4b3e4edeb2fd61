"""The one timing helper for every benchmark under `bench/` that compares variants.

(Benches that hold a figure to an absolute target inside a running app, such as frame
CPU or push-to-paint p99 in tui_bench, many_symbols, heatmap_bench and trades_bench,
report medians and percentiles of their own samples: no ratio, so nothing to pair; so
does demo_startup, whose fresh processes each give one figure.
tape_heatmap_bench compares two layouts and interleaves them inside one app's run.)

This machine is shared and its speed drifts (up to 30% over minutes), so a ratio of two
timings taken minutes apart says little. Every bench therefore:

1. runs its variants in interleaved rounds: round 1 runs A, B, C back to back, then
   round 2 runs B, C, A, round 3 C, A, B, and so on, so the variants of one round share
   the machine's state (a noisy neighbour slows them alike) and each takes every place
   in a round equally often, so no place can favour a variant. (With a fixed order, the
   same feed path run second in every round came out 5-15% dearer than run first in
   four runs of five, paired median of 6-21 rounds, bench/record_replay.py part 2
   against itself. Rotated, it still differed by 7-9% in one run: that much is this
   VM's noise, which a bench shows by timing one variant twice);
2. reports a ratio as the median, over rounds, of the two variants' times measured in
   the same round (a "paired median": robust to drift and to a few disturbed rounds);
3. reports rates (and absolute times) from each variant's best round, which is the
   least disturbed one; the ratio of best rounds may be printed beside the paired one.

API (import it as `from timing import interleave` after putting `bench/` on sys.path,
which running `python bench/x.py` does already):

    runs = {"bare": bare, "ours": ours}         # name -> callable running one round
    t = interleave(runs, rounds=15, warmup=1)   # -> Timings
    t.best("ours")                              # seconds of its fastest round
    t.rate("ours", n)                           # n / best: items a second
    t.per_item("ours", n)                       # best / n: seconds an item
    t.paired("ours", "bare")                    # median over rounds of ours/bare
    t.best_ratio("ours", "bare")                # best(ours) / best(bare)
    t.paired_delta("ours", "bare")              # median over rounds of ours - bare (s)
    t.ratio_text("ours", "bare")                # "2.41x (paired median of 15 rounds;
                                                #  best rounds 2.38x)"

A round callable returns None (the helper times it with `perf_counter`) or its own
elapsed seconds as a float (a run timed elsewhere, e.g. in a subprocess, or one that
must exclude its own setup). `warmup` rounds run every variant first, untimed.
`verdict(ok)` gives the "OK" / "OVER TARGET" word the benches print beside targets.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Round = Callable[[], "float | None"]


@dataclass
class Timings:
    """Seconds per round of each variant, rounds in the order they ran."""

    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return min((len(v) for v in self.times.values()), default=0)

    def best(self, name: str) -> float:
        return min(self.times[name])

    def rate(self, name: str, items: int) -> float:
        return items / self.best(name)

    def per_item(self, name: str, items: int) -> float:
        return self.best(name) / items

    def paired(self, slow: str, fast: str) -> float:
        """Median over rounds of slow/fast, the two measured back to back in each round."""
        return statistics.median(
            s / f for s, f in zip(self.times[slow], self.times[fast], strict=True))

    def paired_delta(self, slow: str, fast: str) -> float:
        """Median over rounds of slow - fast, in seconds (an added cost, not a ratio)."""
        return statistics.median(
            s - f for s, f in zip(self.times[slow], self.times[fast], strict=True))

    def best_ratio(self, slow: str, fast: str) -> float:
        return self.best(slow) / self.best(fast)

    def ratio_text(self, slow: str, fast: str) -> str:
        return (f"{self.paired(slow, fast):.2f}x (paired median of {self.rounds} rounds; "
                f"best rounds {self.best_ratio(slow, fast):.2f}x)")


def interleave(runs: Mapping[str, Round], rounds: int, warmup: int = 0) -> Timings:
    """Run every variant once per round, `rounds` times: round r starts with the r-th
    variant (counting from 0, in the given order) and goes on in that order, wrapping."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    timings = Timings({name: [] for name in runs})
    clock = time.perf_counter
    order = list(runs.items())
    for r in range(rounds):
        shift = r % len(order) if order else 0
        for name, run in order[shift:] + order[:shift]:
            started = clock()
            own = run()
            timings.times[name].append(own if own is not None else clock() - started)
    return timings


def verdict(ok: bool) -> str:
    return "OK" if ok else "OVER TARGET"
