"""Loopring push benchmark: recorded depth pushes through (a) bare JSON parsing and
(b) the full path from frame to updated book, as `LoopringFeed.on_frame` runs it:
`sync.fast_path` first (typed decode, topic, continuity (docs/loopring.md) and value
checks, the exact book update, version and time stamps), and for the frames it
declines the full path (`PushReader.read`, `DepthSync.on_push`, `OrderBook.touch`).
(c) adds what the feed does after the book is updated (listener notification,
push-interval statistics): the whole `on_frame`.

    python bench/loopring_push.py [--pushes N] [--repeat R]

The frames come from the simulator (LRC-ETH, v2 dialect, 1-3 versions per push),
recorded once per level, then replayed: level 1 is the issue's example command
(`obview loopring LRC-ETH --level 1`), level 0 the finest book, where many slots
appear or vanish (inserts and deletes in the shared sorted book weigh more there).
For (a) the fastest bare parser counts: `msgspec.json.decode` (untyped) and
`json.loads` are both timed.
Target: (b) <= 2.5x (a), judged on the median of per-round ratios (each round times
(a) and (b) back to back); the ratio of best rounds is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from obview.venues import VenueConfig  # noqa: E402
from obview.venues.loopring.client import LoopringFeed  # noqa: E402
from obview.venues.loopring.protocol import DepthSnapshot, Push, SlotParser  # noqa: E402
from obview.venues.loopring.sim import LoopringSim  # noqa: E402

MARKET = "LRC-ETH"
LEVELS = (1, 0)


def record(pushes: int, level: int, seed: int = 7) -> tuple[DepthSnapshot, list[bytes]]:
    sim = LoopringSim(seed=seed, faults={"rate": "0", "truth": ""})
    market = sim.markets[MARKET]
    parser = SlotParser(market.spec.base.decimals)
    start_version = market.version
    raw_bids, raw_asks = market.history[start_version]
    snapshot = DepthSnapshot(
        start_version, None,
        parser.levels([(p, int(s), v, int(c)) for p, s, v, c in
                       market.depth_entries(raw_bids, True, level, 1000, True)]),
        parser.levels([(p, int(s), v, int(c)) for p, s, v, c in
                       market.depth_entries(raw_asks, False, level, 1000, True)]),
    )
    frames = []
    for _ in range(pushes):
        start, end, touched = market.next_push()
        bids, asks = market.history[end]
        frames.append(sim._push_frame(market, "v2", level, start, end, touched, bids, asks).encode())
    # the recording starts where the snapshot is; drop pre-generated partial versions
    return snapshot, frames


def fresh_feed(snapshot: DepthSnapshot, level: int) -> LoopringFeed:
    feed = LoopringFeed(VenueConfig("loopring", [MARKET], options={"level": level}))
    feed._parser = SlotParser(18)
    feed.new_subscription()
    feed._sync.on_snapshot(snapshot)
    return feed


def interleaved(repeat: int, runs: dict[str, Callable[[], None]]) -> dict[str, list[float]]:
    """Seconds per round of each run. The runs take turns, so the runs of one round share
    the machine's state (a noisy neighbour slows them all alike)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return times


def paired_ratio(times: dict[str, list[float]], slow: str, fast: str) -> float:
    """Median over rounds of slow/fast measured back to back: robust on a shared machine."""
    return statistics.median(s / f for s, f in zip(times[slow], times[fast], strict=True))


def run_level(level: int, pushes: int, repeat: int) -> None:
    snapshot, frames = record(pushes, level)
    size = sum(len(f) for f in frames) / len(frames)
    slots = sum(f.count(b'","') for f in frames) / 3 / len(frames)
    decode = msgspec.json.decode
    loads = json.loads
    typed = msgspec.json.Decoder(Push).decode

    def bare_msgspec() -> None:
        for frame in frames:
            decode(frame)

    def bare_json() -> None:
        for frame in frames:
            loads(frame)

    def typed_only() -> None:
        for frame in frames:
            typed(frame)

    feeds: list[LoopringFeed] = []

    def full() -> None:
        feed = feeds.pop()
        apply, read, on_push = feed._fast, feed._reader.read, feed._sync.on_push
        touch = feed.stream.book.touch
        for frame in frames:
            if apply(frame) is None:  # the full path: a price not seen before, mostly
                _kind, push = read(frame)
                on_push(push)
                touch(push.ts, push.end)

    def whole_on_frame() -> None:
        feed = feeds.pop()
        on_frame = feed.on_frame
        for frame in frames:
            on_frame(frame)

    feeds.extend(fresh_feed(snapshot, level) for _ in range(2 * repeat))
    times = interleaved(repeat, {
        "msgspec": bare_msgspec, "json": bare_json, "typed": typed_only, "full": full,
        "on_frame": whole_on_frame,
    })
    best = {name: min(values) for name, values in times.items()}
    t_msgspec, t_json, t_typed = best["msgspec"], best["json"], best["typed"]
    t_full, t_on_frame = best["full"], best["on_frame"]

    check = fresh_feed(snapshot, level)
    fast = 0
    for frame in frames:
        fast += check._fast(frame) is not None or check.on_frame(frame) is not None
    assert check.stream.resyncs == 0 and check.bad_frames == 0, "replay must not resync"
    assert check._sync.local == int(json.loads(frames[-1])["endVersion"])

    bare_key, bare_name = min((("msgspec", "msgspec.json.decode"), ("json", "json.loads")),
                              key=lambda item: best[item[0]])
    t_bare = best[bare_key]
    n = len(frames)
    us = lambda t: f"{t / n * 1e6:7.2f} us/push"  # noqa: E731
    print(f"LRC-ETH level {level}: {n} recorded pushes, {size:.0f} bytes and "
          f"{slots:.1f} slots a push on average, best of {repeat}")
    print(f"  (a) bare msgspec.json.decode : {us(t_msgspec)}")
    print(f"  (a) bare json.loads          : {us(t_json)}")
    print(f"      typed decode alone       : {us(t_typed)} (the validating decode (b) starts with)")
    print(f"  (b) full frame -> book       : {us(t_full)} ({n / t_full:,.0f} pushes/s; "
          f"{n - fast} of {n} took the full path)")
    print(f"  (c) on_frame incl. notify    : {us(t_on_frame)} ({t_on_frame / t_bare:.2f}x bare)")
    ratio = paired_ratio(times, "full", bare_key)
    print(f"  ratio (b)/(a) using {bare_name}: {ratio:.2f}x, the median of {repeat} back-to-back "
          f"pairs (best rounds: {t_full / t_bare:.2f}x)  target <= 2.5x: "
          f"{'OK' if ratio <= 2.5 else 'OVER TARGET'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    for level in LEVELS:
        run_level(level, args.pushes, args.repeat)


if __name__ == "__main__":
    main()
