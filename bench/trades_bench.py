"""Trade tape benchmark: CPU per print from a venue frame to the stream's tape.

    python bench/trades_bench.py            # full run
    python bench/trades_bench.py --quick    # smoke run

Per venue, the client's own handler is fed encoded frames of the simulator's kind (Futu
3011 pushes, Loopring `trade` pushes, one print each, as a busy market sends them): it
decodes, checks every value, adds the print to `stream.tape` (last price, volume, VWAP)
and emits `TradesPrinted` to one listener. Rounds interleave the venues; the figure is
the median over rounds of microseconds per print, and what 1,000 prints/s cost as a
share of one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obview.venues import config  # noqa: E402
from obview.venues.futu import codec  # noqa: E402
from obview.venues.futu.client import FutuFeed  # noqa: E402
from obview.venues.futu.pb import Qot_UpdateTicker_pb2  # noqa: E402


def futu_frames(n: int) -> tuple[FutuFeed, list[bytes]]:
    feed = FutuFeed(config("futu", ["HK.00700"], trades=True, host="127.0.0.1", port=1))
    feed.add_listener(lambda event: None)
    frames = []
    for i in range(n):
        response = Qot_UpdateTicker_pb2.Response(retType=0)
        response.s2c.security.market, response.s2c.security.code = 1, "00700"
        price = 512.5 + (i % 7) * 0.5
        response.s2c.tickerList.add(
            time="2026-01-02 10:00:00.000", sequence=7_490_000_000_000_000_000 + i,
            dir=1 + i % 2, price=price, volume=100 * (1 + i % 5),
            turnover=price * 100 * (1 + i % 5), timestamp=1767319200.0 + i / 1000, type=1)
        frames.append(codec.encode_frame(codec.QOT_UPDATE_TICKER, i, response.SerializeToString()))
    return feed, frames


def loopring_frames(n: int):
    from obview.venues.loopring.client import LoopringFeed
    from obview.venues.loopring.protocol import SlotParser

    feed = LoopringFeed(config("loopring", ["LRC-ETH"], trades=True,
                               rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1"))
    feed._parser = SlotParser(18)
    feed.new_subscription()
    feed.add_listener(lambda event: None)
    frames = [json.dumps({"topic": {"topic": "trade", "market": "LRC-ETH"}, "ts": 1,
                          "data": [[str(1767319200000 + i), str(10_000_000 + i),
                                    "buy" if i % 2 else "sell",
                                    str((1 + i % 50) * 10**18), f"0.000125{i % 10}", "0"]]})
              for i in range(n)]
    return feed, frames


def per_print_us(kind: str, n: int) -> float:
    if kind == "futu":
        feed, frames = futu_frames(n)
        start = time.process_time()
        for frame in frames:
            feed.receive(frame)
    else:
        feed, frames = loopring_frames(n)
        start = time.process_time()
        for frame in frames:
            feed.on_frame(frame)
    elapsed = time.process_time() - start
    stream = next(iter(feed.streams.values()))
    assert stream.tape.count == n and feed.bad_frames == 0  # every print taken
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, n = (2, 500) if args.quick else (7, 5000)
    results: dict[str, list[float]] = {"futu": [], "loopring": []}
    for _ in range(rounds):
        for kind in results:
            results[kind].append(per_print_us(kind, n))
    for kind, samples in results.items():
        median = statistics.median(samples)
        print(f"{kind:9s} {median:7.1f} us/print (median of {rounds} rounds of {n}); "
              f"1,000 prints/s = {median / 10:.1f}% of a core")


if __name__ == "__main__":
    main()
