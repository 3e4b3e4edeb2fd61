"""The writer on real files: what it writes, when it reaches the disk, rotation, a full disk."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import msgspec
import pytest
import zstandard

from obview.journal import JournalReader, JournalWriter, schema, session_files
from tests.journal.conftest import FakeClock, small_book


def writer(path: Path, clock: FakeClock, **kw) -> JournalWriter:
    return JournalWriter(path, mono=clock.mono, wall=clock.wall, **kw)


def kinds(lines) -> list[str]:
    return [type(line).__name__ for line in lines]


def test_lines_read_back_as_written(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    body = bytes(range(256)) * 3
    with writer(path, clock, venues=["futu", "loopring"], symbols={"futu": ["HK.00700"]},
                options={"depth": 10}) as w:
        w.connect("futu", 1, "tcp", "127.0.0.1:11111")
        w.subscribe("futu", 1, "HK.00700", depth=10)
        clock.advance(0.01)
        w.frame("futu", 1, "tcp", body, pid=3013)
        w.frame("loopring", 2, "ws", '{"topic":{"market":"LRC-ETH"}, "x": 1}')
        w.frame("loopring", 3, "rest", '{"version":5}', url="/api/v3/depth?market=LRC-ETH", status=200)
        w.gap("loopring", "LRC-ETH", 5, 9, "version jump")
        w.resync("loopring", "LRC-ETH", "gap")
        w.checkpoint([("futu", "HK.00700", small_book())])
        w.disconnect("futu", 1, "closed by user")
    assert w.failed is None
    lines = list(JournalReader(path))
    assert kinds(lines) == ["Header", "Connect", "Subscribe", "Frame", "Frame", "Frame", "Gap",
                            "Resync", "Sync", "Checkpoint", "Disconnect", "End"]
    header = lines[0]
    assert header.v == schema.SCHEMA_VERSION and header.vns == ["futu", "loopring"]
    assert header.sy == {"futu": ["HK.00700"]} and header.o == {"depth": 10}
    assert header.w == clock.wall() - 10_000_000  # the wall stamp of the moment it opened
    futu, text, rest = lines[3:6]
    assert (futu.payload(), futu.pid, futu.c, futu.ch) == (body, 3013, 1, "tcp")
    assert futu.m == 1_010_000_000 and futu.w == futu.m + (clock.wall() - clock.mono())
    assert text.payload() == '{"topic":{"market":"LRC-ETH"}, "x": 1}' and text.b is None
    assert (rest.u, rest.st, rest.ch) == ("/api/v3/depth?market=LRC-ETH", 200, "rest")
    assert (lines[6].fr, lines[6].to) == (5, 9)
    assert schema.book_of(lines[9]).bids.best().price == small_book().bids.best().price
    assert w.lines == len(lines)
    raw = list(JournalReader(path).raw_lines())
    assert [schema.line_decoder.decode(line) for line in raw] == lines
    assert w.bytes_written == path.stat().st_size


def test_the_stream_reaches_the_disk_within_a_second(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock)
    w.frame("loopring", 1, "ws", '{"n":1}')
    clock.advance(0.4)
    w.frame("loopring", 1, "ws", '{"n":2}')
    assert len(list(JournalReader(path))) == 1  # only the header so far: not due yet
    clock.advance(0.6)
    w.frame("loopring", 1, "ws", '{"n":3}')  # a write a second after the first flushes first
    assert [line.p for line in list(JournalReader(path))[1:]] == ['{"n":1}', '{"n":2}']
    clock.advance(1.0)
    w.tick()  # an idle feed: the timer's tick flushes the last line
    reader = JournalReader(path)
    assert [line.p for line in list(reader)[1:]] == ['{"n":1}', '{"n":2}', '{"n":3}']
    assert reader.truncated  # still being written: no end line, frame open
    w.close()


def test_a_killed_writer_leaves_a_readable_journal(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock, books=lambda: [("futu", "HK.00700", small_book())])
    for n in range(300):
        clock.advance(0.1)
        w.frame("futu", 1, "tcp", n.to_bytes(2, "big") * 50)
    crashed = tmp_path / "crashed.ndjson.zst"
    shutil.copy(path, crashed)  # the file as a kill -9 now would leave it
    w.close()
    warnings: list[str] = []
    reader = JournalReader(crashed, warn=warnings.append)
    frames = [line for line in reader if isinstance(line, schema.Frame)]
    assert len(warnings) == 1 and "ends abruptly" in warnings[0] and reader.truncated
    # flushed at least once a second and at each checkpoint: at most the last second is lost
    assert 290 <= len(frames) < 300
    assert [f.b[:2] for f in frames] == [n.to_bytes(2, "big") for n in range(len(frames))]


class FullDisk:
    """A file that takes `room` bytes, then fails like a full disk: the write that does
    not fit is taken in part, the next one raises ENOSPC (as write(2) does)."""

    def __init__(self, path: Path, room: int) -> None:
        self.fh = open(path, "wb", buffering=0)  # noqa: SIM115
        self.room = room
        self.closed = False

    def write(self, data) -> int:
        if not self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = self.fh.write(bytes(data[:self.room]))
        self.room -= taken
        return taken

    def close(self) -> None:
        self.closed = True
        self.fh.close()


def test_a_full_disk_stops_recording_without_raising(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    files: list[FullDisk] = []
    failures: list[str] = []

    def opener(p: Path) -> FullDisk:
        files.append(FullDisk(p, 4000))
        return files[-1]

    w = writer(path, clock, opener=opener, on_fail=failures.append, buffer_bytes=1024)
    for n in range(2000):
        clock.advance(0.01)
        w.frame("loopring", 1, "ws", f'{{"n":{n},"pad":"{n * 7919 % 10007:x}"}}')
        w.tick()
        w.checkpoint([("loopring", "LRC-ETH", small_book(n % 5))])
    w.close()
    assert w.failed == "recording stopped: No space left on device"
    assert failures == [w.failed]  # told once
    assert files[0].closed and files[0].room == 0  # the disk filled up to the last byte
    # what reached the disk before it filled up reads back, cut short
    reader = JournalReader(path, warn=lambda _message: None)
    lines = list(reader)
    assert reader.truncated and kinds(lines)[0] == "Header" and len(lines) > 10


def test_an_unopenable_path_fails_quietly(tmp_path: Path, clock: FakeClock) -> None:
    w = writer(tmp_path / "missing" / "s.ndjson.zst", clock)
    assert w.failed is not None and w.failed.startswith("recording stopped: cannot open")
    w.frame("futu", 1, "tcp", b"x")
    w.checkpoint([])
    w.close()


def test_rotation_starts_files_readable_alone(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "session.ndjson.zst"
    state = {"shift": 0}
    books = lambda: [("futu", "HK.00700", small_book(state["shift"])),  # noqa: E731
                     ("futu", "HK.09988", small_book(100))]
    w = writer(path, clock, books=books, rotate_bytes=3000, checkpoint_every=None,
               buffer_bytes=512)
    sent = []
    for n in range(3000):
        clock.advance(0.05)
        body = (n * 2654435761 % 2**32).to_bytes(4, "big") * 8
        sent.append(body)
        w.frame("futu", 1, "tcp", body, pid=3013)
        state["shift"] = n % 7  # the feed decodes the frame after the tap recorded it
    w.close()
    files = session_files(path)
    assert files == w.paths and len(files) >= 3
    assert [f.name for f in files[:3]] == ["session.ndjson.zst", "session.0001.ndjson.zst",
                                           "session.0002.ndjson.zst"]
    everything = list(JournalReader(files))
    frames = [line.b for line in everything if isinstance(line, schema.Frame)]
    assert frames == sent  # nothing lost or doubled across files
    sids = set()
    for number, part in enumerate(files):
        alone = list(JournalReader(part))
        header = alone[0]
        assert header.part == number and isinstance(alone[-1], schema.End)
        sids.add(header.sid)
        if number:
            assert kinds(alone[1:3]) == ["Checkpoint", "Checkpoint"]
            # the checkpoint is the book as the frames before it left it
            first_frame = next(i for i, line in enumerate(everything)
                               if isinstance(line, schema.Frame) and line.m >= header.m)
            shift = (sent.index(everything[first_frame].b) - 1) % 7
            assert alone[1].bids == schema.checkpoint_of("futu", "HK.00700", small_book(shift),
                                                         0, 0).bids
        if number < len(files) - 1:
            assert sum(isinstance(line, schema.Frame) for line in alone) > 10
            assert alone[-1].r == "rotate" and alone[-1].next == files[number + 1].name
            assert part.stat().st_size < 3000 + 2000  # bounded: a batch past the limit at most
    assert len(sids) == 1


def test_checkpoints_start_zstd_frames(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock, books=lambda: [("futu", "HK.00700", small_book())],
               checkpoint_every=10.0, frame_bytes=0)  # every one starts a frame
    for _ in range(600):
        clock.advance(0.1)
        w.frame("futu", 1, "tcp", b"\x01" * 40)
    w.close()
    reader = JournalReader(path)
    points = reader.index()
    assert len(points) == 1 + 6  # the file start, then one every 10 s
    assert [p.mono - points[0].mono for p in points[1:]] == [int(10e9 * k) for k in range(1, 7)]
    data = path.read_bytes()
    for point in points[1:]:
        assert data[point.offset:point.offset + 4] == b"\x28\xb5\x2f\xfd"  # a frame starts
        out = zstandard.ZstdDecompressor().decompressobj().decompress(data[point.offset:])
        assert out.startswith(b'{"k":"sync"')


def test_checkpoints_stay_inline_until_a_frame_is_full(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock, books=lambda: [("futu", "HK.00700", small_book())],
               checkpoint_every=10.0, frame_bytes=60_000)
    for _ in range(6000):
        clock.advance(0.1)
        w.frame("futu", 1, "tcp", b"\x01" * 40)
    w.close()
    reader = JournalReader(path)
    syncs = [line for line in reader if isinstance(line, schema.Sync)]
    points = reader.index()[1:]
    assert len(syncs) == 60
    assert 8 <= len(points) <= 15  # 13 kB of lines each 10 s: a new frame each 50 s or so
    assert {p.mono for p in points} <= {s.m for s in syncs}


def test_tick_checkpoints_an_idle_session(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock, books=lambda: [("futu", "HK.00700", small_book())])
    w.frame("futu", 1, "tcp", b"\x01")
    clock.advance(9.9)
    w.tick()
    clock.advance(0.1)
    w.tick()  # no frame for 10 s: the timer alone takes the checkpoint and flushes it
    lines = list(JournalReader(path, warn=lambda _message: None))
    assert kinds(lines) == ["Header", "Frame", "Sync", "Checkpoint"]
    assert lines[2].m == clock.mono()
    w.close()


def test_frames_of_one_read_are_lines_with_one_stamp(tmp_path, clock):
    from obview.journal import Frame, JournalReader, JournalWriter

    path = tmp_path / "batch.ndjson.zst"
    with JournalWriter(path, mono=clock.mono, wall=clock.wall) as w:
        w.frames("futu", 3, "tcp", [(b"\x08\x01", 3013), (b"", 1004), ("text", None)])
    lines = [line for line in JournalReader(path) if type(line) is Frame]
    assert [(f.b, f.p, f.pid) for f in lines] == [(b"\x08\x01", None, 3013), (b"", None, 1004),
                                                  (None, "text", None)]
    assert len({f.m for f in lines}) == 1 and all(f.c == 3 and f.ch == "tcp" for f in lines)


def test_every_seek_point_holds_the_feeds_counts(tmp_path: Path, clock: FakeClock) -> None:
    """A `sync` line and a rotated file's header carry each feed's counts (`fc`: the
    reconnects, bad frames, messages and resyncs its screen showed then), a `ckp` line
    the stream's updates (`up`): a replay starting there shows them as they were."""
    first = schema.Counters(rc=1, bf=2, ms=345, rs={"LRC-ETH": 3})
    counts = {0: first, 1: schema.Counters()}
    path = tmp_path / "s.ndjson.zst"
    with writer(path, clock, counters=lambda: dict(counts), rotate_bytes=3000,
                checkpoint_every=None, buffer_bytes=512,
                books=lambda: [("futu", "HK.00700", small_book(), 7, None, None, 5)]) as w:
        w.checkpoint()
        counts[0] = schema.Counters(rc=2, bf=2, ms=400, rs={"LRC-ETH": 3})
        for n in range(3000):  # past the rotation size
            clock.advance(0.05)
            w.frame("futu", 1, "tcp", (n * 2654435761 % 2**32).to_bytes(4, "big") * 8, pid=3013)
    assert len(w.paths) >= 2
    lines = list(JournalReader(session_files(path)))
    sync = next(line for line in lines if type(line) is schema.Sync)
    assert sync.fc == {"0": first, "1": schema.Counters()}
    ckp = next(line for line in lines if type(line) is schema.Checkpoint)
    assert (ckp.pu, ckp.up) == (7, 5)
    rotated = [line for line in lines if type(line) is schema.Header and line.part > 0]
    assert rotated and rotated[0].fc["0"] == schema.Counters(rc=2, bf=2, ms=400,
                                                             rs={"LRC-ETH": 3})
    assert lines[0].fc == {"0": first, "1": schema.Counters()}  # (at the open)
    data = schema.encoder.encode(sync)
    assert b'"fc":{"0":{"rc":1,"bf":2,"ms":345,"rs":{"LRC-ETH":3}},"1":{}}' in data


