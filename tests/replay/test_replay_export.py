"""`obview export`: the Parquet rows rebuild every book the session had."""

from __future__ import annotations

import asyncio
import bisect
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_obview
from tests.replay.conftest import record

Side = dict[tuple[Decimal, str | None], tuple[Decimal, int]]


def _rebuilt(rows: list[dict]) -> dict[tuple[str, str], list[tuple[int, Side]]]:
    """Each (stream, side)'s book after each version, from the rows alone: a snapshot
    starts the book over, size 0 removes a level; a level is a (price, source)."""
    books: dict[tuple[str, str], Side] = {}
    history: dict[tuple[str, str], list[tuple[int, Side]]] = {}
    last_group = None
    for row in rows:
        stream = row["stream"]
        group = (stream, row["version"], row["recv_mono"])
        if row["snapshot"] and group != last_group:
            for side in ("bid", "ask"):  # a snapshot holds both sides: an empty one too
                books[(stream, side)] = {}
        last_group = group
        key = (stream, row["side"])
        side = books.setdefault(key, {})
        spot = (row["price"], row["source"])
        if row["size"] == 0:
            side.pop(spot, None)
        else:
            side[spot] = (row["size"], row["orders"])
        for each in ("bid", "ask"):
            states = history.setdefault((stream, each), [])
            if states and states[-1][0] == row["version"]:
                states.pop()
            states.append((row["version"], dict(books.get((stream, each), {}))))
    return history


def _book_at(history, stream: str, side: str, version: int) -> list[list]:
    states = history[(stream, side)]
    at = bisect.bisect_right([v for v, _ in states], version) - 1
    assert at >= 0, (stream, side, version)
    # best first, as the book keeps them: by (price, source), bids from the top
    levels = sorted(states[at][1].items(), key=lambda kv: (kv[0][0], kv[0][1] or ""),
                    reverse=side == "bid")
    return [[price, size, orders, source] for (price, source), (size, orders) in levels]


async def _every_stream(path: Path) -> list[str]:
    """The replay's --stream json lines of every stream (headless prints the aggregated
    book, or --cp's), whole: the same printer, shown every stream at full depth."""
    from obview.replay import ReplayPlayer
    from obview.replay.headless import replay_headless

    player = ReplayPlayer([path], speed=None)
    for feed in player.feeds:
        feed.headless_streams = lambda: None
    out = io.StringIO()
    await replay_headless([], player=player, out=out, depth=1000)
    return out.getvalue().splitlines()


def _levels(obj: dict, side: str) -> list[list]:
    # [price, size, orders, (queue), source]: the source last, where the book has one
    return [[Decimal(row[0]), Decimal(row[1]), row[2], row[4] if len(row) > 4 else None]
            for row in obj[side + "s"]]


def test_bthub_parquet_rebuilds_every_streams_book(tmp_path):
    """The aggregated book and each counterparty's are all venue=bthub, symbol=BTCUSDT:
    the `stream` column (the JSON lines' and checkpoints' key, BTCUSDT@okex) says which
    book a row belongs to, and each rebuilds to the book the JSON lines print."""
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "bt.ndjson.zst"
    live = record(path, "bthub", "BTCUSDT", "--sim", "--fault", "rate=100", count=150)
    out = tmp_path / "bt.parquet"
    done = run_obview("export", str(path), "--to", "parquet", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.column_names[4:6] == ["symbol", "stream"]
    rows = table.to_pylist()
    history = _rebuilt(rows)

    lines = [json.loads(t) for t in asyncio.run(_every_stream(path))]
    keys = {o["symbol"] + (f"@{o['source']}" if "source" in o else "") for o in lines}
    assert len(keys) >= 3 and "BTCUSDT" in keys, keys  # the aggregated book and some cps
    assert {row["stream"] for row in rows} == keys
    for obj in lines:
        stream = obj["symbol"] + (f"@{obj['source']}" if "source" in obj else "")
        for side in ("bid", "ask"):
            assert _book_at(history, stream, side, obj["version"]) == _levels(obj, side), (
                stream, side, obj["version"])
    # and the aggregated book at every line the live run printed (its top 20 rows)
    for obj in map(json.loads, live):
        for side in ("bid", "ask"):
            printed = _levels(obj, side)
            assert _book_at(history, "BTCUSDT", side, obj["version"])[:len(printed)] == printed


def test_a_replayed_recv_ts_is_the_recorded_receive_time(futu_journal, tmp_path):
    """recv_ts was the time of the export (minutes after the session); it is when the read
    that carried the update was received, as the journal recorded it (its line's `w`, in
    ms): the same instant as Parquet's recv_wall, and the same in every replay."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from obview.journal import Frame, JournalReader

    path, live = futu_journal
    out, table_out = tmp_path / "out.ndjson", tmp_path / "out.parquet"
    for to, target in (("ndjson", out), ("parquet", table_out)):
        done = run_obview("export", str(path), "--to", to, str(target))
        assert done.returncode == 0, done.stderr
    lines = [json.loads(t) for t in out.read_text().splitlines()]
    reads = {line.w // 1_000_000 for line in JournalReader(path) if type(line) is Frame}
    assert [obj["recv_ts"] for obj in lines if obj["recv_ts"] not in reads] == []
    table = pq.read_table(table_out)
    walls = table.column("recv_wall").cast(pa.int64()).to_pylist()
    at = {}
    for row, wall in zip(table.to_pylist(), walls, strict=True):
        at.setdefault((row["stream"], row["version"]), set()).add(wall // 1_000_000)
    compared = 0
    for obj in lines:
        stamps = at.get((obj["symbol"], obj["version"]))
        if stamps is not None:  # an update that changed no level has no row
            assert stamps == {obj["recv_ts"]}, (obj["symbol"], obj["version"])
            compared += 1
    assert compared > len(lines) // 2
    # live stamps the book after decoding the read, the journal the read before, each
    # with its own wall-minus-monotonic offset (microseconds apart): the same instant
    # but for the decoding, usually to the ms (a pause of the live process while it
    # decoded is allowed for); the replay's own time was seconds after all of them
    late = [json.loads(a)["recv_ts"] - b["recv_ts"] for a, b in zip(live, lines, strict=False)]
    assert [ms for ms in late if not -1 <= ms <= 1_000] == []
    assert late.count(0) > len(late) // 2
