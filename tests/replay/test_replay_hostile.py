"""Hostile and damaged journals: simulator recordings with a line changed, replayed and
exported by the real command. Each says what is wrong in one line naming the file, and
exits 1; a replay goes up to the damage (issue 13, point 6)."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from obview.journal import Frame, JournalReader
from tests.conftest import press_to_quit, run_obview
from tests.replay.conftest import record_session, without_local_stamps

Lines = list[list[bytes]]  # a journal's lines, zstd frame by zstd frame
HUGE = "x" * 100_000  # a value no writer writes, for a message to quote


def frames_of(path: Path) -> Lines:
    """The lines of each zstd frame the writer started (its seek points)."""
    data = path.read_bytes()
    starts = sorted({p.offset for p in JournalReader(path).index()} | {len(data)})
    return [zstandard.ZstdDecompressor().decompressobj().decompress(data[a:b])
            .split(b"\n")[:-1] for a, b in zip(starts, starts[1:], strict=False)]


def write_frames(frames: Lines, copy: Path) -> Path:
    """The lines compressed again as the writer does: a frame per seek point, its first
    line (the header or a `sync` line) alone in the frame's first block."""
    out = b""
    for lines in frames:
        cobj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
        out += (cobj.compress(lines[0] + b"\n") + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
                + cobj.compress(b"".join(line + b"\n" for line in lines[1:])) + cobj.flush())
    copy.write_bytes(out)
    return copy


def _replaced(path: Path, copy: Path, kind: str, nth: int, line: Callable[[dict], bytes]
              ) -> tuple[Path, int]:
    """The journal with its `nth` line of `kind` replaced by the bytes `line(obj)` gives
    (JSON that json.dumps would refuse to write, such as one nested deeper than its
    recursion): (the copy, that line's number in the file, from 1)."""
    frames = frames_of(path)
    seen = number = 0
    for lines in frames:
        for at, raw in enumerate(lines):
            number += 1
            obj = json.loads(raw)
            if obj["k"] == kind:
                if seen == nth:
                    lines[at] = line(obj)
                    return write_frames(frames, copy), number
                seen += 1
    raise AssertionError(f"no {kind} line {nth}")


def changed(path: Path, copy: Path, kind: str, change: Callable[[dict], dict],
            nth: int = 0) -> tuple[Path, int]:
    """The journal with its `nth` line of `kind` changed (the other lines byte for byte
    as recorded): (the copy, that line's number in the file, from 1)."""
    return _replaced(path, copy, kind, nth,
                     lambda obj: json.dumps(change(obj), separators=(",", ":")).encode())


def commands(path: Path, tmp_path: Path) -> list[tuple[str, ...]]:
    """Replay and export (each format this venv can write) of the journal at `path`."""
    runs = [("replay", str(path), "--stream", "json"),
            ("export", str(path), "--to", "ndjson", str(tmp_path / "out.ndjson"))]
    if importlib.util.find_spec("pyarrow") is not None:
        runs.append(("export", str(path), "--to", "parquet", str(tmp_path / "out.parquet")))
    return runs


def test_a_number_outside_0_to_2_63_is_a_corrupt_line(futu_journal, tmp_path):
    """A stamp or count no writer writes (negative, or past a signed 64-bit integer) is a
    corrupt line where it is read. A frame stamped 2**64 went through, and Parquet's
    int64 column raised at the export's end ('internal error: OverflowError'); a `dis`
    line's -3 or 2**70 bad frames were counted and shown."""
    path, _ = futu_journal
    for kind, nth, change, key in (
            ("f", 20, lambda line: {**line, "m": 1 << 64}, "m"),
            ("f", 20, lambda line: {**line, "w": -1}, "w"),
            ("dis", 0, lambda line: {**line, "bf": 1 << 70}, "bf")):
        copy, number = changed(path, tmp_path / "big.ndjson.zst", kind, change, nth)
        for command in commands(copy, tmp_path):
            done = run_obview(*command)
            assert done.returncode == 1, (command, done.stderr)
            assert done.stderr.startswith(f"obview: {copy}: line {number} is corrupt ("), \
                (command, done.stderr)
            assert f"at `$.{key}`" in done.stderr and done.stderr.count("\n") == 1, done.stderr
            assert "internal error" not in done.stderr


