"""bthub frame cost: validating and applying aggregated books vs merely parsing the JSON.

Workload: API_AGGREGATED_QUOTE frames from three counterparties with `--levels` levels each
per side (the vendor example has 5 + 5 + 2), prices and volumes as decimal strings. Three
measurements over the same frames, in one run:

- `json.loads` alone (stdlib, no validation, floats untouched as strings): the floor;
- `decode_frame`: msgspec shape validation plus exact Decimal conversion of every number;
- `BthubFeed.on_frame`: the above plus replacing the sourced book (what a push costs);
- `decode_frame` on the same frames with every number written as a JSON number (the
  second decoding path, docs/bthub.md "Numbers").

The four run in interleaved rounds; rates are best rounds, ratios paired medians
(bench/timing.py).

    python bench/bthub_frames.py [--frames 5000] [--levels 50] [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from timing import interleave  # noqa: E402

from obview.venues import config  # noqa: E402
from obview.venues.bthub.client import BthubFeed  # noqa: E402
from obview.venues.bthub.protocol import decode_frame  # noqa: E402

CPS = ("okex", "binance", "huobi")


def make_frames(count: int, levels: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    frames = []
    for _ in range(count):
        bids, asks = [], []
        for cp in CPS:
            mid = 5_400_00000 + rng.randint(-200_00000, 200_00000)  # 5 decimals
            bid, ask = mid - 10_000, mid + 10_000
            for _ in range(levels):
                bids.append((bid, rng.randint(100, 300_000), cp))
                asks.append((ask, rng.randint(100, 300_000), cp))
                bid -= rng.randint(1, 900)
                ask += rng.randint(1, 900)
        bids.sort(key=lambda lv: -lv[0])
        asks.sort(key=lambda lv: lv[0])

        def side(rows):
            return [{"cp": cp, "price": f"{p // 100000}.{p % 100000:05d}",
                     "volume": f"{v // 100000}.{v % 100000:05d}"} for p, v, cp in rows]

        frames.append(json.dumps({"event": "API_AGGREGATED_QUOTE",
                                  "data": {"asks": side(asks), "bids": side(bids), "symbol": "BTCUSDT"}}))
    return frames


def over(func, frames: list[str]):
    def run() -> None:
        for frame in frames:
            func(frame)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--levels", type=int, default=50, help="levels per counterparty per side")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    args = parser.parse_args()
    frames = make_frames(args.frames, args.levels)
    feed = BthubFeed(config("bthub", ["BTCUSDT"], url="http://127.0.0.1:9", user="bench",
                            password="bench-password"))
    numeric = [re.sub(r'("(?:price|volume)": )"([^"]*)"', r"\1\2", f) for f in frames]
    assert decode_frame(numeric[0]) == decode_frame(frames[0])
    t = interleave({"parse": over(json.loads, frames), "decode": over(decode_frame, frames),
                    "apply": over(feed.on_frame, frames),
                    "numbers": over(decode_frame, numeric)}, args.rounds, warmup=1)
    assert feed.bad_frames == 0 and len(feed.streams["BTCUSDT"].book.bids) == 3 * args.levels
    n = len(frames)
    size = sum(map(len, frames)) / n

    def row(label: str, name: str) -> str:
        return f"{label:<23}{t.rate(name, n):10.0f} frames/s  {t.per_item(name, n) * 1e6:8.1f} us/frame"

    print(f"frames: {n} x {3 * args.levels} levels a side ({size / 1024:.1f} KiB each); "
          f"best of {t.rounds} interleaved rounds, ratios paired medians")
    print(row("json.loads only:", "parse"))
    print(row("decode_frame:", "decode"))
    print(row("decode + apply (feed):", "apply"))
    print(row("decode_frame, numbers:", "numbers"))
    print(f"ratio decode_frame / json.loads: {t.ratio_text('decode', 'parse')}")
    print(f"ratio decode_frame numbers / strings: {t.ratio_text('numbers', 'decode')}")
    print(f"ratio decode + apply / json.loads: {t.ratio_text('apply', 'parse')}")


if __name__ == "__main__":
    main()
