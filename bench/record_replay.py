"""Record and replay benchmark, ratios measured in one run (interleaved rounds, paired medians).

    python bench/record_replay.py [--rounds R] [--frames N] [--hour-rate 100]

1. Replay throughput: a session recorded from each simulator (Futu HK.00700 + US.AAPL,
   Loopring LRC-ETH, `--fault rate=...` for a dense session) is replayed headless as fast
   as possible (`ReplayPlayer`: reading, zstd, line decoding, pacing, dispatch, the venue's
   decode, sync and books), against the live decode path on the same frames: the same
   feed, synced by the same journal's handshake, then handed every later frame (grouped
   as they were read) straight into its decode entry, with nothing read or paced.
   Both are timed on the frames after the books synced (see `synced_at`).
   Target: replay >= 80% of the live decode path's frames/s.
2. Recording cost on the whole feed path at 10,000 messages/s: a server process streams
   Futu 3013 frames over loopback TCP at that rate; the client is `FutuFeed`'s own read
   loop (asyncio socket reads, framing, SHA-1, decode, books), without and with a tap
   writing a real journal. Client CPU (getrusage) per frame, paired median of rounds.
   Target: recording adds <= 15%.
3. Journal size: the recorded sessions' files against the raw bytes that came off the
   wire (Futu: whole frames, 44-byte headers included; Loopring: the texts). Target <= 25%.
4. Seek: a one-hour Futu journal (simulator pushes at --hour-rate msg/s, synthetic stamps,
   a checkpoint every 10 s of the book a real feed built from them); each seek is timed
   from `seek()` until the player has caught up with its target (books restored from the
   checkpoint before it, every frame on the way decoded). Target <= 0.5 s.
5. The replay app on that journal at 100x: push-to-paint and CPU (the TUI's targets).
6. A seek in the replay app on that journal, with the depth heatmap's history rebuilt
   from the journal (docs/replay.md, "Time on screen"): how long the book takes (as in
   4, now with the app's panes on the feed), how long the `--history` (default 30 min)
   before the target takes to rebuild in the background, and the longest the event loop
   was held meanwhile (the screen's worst stall; a frame is 33 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from futu_decode import record_frames  # noqa: E402
from timing import interleave, verdict  # noqa: E402

from obview.journal import Connect, Frame, JournalReader, JournalWriter  # noqa: E402
from obview.record import config_json  # noqa: E402
from obview.replay import ReplayPlayer  # noqa: E402
from obview.venues import config  # noqa: E402
from obview.venues.futu.codec import HEADER_SIZE, QOT_UPDATE_ORDER_BOOK  # noqa: E402

WALL0 = 1_764_633_600_000_000_000


# -- 1. replay against the live decode path ----------------------------------------------
def record_session(path: Path, venue_args: list[str], count: int) -> None:
    done = subprocess.run([sys.executable, "-m", "obview", *venue_args, "--sim", "--stream",
                           "json", "--count", str(count), "--record", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(f"recording failed: {done.stderr.strip()}")


def frames_of(path: Path) -> int:
    return sum(1 for line in JournalReader(path) if type(line) is Frame)


def synced_at(lines: list) -> int:
    """The wall stamp by which every book is synced: that of the line some way past the
    first frame that follows the last connect. Both sides are timed on the frames after
    it: the handshake and the snapshots before it are the same work in both (the live
    side is brought there by a replay) and, costing more per frame than the pushes,
    would weigh on the side that counted them."""
    frames = sum(1 for line in lines if type(line) is Frame)
    cut = max(i for i, line in enumerate(lines) if type(line) is Connect)
    return lines[min(len(lines) - 1, cut + max(50, frames // 50))].w


async def replay_once(path: Path, split: int) -> float:
    """Seconds from the first line after `split` to the end of the replay."""
    player = ReplayPlayer([path], speed=None)
    tasks = [asyncio.create_task(f.run()) for f in player.feeds]
    started: list[float] = []
    player.call_at(split + 1, lambda: started.append(time.perf_counter()))
    driver = asyncio.create_task(player.run())
    await player.finished.wait()
    elapsed = time.perf_counter() - started[0]
    driver.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.wait([driver, *tasks], timeout=1)
    return elapsed


async def live_once(path: Path, split: int) -> tuple[float, int]:
    """The feeds synced by the journal up to `split` (untimed), then every later frame
    group straight into the link the venue decodes from (timed)."""
    lines = list(JournalReader(path))
    player = ReplayPlayer([path], speed=None, until=split)
    tasks = [asyncio.create_task(f.run()) for f in player.feeds]
    driver = asyncio.create_task(player.run())
    await player.finished.wait()
    driver.cancel()
    groups: list[list[Frame]] = []
    for line in lines:
        if type(line) is not Frame or line.w <= split:
            continue
        if groups and groups[-1][0].c == line.c and groups[-1][0].m == line.m:
            groups[-1].append(line)
        else:
            groups.append([line])
    links = player.links
    todo = [(links[g[0].c], g) for g in groups if g[0].c in links]
    count = sum(len(g) for _, g in todo)
    t0 = time.perf_counter()
    for link, group in todo:
        link.push(group)
    elapsed = time.perf_counter() - t0
    for task in tasks:
        task.cancel()
    await asyncio.wait([driver, *tasks], timeout=1)
    return elapsed, count


def replay_bench(name: str, path: Path, rounds: int) -> None:
    lines = list(JournalReader(path))
    split = synced_at(lines)
    total = sum(1 for line in lines if type(line) is Frame and line.w > split)

    def replay() -> float:  # seconds a frame
        return asyncio.run(replay_once(path, split)) / total

    def live() -> float:
        elapsed, count = asyncio.run(live_once(path, split))
        if count != total:  # a frame of a connection the replay has no link for
            raise SystemExit(f"{name}: the live side took {count} of {total} frames")
        return elapsed / count

    # warm-up: imports and first-use costs stay out
    t = interleave({"replay": replay, "live": live}, rounds, warmup=1)
    ratio = t.paired("live", "replay")  # = replay's frames/s over live's, round by round
    print(f"{name}: {total} frames after the books synced; replay {1 / t.best('replay'):,.0f} "
          f"frames/s, live decode path {1 / t.best('live'):,.0f} frames/s (best rounds): "
          f"replay = {ratio:.0%} of live, paired median of {t.rounds} rounds (target >= 80%) "
          f"{verdict(ratio >= 0.8)}")


def size_ratio(name: str, path: Path) -> None:
    raw = 0
    for line in JournalReader(path):
        if type(line) is Frame:
            payload = line.payload()
            raw += len(payload) + HEADER_SIZE if isinstance(payload, bytes) \
                else len(payload.encode())
    size = path.stat().st_size
    print(f"{name}: journal {size:,} bytes for {raw:,} raw bytes: {size / raw:.1%} "
          "(target <= 25%)")


# -- 2. recording cost on the feed path at 10,000 msg/s -------------------------------------
SERVER = r"""
import socket, sys, time
data = open(sys.argv[1], "rb").read()
sizes = [int(x) for x in open(sys.argv[2]).read().split()]
rate = int(sys.argv[3])
per_send = int(sys.argv[4])  # frames a send (10 at 10,000 msg/s: one a millisecond)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
start = time.perf_counter(); sent = 0; pos = 0; i = 0
while i < len(sizes):
    chunk = sum(sizes[i:i + per_send]); conn.sendall(data[pos:pos + chunk])
    pos += chunk; i += per_send; sent += per_send
    wait = start + sent / rate - time.perf_counter()
    if wait > 0: time.sleep(wait)