def test_a_journal_written_before_the_counts_reads_as_none_recorded() -> None:
    sync = schema.line_decoder.decode(b'{"k":"sync","m":1,"w":2,"n":3,"cn":{"1":0}}')
    assert sync.fc == {} and sync.cn == {"1": 0}
    header = schema.line_decoder.decode(b'{"k":"hdr","v":2,"app":"0.1","m":1,"w":2,"sid":"a"}')
    assert header.fc == {}
    ckp = schema.line_decoder.decode(b'{"k":"ckp","m":1,"w":2,"vn":"futu","sy":"X","pu":4}')
    assert (ckp.pu, ckp.up) == (4, None)


@pytest.mark.parametrize("fc", [b'{"0":{"rc":-3}}', b'{"0":{"rs":{"LRC-ETH":-1}}}',
                                b'{"x":{"rc":3}}', b'{"-1":{"ms":3}}'])
def test_a_damaged_count_is_refused_not_shown(fc) -> None:
    """A negative count would be shown as one after a seek, and a feed index that is not
    digits stopped the player (`int('x')`): the line is corrupt, as any other is."""
    for line in (b'{"k":"sync","m":1,"w":2,"n":3,"fc":%s}' % fc,
                 b'{"k":"hdr","v":2,"app":"0.1","m":1,"w":2,"sid":"a","fc":%s}' % fc):
        with pytest.raises(msgspec.ValidationError):
            schema.line_decoder.decode(line)


