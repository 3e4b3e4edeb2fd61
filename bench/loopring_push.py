"""Loopring push benchmark: recorded depth pushes through (a) bare JSON parsing and
(b) production's `LoopringFeed.on_frame`, the very method the client's read loop calls
for each WebSocket message: the fast path (`sync.fast_path`: typed decode, topic,
continuity (docs/loopring.md, "Building the book") and exact value checks, the book
update, version and time stamps) or, for the frames it declines, the full path, and
then what the feed does after the book changed: push-interval statistics and
`Feed.book_changed` (counters, state, a `BookChanged` to its listener, a no-op here).

    python bench/loopring_push.py [--pushes N] [--repeat R]

The frames come from the simulator (LRC-ETH, v2 dialect, 1-3 versions per push),
recorded once per level, then replayed into a feed synced on the recording's first
snapshot exactly as the client syncs one: level 1 is the issue's example command
(`obview loopring LRC-ETH --level 1`), level 0 the finest book, where many slots appear
or vanish (inserts and deletes in the shared sorted book weigh more there).
(a) is `msgspec.json.decode` (untyped); `json.loads` and the typed decode alone are
timed beside it for reference, and so is the fast-path closure alone (book, no notify).
Target: (b) <= 3x (a), the paired median of per-round ratios (bench/timing.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import msgspec  # noqa: E402
from timing import interleave, verdict  # noqa: E402

from obview.venues import config  # noqa: E402
from obview.venues.loopring.client import LoopringFeed  # noqa: E402
from obview.venues.loopring.protocol import DepthSnapshot, Push, SlotParser  # noqa: E402
from obview.venues.loopring.sim import LoopringSimulator  # noqa: E402

MARKET = "LRC-ETH"
LEVELS = (1, 0)
TARGET = 3.0


def record(pushes: int, level: int, seed: int = 7) -> tuple[DepthSnapshot, list[bytes]]:
    sim = LoopringSimulator(seed=seed, faults={"rate": "0", "truth": ""})
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
    """A feed in the state the client leaves it in once its first snapshot is applied
    (`_snapshot_loop`), with one listener, as the TUI or headless attaches one."""
    feed = LoopringFeed(config("loopring", [MARKET], level=level))
    feed._parser = SlotParser(18)
    feed.new_subscription()
    feed._sync.on_snapshot(snapshot)
    feed.stream.book.touch(snapshot.ts, feed._sync.local)
    feed.book_changed(feed.stream, snapshot=True)
    feed.add_listener(lambda _event: None)
    return feed


def run_level(level: int, pushes: int, repeat: int) -> float:
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

    feeds = [fresh_feed(snapshot, level) for _ in range(2 * (repeat + 1))]

    def production() -> None:
        on_frame = feeds.pop().on_frame
        for frame in frames:
            on_frame(frame)

    def fast_only() -> None:
        feed = feeds.pop()
        feed.on_frame(frames[0])  # the push across the snapshot's version: the full path
        fast = feed._fast
        for frame in frames[1:]:
            fast(frame)

    t = interleave({"msgspec": bare_msgspec, "json": bare_json, "typed": typed_only,
                    "on_frame": production, "fast": fast_only}, repeat, warmup=1)

    check = fresh_feed(snapshot, level)
    for frame in frames:
        check.on_frame(frame)
    assert check.stream.resyncs == 0 and check.bad_frames == 0, "replay must not resync"
    assert check._sync.local == int(json.loads(frames[-1])["endVersion"])
    assert check.stream.updates == len(frames)
    split = fresh_feed(snapshot, level)
    fast = 0
    for frame in frames:  # the fast path applies a push, or declines it to the full path
        if split._fast(frame) is not None:
            fast += 1
        else:
            split.on_frame(frame)

    n = len(frames)
    us = lambda name: f"{t.per_item(name, n) * 1e6:7.2f} us/push"  # noqa: E731
    print(f"LRC-ETH level {level}: {n} recorded pushes, {size:.0f} bytes and "
          f"{slots:.1f} slots a push on average, best of {repeat} interleaved rounds")
    print(f"  (a) bare msgspec.json.decode : {us('msgspec')}")
    print(f"      json.loads (reference)   : {us('json')}  {t.paired('json', 'msgspec'):.2f}x (a)")
    print(f"      typed decode alone       : {us('typed')}  {t.paired('typed', 'msgspec'):.2f}x (a)"
          " (the validating decode the fast path starts with)")
    print(f"      fast path alone, no notify: {us('fast')}  {t.paired('fast', 'msgspec'):.2f}x (a)"
          f" ({n - fast} of {n} pushes need the full path)")
    print(f"  (b) production on_frame      : {us('on_frame')}  "
          f"({t.rate('on_frame', n):,.0f} pushes/s; book update + notify to a listener)")
    ratio = t.paired("on_frame", "msgspec")
    print(f"  ratio (b)/(a): {t.ratio_text('on_frame', 'msgspec')}  target <= {TARGET:g}x: "
          f"{verdict(ratio <= TARGET)}")
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args()
    for level in LEVELS:
        run_level(level, args.pushes, args.repeat)


if __name__ == "__main__":
    main()
