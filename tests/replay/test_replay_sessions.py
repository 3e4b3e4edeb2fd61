"""Which files a replay reads: one session's, each once, in part order; and the paths
`--record` and `export` write, which never lose a journal already there."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from obview.replay import parse_when
from tests.conftest import ROOT, obview_env, run_obview
from tests.replay.conftest import record, without_local_stamps


def _replayed(*paths: Path) -> list[dict]:
    done = run_obview("replay", *map(str, paths), "--stream", "json")
    assert done.returncode == 0, done.stderr
    return [without_local_stamps(t) for t in done.stdout.splitlines()]


def test_a_glob_of_the_parts_or_a_part_named_twice_replays_every_line_once(tmp_path):
    """Each file given brings the parts after it: `r*.ndjson.zst` (which sorts the first
    file after its parts) replayed every part once per part before it, out of order."""
    path = tmp_path / "r.ndjson.zst"
    live = [without_local_stamps(t) for t in record(
        path, "futu", "HK.00700", "--sim", "--fault", "rate=200", "--record-rotate", "16K",
        count=1500)]
    parts = sorted(tmp_path.glob("r*.ndjson.zst"))  # as a shell expands it
    assert len(parts) >= 4 and parts[-1] == path
    assert _replayed(*parts) == live
    assert _replayed(path, tmp_path / "r.0001.ndjson.zst", path) == live
    # later parts only, out of order: from the first of them on, each line once
    tail = _replayed(tmp_path / "r.0003.ndjson.zst", tmp_path / "r.0002.ndjson.zst")
    assert tail == _replayed(tmp_path / "r.0002.ndjson.zst")


def test_two_recording_sessions_are_refused_in_one_line(tmp_path):
    """The replay's feeds are the first session's: the second session's lines went to no
    feed, and its books never printed, with exit 0."""
    first, second = tmp_path / "a.ndjson.zst", tmp_path / "b.ndjson.zst"
    record(first, "futu", "HK.00700", "--sim", count=20)
    record(second, "futu", "US.AAPL", "--sim", count=20)
    done = run_obview("replay", str(first), str(second), "--stream", "json")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"obview: {first} and {second} are two recording sessions: replay "
                           "one session at a time (its first file brings the parts after it)\n")


def test_export_never_writes_over_the_journal_it_reads(futu_journal, tmp_path):
    path, _ = futu_journal
    before = path.read_bytes()
    for fmt in ("ndjson", "parquet"):
        done = run_obview("export", str(path), "--to", fmt, str(path))
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == (f"obview: OUT {path} is the journal being exported (or one of "
                               "its parts): give another file name\n")
        assert path.read_bytes() == before  # (it became the export, and the journal was lost)


def test_export_never_writes_over_an_earlier_part_or_another_journal(tmp_path):
    """Only the journal and the parts after it were refused: `export r.0001.ndjson.zst
    --to ndjson r.ndjson.zst` replaced the session's first part with the export, and any
    other recording named as OUT was lost the same way (--record refuses to)."""
    path = tmp_path / "r.ndjson.zst"
    record(path, "futu", "HK.00700", "--sim", "--fault", "rate=200", "--record-rotate", "16K",
           count=1500)
    other = tmp_path / "other.ndjson.zst"
    record(other, "futu", "US.AAPL", "--sim", count=5)
    part = tmp_path / "r.0002.ndjson.zst"
    assert part.exists()
    kept = {p: p.read_bytes() for p in (path, tmp_path / "r.0001.ndjson.zst", other)}
    for out, why in ((path, "is the journal being exported (or one of its parts)"),
                     (tmp_path / "r.0001.ndjson.zst",
                      "is the journal being exported (or one of its parts)"),
                     (other, "is an obview journal (another recording): an export would "
                             "write over it")):
        for fmt in ("ndjson", "parquet"):
            done = run_obview("export", str(part), "--to", fmt, str(out))
            assert (done.returncode, done.stdout) == (2, ""), done.stderr
            assert done.stderr == f"obview: OUT {out} {why}: give another file name\n"
    assert {p: p.read_bytes() for p in kept} == kept
    plain = tmp_path / "lines.ndjson"  # an ordinary file is written over, as before
    plain.write_text("old\n")
    done = run_obview("export", str(part), "--to", "ndjson", str(plain))
    assert done.returncode == 0, done.stderr
    assert plain.read_text() != "old\n"

def test_record_refuses_a_path_that_would_lose_or_hide_the_journal(tmp_path):
    args = ("futu", "HK.00700", "--sim", "--dump", "json", "--timeout", "20")
    usage = {
        "": "--record needs a file name",
        "-": "--record -: a journal is a zstd file, not a stream: give a file name "
             "(--stream json prints the lines)",
    }
    for value, message in usage.items():
        done = run_obview(*args, "--record", value)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"obview: {message}\n")
    # a journal already there is not recorded over
    kept = tmp_path / "kept.ndjson.zst"
    record(kept, "futu", "HK.00700", "--sim", count=5)
    before = kept.read_bytes()
    done = run_obview(*args, "--record", str(kept))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"obview: --record {kept}: a journal is already there: give "
                           "another name (or a folder, for a new one in it)\n")
    assert kept.read_bytes() == before
    # a folder (there, or named with a slash) gets a new journal named for its start
    folder = tmp_path / "sessions"
    folder.mkdir()
    for value in (str(folder), f"{folder}/"):
        done = run_obview(*args, "--record", value)
        assert done.returncode == 0, done.stderr
    made = sorted(folder.iterdir())
    assert len(made) == 2 and all(p.name.startswith("obview-") for p in made)
    assert any(p.name.endswith("Z.ndjson.zst") for p in made)  # (a second in the same second
    # gets "-2" after the time)
    assert not (tmp_path / "sessions.ndjson.zst").exists()  # (it went beside the folder)
    assert _replayed(made[0])  # a journal like any other


def test_a_clock_time_falls_on_the_day_within_the_journal_across_midnight():
    def ns(text: str) -> int:
        when = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return int(when.timestamp()) * 10**9

    start, end = ns("2026-12-06T23:59:45"), ns("2026-12-07T00:00:15")
    assert parse_when("00:00:05", start, end) == ns("2026-12-07T00:00:05")
    assert parse_when("23:59:55", start, end) == ns("2026-12-06T23:59:55")
    # a time in no day of the journal stays on its first day (said to be before it)
    assert parse_when("12:00:00", start, end) == ns("2026-12-06T12:00:00")
    short = ns("2026-12-07T00:29:02"), ns("2026-12-07T00:35:00")
    assert parse_when("00:00:00", *short) == ns("2026-12-07T00:00:00")


def test_an_export_to_a_stdout_that_cannot_be_written_is_one_line(futu_journal):
    """`export J --to ndjson - > file` on a full disk ended in `internal error:
    HeadlessFailure: …`."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs Linux's /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "obview", "export", str(futu_journal[0]),
                               "--to", "ndjson", "-"], stdout=full, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, timeout=60,
                              env=obview_env(), cwd=ROOT)
    assert (done.returncode, done.stderr) == (
        1, "obview: cannot write stdout: No space left on device\n")
