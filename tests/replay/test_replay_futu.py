"""Record a live Futu session (simulator) and replay it through the same client."""

from __future__ import annotations

import bisect
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
import zstandard

from obview.journal import Connect, Disconnect, Frame, JournalReader, Subscribe
from tests.conftest import ROOT, obview_env, run_obview
from tests.replay.conftest import without_local_stamps


def test_journal_holds_the_wire_and_the_session(futu_journal):
    path, _ = futu_journal
    lines = list(JournalReader(path))
    header = JournalReader(path).headers[0]
    assert header.o["feeds"][0]["symbols"] == ["HK.00700", "US.AAPL"]
    frames = [line for line in lines if type(line) is Frame]
    assert frames and all(f.ch == "tcp" and f.b is not None and f.pid for f in frames)
    assert {f.pid for f in frames} >= {1001, 3001, 3012, 3013}  # InitConnect ... pushes
    assert [type(line) for line in lines].index(Connect) < [type(line) for line in lines].index(Frame)
    assert sorted(s.sy for s in lines if type(s) is Subscribe) == ["HK.00700", "US.AAPL"]


def test_replay_prints_what_live_printed(futu_journal):
    path, live = futu_journal
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    replayed = done.stdout.splitlines()
    assert len(replayed) >= len(live)
    for number, (was, now) in enumerate(zip(live, replayed, strict=False)):
        assert without_local_stamps(was) == without_local_stamps(now), f"line {number + 1}"