def test_a_line_nested_too_deeply_is_a_corrupt_line(futu_journal, tmp_path):
    """msgspec's decoder recurses once per bracket, through the embedded payload `j` and
    a subscription's `x` as well: a line nested 50,000 deep ended replay and export
    with 'internal error: RecursionError' before any line was replayed. It is a corrupt
    line, and the replay prints what came before it."""
    path, live = futu_journal
    deep = b"[" * 50_000 + b"]" * 50_000
    for kind, nth, line in (
            ("f", 40, lambda o: b'{"k":"f","m":%d,"w":%d,"vn":"futu","c":%d,"ch":"tcp","j":%s}'
             % (o["m"], o["w"], o["c"], deep)),
            ("sub", 0, lambda o: b'{"k":"sub","m":%d,"w":%d,"vn":"futu","c":%d,"sy":"x","x":'
             b'{"a":%s}}' % (o["m"], o["w"], o["c"], deep))):
        copy, number = _replaced(path, tmp_path / "deep.ndjson.zst", kind, nth, line)
        for command in commands(copy, tmp_path):
            done = run_obview(*command)
            assert (done.returncode, done.stderr.split("; wrote")[0].strip()) == (
                1, f"obview: {copy}: line {number} is corrupt (nested too deeply)"), command
            if command[0] == "replay":
                printed = [without_local_stamps(text) for text in done.stdout.splitlines()]
                assert printed == [without_local_stamps(text) for text in live[:len(printed)]]
                assert kind == "sub" or printed  # (the frames before the damage)


def test_journals_joined_with_cat_stop_at_the_second_header(futu_journal,
                                                             loopring_trades_journal, tmp_path):
    """`cat a.ndjson.zst b.ndjson.zst > c.ndjson.zst` is one valid zstd stream (frames
    concatenate) holding two headers. The second session's lines went to the first
    session's feeds and connections, printed nothing and exited 0; a header after a
    file's first line is said as what it is, after every line before it."""
    path, live = futu_journal
    lines = sum(len(frame) for frame in frames_of(path))
    for second in (path, loopring_trades_journal):
        joined = tmp_path / "joined.ndjson.zst"
        joined.write_bytes(path.read_bytes() + second.read_bytes())
        for command in commands(joined, tmp_path):
            done = run_obview(*command)
            assert (done.returncode, done.stderr.split("; wrote")[0].strip()) == (
                1, f"obview: {joined}: line {lines + 1} is another journal's header (files "
                   "joined with cat?): the lines before it were read; give each journal "
                   "on its own"), command
            if command[0] == "replay":  # the first journal, whole
                assert [without_local_stamps(t) for t in done.stdout.splitlines()] == [
                    without_local_stamps(t) for t in live]


@pytest.fixture(scope="module")
def loopring_checkpointed(tmp_path_factory) -> Path:
    """A Loopring session with a seek point (a zstd frame) at most of its checkpoints."""
    from obview.venues import config

    path = tmp_path_factory.mktemp("journals") / "loopring-ckp.ndjson.zst"
    cfg = config("loopring", ["LRC-ETH"], sim=True, seed=3, faults={"rate": "50"})
    asyncio.run(record_session(path, cfg, _checkpoints(4), "4 checkpoints",
                               checkpoint_every=0.5, frame_bytes=4000, timeout=60))
    return path


@pytest.fixture(scope="module")
def bthub_checkpointed(tmp_path_factory) -> Path:
    from tests.replay.test_replay_records import _record

    path = tmp_path_factory.mktemp("journals") / "bthub-ckp.ndjson.zst"
    _record(path, frame_bytes=2000)
    return path


def _checkpoints(count: int):
    """`done` for `record_session`: `count` seek points after the first book synced."""
    def watch(feed):
        start = []

        def done() -> bool:
            if not start and any(s.synced for s in feed.streams.values()):
                start.append(time.monotonic())
            return bool(start) and time.monotonic() - start[0] > 0.5 * (count + 1)
        return done
    return watch


def _damaged_checkpoint(path: Path, copy: Path, change: Callable[[dict], dict]
                        ) -> tuple[Path, int, str, str]:
    """The first `ckp` line of the last seek point but one changed by `change`: (copy,
    the point's byte offset, a --from at it, the book's venue and symbol)."""
    copy, offset, start, obj = _damaged_at_point(path, copy, "ckp", change)
    return copy, offset, start, f"{obj['vn']} {obj['sy']}"


