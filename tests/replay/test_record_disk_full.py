"""A full disk stops the recording with a visible warning; the live feed carries on."""

from __future__ import annotations

import errno
import io
import resource
import subprocess
import sys
from functools import partial

from obview.headless import run_headless
from obview.journal import JournalWriter
from obview.record import Recording, journal_path, parse_size
from obview.venues import config
from tests.conftest import ROOT, obview_env


class FillingFile(io.RawIOBase):
    """A file on a disk with `room` bytes left."""

    def __init__(self, path, room: int) -> None:
        self._fh = open(path, "wb", buffering=0)  # noqa: SIM115
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self._fh.write(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


async def test_full_disk_stops_recording_and_the_feed_goes_on(tmp_path):
    path = tmp_path / "full.ndjson.zst"
    configs = [config("futu", ["HK.00700"], sim=True, port=0, faults={"rate": "100"})]
    recording = Recording(path, configs, writer_factory=partial(
        JournalWriter, opener=lambda p: FillingFile(p, 3000), buffer_bytes=2048))
    out = io.StringIO()
    seen: list[str] = []
    original = recording._failed

    def failed(reason: str) -> None:
        original(reason)
        seen.extend(feed.status_text for feed in recording.feeds)

    recording.writer._on_fail = failed
    await run_headless(configs, "stream", 200, 30, out=out, recording=recording)
    assert len(out.getvalue().splitlines()) == 200  # the live view carried on
    assert recording.failed == "recording stopped: No space left on device"
    assert seen and all("recording stopped: No space left on device" in t for t in seen)
    feed = recording.feeds[0]
    assert "recording stopped" in feed.status_text  # still said after later state changes


def test_headless_says_on_stderr_once_that_the_recording_stopped_and_goes_on(tmp_path):
    """A script has no status bar: when the disk fills (here the file-size limit, which a
    real disk's end behaves like: the write fails), stderr says so once, and the stream
    prints every line asked for."""
    journal = tmp_path / "s.ndjson.zst"

    def small_files() -> None:  # in the child only; Python ignores SIGXFSZ
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))

    done = subprocess.run(
        [sys.executable, "-m", "obview", "futu", "HK.00700", "--sim", "--fault", "rate=200",
         "--stream", "json", "--count", "3000", "--record", str(journal)],
        capture_output=True, text=True, timeout=120, env=obview_env(), cwd=ROOT,
        stdin=subprocess.DEVNULL, preexec_fn=small_files)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3000
    assert done.stderr == "obview: warning: recording stopped: File too large; the feed goes on\n"
    assert journal.stat().st_size <= 30_000


def test_a_journal_that_cannot_be_opened_is_refused_before_anything_runs(tmp_path, obview):
    """The folder is writable but the file cannot be made (a link to a folder that is
    gone; /proc as root): nothing would be kept, so obview says so and exits 1, not a
    run that seems recorded. (A folder of that name now gets a journal inside it:
    tests/replay/test_replay_sessions.py.)"""
    taken = tmp_path / "s.ndjson.zst"
    taken.symlink_to(tmp_path / "gone" / "s.ndjson.zst")
    done = obview("futu", "HK.00700", "--sim", "--dump", "json", "--record", str(taken))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"obview: --record: cannot open {taken}: No such file or directory\n"


def test_a_journal_that_cannot_be_made_is_a_runtime_error_as_an_export_is(tmp_path, obview):
    """No folder for the file, or a file where its folder should be: --record says so
    in one line and exits 1, as export does for its OUT (--record had been a usage
    error, exit 2: the name is a fine one, the disk is not ready for it)."""
    plain = tmp_path / "plain"
    plain.write_text("a file, not a folder\n")
    journal = tmp_path / "j.ndjson.zst"
    journal.write_bytes(b"")  # (export checks OUT before it reads the journal)
    for where, why in ((tmp_path / "gone" / "s", "no such folder"),
                       (plain / "s", f"{plain} is a file, not a folder")):
        done = obview("futu", "HK.00700", "--sim", "--dump", "json", "--record", str(where))
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", f"obview: cannot write --record {where}.ndjson.zst: {why}\n")
        done = obview("export", str(journal), "--to", "ndjson", str(where))
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", f"obview: cannot write {where}: {why}\n")
    assert not (tmp_path / "gone").exists()


def test_record_sizes_and_paths():
    assert parse_size("100M") == 100 << 20
    assert parse_size("1.5g") == int(1.5 * (1 << 30))
    for bad in ("", "12X", "-1M", "1"):
        try:
            parse_size(bad)
        except ValueError as exc:
            assert "bad size" in str(exc)
        else:
            raise AssertionError(bad)
    assert str(journal_path("s", "/data/j")) == "/data/j/s.ndjson.zst"
    assert str(journal_path("/x/s.ndjson.zst", "/data/j")) == "/x/s.ndjson.zst"
    assert str(journal_path("sub/s", "/data/j")) == "sub/s.ndjson.zst"