conn.close()
"""


async def feed_path_once(frames_file: Path, sizes_file: Path, count: int, rate: int,
                         journal: Path | None, per_send: int | None = None,
                         poll: float = 0.01) -> tuple[float, int]:
    """Client CPU seconds and frames received, for `count` frames streamed at `rate`
    msg/s in sends of `per_send` frames (default: a millisecond's)."""
    from obview.venues.futu.client import FutuFeed

    per_send = per_send or max(1, rate // 1000)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(frames_file), str(sizes_file),
                               str(rate), str(per_send)], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    feed = FutuFeed(config("futu", ["HK.00700"], host="127.0.0.1", port=port))
    feed.streams["HK.00700"].synced = True
    writer = None
    if journal is not None:
        from obview.record import Recording

        recording = Recording(journal, [config("futu", ["HK.00700"])])
        recording.attach(feed)
        feed.conn = feed.tap.connect("tcp", "bench")
        writer = recording
    reader, _ = await asyncio.open_connection("127.0.0.1", port)
    task = asyncio.create_task(feed._read_loop(reader))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    while feed.messages < count and not task.done():
        await asyncio.sleep(poll)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if writer is not None:
        writer.close()
    server.wait(10)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return cpu, feed.messages


def frame_files(frames: list[bytes], tmp: Path) -> tuple[Path, Path]:
    """The server's input: the frames back to back, and their sizes."""
    frames_file, sizes_file = tmp / "frames.bin", tmp / "sizes.txt"
    frames_file.write_bytes(b"".join(frames))
    sizes_file.write_text(" ".join(str(len(f)) for f in frames))
    return frames_file, sizes_file


def cpu_per_frame(spent: tuple[float, int]) -> float:
    return spent[0] / max(spent[1], 1)


def recording_cost(rounds: int, frames: list[bytes], tmp: Path, rate: int = 10_000) -> None:
    frames_file, sizes_file = frame_files(frames, tmp)
    count = len(frames) - 100
    journals = itertools.count()

    def bare() -> float:  # CPU seconds a frame
        return cpu_per_frame(asyncio.run(feed_path_once(frames_file, sizes_file, count, rate,
                                                        None)))

    def recorded() -> float:
        journal = tmp / f"cost{next(journals)}.ndjson.zst"
        return cpu_per_frame(asyncio.run(feed_path_once(frames_file, sizes_file, count, rate,
                                                        journal)))

    # `again`, the bare path once more in every round, is the run's noise floor: what the
    # same path "adds" to itself (on the 2-core VM, 5-15% either way in 10 rounds)
    t = interleave({"bare": bare, "recorded": recorded, "again": bare}, rounds)
    added = (t.paired("recorded", "bare") - 1) * 100
    floor = (t.paired("again", "bare") - 1) * 100
    print(f"feed path at {rate:,} msg/s over loopback TCP ({count} Futu frames a round): "
          f"{t.best('bare') * 1e6:.1f} us CPU/frame, recording {t.best('recorded') * 1e6:.1f}"
          f" us (best rounds): recording adds {added:.1f}%, paired median of {t.rounds} "
          f"rounds (target <= 15%) {verdict(added <= 15)}; the bare path against itself in "
          f"the same rounds: {floor:+.1f}% (the noise floor)")
    alone = writer_alone(frames, tmp, rounds)
    print(f"  the journal writer alone on the same frames, in reads of 30 as the TCP reads "
          f"came: {alone * 1e6:.2f} us a frame (best of {rounds}) = "
          f"{alone / t.best('bare'):.1%} of the bare path's best round")


def writer_alone(frames: list[bytes], tmp: Path, rounds: int) -> float:
    """CPU seconds a frame for `JournalWriter.frames` alone (lines, base64, zstd, writes):
    the part of the recording cost that the feed path's noise cannot hide."""
    from obview.venues.futu.codec import FrameBuffer

    items = FrameBuffer().feed(b"".join(frames))
    reads = [items[i:i + 30] for i in range(0, len(items), 30)]
    best = float("inf")
    for n in range(rounds):
        writer = JournalWriter(tmp / f"alone{n}.ndjson.zst", checkpoint_every=None)
        t0 = time.process_time()
        for read in reads:
            writer.frames("futu", 1, "tcp", read, payload_at=2, pid_at=0)
        writer.close()
        best = min(best, time.process_time() - t0)
    return best / len(items)


# -- 4. seek in a one-hour journal ----------------------------------------------------------
def futu_handshake() -> list[Frame]:
    """The start of a real session with the simulator, recorded by the command: the
    replies to InitConnect, the subscription, the snapshot... and the pushes among them.
    A replayed session waits for its handshake (`link.busy`) as the live one did:
    a journal without one would keep it waiting, and every frame would wait with it."""
    with tempfile.TemporaryDirectory() as name:
        short = Path(name) / "start.ndjson.zst"
        record_session(short, ["futu", "HK.00700"], 5)
        frames = [line for line in JournalReader(short) if type(line) is Frame]
    if not any(f.pid != QOT_UPDATE_ORDER_BOOK for f in frames[1:]):
        raise SystemExit("the simulator's session had no handshake")
    return frames


def hour_journal(path: Path, rate: int) -> int:
    from obview.venues.futu import codec
    from obview.venues.futu.client import FutuFeed

    handshake = futu_handshake()
    frames = record_frames(2000, 10, False)
    bodies = [codec.FrameBuffer().feed(f)[0][2] for f in frames]
    cfg = config("futu", ["HK.00700"], host="127.0.0.1", port=1)
    feed = FutuFeed(cfg)
    stream = feed.streams["HK.00700"]
    ns = [10**9]
    w = JournalWriter(path, options={"feeds": [config_json(cfg)]}, mono=lambda: ns[0],
                      wall=lambda: WALL0 + ns[0],
                      books=lambda: [("futu", "HK.00700", stream.book, stream.pushes)],
                      links=lambda: {1: 0})
    w.connect("futu", 1, "tcp", "sim", feed=0)
    for reply in handshake:
        ns[0] += 1_000_000
        w.frame("futu", 1, "tcp", reply.b, pid=reply.pid, mono=ns[0])
    step = 10**9 // rate
    total = 3600 * rate
    for n in range(total):
        ns[0] += step
        body = bodies[n % len(bodies)]
        w.frame("futu", 1, "tcp", body, pid=codec.QOT_UPDATE_ORDER_BOOK, mono=ns[0])
        feed._process([(codec.QOT_UPDATE_ORDER_BOOK, 0, body)])
        stream.synced = True
    w.close()
    return total


async def seek_times(path: Path, seeks: int) -> list[float]:
    player = ReplayPlayer([path], speed=None)
    tasks = [asyncio.create_task(f.run()) for f in player.feeds]
    driver = asyncio.create_task(player.run())
    rng = random.Random(5)
    times = []
    for _ in range(seeks):
        target = rng.randrange(player.first_wall, player.last_wall)
        t0 = time.perf_counter()
        player.seek(target)
        while player.catching_up:
            await asyncio.sleep(0)
        times.append(time.perf_counter() - t0)
    driver.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.wait([driver, *tasks], timeout=1)
    return times


async def tui_at_100x(path: Path, duration: float, governed: bool = True) -> dict:
    """The replay app on the one-hour journal at 100x: push-to-paint as tui_bench.py
    measures it (a push is stamped when the feed emits it, a paint as it begins).
    `governed=False`: without the CPU governor the app gives its player, for comparison."""
    from tui_bench import Histogram

    from obview.events import BookChanged
    from obview.tui.app import ObviewApp

    points = JournalReader(path).index()
    player = ReplayPlayer([path], speed=100.0, start=points[1].wall)
    app = ObviewApp(player.configs, player.feeds, player=player)
    if not governed:
        player.governor = None
    pending: list[float] = []
    push_to_paint = Histogram()
    for feed in player.feeds:
        feed.add_listener(lambda e: pending.append(time.perf_counter())
                          if type(e) is BookChanged else None)
    async with app.run_test(size=(140, 50)) as pilot:
        while app.active_ladder() is None or app.active_ladder().view is None:
            await asyncio.sleep(0.01)
        await pilot.pause(0.5)
        ladder = app.active_ladder()
        render_lines = ladder.render_lines

        def observed(crop):
            paints, now = ladder.stats.paints, time.perf_counter()
            lines = render_lines(crop)
            if ladder.stats.paints != paints:
                for t in pending:
                    push_to_paint.add(now - t)
                pending.clear()
            return lines

        ladder.render_lines = observed
        pending.clear()
        lines0, paints0 = player.lines, ladder.stats.paints
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(duration)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        result = {"rate": (player.lines - lines0) / wall,
                  "fps": (ladder.stats.paints - paints0) / wall,
                  "p50": push_to_paint.percentile(0.5) * 1000,
                  "p99": push_to_paint.percentile(0.99) * 1000, "cpu": cpu / wall,
                  "playing": player.pace.playing_speed}
        await app.action_quit()
    return result


async def seek_with_rebuild(path: Path, history_s: float) -> dict:
    from obview.tui.app import ObviewApp

    player = ReplayPlayer([path], speed=1.0)
    app = ObviewApp(player.configs, player.feeds, player=player, history_s=history_s)
    held = [0.0]

    async def watch_the_loop() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.002)
            held[0] = max(held[0], time.perf_counter() - t - 0.002)

    async with app.run_test(size=(140, 50)) as pilot:
        while app.active_ladder() is None or app.active_ladder().view is None:
            await asyncio.sleep(0.01)
        await pilot.press("h")  # the heatmap on screen, drawing as the history lands
        player.control("pause")
        await pilot.pause(0.5)
        # between two seek points (every 20 s at 100 msg/s): a catch-up of 13 s of frames
        target = player.first_wall + (player.last_wall - player.first_wall) * 3 // 4 \
            + 13_000_000_000
        watcher = asyncio.create_task(watch_the_loop())
        t0, cpu0 = time.perf_counter(), time.process_time()
        player.seek(target)
        while player.pace.catching_up:
            await asyncio.sleep(0)
        book = time.perf_counter() - t0
        while app.rebuilds < 1:
            await asyncio.sleep(0.01)
        rebuilt = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        watcher.cancel()
        history = app.stream_panes()[0].history
        columns = len(history.tiers[1])
        await app.action_quit()
    return {"book": book, "rebuilt": rebuilt, "cpu": cpu, "held": held[0], "columns": columns}


