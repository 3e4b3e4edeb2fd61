"""`python bench/demo_startup.py [--rounds 5] [--seconds 5]`: the demo's first seconds.

Each round starts a fresh process (cold imports, as a user's launch) running the demo's
app headless (`run_test`, 120x40) for `--seconds`, and prints when the first ladder had
a book painted and the worst receive-to-paint delay of that ladder in those seconds. The
figure to watch is the worst delay: the venues open and their tabs mount while the
first feed could already be running, and every push then waits behind that work (the
steady-state target, p99 <= 50 ms, is tui_bench's). Figures are medians over rounds."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def _one(seconds: float) -> dict:
    sys.path.insert(0, str(ROOT))
    from obview.cli import demo_configs
    from obview.tui.app import ObviewApp

    start = time.perf_counter()
    app = ObviewApp(demo_configs(1))
    first = None
    async with app.run_test(size=(120, 40)):
        # (a loaded machine may take longer than `seconds` for the first book: wait for it)
        while time.perf_counter() - start < seconds or first is None:
            if time.perf_counter() - start > 120:
                raise SystemExit("no book painted within 120 s")
            await asyncio.sleep(0.02)
            pane = app.active_stream_pane()
            if first is None and pane is not None and pane.ladder.paint_delay.samples:
                first = time.perf_counter() - start
        delays = app.active_stream_pane().ladder.paint_delay.summary()
    return {"first": first, "max": delays["max"], "count": delays["count"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_one(args.seconds))))
        return
    rounds = []
    for n in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--child", "--seconds", str(args.seconds)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rounds.append(result)
        print(f"round {n + 1}: first book painted {result['first']:.2f} s, worst paint delay "
              f"{result['max']:.1f} ms over {result['count']} paints")
    print(f"median of {len(rounds)} rounds: first book {statistics.median(r['first'] for r in rounds):.2f} s, "
          f"worst paint delay in the first {args.seconds:g} s "
          f"{statistics.median(r['max'] for r in rounds):.1f} ms")


if __name__ == "__main__":
    main()
