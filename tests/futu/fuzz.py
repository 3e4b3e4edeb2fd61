"""Seeded fuzzing of the Futu client through a hostile OpenD on a loopback socket.

Generated books (valid, broken on purpose, byte-mutated, ignored, broken framing) are sent
in batches; after each batch the client must have read everything and its book must be
exactly the last valid book sent. Every book the client ever holds (each BookChanged) must
be one of the valid books, in order. An independent oracle here decides what is valid
(docs/futu.md, "Push validation"), not the client's code.

    python -m tests.futu.fuzz --frames 100000 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal

from google.protobuf.message import DecodeError

from obview.events import BookChanged
from obview.venues.futu import codec
from obview.venues.futu.client import CACHE_LIMIT
from obview.venues.futu.pb import Qot_UpdateOrderBook_pb2
from tests.futu.hostile import CODE, MARKET, SHORT, FuzzFeed, HostileOpenD, caught_up, push_body

MAX_LEVELS, MAX_DETAILS, MAX_PLACES = 60, 1000, 9


# -- the oracle -----------------------------------------------------------------------------
def _sane(raw: float, limit: int) -> Decimal | None:
    if not math.isfinite(raw):
        return None
    value = Decimal(repr(raw))
    if value < 0 or value >= limit or value.as_tuple().exponent < -MAX_PLACES:
        return None
    return value


def judge(body: bytes, details: bool = True):
    """("valid", (bids, asks)) | ("bad", None) | ("ignored", None) | ("undecodable", None)."""
    try:
        response = Qot_UpdateOrderBook_pb2.Response.FromString(body)
    except DecodeError:
        return "undecodable", None
    s2c = response.s2c
    if response.retType or (s2c.security.market, s2c.security.code) != (MARKET, SHORT):
        return "ignored", None
    sides = []
    for levels, best_first in ((s2c.orderBookBidList, True), (s2c.orderBookAskList, False)):
        if len(levels) > MAX_LEVELS:
            return "bad", None
        rows = []
        for level in levels:
            if not level.IsInitialized():  # proto2: a required field is missing
                return "bad", None
            price = _sane(level.price, 10**12)
            raw_volume = level.hpVolume or level.volume
            if type(raw_volume) is float:
                volume = _sane(raw_volume, 10**18)
            else:
                volume = Decimal(raw_volume) if raw_volume >= 0 else None
            if not price or volume is None or level.orederCount < 0:
                return "bad", None
            if len(level.detailList) > MAX_DETAILS:
                return "bad", None
            queue = {d.orderID: Decimal(d.volume) for d in level.detailList}
            if details and any(v < 0 for v in queue.values()):
                return "bad", None
            rows.append((price, volume, level.orederCount,
                         tuple(queue.items()) if details and queue else ()))
        if len({row[0] for row in rows}) != len(rows):
            return "bad", None
        rows = [row for row in rows if row[1]]
        rows.sort(key=lambda row: row[0], reverse=best_first)
        sides.append(tuple(rows))
    return "valid", tuple(sides)


def book_rows(feed: FuzzFeed):
    book = feed.streams[CODE].book

    def rows(side):
        return tuple((lv.price, lv.size, lv.orders, tuple(lv.queue.items()) if lv.queue else ())
                     for lv in side.iter_levels())

    return rows(book.bids), rows(book.asks)


# -- the generator --------------------------------------------------------------------------
class Books:
    """Valid books that evolve like a market (so every path of the client is taken), and
    the ways to break one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.mid = 50_000  # in cents
        self.bids = [self._row(self.mid - i) for i in range(1, 11)]
        self.asks = [self._row(self.mid + i) for i in range(1, 11)]

    def _row(self, cents: int) -> list:
        rng = self.rng
        details = [(rng.randrange(1, 2**62), rng.randint(1, 900)) for _ in range(rng.randint(0, 3))]
        return [cents / 100, rng.randint(0, 50) * 100 or rng.choice((0, 100)), rng.randint(0, 9),
                details, None]

    def step(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:  # the price moves: rebuild both sides on a new mid
            self.mid += rng.choice((-2, -1, 1, 2))
            self.bids = [self._row(self.mid - i) for i in range(1, rng.randint(2, 40))]
            self.asks = [self._row(self.mid + i) for i in range(1, rng.randint(2, 40))]
        elif roll < 0.2:
            side = rng.choice((self.bids, self.asks))
            if side:
                side.pop(rng.randrange(len(side)))
        else:  # sizes change at unchanged prices (the common push)
            for _ in range(rng.randint(1, 3)):
                side = rng.choice((self.bids, self.asks))
                if side:
                    row = side[rng.randrange(len(side))]
                    row[1] = rng.randint(1, 80) * 100
                    row[2] = rng.randint(1, 9)
        if rng.random() < 0.05:
            for row in self.bids + self.asks:
                row[4] = row[1] + 0.5  # high-precision volumes, as US books carry
        elif rng.random() < 0.05:
            for row in self.bids + self.asks:
                row[4] = None

    def body(self) -> bytes:
        body = push_body(self.bids, self.asks)
        if self.rng.random() < 0.1:  # receive stamps, sane or not: never part of the book
            response = Qot_UpdateOrderBook_pb2.Response.FromString(body)
            stamp = self.rng.choice((1.7e9, 0.0, -1.0, math.nan, math.inf, -math.inf, 1e300))
            response.s2c.svrRecvTimeBidTimestamp = stamp
            response.s2c.svrRecvTimeAskTimestamp = self.rng.choice((stamp, 1.7e9))
            body = response.SerializeToString()
        return body

    def broken(self) -> bytes:
        rng = self.rng
        bids = [list(row) for row in self.bids] or [self._row(self.mid - 1)]
        asks = [list(row) for row in self.asks]
        row = rng.choice(bids)
        kind = rng.randrange(18)
        if kind < 7:
            row[0] = (math.nan, math.inf, -math.inf, -row[0], 0.0, 5e-324, 1e13)[kind]
        elif kind == 7:
            row[0] = 500.0000000001  # ten places
        elif kind < 12:
            row[4] = (math.nan, math.inf, -1.5, 5e-324)[kind - 8]
        elif kind == 12:
            row[1] = -5
        elif kind == 13:
            row[2] = -1
        elif kind == 14:  # the same price twice
            bids.append(list(row))
        elif kind == 15:
            row[3] = [(i + 1, 1) for i in range(MAX_DETAILS + 1)]
        elif kind == 16:
            bids = [self._row(self.mid - 1 - i) for i in range(MAX_LEVELS + 1)]
        else:
            row[3] = [(1, -3)]
        return push_body(bids, asks)

    def mutated(self) -> bytes:
        body = bytearray(self.body())
        for _ in range(self.rng.randint(1, 3)):
            body[self.rng.randrange(len(body))] = self.rng.randrange(256)
        return bytes(body)


@dataclass
class Report:
    frames: int = 0
    valid: int = 0
    bad: int = 0  # semantic faults and undecodable bodies
    framing: int = 0
    ignored: int = 0
    min_counted: int = 0  # bad frames the client must have counted at least
    bad_frames: int = 0
    reconnects: int = 0
    states_checked: int = 0
    escaped: list = field(default_factory=list)
    seconds: float = 0.0
    rss_growth_mb: float = 0.0
    cache_sizes: tuple = ()

    def line(self) -> str:
        return (f"frames {self.frames}: valid {self.valid}, bad {self.bad}, framing "
                f"{self.framing}, ignored {self.ignored}; client counted {self.bad_frames} bad "
                f"(>= {self.min_counted}), {self.reconnects} reconnects, "
                f"{self.states_checked} books checked, {self.seconds:.1f}s, "
                f"peak RSS +{self.rss_growth_mb:.0f} MB, caches {self.cache_sizes}")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_fuzz(frames: int, seed: int) -> Report:
    rng = random.Random(seed)
    books = Books(rng)
    server = HostileOpenD()
    server.book_body = books.body()
    port = await server.start()
    feed = FuzzFeed(port)
    report = Report()
    # every valid book sent, in order; the client may skip some (superseded in one read)
    sent: list = [judge(server.book_body)[1]]
    seen: dict = {sent[0]: [0]}
    last_index = [0]
    mismatches: list = []

    def on_event(event) -> None:
        if not isinstance(event, BookChanged):
            return
        rows = book_rows(feed)
        report.states_checked += 1
        indices = seen.get(rows, [])
        at = bisect.bisect_left(indices, last_index[0])
        if at == len(indices):
            mismatches.append((len(sent) - 1, rows))
        else:
            last_index[0] = indices[at]

    feed.add_listener(on_event)
    original_receive = feed.receive

    def receive(data: bytes) -> None:
        try:
            original_receive(data)
        except Exception as exc:
            if not isinstance(exc, codec.BadFrame):
                report.escaped.append(repr(exc))
            raise

    feed.receive = receive  # type: ignore[method-assign]
    rss_before = _rss_mb()
    started = time.monotonic()
    task = asyncio.create_task(feed.run())
    try:
        await caught_up(feed, server)
        while report.frames < frames:
            batch: list[bytes] = []
            tail_bad = 0
            for _ in range(rng.randint(1, 6)):
                roll = rng.random()
                if roll < 0.55:
                    books.step()
                    body = books.body()
                elif roll < 0.85:
                    body = books.broken()
                elif roll < 0.92:
                    body = books.mutated()
                elif roll < 0.995:
                    body = rng.choice((
                        push_body(books.bids, books.asks, security=(1, "09988")),
                        push_body([], [], ret_type=-1),
                        b"\x08\x00",  # an unknown push id (below)
                    ))
                    if body == b"\x08\x00":
                        batch.append(codec.encode_frame(3005, 1, body))
                        report.ignored += 1
                        continue
                else:
                    body = None
                if body is None:  # broken framing: the connection is replaced
                    frame = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, books.body())
                    kind = rng.randrange(3)
                    if kind == 0:
                        frame = frame[:16] + bytes(20) + frame[36:]
                    elif kind == 1:
                        frame = b"XX" + frame[2:]
                    else:
                        frame = frame[:12] + (codec.MAX_BODY + 1).to_bytes(4, "little") + frame[16:]
                    batch.append(frame)
                    report.framing += 1
                    tail_bad = 1
                    break
                verdict, rows = judge(body)
                batch.append(codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 1, body))
                if verdict == "valid":
                    report.valid += 1
                    tail_bad = 0
                    server.book_body = body
                    sent.append(rows)
                    seen.setdefault(rows, []).append(len(sent) - 1)
                elif verdict == "ignored":
                    report.ignored += 1
                else:
                    report.bad += 1
                    tail_bad += 1
                    if verdict == "undecodable":
                        tail_bad = 1  # may end the connection: what the read held is lost
                        break
            report.frames += len(batch)
            report.min_counted += tail_bad
            if rng.random() < 0.5:
                await server.send(b"".join(batch))
            else:
                for frame in batch:
                    await server.send(frame)
            await caught_up(feed, server)
            got = book_rows(feed)
            if got != sent[-1]:
                mismatches.append(("after batch", report.frames, got, sent[-1]))
            if mismatches:
                break
            # caught up with the last valid book: the older ones can no longer be shown
            sent[:] = sent[-1:]
            seen.clear()
            seen[sent[0]] = [0]
            last_index[0] = 0
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.close()
    report.seconds = time.monotonic() - started
    report.rss_growth_mb = _rss_mb() - rss_before
    report.bad_frames = feed.bad_frames
    report.reconnects = feed.reconnects
    report.cache_sizes = (len(feed.decoder.prices), len(feed.decoder.volumes))
    report.mismatches = mismatches  # type: ignore[attr-defined]
    return report


def check(report: Report) -> None:
    """What must hold after any run."""
    assert not report.escaped, report.escaped[:3]
    assert not report.mismatches, report.mismatches[:2]  # type: ignore[attr-defined]
    assert report.min_counted <= report.bad_frames <= report.bad + report.framing, report.line()
    assert max(report.cache_sizes) <= CACHE_LIMIT
    assert report.rss_growth_mb < 150, report.line()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    report = asyncio.run(run_fuzz(args.frames, args.seed))
    print(report.line())
    try:
        check(report)
    except AssertionError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
