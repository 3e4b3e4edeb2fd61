"""Many codes at once: `obview futu` with 100 codes at 10 pushes/s each, with details.

    python bench/many_symbols.py                  # 100 codes, 10 pushes/s each, 15 s a part
    python bench/many_symbols.py --duration 2 --codes 20   # smoke run

The Futu simulator runs in its own process (`obview sim futu --fault any_code --fault
rate=R`), so its CPU is not counted. Then, one after the other against it:

- the TUI: `ObviewApp` headless under `App.run_test` (as bench/tui_bench.py runs it),
  subscribed to every code with --details. Measured: the process's CPU share, the
  push-to-paint latency of the tab on screen (every push of its stream, from the feed
  applying it until the frame showing it begins), that ladder's redraw CPU, and the
  redraws of the hidden tabs' ladders (which should be none);
- headless: `obview futu CODES --details --stream json > /dev/null` as a subprocess;
  its CPU share from /proc (user + system time over wall time).

Targets: TUI process <= 1 core, headless <= 0.5 core, the tab on screen within the TUI
targets (ladder redraw CPU <= 3 ms, p99 push-to-paint <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import verdict  # noqa: E402  (bench/ is on sys.path: the script's folder)

from bench.tui_bench import Histogram  # noqa: E402
from obview.events import BookChanged  # noqa: E402
from obview.tui.app import ObviewApp  # noqa: E402
from obview.venues import config  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    return out


def make_codes(count: int) -> list[str]:
    """HK codes (per-order details up to 1000 a level, receive stamps) outside the
    simulator's catalogue: the `any_code` switch lists them."""
    return [f"HK.{10001 + n:05d}" for n in range(count)]


@contextmanager
def simulator(rate: float, seed: int = 1):
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "futu", "--port", "0", "--seed", str(seed),
         "--fault", "any_code", "--fault", f"rate={rate:g}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
    try:
        line = proc.stdout.readline()
        match = re.search(r"serving (\S+):(\d+)", line)
        if not match:
            raise SystemExit(f"the simulator did not start: {line!r} {proc.stderr.read()}")
        yield match.group(1), int(match.group(2)), proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def run_tui(host: str, port: int, codes: list[str], duration: float,
                  sim_pid: int, profile: cProfile.Profile | None = None) -> dict:
    cfg = config("futu", codes, details=True, host=host, port=port)
    app = ObviewApp([cfg])
    push_to_paint = Histogram()
    pending: list[float] = []
    async with app.run_test(size=(140, 50)) as pilot:
        started = time.monotonic()
        deadline = started + 120
        mounted_after = None
        while not (app.feeds and len(app.stream_panes()) == len(codes)
                   and (mounted_after := mounted_after or time.monotonic() - started)
                   and all(s.synced for s in app.feeds[0].streams.values())
                   and app.active_ladder() is not None and app.active_ladder().view is not None):
            if time.monotonic() > deadline:
                streams = app.feeds[0].streams.values() if app.feeds else []
                late = [f"{s.key}: {s.error or 'not synced'}" for s in streams if not s.synced]
                raise SystemExit(f"the TUI did not sync every code within 120 s: "
                                 f"{len(app.stream_panes())} tabs; {late[:3]}")
            await asyncio.sleep(0.05)
        synced_after = time.monotonic() - started
        await pilot.pause(0.5)
        feed = app.feeds[0]
        ladder = app.active_ladder()
        stream = ladder.stream
        hidden = [pane.ladder for pane in app.stream_panes() if pane.ladder is not ladder]

        def on_push(event) -> None:
            if isinstance(event, BookChanged) and event.stream is stream:
                pending.append(time.perf_counter())

        render_lines = ladder.render_lines

        def observed_render_lines(crop):  # the bench's hook, as bench/tui_bench.py's
            paints, now = ladder.stats.paints, time.perf_counter()
            lines = render_lines(crop)
            if ladder.stats.paints != paints:
                for t in pending:
                    push_to_paint.add(now - t)
                pending.clear()
            return lines

        feed.add_listener(on_push)
        ladder.render_lines = observed_render_lines
        pushes0 = sum(s.pushes for s in feed.streams.values())
        builds0, cpu_ns0 = ladder.stats.builds, ladder.stats.cpu_ns
        hidden0 = sum(h.stats.builds for h in hidden)
        messages0 = app.book_messages
        sim_cpu0 = proc_cpu_seconds(sim_pid)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        await asyncio.sleep(duration)
        if profile is not None:
            profile.disable()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        sim_cpu = proc_cpu_seconds(sim_pid) - sim_cpu0
        builds = ladder.stats.builds - builds0
        result = {
            "wall": wall, "cpu_share": cpu / wall, "sim_share": sim_cpu / wall,
            "pushes": sum(s.pushes for s in feed.streams.values()) - pushes0,
            "messages": app.book_messages - messages0,
            "redraw_ms": (ladder.stats.cpu_ns - cpu_ns0) / max(builds, 1) / 1e6,
            "builds": builds, "hidden_builds": sum(h.stats.builds for h in hidden) - hidden0,
            "p50": push_to_paint.percentile(0.5) * 1000,
            "p99": push_to_paint.percentile(0.99) * 1000, "painted": push_to_paint.total,
            "synced_after": synced_after, "mounted_after": mounted_after,
        }
        await app.action_quit()
    return result


