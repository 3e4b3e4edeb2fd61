"""Damaged journals, replayed and exported: what comes out is what was recorded, up to the
damage, and nothing of it; the message says where it is and what was written."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from obview.journal import JournalError, JournalReader
from tests.conftest import run_obview

DAMAGE = b"\xff" * 8  # what QA wrote over the file: `printf '\xff...' | dd conv=notrunc`


def _silent_damage(path: Path) -> tuple[bytes, int, int]:
    """The journal with 8 bytes overwritten where zstd decodes them without an error into
    lines that differ from the recorded ones (only the frame's checksum can tell), in a
    frame after the first: (damaged bytes, damage offset, start of the damaged frame)."""
    data = path.read_bytes()
    starts = [p.offset for p in JournalReader(path).index()]
    starts.append(len(data))
    dctx = zstandard.ZstdDecompressor()
    for at in range(len(starts) // 2, len(starts) - 1):
        start, end = starts[at], starts[at + 1]
        clean = dctx.decompressobj().decompress(data[start:end])
        for offset in range(start + 40, end - 40, 37):
            damaged = data[:offset] + DAMAGE + data[offset + len(DAMAGE):]
            try:  # all but the checksum: what a reader had decoded before it failed
                out = dctx.decompressobj().decompress(damaged[start:end - 4])
            except zstandard.ZstdError:
                continue
            if len(out) > len(clean) // 2 and out != clean[:len(out)]:
                return damaged, offset, start
    raise AssertionError("no silently decoding damage found")


def test_damaged_bytes_never_come_out_as_lines(checkpointed_journal, tmp_path):
    """zstd checks a frame's checksum at its end: a block decoded before it is not yet
    known good. No line of a damaged frame may come out (they once did: a size 3300
    printed as 7526), and every line of the frames before it must."""
    damaged, offset, start = _silent_damage(checkpointed_journal)
    copy = tmp_path / "mid.ndjson.zst"
    copy.write_bytes(damaged)
    clean = JournalReader(checkpointed_journal)
    full = list(clean)
    point = next(p for p in clean.index() if p.offset == start)
    before = len(full) - len(list(clean.lines(point)))
    got = []
    with pytest.raises(JournalError) as caught:
        got.extend(JournalReader(copy))
    assert got == full[:before]
    message = str(caught.value)
    assert message.startswith(f"{copy}: the zstd frame at bytes {start}-")
    end = int(message.split(f"bytes {start}-", 1)[1].split(" ", 1)[0])
    assert start <= offset <= end and "checksum" in message
    assert f"the lines before it were read (1-{before})" in message

    # the replay prints the lines of the frames before it, as an undamaged replay does
    # (recv_ts too: the journal's stamps), and says where
    done = run_obview("replay", str(checkpointed_journal), "--stream", "json")
    assert done.returncode == 0, done.stderr
    live = done.stdout.splitlines()
    done = run_obview("replay", str(copy), "--stream", "json")
    assert done.returncode == 1
    assert done.stderr == f"obview: {message}\n"
    printed = done.stdout.splitlines()
    assert 0 < len(printed) < len(live)
    assert printed == live[:len(printed)]


def test_an_export_of_a_damaged_journal_keeps_and_counts_what_came_before(
        checkpointed_journal, tmp_path):
    """Both formats write what came before the damage (Parquet wrote no file at all,
    ndjson a part without saying so) and say, in the error's one line, how much."""
    pq = pytest.importorskip("pyarrow.parquet")
    damaged, _offset, _start = _silent_damage(checkpointed_journal)
    copy = tmp_path / "mid.ndjson.zst"
    copy.write_bytes(damaged)
    with pytest.raises(JournalError) as caught:
        list(JournalReader(copy))
    for to, unit in (("ndjson", "lines"), ("parquet", "rows")):
        whole, part = tmp_path / f"whole.{to}", tmp_path / f"part.{to}"
        done = run_obview("export", str(checkpointed_journal), "--to", to, str(whole))
        assert done.returncode == 0, done.stderr
        done = run_obview("export", str(copy), "--to", to, str(part))
        assert done.returncode == 1 and done.stdout == ""
        if to == "ndjson":
            everything = whole.read_text().splitlines()
            got = part.read_text().splitlines()
        else:
            everything, got = pq.read_table(whole).to_pylist(), pq.read_table(part).to_pylist()
        assert 0 < len(got) < len(everything) and got == everything[:len(got)]
        assert done.stderr == (f"obview: {caught.value}; wrote {len(got)} {unit} to {part}, "
                               "up to the damage\n")


def test_an_export_counts_the_lines_it_wrote(futu_journal, tmp_path):
    path, _ = futu_journal
    out = tmp_path / "all.ndjson"
    done = run_obview("export", str(path), "--to", "ndjson", str(out))
    assert done.returncode == 0, done.stderr
    lines = len(out.read_text().splitlines())
    # the lines written, not those found in OUT afterwards (/dev/null has none)
    done = run_obview("export", str(path), "--to", "ndjson", os.devnull)
    assert (done.returncode, done.stderr) == (0, f"obview: wrote {lines} lines to {os.devnull}\n")


def test_an_export_refuses_a_folder_name_at_once(tmp_path):
    """A folder's name (ending in /) is refused before the journal is read: here a file
    that is no journal, which would say so first if it were read (Parquet: pyarrow's
    "Failed to open local file" came after the whole replay)."""
    plain = tmp_path / "plain.ndjson.zst"
    plain.write_text("hello\n")
    for to in ("parquet", "ndjson"):
        folder = f"{tmp_path / 'sub'}/"
        done = run_obview("export", str(plain), "--to", to, folder)
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", f"obview: cannot write {folder}: it names a folder (it ends in /): "
                   "give a file name\n"), to
        assert not (tmp_path / "sub").exists()