def _damaged_at_point(path: Path, copy: Path, kind: str, change: Callable[[dict], dict]
                      ) -> tuple[Path, int, str, dict]:
    """The first line of `kind` at the last seek point but one changed by `change`:
    (copy, the point's byte offset, a --from at it, the line as it was)."""
    frames = frames_of(path)
    at = len(frames) - 2
    lines = frames[at]
    n = next(n for n, line in enumerate(lines) if line.startswith(b'{"k":"%s"' % kind.encode()))
    obj = json.loads(lines[n])
    lines[n] = json.dumps(change(dict(obj)), separators=(",", ":")).encode()
    start = _from(json.loads(lines[0])["w"])
    write_frames(frames, copy)
    offset = sorted({p.offset for p in JournalReader(copy).index()})[at]
    return copy, offset, start, obj


def _from(wall: int) -> str:
    """A --from at wall ns (rounded up: one before it starts at the point before)."""
    micros = -(-wall // 1000)
    return (dt.datetime.fromtimestamp(micros // 10**6, dt.UTC)
            + dt.timedelta(microseconds=micros % 10**6)).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _bad_price(line: dict) -> dict:
    return {**line, "bids": [["x", "1", 1]]}


@pytest.mark.parametrize(("journal", "change", "why"), [
    ("checkpointed_journal", _bad_price, "'x' is not a price or size as written"),
    ("loopring_checkpointed", _bad_price, "'x' is not a price or size as written"),
    ("bthub_checkpointed", _bad_price, "'x' is not a price or size as written"),
    # Loopring's context: what it read of the markets, which its frames need
    ("loopring_checkpointed", lambda line: {**line, "cx": {**line["cx"], "market": 5}},
     "its context: Expected `object`, got `int`"),
    ("loopring_checkpointed", lambda line: {**line, "cx": {**line["cx"], "base": [1]}},
     "its context: Expected `object`, got `array`"),
])
def test_a_damaged_checkpoint_says_the_same_on_every_venue(journal, change, why, request,
                                                           tmp_path):
    """A replay starting at a damaged checkpoint says so, in the same words on each venue.
    Loopring's damaged context was taken for none: the book waited for a snapshot the
    journal never holds after a checkpoint, and the replay printed nothing, exit 0."""
    path = request.getfixturevalue(journal)
    copy, offset, start, book = _damaged_checkpoint(path, tmp_path / "ckp.ndjson.zst", change)
    done = run_obview("replay", str(copy), "--stream", "json", "--from", start)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"obview: {copy}: the checkpoint of {book} in the zstd frame at byte {offset} "
               f"is corrupt ({why})\n")


@pytest.mark.parametrize(("journal", "change", "book"), [
    ("checkpointed_journal", {"sy": "HK.99999"}, "futu HK.99999"),
    ("checkpointed_journal", {"vn": "loopring"}, "loopring HK.00700"),
    ("loopring_checkpointed", {"sy": "ETH-USDT"}, "loopring ETH-USDT"),
    ("bthub_checkpointed", {"sy": "ETHUSDT"}, "bthub ETHUSDT"),
    ("bthub_checkpointed", {"sy": "ETHUSDT@okex"}, "bthub ETHUSDT@okex"),
    ("bthub_checkpointed", {"sy": HUGE}, "bthub 'xxx"),
])
def test_a_checkpoint_of_a_book_no_feed_has_is_corrupt(journal, change, book, request,
                                                       tmp_path):
    """A `ckp` line of a book the header's feeds do not have (its venue or symbol damaged)
    was passed by in silence: a replay from there went on without the book it held, and
    exited 0. The checkpoint and the header disagree: it is a corrupt checkpoint."""
    path = request.getfixturevalue(journal)
    copy, offset, start, _ = _damaged_at_point(path, tmp_path / "ckp.ndjson.zst", "ckp",
                                               lambda line: {**line, **change})
    done = run_obview("replay", str(copy), "--stream", "json", "--from", start)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr[:300]
    assert done.stderr.startswith(f"obview: {copy}: the checkpoint of {book}"), done.stderr[:300]
    assert done.stderr.endswith(f" in the zstd frame at byte {offset} is corrupt (no feed of the "
                                "journal has that book)\n") and len(done.stderr) < 400, \
        done.stderr[:300]


def test_a_replay_from_a_checkpoint_has_the_books_of_the_sources_it_holds(
        bthub_checkpointed):
    """bthub makes a source's book (BTCUSDT@okex) when its first quote comes: a replay
    starting at a checkpoint had none of them yet, and their books there were passed by
    (the book shown empty until the source's next quote)."""
    from tests.replay.conftest import playing

    frames = frames_of(bthub_checkpointed)
    lines = [json.loads(line) for line in frames[-2]]
    held = {line["sy"] for line in lines if line["k"] == "ckp" and "@" in line["sy"]}
    assert held  # (the simulator's sources are in the checkpoint)

    async def started() -> set[str]:
        wall = lines[0]["w"]
        async with playing(bthub_checkpointed, start=wall, until=wall) as player:
            return {key for key, stream in player.feeds[0].streams.items() if stream.synced}
    assert held <= asyncio.run(started())


async def test_a_crossed_book_in_a_checkpoint_is_restored_as_it_is(checkpointed_journal):
    """A crossed book is no damage (docs/journal.md, `ckp`): live shows one as the venue
    sent it, never repaired (bthub's aggregated book crosses), so a checkpoint may hold
    one; a seek there shows it as live did, and says it is crossed. (The restore itself:
    the push recorded with the checkpoint's stamp replaces a Futu book at once.)"""
    import msgspec

    from obview.headless.json import book_json
    from obview.journal import Checkpoint
    from obview.replay.player import ReplayPlayer

    line = next(json.loads(raw) for raw in frames_of(checkpointed_journal)[-2]
                if raw.startswith(b'{"k":"ckp"'))
    line["bids"] = [[line["asks"][0][0], "1", 1]] + line["bids"]
    player = ReplayPlayer([checkpointed_journal], speed=None)
    player.restorer.book(msgspec.convert(line, Checkpoint), player.point)
    feed = player.feeds[0]
    stream = feed.streams[line["sy"]]
    printed = book_json(feed, stream, 5, False)
    assert stream.synced and stream.book.crossed() and printed["locked"], printed


def test_frames_no_connection_takes_are_said_as_damage(futu_journal, tmp_path):
    """Frames on a connection no `con` line opened (a damaged number), or opened for a
    feed the journal does not have, went to no feed in silence: the replay printed what
    it could (nothing, for the whole session's connection) and exited 0. They are
    counted, and said once the replay has played every line."""
    path, _ = futu_journal
    copy, _ = changed(path, tmp_path / "c7.ndjson.zst", "f", lambda line: {**line, "c": 7}, 20)
    done = run_obview("replay", str(copy), "--stream", "json")
    assert (done.returncode, done.stderr) == (
        1, f"obview: {copy}: 1 frame of connection 7, which no con line opened, went to no "
           "feed: the journal is damaged\n")
    assert done.stdout  # (the frames before it)
    frames = sum(1 for line in JournalReader(path) if type(line) is Frame)
    copy, _ = changed(path, tmp_path / "fd5.ndjson.zst", "con", lambda line: {**line, "fd": 5})
    for command in commands(copy, tmp_path)[:2]:
        done = run_obview(*command)
        assert (done.returncode, done.stdout, done.stderr.split("; wrote")[0].strip()) == (
            1, "", f"obview: {copy}: {frames} frames of connection 1, whose con line names "
                   "feed 5 (the journal has 1 feed), went to no feed: the journal is damaged")


def _doubled(obj: dict) -> bytes:
    """The line, then a copy of it a nanosecond later (as a later connection's `dis` line
    whose number was damaged into this one's)."""
    later = {**obj, "m": obj["m"] + 1, "w": obj["w"] + 1}
    return b"\n".join(json.dumps(o, separators=(",", ":")).encode() for o in (obj, later))


@pytest.mark.parametrize(("journal", "kind", "line", "after", "why"), [
    ("futu_journal", "con", lambda o: {**o, "vn": "loopring"}, 0,
     "a con line of loopring for feed 0, which is futu's"),
    ("futu_journal", "con", lambda o: {**o, "vn": HUGE}, 0, "a con line of 'xxx"),
    ("futu_journal", "con", lambda o: {**o, "ch": "ws"}, 0,
     "a con line of channel ws: futu connections are tcp"),
    ("futu_journal", "con", lambda o: {**o, "ch": "rest"}, 0,
     "a con line of channel rest: futu connections are tcp"),
    ("loopring_trades_journal", "con", lambda o: {**o, "ch": "tcp"}, 0,
     "a con line of channel tcp: loopring connections are ws"),
    ("bthub_checkpointed", "con", lambda o: {**o, "vn": "futu"}, 0,
     "a con line of futu for feed 0, which is bthub's"),
    ("futu_journal", "dis", lambda o: {**o, "c": 7}, 0,
     "a dis line of connection 7, which no con line opened"),
    ("futu_journal", "dis", _doubled, 1,
     "a dis line of connection 1, which a dis line closed already"),
])
def test_a_connection_line_the_journal_contradicts_is_a_corrupt_line(journal, kind, line, after,
                                                                     why, request, tmp_path):
    """A `con` line's venue or channel was not looked at: its frames went to its feed
    whatever venue the line named, read as that feed's wire. A `dis` line of a connection
    no line opened (or closed twice: a damaged number) left the one it closed open. Each
    is a corrupt line, said where it is, after the lines before it."""
    path = request.getfixturevalue(journal)
    path = path[0] if isinstance(path, tuple) else path
    change = line if line is _doubled else (
        lambda obj: json.dumps(line(obj), separators=(",", ":")).encode())
    copy, number = _replaced(path, tmp_path / "conn.ndjson.zst", kind, 0, change)
    for command in commands(copy, tmp_path):
        done = run_obview(*command)
        said = done.stderr.split("; wrote")[0]
        assert done.returncode == 1, (command, done.stderr[:300])
        assert said.startswith(f"obview: {copy}: line {number + after} is corrupt ({why}"), (
            command, said[:300])
        assert said.strip().endswith(")") and len(done.stderr) < 500, (command, said[:300])


def test_an_export_past_frames_no_connection_took_says_it_wrote_everything_else(
        futu_journal, tmp_path):
    """Those frames are said once every line was read: the export wrote every other line,
    and its line says so (it said 'up to the damage', as if the rest were missing)."""
    path, _ = futu_journal
    copy, _ = changed(path, tmp_path / "c7.ndjson.zst", "f", lambda line: {**line, "c": 7}, 20)
    whole = run_obview("export", str(path), "--to", "ndjson", str(tmp_path / "whole.ndjson"))
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "out.ndjson"
    done = run_obview("export", str(copy), "--to", "ndjson", str(out))
    lines = out.read_text().count("\n")
    assert (done.returncode, done.stderr) == (
        1, f"obview: {copy}: 1 frame of connection 7, which no con line opened, went to no "
           f"feed: the journal is damaged; wrote {lines} lines to {out}, everything else\n")
    assert 0 < lines <= (tmp_path / "whole.ndjson").read_text().count("\n")


def test_a_seek_point_naming_a_connection_of_no_feed_is_a_corrupt_checkpoint(
        checkpointed_journal, tmp_path):
    """A seek point's `cn` gives each open connection its feed: one naming a feed the
    journal does not have left the connection unopened, its frames went nowhere, and a
    replay from there printed nothing and exited 0."""
    frames = frames_of(checkpointed_journal)
    at = len(frames) // 2
    sync = json.loads(frames[at][0])
    conn = next(iter(sync["cn"]))
    sync["cn"] = {conn: 99}
    frames[at][0] = json.dumps(sync, separators=(",", ":")).encode()
    copy = write_frames(frames, tmp_path / "cn.ndjson.zst")
    offset = sorted({p.offset for p in JournalReader(copy).index()})[at]
    done = run_obview("replay", str(copy), "--stream", "json", "--from", _from(sync["w"]))
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"obview: {copy}: the checkpoint in the zstd frame at byte {offset} is corrupt "
               f"(its connection {conn} is of feed 99, and the journal has 1 feed)\n")