def run_headless(host: str, port: int, codes: list[str], duration: float,
                 warmup: float = 3.0) -> dict:
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(
            [sys.executable, "-m", "obview", "futu", *codes, "--host", host, "--port",
             str(port), "--details", "--stream", "json"],
            stdout=devnull, stderr=subprocess.PIPE, env=env(), cwd=ROOT)
        try:
            time.sleep(warmup)  # start-up (imports, subscription) is not the steady state
            if proc.poll() is not None:
                raise SystemExit(f"headless obview exited: {proc.stderr.read().decode()}")
            cpu0, wall0 = proc_cpu_seconds(proc.pid), time.perf_counter()
            time.sleep(duration)
            cpu, wall = proc_cpu_seconds(proc.pid) - cpu0, time.perf_counter() - wall0
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"cpu_share": cpu / wall, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=100, help="codes subscribed")
    parser.add_argument("--rate", type=float, default=10, help="pushes per second per code")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per part")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the TUI part and print its top functions (slower)")
    args = parser.parse_args()
    codes = make_codes(args.codes)
    profile = cProfile.Profile() if args.profile else None
    with simulator(args.rate) as (host, port, sim):
        headless = run_headless(host, port, codes, args.duration)
    with simulator(args.rate) as (host, port, sim):  # a fresh one: no client left over
        tui = asyncio.run(run_tui(host, port, codes, args.duration, sim.pid, profile))
    print(f"load: {args.codes} codes x {args.rate:g} pushes/s with per-order details "
          f"(futu sim, any_code, separate process: {tui['sim_share']:.2f} cores, not counted)")
    print(f"TUI pushes applied:     {tui['pushes']:,} in {tui['wall']:.1f}s = "
          f"{tui['pushes'] / tui['wall']:,.0f}/s, {tui['messages']:,} coalesced BookUpdated")
    print(f"TUI start:              every tab mounted {tui['mounted_after']:.1f} s, every code "
          f"synced {tui['synced_after']:.1f} s after start")
    print(f"TUI process CPU share:  {tui['cpu_share']:.2f} cores  (target <= 1 core: "
          f"{verdict(tui['cpu_share'] <= 1)})")
    print(f"tab on screen:          push-to-paint p50 {tui['p50']:.1f} ms  p99 {tui['p99']:.1f} ms "
          f"over {tui['painted']} pushes  (target p99 <= 50 ms: {verdict(tui['p99'] <= 50)})")
    print(f"tab on screen:          ladder redraw CPU {tui['redraw_ms']:.2f} ms per redraw "
          f"over {tui['builds']} redraws  (target <= 3 ms: {verdict(tui['redraw_ms'] <= 3)})")
    print(f"hidden tabs:            {tui['hidden_builds']} ladder redraws across "
          f"{args.codes - 1} hidden tabs  (target 0: {verdict(tui['hidden_builds'] == 0)})")
    print(f"headless CPU share:     {headless['cpu_share']:.2f} cores  (obview futu … --details "
          f"--stream json > /dev/null; target <= 0.5 core: "
          f"{verdict(headless['cpu_share'] <= 0.5)})")
    if profile is not None:
        import pstats

        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