def _with_header(path: Path, copy: Path, change: Callable[[dict], None]) -> Path:
    """The journal at `path` written to `copy` with its header changed by `change`."""
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    first, rest = raw.split(b"\n", 1)
    header = json.loads(first)
    change(header)
    line = json.dumps(header, separators=(",", ":")).encode()
    copy.write_bytes(zstandard.ZstdCompressor().compress(line + b"\n" + rest))
    return copy


def _feed(key: str, value) -> Callable[[dict], None]:
    return lambda header: header["o"]["feeds"][0].__setitem__(key, value)


def _option(key: str, value) -> Callable[[dict], None]:
    return lambda header: header["o"]["feeds"][0]["options"].__setitem__(key, value)


def _in_o(key: str, value) -> Callable[[dict], None]:
    return lambda header: header["o"].__setitem__(key, value)


def _commands(path: Path, tmp_path: Path) -> list[tuple[str, ...]]:
    """Replay and export (each format this venv can write) of the journal at `path`."""
    runs = [("replay", str(path), "--stream", "json"),
            ("export", str(path), "--to", "ndjson", str(tmp_path / "out.ndjson"))]
    if importlib.util.find_spec("pyarrow") is not None:
        runs.append(("export", str(path), "--to", "parquet", str(tmp_path / "out.parquet")))
    return runs


# (journal fixture, what is changed in its header, why the header is corrupt as said)
CORRUPT_HEADERS = {
    "loopring api v9": ("loopring_trades_journal", _option("api", "v9"),
                        "unknown Loopring API 'v9' (choose v2 or v3)"),
    "verify -1": ("loopring_trades_journal", _option("verify", -1),
                  "bad verify interval -1: 0 (off) or more seconds"),
    "no symbols": ("futu", _feed("symbols", []), "a feed's symbols are [], not a list of names"),
    "options a list": ("futu", _feed("options", [1]), "a feed's options are [1], not an object"),
    "depth x": ("futu", _feed("depth", "x"), "a feed's depth is 'x', not 1 to 1000 rows"),
    "feeds not a list": ("futu", _in_o("feeds", {"venue": "futu"}),
                         "its feeds are {'venue': 'futu'}, not a list"),
    "view a list": ("futu", _in_o("view", [1]), "its view is [1], not an object"),
    "view depth x": ("loopring_trades_journal", _in_o("view", {"depth": "x"}),
                     "its view's depth is 'x', not 1 to 1000 rows"),
    "connection not a number": (
        "futu", lambda header: header.update(part=1, cn={"x": 0}),
        "Expected `str` matching regex '^[0-9]{1,18}$' - at `key` in `$.cn`"),
    "schema not a number": ("futu", lambda header: header.update(v="2"), "schema '2'"),
}


