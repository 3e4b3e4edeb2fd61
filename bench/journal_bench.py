"""Journal benchmark: what recording costs, how small the journal is, how fast a seek is.

    python bench/journal_bench.py [--frames N] [--rounds R] [--hour-rates 10,100]

1. Cost per frame, on simulator frames (Loopring LRC-ETH level-0 pushes as JSON text, Futu
   3013 bodies as protobuf), in interleaved rounds: (a) the bare decode of the frame
   (msgspec.json.decode / protobuf FromString), (w) `JournalWriter.frame` into a real file,
   compression and close included, (f) the feed's own path (`LoopringFeed.on_frame`;
   `FutuFeed.receive` one frame a read) and (f+w) both, as a recording feed would run.
   For Loopring also (s): websockets' own frame parsing (sans-I/O, one socket read a
   message) + UTF-8 decode + on_frame, the feed path from the socket's bytes, and (s+w).
   Ratios are medians of per-round ratios (bench/timing.py); "recording adds" is ((f+w) - f) / f, which does
   not depend on the message rate (the per-second flush is measured in the stall figure).
2. Journal bytes / raw bytes: the frames written with synthetic stamps at a given rate
   (flushes each second and a checkpoint of the real book every 10 s included), raw bytes
   being what came off the wire (Futu: whole frames, header included).
3. Reading: `JournalReader` over the Loopring journal, per line, against the bare decode.
4. Seek: a one-hour journal per rate (synthetic stamps, Loopring frames cycled), opened
   cold; each seek is timed from `JournalReader(...)` (first seek: index included) or from
   `seek()` to the first line at or past the target, every line on the way decoded.
Targets: journal <= 25% of raw bytes; any seek <= 0.5 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import msgspec  # noqa: E402
from futu_decode import obview_run, record_frames  # noqa: E402
from loopring_push import MARKET, fresh_feed, record  # noqa: E402
from timing import interleave, verdict  # noqa: E402

from obview.journal import JournalReader  # noqa: E402
from obview.journal import JournalWriter as _Writer  # noqa: E402
from obview.venues.futu.codec import HEADER_SIZE, QOT_UPDATE_ORDER_BOOK  # noqa: E402
from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2  # noqa: E402

WALL0 = 1_764_633_600_000_000_000
LEVEL: int | None = None  # --level: the writer's default unless given


def JournalWriter(*args, **kw) -> _Writer:  # noqa: N802
    if LEVEL is not None:
        kw.setdefault("level", LEVEL)
    return _Writer(*args, **kw)


class SyntheticClock:
    def __init__(self) -> None:
        self.ns = 10**9

    def mono(self) -> int:
        return self.ns

    def wall(self) -> int:
        return WALL0 + self.ns


def cost(name: str, frames: list, decode: Callable, tap: Callable, feed_run: Callable,
         feed_name: str, rounds: int, tmp: Path) -> None:
    n = len(frames)
    counter = iter(range(10**9))

    def bare() -> None:
        for frame in frames:
            decode(frame)

    def write() -> None:
        path = tmp / f"cost{next(counter)}.ndjson.zst"
        w = JournalWriter(path)
        for frame in frames:
            tap(w, frame)
        w.close()
        path.unlink()

    feed_only, feed_recorded = feed_run(None), feed_run(tmp)
    t = interleave({"a": bare, "w": write, "f": feed_only, "fw": feed_recorded}, rounds)
    best = {key: t.per_item(key, n) * 1e6 for key in t.times}
    print(f"{name}: {n} frames, best of {rounds} rounds")
    print(f"  (a) bare decode           {best['a']:7.2f} us/frame")
    print(f"  (w) JournalWriter.frame   {best['w']:7.2f} us/frame  "
          f"({t.paired('w', 'a'):.2f}x the bare decode, paired median)")
    print(f"  (f) feed path             {best['f']:7.2f} us/frame  ({feed_name})")
    print(f"  (f+w) feed path recording {best['fw']:7.2f} us/frame  recording adds "
          f"{(t.paired('fw', 'f') - 1) * 100:.1f}% to the feed path")

    w = JournalWriter(tmp / "stall.ndjson.zst")  # the longest a single call holds the loop
    calls = []
    for frame in frames:
        t0 = time.perf_counter_ns()
        tap(w, frame)
        calls.append(time.perf_counter_ns() - t0)
    t0 = time.perf_counter_ns()
    w.flush()
    flush_ns = time.perf_counter_ns() - t0
    w.close()
    calls.sort()
    print(f"      per call: median {calls[n // 2] / 1e3:.1f} us, p99 {calls[n * 99 // 100] / 1e3:.1f} "
          f"us, max {calls[-1] / 1e3:.0f} us (a {w._buffer_bytes // 1024} KiB batch compressed); "
          f"a flush {flush_ns / 1e3:.0f} us")


def websocket_cost(texts: list[str], new_feed: Callable, rounds: int, tmp: Path) -> None:
    """Loopring's feed path from the bytes a socket read returns: websockets' own frame
    parsing (its sans-I/O protocol, as its asyncio client runs it) and UTF-8 decoding come
    before on_frame, so they belong to what recording is compared with."""
    from websockets.client import ClientProtocol
    from websockets.protocol import State
    from websockets.server import ServerProtocol
    from websockets.uri import parse_uri

    server = ServerProtocol(state=State.OPEN)
    for text in texts:
        server.send_text(text.encode())
    reads = server.data_to_send()  # one socket read a message
    counter = iter(range(10**9))
    feeds = [new_feed() for _ in range(2 * rounds)]

    def run(record_to: Path | None) -> Callable[[], None]:
        def go() -> None:
            client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN)
            on_frame = feeds.pop().on_frame
            receive, events = client.receive_data, client.events_received
            w = JournalWriter(record_to / f"ws{next(counter)}.ndjson.zst") if record_to else None
            for data in reads:
                receive(data)
                for frame in events():
                    text = frame.data.decode()
                    if w is not None:
                        w.frame("loopring", 1, "ws", text)
                    on_frame(text)
            if w is not None:
                w.close()
                w.path.unlink()
        return go

    t = interleave({"ws": run(None), "wsw": run(tmp)}, rounds)
    n = len(texts)
    best = {key: t.per_item(key, n) * 1e6 for key in t.times}
    print(f"  (s) websockets parse + on_frame   {best['ws']:7.2f} us/frame")
    print(f"  (s+w) the same, recording         {best['wsw']:7.2f} us/frame  recording adds "
          f"{(t.paired('wsw', 'ws') - 1) * 100:.1f}% (target <= 15%; asyncio and the "
          f"socket reads, not counted here, add more to the base)")


def read_cost(texts: list[str], frames: list[bytes], rounds: int, tmp: Path) -> None:
    path = tmp / "read.ndjson.zst"
    w = JournalWriter(path)
    for text in texts:
        w.frame("loopring", 1, "ws", text)
    w.close()
    reader = JournalReader(path)
    lines = sum(1 for _ in reader)
    decode = msgspec.json.decode

    def read() -> None:
        for _line in reader:
            pass

    def bare() -> None:
        for frame in frames:
            decode(frame)

    t = interleave({"read": read, "bare": bare}, rounds)
    print(f"  JournalReader lines: {t.per_item('read', lines) * 1e6:.2f} us/line "
          f"(decompress + decode into Frame structs), {t.paired('read', 'bare'):.2f}x the "
          f"bare msgspec.json.decode of the frame itself")
    path.unlink()


def ratio(name: str, frames: list, raw_bytes: int, tap: Callable, rate: float, books,
          tmp: Path, window_log: int | None = None) -> float:
    clock = SyntheticClock()
    path = tmp / f"ratio-{name}-{rate}-{window_log}.ndjson.zst"
    w = JournalWriter(path, mono=clock.mono, wall=clock.wall, books=books,
                      window_log=window_log)
    step = int(1e9 / rate)
    for frame in frames:
        clock.ns += step
        tap(w, frame)
    w.close()
    size = path.stat().st_size
    path.unlink()
    return size / raw_bytes


def hour_journal(path: Path, frames: list[str], rate: int, books) -> tuple[int, float]:
    clock = SyntheticClock()
    w = JournalWriter(path, mono=clock.mono, wall=clock.wall, books=books)
    step = 10**9 // rate
    t0 = time.perf_counter()
    count = len(frames)
    for n in range(3600 * rate):
        clock.ns += step
        w.frame("loopring", 1, "ws", frames[n % count], mono=clock.ns, wall=WALL0 + clock.ns)
    w.close()
    return 3600 * rate, time.perf_counter() - t0


def seek_bench(rate: int, frames: list[str], books, tmp: Path, seeks: int) -> float:
    path = tmp / f"hour-{rate}.ndjson.zst"
    count, took = hour_journal(path, frames, rate, books)
    rng = random.Random(rate)
    start = WALL0 + 10**9
    targets = [start + rng.randrange(0, 3600 * 10**9) for _ in range(seeks)]
    times = []
    t0 = time.perf_counter()
    reader = JournalReader(path)
    points = len(reader.index())
    for i, target in enumerate(targets):
        if i:
            t0 = time.perf_counter()
        replayed = 0
        for line in reader.seek(wall=target):
            replayed += 1
            if line.w >= target:
                break
        times.append(time.perf_counter() - t0)
    size = path.stat().st_size
    path.unlink()
    print(f"  {rate:5d} msg/s: {count:,} frames, {size / 1e6:.1f} MB, {points} seek points "
          f"(written in {took:.1f} s); first seek incl. index {times[0] * 1e3:.1f} ms, "
          f"then median {statistics.median(times[1:]) * 1e3:.1f} ms, max "
          f"{max(times[1:]) * 1e3:.1f} ms over {seeks - 1} random targets")
    return max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--hour-rates", default="10,100")
    ap.add_argument("--seeks", type=int, default=21)
    ap.add_argument("--level", type=int, help="zstd level (default: the writer's)")
    args = ap.parse_args()
    global LEVEL
    LEVEL = args.level

    snapshot, loopring_bytes = record(args.frames, 0)
    loopring_text = [frame.decode() for frame in loopring_bytes]
    futu_frames = record_frames(args.frames, 20, False)
    futu_bodies = [frame[HEADER_SIZE:] for frame in futu_frames]
    book_feed = fresh_feed(snapshot, 0)
    for frame in loopring_bytes:
        book_feed.on_frame(frame)
    loopring_books = lambda: [("loopring", MARKET, book_feed.stream.book)]  # noqa: E731
    futu_feed_book = []

    def loopring_tap(w: _Writer, text: str) -> None:
        w.frame("loopring", 1, "ws", text)

    def futu_tap(w: _Writer, body: bytes) -> None:
        w.frame("futu", 1, "tcp", body, pid=QOT_UPDATE_ORDER_BOOK)

    with tempfile.TemporaryDirectory() as home:
        tmp = Path(home)
        counter = iter(range(10**9))

        def loopring_feed(record_to: Path | None):
            feeds = [fresh_feed(snapshot, 0) for _ in range(args.rounds)]

            def run() -> None:
                feed = feeds.pop()
                on_frame = feed.on_frame
                if record_to is None:
                    for text in loopring_text:
                        on_frame(text)
                    return
                path = record_to / f"feed{next(counter)}.ndjson.zst"
                w = JournalWriter(path)
                tap = w.frame
                for text in loopring_text:
                    tap("loopring", 1, "ws", text)
                    on_frame(text)
                w.close()
                path.unlink()
            return run

        def futu_feed(record_to: Path | None):
            run_feed = obview_run(futu_frames, False, read_size=0)
            if record_to is None:
                return run_feed
            pairs = list(zip(futu_frames, futu_bodies, strict=True))
            from obview.venues import config
            from obview.venues.futu.client import FutuFeed
            feed = FutuFeed(config("futu", ["HK.00700"], host="127.0.0.1", port=1))
            feed.streams["HK.00700"].synced = True
            futu_feed_book.append(feed)

            def run() -> None:
                feed.buffer.clear()
                path = record_to / f"feed{next(counter)}.ndjson.zst"
                w = JournalWriter(path)
                tap, receive = w.frame, feed.receive
                for frame, body in pairs:
                    tap("futu", 1, "tcp", body, pid=QOT_UPDATE_ORDER_BOOK)
                    receive(frame)
                w.close()
                path.unlink()
            return run

        print("1. cost per frame")
        cost("Loopring LRC-ETH level 0 push (JSON text)", loopring_text, msgspec.json.decode,
             loopring_tap, loopring_feed, "on_frame", args.rounds, tmp)
        websocket_cost(loopring_text, lambda: fresh_feed(snapshot, 0), args.rounds, tmp)
        cost("Futu 3013 HK.00700 20 levels (protobuf body)", futu_bodies,
             Qot_UpdateOrderBook_pb2.Response.FromString, futu_tap, futu_feed,
             "receive: frame checks, SHA-1, decode, book", args.rounds, tmp)

        futu_books = lambda: [("futu", "HK.00700", futu_feed_book[0].streams["HK.00700"].book)]  # noqa: E731
        print("2. journal bytes / raw bytes (flush each second, checkpoint each 10 s)")
        raw_loopring = sum(map(len, loopring_bytes))
        raw_futu = sum(map(len, futu_frames))
        snapshot1, level1_bytes = record(args.frames, 1)
        level1_text = [frame.decode() for frame in level1_bytes]
        raw_level1 = sum(map(len, level1_bytes))
        level1_feed = fresh_feed(snapshot1, 1)
        for frame in level1_bytes:
            level1_feed.on_frame(frame)
        level1_books = lambda: [("loopring", MARKET, level1_feed.stream.book)]  # noqa: E731
        worst = 0.0
        for rate in (10, 100, 10_000):
            cells = []
            for label, frames, raw, tap, books in (
                    ("Loopring L0", loopring_text, raw_loopring, loopring_tap, loopring_books),
                    ("Loopring L1", level1_text, raw_level1, loopring_tap, level1_books),
                    ("Futu", futu_bodies, raw_futu, futu_tap, futu_books)):
                default = ratio(label, frames, raw, tap, rate, books, tmp)
                wide = ratio(label, frames, raw, tap, rate, books, tmp, window_log=27)
                worst = max(worst, default)
                cells.append(f"{label} {default * 100:4.1f}% (long window {wide * 100:4.1f}%)")
            print(f"  {rate:6d} msg/s: " + "   ".join(cells))
        print(f"  raw: Loopring {raw_loopring / len(loopring_bytes):.0f} B/push at level 0, "
              f"{raw_level1 / len(level1_bytes):.0f} at level 1, Futu "
              f"{raw_futu / len(futu_frames):.0f} B/frame incl. the 44 B header; worst "
              f"{worst * 100:.1f}%  target <= 25%: {verdict(worst <= 0.25)}")

        print("3. reading back (what a replay pays before its decoders)")
        read_cost(loopring_text, loopring_bytes, args.rounds, tmp)
        print("4. seek in a one-hour journal (Loopring level 0 frames, checkpoint each 10 s)")
        worst_seek = 0.0
        for rate in (int(r) for r in args.hour_rates.split(",") if r):
            worst_seek = max(worst_seek, seek_bench(rate, loopring_text, loopring_books, tmp,
                                                    args.seeks))
        print(f"  slowest seek {worst_seek * 1e3:.1f} ms  target <= 500 ms: "
              f"{verdict(worst_seek <= 0.5)}")


if __name__ == "__main__":
    main()
