"""Futu 3013 decode benchmark: the same recorded frames through

  (a) bare protobuf parsing (Qot_UpdateOrderBook.Response.FromString of each body),
  (b) obview's full path, one frame per socket read (every push applied): frame checks
      (magic, SHA-1) -> push routed by security, latency stamps recorded -> exact Decimal
      levels, only changed levels decoded -> book -> BookChanged emitted. Also shown
      under backlog (64 KiB reads), where a read's older pushes of a code are superseded
      by its newest (a push is a complete snapshot) and only the newest is applied,
  (c) the official SDK's path: futu-api `parse_rsp` (header, SHA-1, parse) then
      `OrderBookHandlerBase.parse_rsp_pb` (its dict of tuples), run in a subprocess
      because its generated modules clash with obview's in protobuf's descriptor pool,
  (d) (b) on an encrypted connection: the same pushes AES-sealed as an OpenD with
      rsa_private_key sends them (CBC with aesCBCiv, the mode the SDK asks for; also Futu's
      ECB variant), so each frame is decrypted before its SHA-1 is checked.

Targets: (b) <= 2.5x the time of (a); (b) >= 3x faster than (c). (d)/(b) is reported (the
expected extra is one AES decryption per frame), with no target.

    python bench/futu_decode.py [--frames 2000] [--rounds 15] [--details] [--levels 20]

Rates are each run's best round; ratios are medians over rounds of times measured back to
back (bench/timing.py: this machine may be shared); the SDK times its rounds in its own
process, on request.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from timing import interleave, verdict  # noqa: E402

AES_KEY, AES_IV = "Bench0123456789k", "BenchIV012345678"  # 16-char strings, like connAESKey


def session_cipher(mode: str | None):
    """An encrypted connection's cipher after InitConnect (None: a plain connection)."""
    if mode is None:
        return None
    from cryptography.hazmat.primitives.asymmetric import rsa

    from obview.venues.futu import crypto

    key = crypto.RsaKey("<bench>", rsa.generate_private_key(public_exponent=65537,
                                                            key_size=crypto.KEY_BITS))
    cipher = crypto.SessionCipher(key)
    cipher.install(crypto.session_aes(AES_KEY, AES_IV if mode == "cbc" else None))
    return cipher


def record_frames(count: int, levels: int, details: bool, seed: int = 1,
                  aes: str | None = None) -> list[bytes]:
    """3013 frames exactly as the simulator sends them, for a moving HK.00700 book
    (AES-sealed as an encrypted OpenD sends them when `aes` is "cbc" or "ecb")."""
    from obview.venues.futu import codec
    from obview.venues.futu.market import SimBook
    from obview.venues.futu.sim import FutuSimulator

    sim = FutuSimulator(seed, {"levels": str(levels)})
    book = SimBook("HK.00700", seed)
    cipher = session_cipher(aes)
    frames = []
    for serial in range(count):
        book.step()
        body = sim._push_body(book, details, stamped=True)
        frames.append(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, serial, body,
                                         cipher=cipher))
    return frames


def bare_run(frames: list[bytes]):
    """(a): the generated message's FromString on every body, nothing else."""
    from obview.venues.futu.codec import HEADER_SIZE
    from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2

    parse = Qot_UpdateOrderBook_pb2.Response.FromString
    bodies = [frame[HEADER_SIZE:] for frame in frames]

    def run() -> None:
        for body in bodies:
            parse(body)

    return run


def fields_run(frames: list[bytes]):
    """Reference: FromString plus reading each level's price, volume and order count."""
    from obview.venues.futu.codec import HEADER_SIZE
    from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2

    parse = Qot_UpdateOrderBook_pb2.Response.FromString
    bodies = [frame[HEADER_SIZE:] for frame in frames]

    def run() -> None:
        for body in bodies:
            s2c = parse(body).s2c
            for row in s2c.orderBookBidList:
                row.price, row.volume, row.orederCount  # noqa: B018
            for row in s2c.orderBookAskList:
                row.price, row.volume, row.orederCount  # noqa: B018

    return run


def floor_run(frames: list[bytes]):
    """Reference: what any path from bytes must do before it touches a level: the frame
    checks docs/futu.md "Frames" names (magic, length, SHA-1 of the body) and one protobuf parse."""
    from obview.venues.futu.codec import FrameBuffer
    from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2

    parse = Qot_UpdateOrderBook_pb2.Response.FromString
    buffer = FrameBuffer()

    def run() -> None:
        feed = buffer.feed
        for frame in frames:
            for _proto_id, _serial, body in feed(frame):
                parse(body)

    return run


def obview_run(frames: list[bytes], details: bool, read_size: int = 65536,
               aes: str | None = None):
    """(b): socket-sized reads through the feed: frames, SHA-1, push, Decimal levels, book.
    With `read_size=0` every frame is a read of its own, so every push is applied.
    (d): the same with `aes`, on frames sealed with that mode (the feed decrypts them)."""
    from obview.venues import config
    from obview.venues.futu.client import FutuFeed

    feed = FutuFeed(config("futu", ["HK.00700"], details=details, host="127.0.0.1", port=1))
    feed.streams["HK.00700"].synced = True
    cipher = session_cipher(aes)
    events: list = []
    feed.add_listener(events.append)
    stream = b"".join(frames)
    if read_size:
        reads = [stream[i:i + read_size] for i in range(0, len(stream), read_size)]
    else:
        reads = list(frames)

    def run() -> None:
        feed.buffer.clear()
        feed.buffer.cipher = cipher
        for chunk in reads:
            feed.receive(chunk)  # what the client's read loop does with each read
        events.clear()
        book = feed.streams["HK.00700"].book
        assert book.bids and book.asks and feed.bad_frames == 0

    return run