class TickingClock(FakeClock):
    """Every read a microsecond later, as a real clock between two reads."""

    def mono(self) -> int:
        self.ns += 1000
        return self.ns


def test_stamps_never_step_back_across_checkpoints_and_parts(tmp_path: Path) -> None:
    """A checkpoint (and a rotation) falls due as a line arrives and is written before it,
    so it bears that line's stamp: a fresh clock read stamped it later than the line that
    follows it (5 us on a recorded Loopring session; a reader bisects on these stamps)."""
    clock = TickingClock()
    path = tmp_path / "s.ndjson.zst"
    w = writer(path, clock, books=lambda: [("futu", "HK.00700", small_book())],
               checkpoint_every=0.5, rotate_bytes=4000, buffer_bytes=512)
    for n in range(400):
        clock.advance(0.01)
        body = (n * 2654435761 % 2**32).to_bytes(4, "big") * 8
        if n % 2:
            w.frames("futu", 1, "tcp", [(body, 3013), (body[::-1], 3013)])
        else:
            w.frame("futu", 1, "tcp", body, pid=3013)
    w.close()
    lines = list(JournalReader(session_files(path)))
    assert len(w.paths) >= 3 and sum(isinstance(line, schema.Sync) for line in lines) >= 7
    stamps = [(line.m, line.w) for line in lines if isinstance(line, schema.Frame | schema.Sync
                                                                | schema.Checkpoint)]
    assert all(a <= b for a, b in zip(stamps, stamps[1:], strict=False))
    for part in w.paths[1:]:  # each part starts where the line that rotated it arrived
        alone = list(JournalReader(part))
        first_frame = next(line for line in alone if isinstance(line, schema.Frame))
        assert alone[0].m <= first_frame.m and alone[0].w <= first_frame.w
