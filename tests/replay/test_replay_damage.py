"""Damaged journals, replayed and exported: what comes out is what was recorded, up to the
damage, and nothing of it; the message says where it is and what was written."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from obview.journal import JournalError, JournalReader
from tests.conftest import run_obview
from tests.replay.conftest import without_local_stamps

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

    # the replay prints the lines of the frames before it, exactly, and says where
    done = run_obview("replay", str(checkpointed_journal), "--stream", "json")
    assert done.returncode == 0, done.stderr
    live = done.stdout.splitlines()
    done = run_obview("replay", str(copy), "--stream", "json")
    assert done.returncode == 1
    assert done.stderr == f"obview: {message}\n"
    printed = done.stdout.splitlines()
    assert 0 < len(printed) < len(live)
    assert [without_local_stamps(t) for t in printed] == \
        [without_local_stamps(t) for t in live[:len(printed)]]