def test_a_later_part_of_a_rotated_journal_replays_alone_from_its_checkpoint(tmp_path):
    """`--record-rotate` parts each begin with a header naming the open connections and a
    checkpoint of the books: given alone (the parts before it deleted, or not wanted), a
    part replays from there with the parts after it, says so once, and prints what live
    printed from there to the end (it printed nothing: its frames went to no connection)."""
    from tests.replay.conftest import record

    path = tmp_path / "r.ndjson.zst"
    live = record(path, "futu", "HK.00700", "--sim", "--fault", "rate=200",
                  "--record-rotate", "16K", count=1500)
    part = tmp_path / "r.0002.ndjson.zst"
    assert part.exists() and JournalReader(part).headers[0].part == 2
    done = run_obview("replay", str(part), "--stream", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("part 2 of its session") == 1, done.stderr
    replayed = [without_local_stamps(t) for t in done.stdout.splitlines()]
    whole = [without_local_stamps(t) for t in live]
    assert len(replayed) > 100
    # the first line is the checkpoint's book, name and all (live printed it as the push
    # before; the stock's name came with the session's first replies)
    at = next(i for i, was in enumerate(whole) if was["version"] == replayed[1]["version"])
    assert replayed[0] == whole[at - 1] and replayed[0]["name"] == "腾讯控股"
    assert len(replayed) - 1 >= len(whole) - at  # on through the parts after it
    assert replayed[1:len(whole) - at + 1] == whole[at:]


def test_a_missing_middle_part_ends_the_replay_before_it_and_says_so(tmp_path):
    from tests.replay.conftest import record

    path = tmp_path / "r.ndjson.zst"
    live = record(path, "futu", "HK.00700", "--sim", "--fault", "rate=200",
                  "--record-rotate", "16K", count=1500)
    assert (tmp_path / "r.0003.ndjson.zst").exists()
    (tmp_path / "r.0002.ndjson.zst").unlink()
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    assert "r.0002.ndjson.zst is missing: the replay stops before it" in done.stderr
    replayed = [without_local_stamps(t) for t in done.stdout.splitlines()]
    whole = [without_local_stamps(t) for t in live]
    assert 0 < len(replayed) < len(whole) and replayed == whole[:len(replayed)]


def test_replay_from_and_until_take_wall_clock_times(futu_journal):
    path, live = futu_journal
    stamps = [line.w for line in JournalReader(path) if type(line) is Frame]
    middle = stamps[len(stamps) // 2]
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(middle / 1e9, UTC).strftime("%H:%M:%S.%f")
    done = run_obview("replay", str(path), "--stream", "json", "--from", start)
    assert done.returncode == 0, done.stderr
    after = [without_local_stamps(t) for t in done.stdout.splitlines()]
    whole = [without_local_stamps(t) for t in live]
    assert 0 < len(after) < len(whole)
    # every line from --from on is one the live session printed, in the same order
    at = whole.index(after[0])
    assert whole[at:at + len(after)] == after[:len(whole) - at]
    iso = datetime.fromtimestamp(middle / 1e9, UTC).isoformat()
    done = run_obview("replay", str(path), "--stream", "json", "--until", iso)
    assert done.returncode == 0, done.stderr
    before = [without_local_stamps(t) for t in done.stdout.splitlines()]
    assert 0 < len(before) < len(whole) and before == whole[:len(before)]


def test_a_window_that_holds_nothing_says_what_the_journal_spans(futu_journal):
    """--from past the end, --until before the start, or --from not before --until would
    print nothing and exit 0, like an empty journal: a usage error says why instead."""
    from datetime import UTC, datetime

    path, _ = futu_journal
    reader = JournalReader(path)
    first, last = reader.headers[0].w, reader.end_wall()
    def at(ns: int) -> datetime:  # exact: ns / 1e9 as a float can round up past `ns`
        return datetime.fromtimestamp(ns // 10**9, UTC).replace(microsecond=ns // 1000 % 10**6)

    iso = lambda ns: at(ns).isoformat()  # noqa: E731
    spans = lambda ns: f"{at(ns):%Y-%m-%d %H:%M:%S} UTC"  # noqa: E731
    cases = {
        ("--from", iso(last + 10**9)): f"--from {iso(last + 10**9)} is after the journal ends ({spans(last)})",
        ("--until", iso(first - 10**9)): f"--until {iso(first - 10**9)} is before the journal starts ({spans(first)})",
        ("--from", iso(last), "--until", iso(first + 1000)): f"--from {iso(last)} is not before --until {iso(first + 1000)}",
        ("--speed", "0"): "Invalid value for '--speed': '0': from 0.1 to 100, or max",
    }
    for args, message in cases.items():
        done = run_obview("replay", str(path), "--stream", "json", *args)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"obview: {message}\n"), args
    # the edges themselves are in: the last line's own time plays that line
    done = run_obview("replay", str(path), "--stream", "json", "--from", iso(last))
    assert done.returncode == 0, done.stderr


async def test_replay_from_a_checkpoint_rebuilds_the_book(tmp_path):
    """A start after a seek point: the books come back from its checkpoint and the
    connection goes on as `resumed`; every line printed from there is one live printed."""
    import io
    from functools import partial

    from obview.headless import run_headless
    from obview.journal import JournalWriter
    from obview.record import Recording
    from obview.replay import ReplayPlayer
    from obview.replay.headless import replay_headless
    from obview.venues import config

    path = tmp_path / "seek.ndjson.zst"
    # 100 pushes/s (not the default 10): the same lines in a tenth of the time
    configs = [config("futu", ["HK.00700", "US.AAPL"], sim=True, port=0,
                      faults={"rate": "100"})]
    recording = Recording(path, configs, checkpoint_every=0.2,
                          writer_factory=partial(JournalWriter, frame_bytes=4096))
    out = io.StringIO()
    await run_headless(configs, "stream", 400, 30, out=out, recording=recording)
    live = [without_local_stamps(t) for t in out.getvalue().splitlines()]
    points = JournalReader(path).index()
    assert len(points) >= 3, "checkpoints that start zstd frames"
    target = points[len(points) // 2]
    player = ReplayPlayer([path], start=target.wall + 1)
    replayed = io.StringIO()
    await replay_headless([], player=player, out=replayed)
    after = [without_local_stamps(t) for t in replayed.getvalue().splitlines()]
    assert after
    at = live.index(after[0])
    assert at > 0
    assert after[:len(live) - at] == live[at:]


def test_export_ndjson_is_the_stream(futu_journal, tmp_path):
    path, live = futu_journal
    out = tmp_path / "out.ndjson"
    done = run_obview("export", str(path), "--to", "ndjson", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert [without_local_stamps(t) for t in lines[:len(live)]] == \
        [without_local_stamps(t) for t in live]
    # OUT "-" is stdout, for a pipe (it wrote a file named "-"); the same lines, no count
    done = run_obview("export", str(path), "--to", "ndjson", "-")  # (run in ROOT)
    assert (done.returncode, done.stderr) == (0, "")
    # two replays of a journal agree exactly: recv_ts and Futu's latency_ms are taken at
    # the journal's receive stamp (they were each replay's own time)
    assert done.stdout.splitlines() == lines
    assert not (ROOT / "-").exists()


def test_export_says_at_once_what_it_cannot_write(futu_journal, tmp_path):
    """A folder as OUT, or Parquet to stdout: one line before the journal is read (pyarrow
    said "Failed to open local file ... Detail: [errno 21]" after the whole replay)."""
    path, _ = futu_journal
    done = run_obview("export", str(path), "--to", "parquet", str(tmp_path))
    assert (done.returncode, done.stderr) == (1, f"obview: cannot write {tmp_path}: it is a folder\n")
    done = run_obview("export", str(path), "--to", "parquet", "-")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "obview: --to parquet needs a file: a Parquet file is not a stream " \
                          "(- is for --to ndjson)\n"
    done = run_obview("export", str(path), "--to", "ndjson", "")
    assert (done.returncode, done.stderr) == (
        2, "obview: OUT is empty: give a file name (or - for stdout, with --to ndjson)\n")


def test_export_parquet_rows_are_exact_level_changes(futu_journal, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path, live = futu_journal
    out = tmp_path / "out.parquet"
    done = run_obview("export", str(path), "--to", "parquet", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.column_names == ["recv_mono", "recv_wall", "venue_ts", "venue", "symbol",
                                  "stream", "source", "side", "price", "size", "orders",
                                  "snapshot", "version"]
    assert str(table.schema.field("price").type).startswith("decimal128")
    rows = table.to_pylist()
    assert len(rows) > len(live)
    assert all(type(row["price"]) is Decimal and type(row["size"]) is Decimal for row in rows)
    # Rebuilt from the rows alone (a snapshot starts its side over, size 0 removes a level),
    # each book is, at every version the live run printed, the book it printed.
    books: dict[tuple[str, str], dict[Decimal, tuple[Decimal, int]]] = {}
    history: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    last_group = None
    for row in rows:
        key = (row["symbol"], row["side"])
        group = (key, row["version"], row["recv_mono"])
        side = books.setdefault(key, {})
        if row["snapshot"] and group != last_group:
            side.clear()
        last_group = group
        if row["size"] == 0:
            side.pop(row["price"], None)
        else:
            side[row["price"]] = (row["size"], row["orders"])
        states = history.setdefault(key, [])
        if states and states[-1][0] == row["version"]:
            states.pop()
        states.append((row["version"], dict(side)))

    def rebuilt(symbol: str, side: str, version: int) -> list[tuple[Decimal, Decimal, int]]:
        states = history[(symbol, side)]
        at = bisect.bisect_right([v for v, _ in states], version) - 1
        assert at >= 0, (symbol, side, version)
        levels = sorted(states[at][1].items(), reverse=side == "bid")
        return [(price, size, orders) for price, (size, orders) in levels]

    for text in live:
        obj = json.loads(text)
        for side in ("bid", "ask"):
            printed = [(Decimal(p), Decimal(s), o) for p, s, o, *_ in obj[side + "s"]]
            assert rebuilt(obj["symbol"], side, obj["version"])[:len(printed)] == printed, (
                obj["symbol"], side, obj["version"])
    assert {symbol for symbol, _ in books} == {json.loads(t)["symbol"] for t in live}
    # and the dataframe libraries read the file as it is: exact decimals, integer stamps
    # (the README's reading advice)
    pandas = pytest.importorskip("pandas")
    assert len(pandas.read_parquet(out)) == len(rows)
    frame = pandas.read_parquet(out, dtype_backend="pyarrow")
    assert str(frame["venue_ts"].dtype) == "int64[pyarrow]"
    assert frame["price"].tolist() == [row["price"] for row in rows]
    polars = pytest.importorskip("polars")
    frame = polars.read_parquet(out)
    assert frame.schema["venue_ts"] == polars.Int64 and frame.schema["orders"] == polars.Int64
    assert isinstance(frame.schema["price"], polars.Decimal)
    assert frame["price"].to_list() == [row["price"] for row in rows]
    assert frame["size"].to_list() == [row["size"] for row in rows]


def test_export_parquet_without_pyarrow_says_how_to_get_it(futu_journal, tmp_path):
    path, _ = futu_journal
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from obview.cli import main\n"
            f"main(['export', {str(path)!r}, '--to', 'parquet', {str(tmp_path / 'x.parquet')!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=obview_env(), cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("obview: export --to parquet needs pyarrow: "
                                   "pip install 'obview[parquet]'")


def test_a_frame_its_framing_refused_counts_in_the_replay_as_it_did_live(tmp_path):
    """A push with a wrong SHA-1 never becomes a frame line (the framing refuses its
    bytes before the journal sees them), yet live counted it as a bad frame: the
    connection's `dis` line says so, and the replay counts it there: both say the same
    counts."""
    path = tmp_path / "bad-sha.ndjson.zst"
    live = run_obview("futu", "HK.00700", "--sim", "--fault", "rate=200", "--fault",
                      "bad_sha_after=20", "--stream", "json", "--count", "60",
                      "--record", str(path))
    assert live.returncode == 0, live.stderr
    said = "obview: warning: futu: 1 bad frame, 1 reconnect so far (SHA-1 mismatch"
    assert said in live.stderr, live.stderr
    ended = [line for line in JournalReader(path).lines() if type(line) is Disconnect]
    assert [line.bf for line in ended] == [1, 0], ended  # the refusal; the close
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    assert said in done.stderr, done.stderr  # (live's says when it retried; a replay does not)
    # a damaged count is counted at once, not one frame at a time (that took for ever)
    text = zstandard.ZstdDecompressor().stream_reader(path.read_bytes(),
                                                      read_across_frames=True).read()
    assert text.count(b'"bf":1') == 1
    damaged = tmp_path / "bf.ndjson.zst"
    damaged.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(
        text.replace(b'"bf":1', b'"bf":1000000000000')))
    done = run_obview("replay", str(damaged), "--stream", "json", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "futu: 1000000000000 bad frames, 1 reconnect" in done.stderr, done.stderr


def test_a_killed_recording_replays_up_to_its_tail(tmp_path):
    path = tmp_path / "killed.ndjson.zst"
    proc = subprocess.Popen([sys.executable, "-m", "obview", "futu", "HK.00700", "--sim",
                             "--stream", "json", "--record", str(path)],
                            env=obview_env(), cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = [proc.stdout.readline() for _ in range(40)]
        assert all(printed)
        # the writer flushes at least once a second: wait until a push is readable
        dctx = zstandard.ZstdDecompressor()
        import time
        deadline = time.monotonic() + 10
        while True:
            data = path.read_bytes()
            text = dctx.decompressobj().decompress(data)
            if text.count(b'"pid":3013') >= 20:
                break
            assert time.monotonic() < deadline, "the journal reached the disk within the second"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    assert "ends abruptly" in done.stderr and done.stderr.count("\n") == 1
    replayed = done.stdout.splitlines()
    assert len(replayed) >= 10
    assert [without_local_stamps(t) for t in replayed[:10]] == \
        [without_local_stamps(t) for t in printed[:10]]


def test_a_replay_says_where_its_session_came_from(futu_journal):
    """A session recorded from the simulator is not said to come from the address the
    config names by default (OpenD on this machine, or the venue's own server)."""
    from obview.replay.player import ReplayPlayer, build_feed
    from obview.venues import config

    path, _ = futu_journal
    player = ReplayPlayer([path])
    assert [feed.address for feed in player.feeds] == ["replay of a simulator session"]
    live = build_feed(config("futu", ["HK.00700"], host="10.0.0.5", port=11111))
    assert live.address == "replay of 10.0.0.5:11111"
