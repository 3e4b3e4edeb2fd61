"""Depth heatmap benchmark: redraw CPU per frame, and the history's memory.

    python bench/heatmap_bench.py                # full run
    python bench/heatmap_bench.py --quick        # smoke run (small history, few frames)

Redraw: a 200x50 `HeatmapView` in `App.run_test` over a full history (`--history`,
default 30 min, recorded at 10 books/s from a seeded walk of a 200-level book with a
print every 3 books). Each frame records one more book 100 ms later, then the widget
rebuilds its lines and Textual renders them; the widget's thread CPU for that (its
build + `render_lines`) is the figure. Rounds interleave the three zooms (100 ms,
1 s, 10 s a column: at 100 ms every frame shifts the picture by a column, at 1 s one
frame in ten does); medians and p99 per zoom. Target: <= 4 ms per frame.

Memory: in a fresh process, RSS before the history exists, then while recording 70
simulated minutes at 10 books/s into a one-hour history (200 price rows), every 10
minutes. Target: <= 60 MB above the baseline, flat once the history is full.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from obview.depth_history import RESOLUTIONS_MS, DepthHistory  # noqa: E402
from tests.heatmap.walk import walk  # noqa: E402

BOOKS_PER_S = 10


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def memory_child(minutes: float, history_s: float) -> None:
    """Runs in its own process: print 'minute rss' lines."""
    books = walk(seed=7, steps=int(minutes * 60 * BOOKS_PER_S) + 1, interval=1 / BOOKS_PER_S)
    book, step = next(books)  # the book exists before the baseline: only the history counts
    baseline = rss_mb()
    history = DepthHistory(history_s=history_s)
    print(f"0 {baseline:.1f}", flush=True)
    report_every = (10 if minutes >= 20 else 1) * 60 * BOOKS_PER_S
    for n, (book, step) in enumerate(books, 1):
        history.record(book, step.mono)
        for trade in step.trades:
            history.record_trade(trade)
        if n % report_every == 0:
            print(f"{n / BOOKS_PER_S / 60:.0f} {rss_mb():.1f}", flush=True)
    cells = sum(len(c.keys) for tier in history.tiers for c in {id(c): c for c in tier.columns}.values())
    columns = sum(len(tier.columns) for tier in history.tiers)
    print(f"cells {cells} {columns}", flush=True)


def run_memory(minutes: float, history_s: float) -> None:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(minutes), str(history_s)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.split("\n")
    points = [line.split() for line in out if line and not line.startswith("cells")]
    cells, columns = next(line.split()[1:] for line in out if line.startswith("cells"))
    baseline = float(points[0][1])
    print(f"memory: {minutes:.0f} simulated minutes at {BOOKS_PER_S} books/s, 200 price rows, "
          f"history {history_s / 60:.0f} min ({columns} columns over the three zooms, "
          f"{int(cells):,} stored cells)")
    print("  RSS above baseline by minute: " + "  ".join(
        f"{m}m {float(r) - baseline:+.1f} MB" for m, r in points[1:]))
    full = [float(r) for m, r in points[1:] if float(m) >= history_s / 60]
    growth = max(full) - min(full) if len(full) > 1 else float("nan")
    print(f"  peak {max(float(r) for _, r in points) - baseline:.1f} MB above baseline "
          f"(target <= 60 MB); after the history filled: {growth:+.1f} MB (flat = 0)")


async def run_redraw(history_s: float, rounds: int, frames: int) -> None:
    from textual.app import App, ComposeResult

    from obview.tui.heatmap import HeatmapView

    steps = int(history_s * BOOKS_PER_S)
    books = walk(seed=3, steps=steps + rounds * len(RESOLUTIONS_MS) * frames + 10,
                 interval=1 / BOOKS_PER_S)
    history = DepthHistory(history_s=history_s)
    t0 = time.perf_counter()
    for _, (book, step) in zip(range(steps), books, strict=False):
        history.record(book, step.mono)
        for trade in step.trades:
            history.record_trade(trade)
    record_s = time.perf_counter() - t0

    class BenchApp(App):
        def compose(self) -> ComposeResult:
            yield HeatmapView(history, clock=None)

    per_zoom: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    build_part: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    full: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    scratch: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    shifted: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    no_gc: dict[int, list[float]] = {i: [] for i in range(len(RESOLUTIONS_MS))}
    collected = dict.fromkeys(range(len(RESOLUTIONS_MS)), 0)
    gc_runs = [0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            gc_runs[0] += 1

    gc.callbacks.append(on_gc)
    app = BenchApp()
    async with app.run_test(size=(200, 50)) as pilot:
        view = app.query_one(HeatmapView)
        await pilot.pause()
        for _ in range(rounds):
            for zoom in per_zoom:
                view.resolution = zoom
                view._invalidate()  # a zoom change: the first frame builds from scratch
                cpu0 = view.cpu_ns
                await pilot.pause()
                full[zoom].append((view.cpu_ns - cpu0) / 1e6)
                for _ in range(frames):
                    book, step = next(books)
                    history.record(book, step.mono)
                    for trade in step.trades:
                        history.record_trade(trade)
                    cpu0, builds0, build0 = view.cpu_ns, view.builds, view.build_ns
                    full0, gc0, newest0 = view.full_builds, gc_runs[0], view._layout.newest
                    view._repaint()  # what mark_dirty's frame does
                    await pilot.pause()
                    if view.builds > builds0:
                        per_zoom[zoom].append((view.cpu_ns - cpu0) / 1e6)
                        build_part[zoom].append((view.build_ns - build0) / 1e6)
                        if view.full_builds > full0:
                            scratch[zoom].append((view.cpu_ns - cpu0) / 1e6)
                        if gc_runs[0] != gc0:
                            collected[zoom] += 1
                        else:
                            no_gc[zoom].append(per_zoom[zoom][-1])
                        if view._layout.newest != newest0:
                            shifted[zoom].append(per_zoom[zoom][-1])
        columns = view._layout.columns
    print(f"redraw: 200x50 heatmap ({columns} time columns x 96 price rows on screen), "
          f"history {history_s / 60:.0f} min recorded in {record_s:.1f} s "
          f"({record_s / steps * 1e6:.0f} us per book); {rounds} interleaved rounds x {frames} frames")
    for zoom, values in per_zoom.items():
        ms = RESOLUTIONS_MS[zoom]
        print(f"  {ms:>5} ms/col: CPU per frame median {statistics.median(values):.2f} ms, "
              f"mean {statistics.fmean(values):.2f} ms (target <= 4 ms); frames that shifted the "
              f"picture ({len(shifted[zoom])}) median {statistics.median(shifted[zoom] or [0]):.2f} ms; "
              f"p99 {percentile(no_gc[zoom], 0.99):.2f} ms without the {collected[zoom]} frames "
              f"a full GC ran in ({percentile(values, 0.99):.1f} ms with them)")
        print(f"                 of which building lines median {statistics.median(build_part[zoom]):.2f} ms "
              f"(the rest is Textual's render_lines); first frame after a zoom change (all from "
              f"scratch) {statistics.median(full[zoom]):.1f} ms; {len(scratch[zoom])} steady frames "
              f"redrawn from scratch (scale doubled, recentred)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=float, default=30 * 60, help="seconds of history")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=40, help="frames per zoom per round")
    parser.add_argument("--minutes", type=float, default=70, help="simulated minutes (memory)")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--memory-child", nargs=2, type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if args.quick:
        args.history, args.rounds, args.frames, args.minutes = 120, 1, 5, 2
    asyncio.run(run_redraw(args.history, args.rounds, args.frames))
    run_memory(args.minutes, 3600 if not args.quick else 60)


if __name__ == "__main__":
    main()