def test_a_journal_without_frames_says_there_is_nothing_to_replay(futu_journal, tmp_path):
    """A recording stopped at once, or that never got through to the venue, holds its
    header (naming the symbols) and perhaps its connection lines, but no frame: replay
    and export printed nothing and exited 0, as if the session had been replayed."""
    path, _ = futu_journal
    lines = frames_of(path)[0]
    for kept in ([lines[0]], [lines[0], lines[-1]],  # a header alone; with its end
                 [line for line in lines if not line.startswith(b'{"k":"f"')]):
        copy = write_frames([kept], tmp_path / "empty.ndjson.zst")
        for command in commands(copy, tmp_path):
            done = run_obview(*command)
            assert (done.returncode, done.stdout, done.stderr.split("; wrote")[0].strip()) == (
                1, "", f"obview: {copy}: the journal holds no frame of futu HK.00700 "
                       "US.AAPL: its recording received nothing from the venue, so there is "
                       "nothing to replay"), command


def _rotated(path: Path, folder: Path) -> tuple[Path, Path]:
    """The journal cut in two rotated parts at a seek point, as the writer rotates: the
    second part's header names the connections its first checkpoint lists, and that
    checkpoint follows it (its `sync` line becomes the header)."""
    frames = frames_of(path)
    header = json.loads(frames[0][0])
    half = len(frames) // 2
    sync = json.loads(frames[half][0])
    second = {**header, "part": 1, "m": sync["m"], "w": sync["w"], "cn": sync.get("cn", {}),
              "fc": sync.get("fc", {})}
    folder.mkdir()
    first = write_frames(frames[:half], folder / "s.ndjson.zst")
    part = write_frames([[json.dumps(second, separators=(",", ":")).encode()]
                         + frames[half][1:]] + frames[half + 1:], folder / "s.0001.ndjson.zst")
    return first, part


