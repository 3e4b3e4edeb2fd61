"""Reading damaged, foreign and newer journals, several files, and seeking."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest
import zstandard

from obview.journal import JournalError, JournalReader, JournalWriter, schema, session_files
from tests.journal.conftest import FakeClock, small_book


def record(path: Path, clock: FakeClock, seconds: float, rate: float, **kw) -> JournalWriter:
    w = JournalWriter(path, mono=clock.mono, wall=clock.wall,
                      books=lambda: [("loopring", "LRC-ETH", small_book())], **kw)
    for n in range(int(seconds * rate)):
        clock.advance(1 / rate)
        w.frame("loopring", 1, "ws", f'{{"n":{n},"bids":[["0.1","{n % 97}"]]}}')
    w.close()
    return w


def one_line(error: JournalError) -> str:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Path:
    path = tmp_path / "s.ndjson.zst"
    record(path, clock, 60, 20)
    return path


def test_a_cut_short_journal_reads_to_the_damage_and_warns_once(journal: Path, tmp_path: Path) -> None:
    full = [schema.encoder.encode(line) for line in JournalReader(journal)]
    data = journal.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, len(data) // 3 + 7, 200):
        copy = tmp_path / f"cut{cut}.ndjson.zst"
        copy.write_bytes(data[:cut])
        warnings: list[str] = []
        reader = JournalReader([copy, copy], warn=warnings.append)  # the second is not reached
        got = [schema.encoder.encode(line) for line in reader]
        assert reader.truncated and len(warnings) == 1 and "ends abruptly" in warnings[0]
        assert got == full[:len(got)]
        # a cut in the last frame's checksum loses no line; any other cut loses some
        assert len(got) < len(full) or cut == len(data) - 1
        assert cut < len(data) // 2 or len(got) > len(full) // 3


def test_corrupt_bytes_raise_one_clear_line_after_the_good_lines(tmp_path: Path, clock: FakeClock) -> None:
    # a zstd frame is the finest unit a checksum covers, so this journal has many: a new
    # one at each checkpoint (every 2 s), as a long recording has one every 1 MiB of lines
    journal = tmp_path / "s.ndjson.zst"
    record(journal, clock, 60, 20, checkpoint_every=2.0, frame_bytes=1)
    reader = JournalReader(journal)
    full = list(reader)
    data = bytearray(journal.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0x5A
    copy = tmp_path / "corrupt.ndjson.zst"
    copy.write_bytes(bytes(data))
    got = []
    with pytest.raises(JournalError) as caught:
        for line in JournalReader(copy):
            got.append(line)
    assert "corrupt" in one_line(caught.value) and str(copy) in str(caught.value)
    # the lines before the damage came out (all but the damaged frame's)
    assert got == full[:len(got)] and len(full) // 3 < len(got) < len(full)
    # and exactly those: the frames before the damaged one, whose bytes the message names
    start = max(p.offset for p in reader.index() if p.offset <= middle)
    assert len(got) == len(full) - len(list(reader.lines(
        next(p for p in reader.index() if p.offset == start))))
    assert f"the zstd frame at bytes {start}-" in str(caught.value)
    assert f"(1-{len(got)})" in str(caught.value)


def _handmade(path: Path, *lines: bytes) -> Path:
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(line + b"\n" for line in lines)))
    return path


def _header(**change) -> bytes:
    header = schema.Header(v=schema.SCHEMA_VERSION, app="0.1.0", m=1, w=2, sid="x")
    return schema.encoder.encode(msgspec.structs.replace(header, **change))


def test_blocks_stay_near_their_size_on_a_journal_that_compresses_well(
        tmp_path: Path, clock: FakeClock) -> None:
    """A first read holding little more than the header's block must not size the next
    read for a ratio never measured: such a journal once came back as one 1.7 MB block."""
    from obview.journal import reader

    path = tmp_path / "s.ndjson.zst"
    push = '{"topic":"depth&LRC-ETH&0","ts":1,"startVersion":%d,"endVersion":"%d",' \
           '"data":{"bids":[["0.00012498","2532400000000000000000","316","2"]],"asks":[]}}'
    with JournalWriter(path, mono=clock.mono, wall=clock.wall) as w:
        w.connect("loopring", 1, "ws", "wss://x", feed=0)
        for n in range(12_000):  # 2.6 MB of lines, about 4% of that on disk
            clock.advance(0.001)
            w.frame("loopring", 1, "ws", push % (n, n))
    sizes = [len(block) for block in JournalReader(path)._file_blocks(0, 0)]
    assert sum(sizes) > 2_000_000
    assert max(sizes) <= 4 * reader._OUTPUT


def test_a_corrupt_line_names_its_number(tmp_path: Path) -> None:
    frame = schema.encoder.encode(schema.Frame(1, 2, "futu", 1, "tcp", b=b"ok"))
    path = _handmade(tmp_path / "bad.ndjson.zst", _header(), frame, b'{"k":"f","m":"x"}', frame)
    got = []
    with pytest.raises(JournalError, match="line 3 is corrupt") as caught:
        got.extend(JournalReader(path))
    one_line(caught.value)
    assert [type(line).__name__ for line in got] == ["Header", "Frame"]
    path = _handmade(tmp_path / "junk.ndjson.zst", _header(), b"\x00not json")
    with pytest.raises(JournalError, match="line 2 is corrupt"):
        list(JournalReader(path))


def test_a_newer_schema_is_refused_at_open(tmp_path: Path) -> None:
    newer = _header(v=schema.SCHEMA_VERSION + 1)[:-1] + b',"brand_new":{"a":[1]}}'
    path = _handmade(tmp_path / "newer.ndjson.zst", newer, b'{"k":"zz","new":1}')
    with pytest.raises(JournalError) as caught:
        JournalReader(path)
    assert "newer obview" in one_line(caught.value)
    assert f"schema {schema.SCHEMA_VERSION + 1}" in str(caught.value)


@pytest.mark.parametrize("content", [
    b"", b"hello, this is a text file\n", b"\x28\xb5\x2f\xfd garbage after a zstd magic",
    zstandard.ZstdCompressor().compress(b'{"some":"other ndjson"}\n'),
    zstandard.ZstdCompressor().compress(b"x" * 100_000),
])
def test_a_file_that_is_not_a_journal_is_refused_at_open(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.ndjson.zst"
    path.write_bytes(content)
    with pytest.raises(JournalError) as caught:
        JournalReader(path)
    assert "is not an obview journal" in one_line(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot read .*nope"):
        JournalReader(tmp_path / "nope.ndjson.zst")


def test_seek_starts_at_the_checkpoint_before_the_target(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "hour.ndjson.zst"
    start_wall = clock.wall()
    record(path, clock, 3600, 2, checkpoint_every=10.0, frame_bytes=0)
    reader = JournalReader(path)
    everything = list(reader)
    points = reader.index()
    assert len(points) == 1 + 360
    rng = random.Random(3)
    targets = [start_wall + rng.randrange(0, 3601 * 10**9) for _ in range(40)]
    targets += [start_wall - 10**9, start_wall, start_wall + 3700 * 10**9]
    for target in targets:
        lines = list(reader.seek(wall=target))
        first = lines[0]
        assert isinstance(first, schema.Sync | schema.Header)
        if target >= points[0].wall:
            assert first.w <= target
            assert target - first.w < 10 * 10**9 or target > points[-1].wall
        if isinstance(first, schema.Sync):
            assert isinstance(lines[1], schema.Checkpoint)
        # from the seek point on, the journal reads exactly as it does from the start
        at = next(i for i, line in enumerate(everything) if line == first)
        assert lines == everything[at:]
    by_mono = reader.seek_point(mono=points[100].mono + 5 * 10**9)
    assert by_mono == points[100]
    with pytest.raises(ValueError):
        reader.seek_point()


def test_seek_across_rotated_files(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    start_wall = clock.wall()
    record(path, clock, 600, 10, checkpoint_every=10.0, rotate_bytes=20_000, frame_bytes=0)
    files = session_files(path)
    assert len(files) > 2
    reader = JournalReader(files)
    everything = list(reader)
    points = reader.index()
    assert {p.file for p in points} == set(range(len(files)))
    target = start_wall + 400 * 10**9
    lines = list(reader.seek(wall=target))
    assert target - lines[0].w < 10 * 10**9
    at = next(i for i, line in enumerate(everything) if line == lines[0])
    assert lines == everything[at:]


def test_a_zstd_bomb_is_refused_in_bounded_memory(tmp_path: Path, monkeypatch) -> None:
    """A frame of RLE blocks (4 bytes on disk, 128 KiB out each) that never ends: it was
    held whole waiting for its checksum (8 kB of file took 500 MB). Past the cap it is
    damage, said in one line after the lines before it."""
    import struct

    from obview.journal import reader

    monkeypatch.setattr(reader, "_MAX_FRAME", 8 << 20, raising=False)
    monkeypatch.setattr(reader, "_SLICE", (8 << 20) >> 15, raising=False)
    frame = schema.encoder.encode(schema.Frame(1, 2, "futu", 1, "tcp", b=b"ok"))
    good = zstandard.ZstdCompressor(write_checksum=True).compress(_header() + b"\n" + frame + b"\n")
    rle = ((128 << 10) << 3 | 1 << 1).to_bytes(3, "little")  # an RLE block, not the last
    for fill in (b"\n", b"x"):  # blank lines, and one line with no end
        path = tmp_path / "bomb.ndjson.zst"
        path.write_bytes(good + struct.pack("<I", 0xFD2FB528) + bytes([0x04, 0x58])
                         + (rle + fill) * 512)  # 64 MiB out of 2 kB
        got = []
        with pytest.raises(JournalError) as caught:
            got.extend(JournalReader(path))
        assert one_line(caught.value) == (
            f"{path}: the zstd frame at byte {len(good)} is corrupt (it decompresses to "
            "more than 8 MiB, far more than obview writes in a frame); the lines before it "
            "were read (1-2)")
        assert [type(line).__name__ for line in got] == ["Header", "Frame"]


def test_a_header_of_thousands_of_symbols_is_read_whole(tmp_path: Path) -> None:
    """The header was read from the file's first 64 KiB and first zstd block: the
    header of a session of 6,000 codes (120 kB) was refused as corrupt, in a journal
    obview had written itself."""
    codes = [f"HK.{n:05d}" for n in range(6000)]
    path = tmp_path / "many.ndjson.zst"
    with JournalWriter(path, venues=["futu"], symbols={"futu": codes},
                       options={"feeds": [{"venue": "futu", "symbols": codes}]}) as w:
        w.frame("futu", 1, "tcp", b"ok", pid=3013)
    reader = JournalReader(path)
    assert reader.headers[0].sy == {"futu": codes}
    assert [type(line).__name__ for line in reader] == ["Header", "Frame", "End"]