SDK_SCRIPT = r"""
import sys, time
from futu import SysConfig
from futu.common.utils import parse_rsp
from futu.quote.quote_response_handler import OrderBookHandlerBase
SysConfig.set_all_thread_daemon(True)
data = open(sys.argv[1], "rb").read()
frames, offset = [], 0
while offset < len(data):
    length = int.from_bytes(data[offset + 12:offset + 16], "little")
    frames.append(data[offset:offset + 44 + length])
    offset += 44 + length
parse_book = OrderBookHandlerBase.parse_rsp_pb
print("ready", flush=True)
for _ in sys.stdin:  # one round per request line; the reply is its time in seconds
    started = time.perf_counter()
    for frame in frames:
        result = parse_rsp(frame, 0, False)
        ret, book = parse_book(result.rsp_pb)
    elapsed = time.perf_counter() - started
    assert ret == 0 and book["Bid"], book
    print(elapsed, flush=True)
import os; os._exit(0)
"""


class SdkPeer:
    """The futu-api SDK in its own process (its generated modules clash with obview's in
    protobuf's descriptor pool), timing one round per request, so that its rounds take
    turns with obview's rounds like every other run."""

    def __init__(self, frames: list[bytes]) -> None:
        self._home = tempfile.TemporaryDirectory()
        path = Path(self._home.name) / "frames.bin"
        path.write_bytes(b"".join(frames))
        env = {**os.environ, "HOME": self._home.name, "PYTHONPATH": ""}
        self._process = subprocess.Popen(
            [sys.executable, "-c", SDK_SCRIPT, str(path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=self._home.name)
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"futu-api failed: {self._process.stderr.read()[-500:]}")

    def round(self) -> float:
        self._process.stdin.write("\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"futu-api failed: {self._process.stderr.read()[-500:]}")
        return float(line)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a peer that died has closed its end already
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._home.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--levels", type=int, default=20)
    parser.add_argument("--details", action="store_true", help="frames with SF order queues")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    frames = record_frames(args.frames, args.levels, args.details)
    sealed = {mode: record_frames(args.frames, args.levels, args.details, aes=mode)
              for mode in ("cbc", "ecb")}
    size = sum(map(len, frames)) / len(frames)
    print(f"futu 3013 decode: {len(frames)} frames of HK.00700, {args.levels} levels a side, "
          f"details {'on' if args.details else 'off'}, {size:.0f} bytes/frame avg, "
          f"best of {args.rounds} rounds")
    try:
        sdk = SdkPeer(frames)
    except (OSError, RuntimeError) as exc:
        print(f"(c) {exc}", file=sys.stderr)
        return 1
    try:
        t = interleave(
            {"a": bare_run(frames), "b": obview_run(frames, args.details),
             "b1": obview_run(frames, args.details, read_size=0), "c": sdk.round,
             "d1": obview_run(sealed["cbc"], args.details, read_size=0, aes="cbc"),
             "d": obview_run(sealed["cbc"], args.details, aes="cbc"),
             "d1ecb": obview_run(sealed["ecb"], args.details, read_size=0, aes="ecb"),
             "fields": fields_run(frames), "floor": floor_run(frames)},
            args.rounds)
    finally:
        sdk.close()
    rates = {name: t.rate(name, len(frames)) for name in t.times}  # best round
    ratio_each = t.paired("b1", "a")
    ratio_backlog = t.paired("b", "a")
    sdk_each = t.paired("c", "b1")
    sdk_backlog = t.paired("c", "b")
    print(f"(a) bare protobuf parse      {rates['a']:12,.0f} frames/s")
    print(f"(b) obview bytes -> book     {rates['b1']:12,.0f} frames/s  (one frame per read: every "
          "push applied)")
    print(f"    under backlog            {rates['b']:12,.0f} frames/s  (64 KiB reads: a read's older "
          "pushes of a code are superseded by its newest)")
    print(f"(c) futu-api SDK handler     {rates['c']:12,.0f} frames/s")
    print(f"(d) (b) with AES-CBC bodies  {rates['d1']:12,.0f} frames/s  (one frame per read)")
    print(f"    under backlog            {rates['d']:12,.0f} frames/s  (64 KiB reads)")
    print(f"    with Futu's AES-ECB      {rates['d1ecb']:12,.0f} frames/s  (one frame per read)")
    print(f"    reference: frame checks (SHA-1) + parse {rates['floor']:,.0f} frames/s "
          f"({t.paired('floor', 'a'):.2f}x the time of (a), before any level is read)")
    print(f"    reference: parse + read every level's fields {rates['fields']:,.0f} frames/s "
          f"({t.paired('fields', 'a'):.2f}x the time of (a): upb parses lazily)")
    print(f"Ratios are medians of {args.rounds} back-to-back pairs of rounds.")
    print(f"(b)/(a) time ratio: {ratio_each:.2f}x one frame per read, {ratio_backlog:.2f}x under "
          f"backlog  target <= 2.5x: {verdict(ratio_each <= 2.5)} per frame, "
          f"{verdict(ratio_backlog <= 2.5)} under backlog")
    print(f"(c)/(b) time ratio: {sdk_each:.2f}x one frame per read, {sdk_backlog:.2f}x under "
          f"backlog  target >= 3x: {verdict(sdk_each >= 3)}")
    aes_each = t.paired("d1", "b1")
    extra_us = t.paired_delta("d1", "b1")
    print(f"(d)/(b) time ratio: {aes_each:.2f}x one frame per read with AES-CBC "
          f"(+{extra_us / len(frames) * 1e6:.1f} us a frame), "
          f"{t.paired('d', 'b'):.2f}x under backlog, "
          f"{t.paired('d1ecb', 'b1'):.2f}x one frame per read with AES-ECB  "
          "(no target: the cost of decrypting every frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