def test_a_damaged_rotated_part_ends_the_replay_at_it(checkpointed_journal, tmp_path):
    """A rotated part that is no journal refused the whole session at open: the parts
    before it are replayed and exported, then its one line, exit 1. A part whose
    header counts another part number was said to be missing, though it is there."""
    first, part = _rotated(checkpointed_journal, tmp_path / "rot")
    whole = run_obview("replay", str(first), "--stream", "json")
    assert whole.returncode == 0, whole.stderr
    good = part.read_bytes()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "s.ndjson.zst").write_bytes(first.read_bytes())
    before = run_obview("replay", str(alone / "s.ndjson.zst"), "--stream", "json")
    assert before.returncode == 0 and 0 < len(before.stdout) < len(whole.stdout)
    for damage, why in ((b"not a journal", "is not an obview journal (not zstd data)"),
                        (b"", EMPTY)):
        part.write_bytes(damage)
        done = run_obview("replay", str(first), "--stream", "json")
        assert (done.returncode, done.stderr) == (1, f"obview: {part} {why}\n")
        assert done.stdout == before.stdout  # the first part, whole
        done = run_obview("export", str(first), "--to", "ndjson", str(tmp_path / "o.ndjson"))
        lines = len(before.stdout.splitlines())
        assert (done.returncode, done.stderr) == (
            1, f"obview: {part} {why}; wrote {lines} lines to {tmp_path / 'o.ndjson'}, up to "
               "the damage\n")
    part.write_bytes(good)  # a part whose header says it is the 6th
    frames = frames_of(part)
    header = json.loads(frames[0][0])
    frames[0][0] = json.dumps({**header, "part": 5}, separators=(",", ":")).encode()
    write_frames(frames, part)
    done = run_obview("replay", str(first), "--stream", "json")
    assert (done.returncode, done.stderr) == (
        0, "obview: warning: s.0001.ndjson.zst says it is part 5 of its session, not 1: the "
           "replay stops before it\n")
    assert done.stdout == before.stdout