def early(args, tmp: Path, futu: Path, loopring: Path) -> None:
    record_session(futu, ["futu", "HK.00700", "US.AAPL", "--fault", "rate=500"], args.frames)
    record_session(loopring, ["loopring", "LRC-ETH", "--fault", "rate=500"], args.frames)
    print("1. headless replay against the live decode path (same frames, same feed)")
    replay_bench("  futu", futu, args.rounds)
    replay_bench("  loopring", loopring, args.rounds)
    print("2. recording cost on the whole feed path")
    recording_cost(args.rounds, record_frames(20_000, 10, False), tmp)
    print("3. journal size")
    size_ratio("  futu", futu)
    size_ratio("  loopring", loopring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=4000, help="lines per recorded session")
    parser.add_argument("--hour-rate", type=int, default=100)
    parser.add_argument("--seeks", type=int, default=10)
    parser.add_argument("--tui-seconds", type=float, default=5.0)
    parser.add_argument("--only-hour", action="store_true", help="parts 4 to 6 only")
    parser.add_argument("--no-hour", action="store_true", help="parts 1 to 3 only")
    parser.add_argument("--history", type=float, default=1800.0,
                        help="part 6: seconds of heatmap history to rebuild")
    parser.add_argument("--no-rebuild", action="store_true", help="skip part 6")
    args = parser.parse_args()
    # a replayed session ends when its journal does, and says so (reconnect notices) at
    # every round: the figures are what this prints
    logging.getLogger("obview").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.only_hour:
            early(args, tmp, tmp / "futu.ndjson.zst", tmp / "loopring.ndjson.zst")
        if args.no_hour:
            return
        print(f"4. seek in a one-hour journal at {args.hour_rate} msg/s")
        hour = tmp / "hour.ndjson.zst"
        t0 = time.perf_counter()
        total = hour_journal(hour, args.hour_rate)
        print(f"  {total:,} frames, {hour.stat().st_size / 1e6:.1f} MB, written in "
              f"{time.perf_counter() - t0:.0f} s")
        times = asyncio.run(seek_times(hour, args.seeks))
        print(f"  {len(times)} seeks: median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms (target <= 500 ms)")
        print(f"5. the TUI replaying that journal at 100x ({args.hour_rate * 100:,} msg/s of "
              f"journal) for {args.tui_seconds:g} s")
        for governed in (True, False):
            result = asyncio.run(tui_at_100x(hour, args.tui_seconds, governed))
            print(f"  {'as shipped' if governed else 'no governor (comparison)'}: "
                  f"{result['rate']:,.0f} lines/s, {result['fps']:.0f} paints/s, "
                  f"push-to-paint p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms "
                  f"(target <= 50), CPU {result['cpu']:.2f} core (target <= 1); played at "
                  f"{result['playing']:.3g}x at the end"
                  + (" (the machine could not keep up: obview/replay/governor.py)"
                     if result["playing"] < 100 else ""))
        if args.no_rebuild:
            return
        result = asyncio.run(seek_with_rebuild(hour, args.history))
        print(f"6. a seek in the replay app with {args.history / 60:g} min of heatmap history: "
              f"book caught up in {result['book'] * 1000:.0f} ms (target <= 500), history "
              f"rebuilt ({result['columns']} 1 s columns) in {result['rebuilt']:.1f} s "
              f"({result['cpu']:.1f} s CPU), longest hold of the event loop meanwhile "
              f"{result['held'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
