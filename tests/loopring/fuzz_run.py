"""The Loopring fuzz run on demand, beyond what CI runs:

    python tests/loopring/fuzz_run.py --frames 100000 --seed 7

Same hostile server and assertions as tests/loopring/test_loopring_fuzz.py; prints the
frame counts, the books checked against the server's truth and the RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.loopring.test_loopring_fuzz import run_fuzz  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t0 = time.perf_counter()
    stats = asyncio.run(run_fuzz(args.seed, args.frames))
    print(f"{sum(stats['labels'].values())} frames in {time.perf_counter() - t0:.1f}s: {stats}")


if __name__ == "__main__":
    main()