def test_a_sync_line_longer_than_a_block_is_a_seek_point(checkpointed_journal, tmp_path):
    """A `sync` line of thousands of streams (their resync counts in `fc`) outgrows the
    128 KiB zstd block the index decompressed: the index ended there, every seek point
    after it lost (a seek to them read from the one before, up to a MiB a point)."""
    frames = frames_of(checkpointed_journal)
    at = len(frames) // 3
    sync = json.loads(frames[at][0])
    sync["fc"] = {"0": {**sync["fc"]["0"], "rs": {f"HK.{n:05d}": 1 for n in range(12_000)}}}
    frames[at][0] = json.dumps(sync, separators=(",", ":")).encode()
    assert len(frames[at][0]) > 128 * 1024
    copy = write_frames(frames, tmp_path / "big-sync.ndjson.zst")
    reader = JournalReader(copy)
    points = reader.index()
    assert [(p.mono, p.wall) for p in points] == [
        (p.mono, p.wall) for p in JournalReader(checkpointed_journal).index()]
    first = next(reader.lines(points[at]))
    assert (first.w, len(first.fc["0"].rs)) == (sync["w"], 12_000)


def test_a_from_past_a_damaged_seek_point_names_the_damage(checkpointed_journal, tmp_path):
    """The index ends at a `sync` line it cannot read, and the journal's end was taken
    for where its reading stopped: a --from after it was a usage error, "--from ... is
    after the journal ends" (exit 2), of a journal that goes on. The replay says where
    the damage is instead."""
    frames = frames_of(checkpointed_journal)
    at = len(frames) // 2
    sync = json.loads(frames[at][0])
    sync["fc"] = {"0": {"ms": -1}}
    frames[at][0] = json.dumps(sync, separators=(",", ":")).encode()
    copy = write_frames(frames, tmp_path / "sync.ndjson.zst")
    later = json.loads(frames[-2][0])["w"]
    done = run_obview("replay", str(copy), "--stream", "json", "--from", _from(later))
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"obview: {copy}: line ") and done.stderr.count("\n") == 1
    assert "is corrupt (Expected `int` >= 0 - at `$.fc[...].ms`)" in done.stderr, done.stderr