@pytest.mark.parametrize("case", CORRUPT_HEADERS)
def test_a_corrupt_header_says_so_in_one_line_and_exits_1(case, request, tmp_path):
    """A header no obview wrote (damage, a hand edit) stops replay and export at once:
    one line saying what is wrong, exit 1. It had been a usage error (exit 2, the
    feed's own check of an option), an `internal error: IndexError`, a replay that
    reconnected on every snapshot, or "written by a newer obview"."""
    fixture, change, why = CORRUPT_HEADERS[case]
    journal = request.getfixturevalue("futu_journal")[0] if fixture == "futu" \
        else request.getfixturevalue(fixture)
    copy = _with_header(journal, tmp_path / "corrupt.ndjson.zst", change)
    for command in _commands(copy, tmp_path):
        done = run_obview(*command)
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", f"obview: {copy}: the journal header is corrupt ({why})\n"), command


def test_a_header_naming_a_market_the_session_never_had_fails_every_export(
        loopring_trades_journal, tmp_path):
    """The feed finds the market missing from the recorded market list and stops for
    good: every command says so and exits 1 (Parquet had written 0 rows, exit 0)."""
    copy = _with_header(loopring_trades_journal, tmp_path / "nope.ndjson.zst",
                        _feed("symbols", ["NOPE-ETH"]))
    for command in _commands(copy, tmp_path):
        done = run_obview(*command)
        assert done.returncode == 1 and done.stdout == "", command
        assert done.stderr.startswith("obview: loopring: unknown market 'NOPE-ETH'"), command
        assert done.stderr.count("\n") == 1, command


def _with_checkpoint_rows(path: Path, copy: Path, bids: list) -> tuple[Path, int, int]:
    """The journal with the first `ckp` line of a seek point in its second half given
    `bids`, that frame compressed again as the writer does (its `sync` line alone in the
    first block): (copy, the frame's byte offset, the point's wall ns)."""
    data = path.read_bytes()
    points = JournalReader(path).index()
    point = points[len(points) // 2]
    end = next((p.offset for p in points if p.offset > point.offset), len(data))
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(
        data[point.offset:end]).split(b"\n")[:-1]
    at = next(n for n, line in enumerate(lines) if line.startswith(b'{"k":"ckp"'))
    row = json.loads(lines[at])
    row["bids"] = bids
    lines[at] = json.dumps(row, ensure_ascii=False).encode()
    cobj = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    frame = (cobj.compress(lines[0] + b"\n") + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
             + cobj.compress(b"".join(line + b"\n" for line in lines[1:])) + cobj.flush())
    copy.write_bytes(data[:point.offset] + frame + data[end:])
    return copy, point.offset, point.wall


@pytest.mark.parametrize(("bids", "why"), [
    ([["x", "1", 1]], "'x' is not a price or size as written"),
    ([[]], "level [] is not [price, size, orders, ...]"),
    ([["sNaN", "1", 1]], "'sNaN' is not a price or size as written"),
    ([["1E+99999999999", "1", 1]], "'1E+99999999999' is not a price or size as written"),
    ([["500", "-5", 1]], "'-5' is not a price or size as written"),
    ([["500", "1", 1, 5]], "level ['500', '1', 1, 5]: queue 5"),
])
def test_a_seek_to_a_damaged_checkpoint_says_so_in_one_line(checkpointed_journal, tmp_path,
                                                            bids, why):
    """A checkpoint's rows are typed only as lists: a damaged one reached Decimal() where
    a seek restores it ('internal error: InvalidOperation', IndexError, TypeError), or
    was restored as the synced book (a price of 1E+99999999999, a size of -5)."""
    import datetime as dt

    copy, offset, wall = _with_checkpoint_rows(checkpointed_journal,
                                               tmp_path / "ckp.ndjson.zst", bids)
    micros = -(-wall // 1000)  # (rounded up: a --from before the point starts earlier)
    start = (dt.datetime.fromtimestamp(micros // 10**6, dt.UTC)
             + dt.timedelta(microseconds=micros % 10**6)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    done = run_obview("replay", str(copy), "--stream", "json", "--from", start)
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"obview: {copy}: the checkpoint of futu HK.00700 in the zstd frame at byte "
               f"{offset} is corrupt ({why})\n")
    # played from its start, the replay passes the checkpoint by, as live did
    done = run_obview("replay", str(copy), "--stream", "json", "--count", "5")
    assert done.returncode == 0, done.stderr
