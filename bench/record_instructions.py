"""Recording's cost on the feed path in instructions, counted by valgrind: a figure the
machine's noise cannot move.

    python bench/record_instructions.py [--frames 4000]

bench/record_replay.py part 2 times the same path in CPU seconds, which on this shared VM
drift by 5-15% between runs of one variant (its "noise floor" line), as much as the
target's margin. Instructions do not drift: here the client (`FutuFeed`'s read loop on a
loopback socket, Futu 3013 frames in reads of 10 as at 10,000 msg/s, without and with a
tap writing a real journal) runs under `valgrind --tool=callgrind`, twice per variant with
different frame counts, and the difference of the two totals over the difference of the
frames is the steady cost of a frame: start-up, imports and the handshake cancel out.

What instructions miss is what they cost: cache and memory stalls (zstd's tables and
window are out of cache at every batch) make recording dearer in seconds than in
instructions. So this complements part 2 and does not replace it.

Paced at 500 msg/s so that the client, 20-50 times slower under valgrind, still reads 10
frames at a time; the journal's flush (once a second) then falls 20 times more often per
frame than at 10,000 msg/s, which weighs slightly against recording. The figure printed
beside it, frames a read, shows the reads kept their size.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from futu_decode import record_frames  # noqa: E402
from record_replay import feed_path_once, frame_files  # noqa: E402
from timing import verdict  # noqa: E402

RATE, PER_SEND = 500, 10


def client(variant: str, count: int, tmp: Path) -> None:
    """One run (under valgrind): prints the frames and reads it received."""
    from obview.venues.futu.client import FutuFeed

    reads = [0]
    receive = FutuFeed.receive

    def counted(self: FutuFeed, data: bytes) -> None:
        reads[0] += 1
        receive(self, data)

    FutuFeed.receive = counted  # both variants alike
    journal = tmp / f"{variant}{count}.ndjson.zst" if variant == "recorded" else None
    _, frames = asyncio.run(feed_path_once(tmp / "frames.bin", tmp / "sizes.txt", count, RATE,
                                           journal, per_send=PER_SEND, poll=0.2))
    print(frames, reads[0])


def instructions(variant: str, count: int, tmp: Path) -> tuple[int, int, int]:
    """(instructions, frames, reads) of one client run under callgrind."""
    out = tmp / f"{variant}{count}.callgrind"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         __file__, "--client", variant, str(count), str(tmp)],
        capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise SystemExit(f"{variant}: the client under valgrind failed: {done.stderr[-500:]}")
    frames, reads = map(int, done.stdout.split())
    total = re.search(r"^totals: (\d+)", out.read_text(errors="replace"), re.M)
    if total is None:
        raise SystemExit(f"{variant}: no instruction total in {out}")
    return int(total.group(1)), frames, reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4000,
                        help="frames between the two runs of a variant (default 4000)")
    parser.add_argument("--client", nargs=3, metavar=("VARIANT", "COUNT", "DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        variant, count, folder = args.client
        client(variant, int(count), Path(folder))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/record_instructions.py needs valgrind (apt install valgrind)")
    short, long = 500, 500 + args.frames
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        frame_files(record_frames(long + 200, 10, False), tmp)
        per_frame = {}
        for variant in ("bare", "recorded"):
            i0, f0, r0 = instructions(variant, short, tmp)
            i1, f1, r1 = instructions(variant, long, tmp)
            per_frame[variant] = (i1 - i0) / (f1 - f0)
            print(f"{variant}: {per_frame[variant]:,.0f} instructions a frame "
                  f"({f1 - f0} frames, {(f1 - f0) / max(r1 - r0, 1):.1f} frames a read)")
    added = (per_frame["recorded"] / per_frame["bare"] - 1) * 100
    print(f"recording adds {added:.1f}% instructions to the feed path (target <= 15% of "
          f"CPU; bench/record_replay.py part 2 gives the CPU time) {verdict(added <= 15)}")


if __name__ == "__main__":
    main()