EMPTY = "is not an obview journal (it is empty: a recording killed before its first write?)"


def test_an_empty_journal_file_says_so(tmp_path):
    """A file of no bytes (a recording killed before its first write) was "not an
    obview journal (no journal header)", true of any file but not why this one fails."""
    empty = tmp_path / "empty.ndjson.zst"
    empty.write_bytes(b"")
    for command in commands(empty, tmp_path):
        done = run_obview(*command)
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", f"obview: {empty} {EMPTY}\n"), command


@pytest.mark.parametrize(("journal", "venue"), [
    ("futu_journal", "futu"), ("loopring_trades_journal", "loopring"),
    ("bthub_checkpointed", "bthub")])
def test_a_frame_of_the_wrong_kind_is_a_bad_frame_on_every_venue(journal, venue, request,
                                                                 tmp_path):
    """A frame line whose payload is a text where the venue's wire carries another, or
    one without the Futu proto id its transport always has: Loopring and bthub count a
    bad frame, as live; Futu took it for a push of no one's (an empty body of no type)
    and dropped it in silence."""
    path = request.getfixturevalue(journal)
    path = path[0] if isinstance(path, tuple) else path
    # (a broken JSON text: bthub passes plain text such as `pong` by, as live)
    drops = [lambda line: {k: v for k, v in line.items() if k not in ("b", "j")}
             | {"p": '{"data": [1,'}]
    if venue == "futu":
        drops.append(lambda line: {k: v for k, v in line.items() if k != "pid"})
    for drop in drops:
        copy, _ = changed(path, tmp_path / "kind.ndjson.zst", "f", drop, 40)
        done = run_obview("replay", str(copy), "--stream", "json")
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith(f"obview: warning: {venue}: 1 bad frame"), done.stderr


@pytest.mark.parametrize(("journal", "venue", "channels"), [
    ("futu_journal", "futu", ("rest", "ws", "x")),
    ("loopring_trades_journal", "loopring", ("rest", "tcp", "x")),
    ("bthub_checkpointed", "bthub", ("rest", "tcp", "x"))])
def test_a_frame_on_a_channel_its_venue_never_carries_is_a_bad_frame(journal, venue, channels,
                                                                     request, tmp_path):
    """A frame line whose `ch` its connection does not carry: a REST reply on a Futu TCP
    connection (or a push relabelled as one, without the request path every reply is
    recorded with) was queued for a request that never came, and dropped unsaid; another
    channel went to the venue's read path as if it were the wire's. Each is a bad frame,
    counted as the wrong-kind frames above are, on every venue."""
    path = request.getfixturevalue(journal)
    path = path[0] if isinstance(path, tuple) else path
    wire = "tcp" if venue == "futu" else "ws"
    frames = [line for line in JournalReader(path) if type(line) is Frame]
    nth = [n for n, frame in enumerate(frames) if frame.ch == wire][40]
    for channel in channels:
        copy, _ = changed(path, tmp_path / "ch.ndjson.zst", "f",
                          lambda line, channel=channel: {**line, "ch": channel}, nth)
        done = run_obview("replay", str(copy), "--stream", "json")
        assert done.returncode == 0, (channel, done.stderr)
        assert done.stderr.startswith(f"obview: warning: {venue}: 1 bad frame"), (
            channel, done.stderr)


