"""The depth heatmap and the trade tape inside the real app, under load.

    python bench/tape_heatmap_bench.py                  # 10,000 books/s + 1,000 trades/s, 12 s
    python bench/tape_heatmap_bench.py --duration 2     # smoke run

Runs `ObviewApp` headless over the fake feed (declaring a tape) as `bench/tui_bench.py`
does, in interleaved rounds of one run: a *ladder* round (the ladder alone, no prints:
the app as before) and a *heatmap + tape* round (`h` `h`: the heatmap alone beside the
tape and health panel, with RATE book updates and TRADES prints a second into the
visible stream). Prints per kind of round (medians over its rounds):

- push-to-paint p50 / p99: a book push until the frame of the widget showing it begins
  (the ladder in ladder rounds, the heatmap in heatmap rounds); a print until the tape's;
- process CPU share (CPU seconds / wall seconds), heatmap and tape CPU per frame.
Targets: p99 push-to-paint <= 50 ms, CPU <= 1 core, with the heatmap and tape on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_bench import Histogram  # noqa: E402

from obview.events import BookChanged, TradesPrinted  # noqa: E402
from obview.tui.app import ObviewApp  # noqa: E402
from tests.support.fake_feed import FakeFeed  # noqa: E402


def hook(widget, painted) -> None:
    """Call `painted(now)` as each frame of `widget` begins (the bench's own hook)."""
    render_lines = widget.render_lines

    def observed(crop):
        painted(time.perf_counter())
        return render_lines(crop)

    widget.render_lines = observed


async def run(duration: float, rounds: int, rate: int, trades_rate: int, books: int) -> dict:
    symbols = tuple(f"HK.{n:05d}" for n in range(1, books + 1))
    feed = FakeFeed("futu", symbols, seed=7, levels=50, orders_per_level=2, trades=True)
    app = ObviewApp([], [feed])
    pending_books: list[float] = []
    pending_trades: list[float] = []
    books_hist = {"ladder": [], "heatmap": []}
    trades_hist: list[Histogram] = []
    cpu = {"ladder": [], "heatmap": []}
    rates = {"ladder": [], "heatmap": []}
    frame_ms: list[float] = []
    state = {"phase": "ladder", "books": None, "trades": None, "version": None}

    def on_event(event) -> None:
        if isinstance(event, BookChanged):
            pending_books.append(time.perf_counter())
        elif isinstance(event, TradesPrinted):
            pending_trades.extend([time.perf_counter()] * len(event.trades))

    feed.add_listener(on_event)
    async with app.run_test(size=(200, 50)) as pilot:
        while not (feed.state.value == "synced" and app.active_ladder() is not None
                   and app.active_ladder().view is not None):
            await asyncio.sleep(0.01)
        await pilot.pause(0.2)
        pane = app.active_stream_pane()
        stream = pane.stream

        def ladder_painted(now: float) -> None:
            if state["phase"] == "ladder" and pane.ladder._unpainted:
                for t in pending_books:
                    state["books"].add(now - t)
                pending_books.clear()

        def heatmap_painted(now: float) -> None:
            if state["phase"] == "heatmap" and pane.heatmap._built_version != state["version"]:
                state["version"] = pane.heatmap._built_version
                for t in pending_books:
                    state["books"].add(now - t)
                pending_books.clear()

        def tape_painted(now: float) -> None:
            if state["phase"] == "heatmap" and state["trades"] is not None:
                for t in pending_trades:
                    state["trades"].add(now - t)
                pending_trades.clear()

        hook(pane.ladder, ladder_painted)
        hook(pane.heatmap, heatmap_painted)
        hook(pane.tape, tape_painted)

        async def load(seconds: float, with_trades: bool) -> None:
            start = time.perf_counter()
            sent = printed = 0
            while (now := time.perf_counter()) - start < seconds:
                due = int((now - start) * rate) - sent
                for _ in range(due):
                    feed.walk(stream)
                sent += max(due, 0)
                if with_trades:
                    due = int((now - start) * trades_rate) - printed
                    if due > 0:
                        feed.print_trades(stream, due)  # a venue's batch of prints
                        printed += due
                await asyncio.sleep(0.002)
            return sent / (time.perf_counter() - start)

        for _ in range(rounds):
            for phase in ("ladder", "heatmap"):
                wanted = "ladder" if phase == "ladder" else "heatmap"
                while pane.layout_name != wanted:
                    await pilot.press("h")
                await pilot.pause(0.3)
                pending_books.clear()
                pending_trades.clear()
                state.update(phase=phase, books=Histogram(),
                             trades=Histogram() if phase == "heatmap" else None)
                heat_cpu0, tape_cpu0 = pane.heatmap.cpu_ns, pane.tape.cpu_ns
                heat_builds0 = pane.heatmap.builds
                wall0, proc0 = time.perf_counter(), time.process_time()
                rates[phase].append(await load(duration / rounds / 2, phase == "heatmap"))
                wall = time.perf_counter() - wall0
                cpu[phase].append((time.process_time() - proc0) / wall)
                books_hist[phase].append(state["books"])
                if phase == "heatmap":
                    trades_hist.append(state["trades"])
                    builds = max(1, pane.heatmap.builds - heat_builds0)
                    frame_ms.append((pane.heatmap.cpu_ns - heat_cpu0
                                     + pane.tape.cpu_ns - tape_cpu0) / builds / 1e6)
        await app.action_quit()

    def med(values):
        return statistics.median(values) if values else float("nan")

    return {
        phase: {
            "p50": med([h.percentile(0.5) for h in books_hist[phase]]) * 1000,
            "p99": med([h.percentile(0.99) for h in books_hist[phase]]) * 1000,
            "cpu": med(cpu[phase]), "rate": med(rates[phase]),
        } for phase in ("ladder", "heatmap")
    } | {
        "trade_p50": med([h.percentile(0.5) for h in trades_hist]) * 1000,
        "trade_p99": med([h.percentile(0.99) for h in trades_hist]) * 1000,
        "frame_ms": med(frame_ms),
        "trades": sum(h.total for h in trades_hist),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=12.0, help="seconds under load, all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=10_000, help="book updates per second")
    parser.add_argument("--trades", type=int, default=1_000, help="prints per second")
    parser.add_argument("--books", type=int, default=4)
    args = parser.parse_args()
    r = asyncio.run(run(args.duration, args.rounds, args.rate, args.trades, args.books))
    print(f"load: {args.rate:,} book updates/s (+ {args.trades:,} prints/s in heatmap rounds) into "
          f"the visible stream, {args.books} streams recording; {args.rounds} interleaved rounds "
          f"of each kind, 200x50, medians")
    for phase, label in (("ladder", "ladder alone"), ("heatmap", "heatmap + tape")):
        p = r[phase]
        print(f"{label:<16} push-to-paint p50 {p['p50']:.1f} ms  p99 {p['p99']:.1f} ms  "
              f"CPU {p['cpu']:.2f} cores at {p['rate']:,.0f} books/s  "
              f"(targets: p99 <= 50 ms, CPU <= 1 core)")
    print(f"print-to-paint   p50 {r['trade_p50']:.1f} ms  p99 {r['trade_p99']:.1f} ms  over "
          f"{r['trades']:,} prints  (target p99 <= 50 ms)")
    print(f"heatmap + tape CPU per heatmap frame: {r['frame_ms']:.2f} ms (build + render, both widgets)")


if __name__ == "__main__":
    main()
