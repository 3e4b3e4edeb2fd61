"""Book engine throughput: obview's exact book vs the `order-book` C extension.

Workload: 2,000 levels a side, then updates clustered near the top
(geometric distance from the touch, 15% deletes), the top 20 of each side read every
10 updates. Both engines get the same pre-generated operations: obview gets Decimals
as its venue codecs produce them (parsed through `fmt.DecimalCache`, so a price seen
before is the same object with its hash cached), the C extension floats (all it takes).

Two ratios, both "obview's updates/s over the C extension's", are the headline:

- with reads (the workload above): what a viewer does, updates plus the top 20 read
  every 10 updates. The C extension keeps its levels unsorted and sorts on a read, so
  reading is where it pays;
- updates only (no reads): the cost of applying a level, where the C extension's plain
  hash-table write beats obview's sorted insert/delete (it defers its sorting to the
  read that never comes here).

Engines and modes run in interleaved rounds; rates are best rounds, ratios paired
medians (bench/timing.py).

    python bench/book_bench.py [--updates 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from timing import interleave, verdict  # noqa: E402

from obview.book import OrderBook  # noqa: E402
from obview.fmt import DecimalCache  # noqa: E402

LEVELS = 2_000
READ_EVERY = 10
TOP = 20
TICK = 100  # prices are ticks / 100


def make_ops(count: int, seed: int = 7) -> list[tuple[bool, int, int]]:
    rng = random.Random(seed)
    ops = []
    for _ in range(count):
        is_bid = rng.random() < 0.5
        distance = int(rng.expovariate(0.08))  # most activity within ~12 ticks of the touch
        tick = 100_000 - distance if is_bid else 100_001 + distance
        size = 0 if rng.random() < 0.15 else rng.randint(1, 5_000)
        ops.append((is_bid, tick, size))
    return ops


def initial_levels() -> tuple[list[int], list[int]]:
    return [100_000 - i for i in range(LEVELS)], [100_001 + i for i in range(LEVELS)]


def run_obview(ops: list[tuple[bool, int, int]], read_every: int = READ_EVERY) -> float:
    prices = DecimalCache()

    def dec(tick: int) -> Decimal:
        return prices(f"{tick // TICK}.{tick % TICK:02d}")

    prepared = [(is_bid, dec(tick), Decimal(size)) for is_bid, tick, size in ops]
    bid_ticks, ask_ticks = initial_levels()
    book = OrderBook()
    book.replace([(dec(t), Decimal(10), 1) for t in bid_ticks],
                 [(dec(t), Decimal(10), 1) for t in ask_ticks])
    bids_set, asks_set = book.bids.set, book.asks.set
    bids_top, asks_top = book.bids.top, book.asks.top
    start = time.perf_counter()
    countdown = read_every
    for is_bid, price, size in prepared:
        (bids_set if is_bid else asks_set)(price, size, 1)
        countdown -= 1
        if not countdown:
            countdown = read_every
            bids_top(TOP)
            asks_top(TOP)
    return time.perf_counter() - start


def run_c_extension(ops: list[tuple[bool, int, int]], read_every: int = READ_EVERY) -> float:
    from order_book import OrderBook as CBook

    prepared = [(is_bid, tick / TICK, float(size)) for is_bid, tick, size in ops]
    bid_ticks, ask_ticks = initial_levels()
    book = CBook()
    bids, asks = book.bids, book.asks
    for t in bid_ticks:
        bids[t / TICK] = 10.0
    for t in ask_ticks:
        asks[t / TICK] = 10.0
    bids_index, asks_index = bids.index, asks.index

    def top(index, side) -> list:
        return [index(i) for i in range(min(TOP, len(side)))]

    start = time.perf_counter()
    countdown = read_every
    for is_bid, price, size in prepared:
        side = bids if is_bid else asks
        if size:
            side[price] = size
        else:
            try:
                del side[price]
            except KeyError:
                pass
        countdown -= 1
        if not countdown:
            countdown = read_every
            top(bids_index, bids)
            top(asks_index, asks)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    ops = make_ops(args.updates)
    try:
        import order_book  # noqa: F401
    except ImportError:
        order_book = None
    runs = {"obview": lambda: run_obview(ops), "obview_w": lambda: run_obview(ops, read_every=0)}
    if order_book is not None:
        runs |= {"c": lambda: run_c_extension(ops), "c_w": lambda: run_c_extension(ops, read_every=0)}
    t = interleave(runs, args.repeat)  # each run times its own loop, not its setup
    n = len(ops)
    ours = t.rate("obview", n)
    print(f"workload: {LEVELS} levels/side, {n} updates, top {TOP} read every {READ_EVERY}; "
          f"best of {t.rounds} interleaved rounds, ratios paired medians")
    print(f"obview book (Decimal):        {ours:>12,.0f} updates/s   target >= 1,000,000: "
          f"{verdict(ours >= 1_000_000)}")
    if order_book is None:
        print("order-book C extension:       not installed (pip install order-book)")
        return
    with_reads = t.paired("c", "obview")  # time ratio c/obview = rate ratio obview/c
    updates_only = t.paired("c_w", "obview_w")
    print(f"order-book C extension:       {t.rate('c', n):>12,.0f} updates/s")
    print(f"updates only (no reads):      obview {t.rate('obview_w', n):,.0f}/s, "
          f"C extension {t.rate('c_w', n):,.0f}/s")
    print(f"ratio obview / C extension, with reads:   {with_reads:6.2f}x  (updates + top {TOP} read "
          f"every {READ_EVERY}: the C extension sorts on read)  target >= 0.5x: "
          f"{verdict(with_reads >= 0.5)}")
    print(f"ratio obview / C extension, updates only: {updates_only:6.2f}x  (no reads: its "
          "hash-table write vs obview's sorted insert/delete; no target)")


if __name__ == "__main__":
    main()
