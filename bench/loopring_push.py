"""Loopring push benchmark: recorded depth pushes through (a) bare JSON parsing and
(b) the full path from frame to updated book: the calls `LoopringFeed.on_frame` makes
(`PushReader.read`: typed decode, topic and version checks, price validation;
`DepthSync.on_push`: the spec §7 continuity check and the exact book update;
`OrderBook.touch`: version and time stamps). (c) adds what the feed does after the book
is updated (listener notification, push-interval statistics): the whole `on_frame`.

    python bench/loopring_push.py [--pushes N] [--repeat R]

The frames come from the simulator (LRC-ETH level 0, v2 dialect, 1-3 versions per
push), recorded once, then replayed. For (a) the fastest bare parser is used: both
`msgspec.json.decode` (untyped) and `json.loads` are timed and the faster one counts.
Target: (b) <= 2.5x (a).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from obview.venues import VenueConfig  # noqa: E402
from obview.venues.loopring.client import LoopringFeed  # noqa: E402
from obview.venues.loopring.protocol import DepthSnapshot, PushReader, SlotParser  # noqa: E402
from obview.venues.loopring.sim import LoopringSim  # noqa: E402
from obview.venues.loopring.sync import DepthSync  # noqa: E402

MARKET, LEVEL = "LRC-ETH", 0


def record(pushes: int, seed: int = 7) -> tuple[DepthSnapshot, list[bytes]]:
    sim = LoopringSim(seed=seed, faults={"rate": "0", "truth": ""})
    market = sim.markets[MARKET]
    parser = SlotParser(market.spec.base.decimals)
    start_version = market.version
    raw_bids, raw_asks = market.history[start_version]
    snapshot = DepthSnapshot(
        start_version, None,
        parser.levels([(p, int(s), v, int(c)) for p, s, v, c in
                       market.depth_entries(raw_bids, True, LEVEL, 1000, True)]),
        parser.levels([(p, int(s), v, int(c)) for p, s, v, c in
                       market.depth_entries(raw_asks, False, LEVEL, 1000, True)]),
    )
    frames = []
    for _ in range(pushes):
        start, end, touched = market.next_push()
        bids, asks = market.history[end]
        frames.append(sim._push_frame(market, "v2", LEVEL, start, end, touched, bids, asks).encode())
    # the recording starts where the snapshot is; drop pre-generated partial versions
    return snapshot, frames


def fresh_feed(snapshot: DepthSnapshot) -> LoopringFeed:
    feed = LoopringFeed(VenueConfig("loopring", [MARKET], options={"level": LEVEL}))
    feed._parser = SlotParser(18)
    feed._reader = PushReader(MARKET, LEVEL, feed._parser)
    feed._sync = DepthSync(feed.stream.book, feed._parser)
    feed._sync.on_snapshot(snapshot)
    return feed


def best_of(repeat: int, run) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushes", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    snapshot, frames = record(args.pushes)
    size = sum(len(f) for f in frames) / len(frames)

    decode = msgspec.json.decode
    loads = json.loads

    def bare_msgspec() -> None:
        for frame in frames:
            decode(frame)

    def bare_json() -> None:
        for frame in frames:
            loads(frame)

    feeds: list[LoopringFeed] = []

    def full() -> None:
        feed = feeds.pop()
        read, on_push, touch = feed._reader.read, feed._sync.on_push, feed.stream.book.touch
        for frame in frames:
            kind, push = read(frame)
            on_push(push)
            touch(push.ts, push.end)

    def whole_on_frame() -> None:
        feed = feeds.pop()
        on_frame = feed.on_frame
        for frame in frames:
            on_frame(frame)

    t_msgspec = best_of(args.repeat, bare_msgspec)
    t_json = best_of(args.repeat, bare_json)
    feeds.extend(fresh_feed(snapshot) for _ in range(args.repeat))
    t_full = best_of(args.repeat, full)
    feeds.extend(fresh_feed(snapshot) for _ in range(args.repeat))
    t_on_frame = best_of(args.repeat, whole_on_frame)

    check = fresh_feed(snapshot)
    for frame in frames:
        check.on_frame(frame)
    assert check.stream.resyncs == 0 and check.bad_frames == 0, "replay must not resync"
    assert check._sync.local == int(json.loads(frames[-1])["endVersion"])

    bare_name, t_bare = min((("msgspec.json.decode", t_msgspec), ("json.loads", t_json)),
                            key=lambda item: item[1])
    n = len(frames)
    print(f"frames: {n} recorded pushes, {size:.0f} bytes avg, best of {args.repeat}")
    print(f"(a) bare msgspec.json.decode : {t_msgspec / n * 1e6:7.2f} us/push")
    print(f"(a) bare json.loads          : {t_json / n * 1e6:7.2f} us/push")
    print(f"(b) full frame -> book       : {t_full / n * 1e6:7.2f} us/push "
          f"({n / t_full:,.0f} pushes/s)")
    print(f"(c) on_frame incl. notify    : {t_on_frame / n * 1e6:7.2f} us/push "
          f"({t_on_frame / t_bare:.2f}x bare)")
    ratio = t_full / t_bare
    print(f"ratio (b)/(a) using {bare_name}: {ratio:.2f}x (target <= 2.5x): "
          f"{'OK' if ratio <= 2.5 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