def test_journal_values_in_a_message_are_bounded(futu_journal, bthub_checkpointed, tmp_path):
    """A message quoting what a damaged journal holds quotes it shortened: a `rec` line's
    100 kB venue, a header's schema or feed venue of 100 kB were in the one line whole."""
    path, _ = futu_journal
    header = frames_of(path)
    first = json.loads(header[0][0])
    for change, why, end in (
            ({"v": HUGE}, "the journal header is corrupt (schema 'xxx", "xxx')\n"),
            ({"o": {**first["o"], "feeds": [{**first["o"]["feeds"][0], "venue": HUGE}]}},
             "the journal header is corrupt (unknown venue 'xxx",
             "xxx' (choose from futu, loopring, bthub))\n")):
        frames = frames_of(path)
        frames[0][0] = json.dumps({**first, **change}, separators=(",", ":")).encode()
        copy = write_frames(frames, tmp_path / "huge.ndjson.zst")
        done = run_obview("replay", str(copy), "--stream", "json")
        assert (done.returncode, done.stdout) == (1, ""), done.stderr[:300]
        assert done.stderr.startswith(f"obview: {copy}: {why}"), done.stderr[:300]
        assert done.stderr.endswith(end) and len(done.stderr) < 400, done.stderr[:300]
    copy, offset, start, _ = _damaged_at_point(bthub_checkpointed, tmp_path / "rec.ndjson.zst",
                                               "rec", lambda line: {**line, "vn": HUGE})
    done = run_obview("replay", str(copy), "--stream", "json", "--from", start)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr[:300]
    assert done.stderr.startswith(f"obview: {copy}: the "), done.stderr[:300]
    assert done.stderr.endswith(f"xxx' in the zstd frame at byte {offset} are corrupt (they "
                                "are of feed 0, which is bthub's)\n"), done.stderr[:300]
    assert " records of 'xxx" in done.stderr and len(done.stderr) < 400, done.stderr[:300]


async def _told_on_screen_and_replayed_again(damaged: Path, first: Callable[[str], bool],
                                             played_to_the_damage: bool) -> None:
    """The TUI replays `damaged`: the damage is told once (`first` holds of what it
    says), the replay stays open, a seek home and play reach it again, told again."""
    from obview.replay.player import ReplayPlayer
    from obview.tui.app import ObviewApp
    from tests.conftest import wait_until

    player = ReplayPlayer([damaged], speed=None)
    app = ObviewApp(player.configs, player.feeds, player=player)

    def told() -> list[str]:
        return [str(n.message) for n in app._notifications if "corrupt" in str(n.message)]

    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(lambda: told(), 20, "the damage on the screen")
        assert len(told()) == 1 and first(told()[0]), told()
        assert "JournalError" not in told()[0]  # its words, not a Python name
        worker = next(w for w in app.workers if w.name == "replay")
        assert not worker.is_finished  # still waiting for controls
        feed = player.feeds[0]
        await pilot.press("space", "home")  # paused, back to the start
        await wait_until(lambda: player.progress() < 0.1, 10, "the replay back at its start")
        assert len(told()) == 1
        await pilot.press("space")
        await wait_until(lambda: len(told()) == 2, 20, "the damage reached again, and told")
        if played_to_the_damage:
            assert player.progress() > 0.9 and any(s.synced for s in feed.streams.values())
        await press_to_quit(app, pilot)


async def test_the_tui_says_where_a_journal_is_damaged_and_seeks_back_past_it(futu_journal,
                                                                              tmp_path):
    """A replay in the TUI that reaches damage says so on the screen and stays open: a
    seek back plays the lines before it again. Its worker had ended with the error (a
    notification 'replay: JournalError: …'), and no key did anything after it."""
    path, _ = futu_journal
    frames = frames_of(path)
    last = frames[-1]
    last[len(last) // 2] = b'{"k":"f","m":'  # a line cut short, in the last frame
    damaged = write_frames(frames, tmp_path / "damaged.ndjson.zst")
    await _told_on_screen_and_replayed_again(damaged, lambda text: str(damaged) in text,
                                             played_to_the_damage=True)


async def test_the_tui_says_where_a_line_the_journal_contradicts_is(futu_journal, tmp_path):
    """Damage the player finds in a line it plays (a `dis` line of a connection never
    opened, a corrupt checkpoint) is told on the screen as the reader's damage is, and
    the replay stays open; its worker had ended with 'replay: JournalError: ...'."""
    path, _ = futu_journal
    damaged, number = changed(path, tmp_path / "dis.ndjson.zst", "dis",
                              lambda line: {**line, "c": 7})
    said = (f"{damaged}: line {number} is corrupt (a dis line of connection 7, "
            "which no con line opened)")
    await _told_on_screen_and_replayed_again(damaged, lambda text: text == said,
                                             played_to_the_damage=False)
