"""TUI speed benchmark (README, "Benchmarks"): drive the real app headless and measure it.

    python bench/tui_bench.py                 # 10,000 book updates/s for 10 s
    python bench/tui_bench.py --duration 1    # smoke run

Runs `ObviewApp` under `App.run_test` over the deterministic fake feed: BOOKS books
(each holding ORDERS per-order queue entries, Futu `--details` style), with RATE
updates a second pushed into the visible book. Prints, from this one run:

- ladder redraw CPU (thread CPU of book view + line building + Textual's render_lines
  for the ladder, per redraw), frames/s;
- push-to-paint latency p50 / p99 (every push, until the frame showing it is built);
- keypress-to-paint latency (cursor key until the frame showing the moved cursor);
- the process's CPU share (CPU seconds / wall seconds) while under load;
- RSS at start and end;
- `obview --help` wall time and first-book-painted time of `obview futu HK.00700 --sim`
  (subprocesses in a pseudo-terminal).
Targets: redraw <= 3 ms, p99 push-to-paint <= 50 ms, keypress <= 50 ms, CPU <= 1 core,
--help <= 0.3 s, first paint <= 1.5 s, RSS <= 120 MB.

These are absolute figures of one app under load, not ratios of variants, so nothing is
interleaved except `--help`'s launches (best of 3, through bench/timing.py).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from timing import interleave  # noqa: E402

from obview.events import BookChanged  # noqa: E402
from obview.tui.app import ObviewApp  # noqa: E402
from tests.support.fake_feed import FakeFeed  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Histogram:
    """Latencies in 0.1 ms buckets: constant memory however long the run (RSS stays
    the app's, not the benchmark's list of a million samples)."""

    def __init__(self, bucket_s: float = 0.0001, buckets: int = 20_000) -> None:
        self.bucket_s = bucket_s
        self.counts = [0] * (buckets + 1)
        self.total = 0

    def add(self, seconds: float, count: int = 1) -> None:
        index = min(len(self.counts) - 1, int(seconds / self.bucket_s))
        self.counts[index] += count
        self.total += count

    def percentile(self, q: float) -> float:
        if not self.total:
            return float("nan")
        rank = q * (self.total - 1)
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen > rank:
                return (index + 0.5) * self.bucket_s
        return len(self.counts) * self.bucket_s


async def run_app_bench(duration: float, rate: int, books: int, orders: int) -> dict:
    symbols = tuple(f"HK.{n:05d}" for n in range(1, books + 1))
    per_level = 10
    feed = FakeFeed("futu", symbols, seed=7, levels=max(1, orders // per_level // 2),
                    orders_per_level=per_level)
    app = ObviewApp([], [feed])
    pending: list[float] = []
    push_to_paint = Histogram()
    key_latency: list[float] = []
    key_sent: list[tuple[float, tuple[bool, int]]] = []

    def on_push(event) -> None:
        if isinstance(event, BookChanged):
            pending.append(time.perf_counter())

    def on_paint(ladder, now: float) -> None:
        if key_sent and (ladder.cursor.is_bid, ladder.cursor.index) == key_sent[0][1]:
            key_latency.append(now - key_sent.pop()[0])  # the frame showing the moved cursor
        for t in pending:
            push_to_paint.add(now - t)
        pending.clear()

    feed.add_listener(on_push)
    async with app.run_test(size=(140, 50)) as pilot:
        while not (feed.state.value == "synced" and app.active_ladder() is not None
                   and app.active_ladder().view is not None):
            await asyncio.sleep(0.01)
        await pilot.pause(0.2)
        ladder = app.active_ladder()
        stream = ladder.stream
        queued = sum(len(lv.queue or ()) for s in feed.streams.values()
                     for side in (s.book.bids, s.book.asks) for lv in side.iter_levels())
        rss_start = rss_mb()
        pending.clear()
        render_lines = ladder.render_lines

        def observed_render_lines(crop):  # the bench's own hook: the product has none
            paints, now = ladder.stats.paints, time.perf_counter()  # as the paint begins
            lines = render_lines(crop)
            if ladder.stats.paints != paints:
                on_paint(ladder, now)
            return lines

        ladder.render_lines = observed_render_lines
        paints0, cpu0, flushes0 = ladder.stats.paints, ladder.stats.cpu_ns, ladder.stats.flushes
        builds0 = ladder.stats.builds
        messages0 = app.book_messages
        wall0, proc0 = time.perf_counter(), time.process_time()
        sent = 0

        async def produce() -> None:
            # its own task, so the pushes never wait for the key presses below
            nonlocal sent
            while (now := time.perf_counter()) - wall0 < duration:
                due = int((now - wall0) * rate) - sent
                for _ in range(due):
                    feed.walk(stream)
                sent += max(due, 0)
                await asyncio.sleep(0.002)

        producer = asyncio.create_task(produce())
        direction = "up"
        while not producer.done():
            await asyncio.sleep(0.25)
            if producer.done():
                break
            direction = "up" if direction == "down" else "down"
            expected = (True, 1 if direction == "down" else 0)  # cursor starts on the best bid
            key_sent[:] = [(time.perf_counter(), expected)]
            app.simulate_key(direction)  # what the terminal driver does with a key
        await producer
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - proc0
        paints = ladder.stats.paints - paints0
        flushes = ladder.stats.flushes - flushes0
        messages = app.book_messages - messages0
        builds = ladder.stats.builds - builds0
        redraw_ms = (ladder.stats.cpu_ns - cpu0) / max(builds, 1) / 1e6
        rss_end = rss_mb()
        await app.action_quit()
    return {
        "updates": sent, "wall": wall, "rate": sent / wall, "paints": paints,
        "fps": paints / wall, "flushes": flushes, "messages": messages, "redraw_ms": redraw_ms, "cpu_share": cpu / wall,
        "cpu_per_frame_ms": cpu / max(paints, 1) * 1000,
        "p50": push_to_paint.percentile(0.5) * 1000, "p99": push_to_paint.percentile(0.99) * 1000,
        "key_p50": percentile(key_latency, 0.5) * 1000,
        "key_max": max(key_latency, default=float("nan")) * 1000, "keys": len(key_latency),
        "rss_start": rss_start, "rss_end": rss_end, "books": books, "queued": queued,
    }


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    return out


def help_time(runs: int = 3) -> float:
    def launch() -> None:
        subprocess.run([sys.executable, "-m", "obview", "--help"], env=env(), cwd=ROOT,
                       capture_output=True, check=True)

    return interleave({"help": launch}, runs).best("help")


def first_paint_time(timeout: float = 20.0) -> float | None:
    """Launch `obview futu HK.00700 --sim` in a pty (through bench/first_paint.py, which
    writes the time of the first painted book to a file and quits)."""
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "painted"
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        run_env = env() | {"TERM": "xterm-256color"}
        start = time.time()
        proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "first_paint.py"),
                                 str(marker), "futu", "HK.00700", "--sim"],
                                stdin=slave, stdout=slave, stderr=slave, env=run_env, cwd=ROOT,
                                start_new_session=True)
        os.close(slave)

        def drain() -> None:  # the terminal must be read or the app blocks writing
            try:
                while os.read(master, 65536):
                    pass
            except OSError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            os.close(master)
        if not marker.exists():
            return None
        return float(marker.read_text()) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds under load")
    parser.add_argument("--rate", type=int, default=10_000, help="book updates per second")
    parser.add_argument("--books", type=int, default=10)
    parser.add_argument("--orders", type=int, default=1000, help="order details per book")
    parser.add_argument("--no-subprocess", action="store_true",
                        help="skip the --help and first-paint launches")
    parser.add_argument("--paint-timeout", type=float, default=20.0,
                        help="give up on the first-paint launch after this many seconds")
    args = parser.parse_args()
    r = asyncio.run(run_app_bench(args.duration, args.rate, args.books, args.orders))
    print(f"load: {r['updates']:,} updates in {r['wall']:.1f}s = {r['rate']:,.0f}/s into the "
          f"visible book; {r['books']} books, {r['queued']:,} order details in total")
    print(f"ladder redraw CPU:      {r['redraw_ms']:.2f} ms per redraw: book view, lines, Textual's "
          f"render_lines; 140x50 terminal, 20 rows a side  (target <= 3 ms)")
    print(f"frames per second:      {r['flushes'] / r['wall']:.1f} with new book data (cap 30); "
          f"{r['fps']:.1f} ladder redraws in all (incl. cursor moves and flash fades); "
          f"from {r['messages']} coalesced BookUpdated messages")
    print(f"push-to-paint:          p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms  (target p99 <= 50 ms)")
    print(f"keypress-to-paint:      p50 {r['key_p50']:.1f} ms  max {r['key_max']:.1f} ms over "
          f"{r['keys']} keys  (target <= 50 ms)")
    print(f"process CPU share:      {r['cpu_share']:.2f} cores  ({r['cpu_per_frame_ms']:.1f} ms "
          f"per frame incl. feed + Textual; target <= 1 core)")
    print(f"RSS:                    start {r['rss_start']:.1f} MB  end {r['rss_end']:.1f} MB  "
          f"(target <= 120 MB, flat)")
    if not args.no_subprocess:
        print(f"obview --help:          {help_time():.3f} s  (target <= 0.3 s)")
        painted = first_paint_time(args.paint_timeout)
        text = f"{painted:.2f} s" if painted is not None else "n/a (futu --sim did not paint)"
        print(f"first book painted:     {text}  (obview futu HK.00700 --sim; target <= 1.5 s)")


if __name__ == "__main__":
    main()
