"""Loopring and bthub: live --stream json = replay; no secret in the journal; bad journals."""

from __future__ import annotations

import shutil

import pytest
import zstandard

from obview.journal import Connect, Frame, Gap, JournalReader, Subscribe
from tests.conftest import run_obview
from tests.replay.conftest import record, without_local_stamps

PASSWORD = "pw-Zq81xVt5-secret"
API_KEY = "lrk-7Hq2Lm9Wx4Pz"


def _same(live: list[str], path) -> list[str]:
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    replayed = done.stdout.splitlines()
    assert len(replayed) >= len(live)
    assert [without_local_stamps(t) for t in replayed[:len(live)]] == \
        [without_local_stamps(t) for t in live]
    return replayed


def test_loopring_gap_resyncs_in_replay_as_it_did_live(tmp_path):
    path = tmp_path / "lr.ndjson.zst"
    live = record(path, "loopring", "LRC-ETH", "--sim", "--fault", "skip=20", "--fault",
                  "rate=50", count=120)
    lines = list(JournalReader(path))
    assert any(type(line) is Gap for line in lines), "the simulator skipped a version"
    assert {f.ch for f in lines if type(f) is Frame} == {"ws", "rest"}
    _same(live, path)


def test_bthub_replays_as_live(tmp_path):
    path = tmp_path / "bt.ndjson.zst"
    live = record(path, "bthub", "BTCUSDT", "--sim", "--fault", "rate=100", count=120)
    lines = list(JournalReader(path))
    ws = next(line for line in lines if type(line) is Connect and line.ch == "ws")
    (sub,) = [line for line in lines if type(line) is Subscribe]
    assert (sub.vn, sub.c, sub.sy) == ("bthub", ws.c, "BTCUSDT")
    assert sub.x["topics"] == ["apiAggregatedQuote", "apiQuote"]
    _same(live, path)


def test_no_secret_enters_a_journal(tmp_path):
    bthub = tmp_path / "bt.ndjson.zst"
    done = run_obview("bthub", "BTCUSDT", "--sim", "--stream", "json", "--count", "30",
                      "--record", str(bthub), OBVIEW_BTHUB_USER="carol",
                      OBVIEW_BTHUB_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    loopring = tmp_path / "lr.ndjson.zst"
    done = run_obview("loopring", "LRC-ETH", "--sim", "--api", "v2", "--fault", f"api_key={API_KEY}",
                      "--stream", "json", "--count", "30", "--record", str(loopring),
                      OBVIEW_LOOPRING_API_KEY=API_KEY)
    assert done.returncode == 0, done.stderr
    dctx = zstandard.ZstdDecompressor()
    for path in (bthub, loopring):
        text = dctx.decompressobj().decompress(path.read_bytes()).decode()
        assert PASSWORD not in text and API_KEY not in text
        assert '"token":"' not in text or '"token":"**' in text
    tokens = [f.p for f in JournalReader(bthub) if type(f) is Frame and (f.u or "").endswith("/login")]
    assert tokens and '"token":"**' in tokens[0]


def test_bad_journals_say_one_line_and_exit_1(tmp_path, futu_journal):
    path, live = futu_journal
    plain = tmp_path / "plain.ndjson.zst"
    plain.write_text("hello\n")
    done = run_obview("replay", str(plain), "--stream", "json")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "is not an obview journal" in done.stderr and "Traceback" not in done.stderr

    newer = tmp_path / "newer.ndjson.zst"
    newer.write_bytes(zstandard.ZstdCompressor().compress(
        b'{"k":"hdr","v":99,"app":"9","m":1,"w":1,"sid":"x"}\n'))
    done = run_obview("replay", str(newer), "--stream", "json")
    assert done.returncode == 1 and "newer obview" in done.stderr
    assert done.stderr.count("\n") == 1

    # a corrupt line in the middle: the lines before it replay, then one line, exit 1
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    rows = raw.split(b"\n")
    cut = len(rows) // 2
    rows[cut] = b'{"k":"f","m":'
    bad = tmp_path / "badline.ndjson.zst"
    bad.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(rows)))
    done = run_obview("replay", str(bad), "--stream", "json")
    assert done.returncode == 1, done.stderr
    assert "corrupt" in done.stderr and done.stderr.count("\n") == 1
    printed = done.stdout.splitlines()
    assert 0 < len(printed) < len(live)
    assert [without_local_stamps(t) for t in printed] == \
        [without_local_stamps(t) for t in live[:len(printed)]]

    # bytes damaged in the compressed file: up to the damage, then one line
    damaged = tmp_path / "damaged.ndjson.zst"
    shutil.copy(path, damaged)
    data = bytearray(damaged.read_bytes())
    for i in range(len(data) * 2 // 3, len(data) * 2 // 3 + 64):
        data[i] ^= 0x5A
    damaged.write_bytes(bytes(data))
    done = run_obview("replay", str(damaged), "--stream", "json")
    assert done.returncode == 1 and "corrupt" in done.stderr and "Traceback" not in done.stderr

    # cut short (a copy in progress): a warning, every complete line, exit 0
    short = tmp_path / "short.ndjson.zst"
    short.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    done = run_obview("replay", str(short), "--stream", "json")
    assert done.returncode == 0 and "ends abruptly" in done.stderr
    assert 0 < len(done.stdout.splitlines()) < len(live)
    # an export of it says so too: a quant would otherwise take a part for the whole
    for to in ("ndjson", "parquet"):
        out = tmp_path / f"short.{to}"
        done = run_obview("export", str(short), "--to", to, str(out))
        assert done.returncode == 0 and out.exists(), done.stderr
        warning, wrote = done.stderr.splitlines()
        assert warning.startswith("obview: warning: ") and "ends abruptly" in warning
        assert wrote.startswith("obview: wrote ")
    # no folder for the output: said at once, before the journal is read
    done = run_obview("export", str(path), "--to", "parquet", str(tmp_path / "no" / "x.parquet"))
    assert (done.returncode, done.stderr) == (
        1, f"obview: cannot write {tmp_path / 'no' / 'x.parquet'}: no such folder\n")

    for name in ("export",):
        done = run_obview(name, str(plain), "--to", "ndjson", str(tmp_path / "o"))
        assert done.returncode == 1 and done.stderr.count("\n") == 1


@pytest.mark.parametrize("venue,symbol", [("futu", "HK.00700"), ("loopring", "LRC-ETH"),
                                           ("bthub", "BTCUSDT")])
def test_a_recorded_reconnect_replays_as_live_at_max_speed(tmp_path, venue, symbol):
    """Max speed (the default with --stream, and export's) leaves the feed no network
    time to end its session and set up the next one: the frames after a reconnect
    must still wait for it (they reached no book, and the replay stopped at the drop)."""
    path = tmp_path / f"{venue}.ndjson.zst"
    live = record(path, venue, symbol, "--sim", "--fault", "rate=100", "--fault",
                  "drop_after=30", count=120)
    connects = [line for line in JournalReader(path) if type(line) is Connect]
    assert len({line.c for line in connects}) > 1, "the simulator dropped the connection"
    _same(live, path)
    out = tmp_path / f"{venue}.out.ndjson"  # export always plays at max speed
    done = run_obview("export", str(path), "--to", "ndjson", str(out))
    assert done.returncode == 0, done.stderr
    exported = out.read_text().splitlines()
    assert [without_local_stamps(t) for t in exported[:len(live)]] == \
        [without_local_stamps(t) for t in live]


def _from_live(live: list[str], done) -> list[dict]:
    """The replayed lines, checked to be live's from one line on (the first: the book a
    checkpoint restored, which live printed at the push that made it)."""
    assert done.returncode == 0, done.stderr
    replayed = [without_local_stamps(t) for t in done.stdout.splitlines()]
    whole = [without_local_stamps(t) for t in live]
    assert replayed, f"nothing replayed; stderr: {done.stderr}"
    at = whole.index(replayed[0])
    assert replayed[:len(whole) - at] == whole[at:at + len(replayed)]
    return replayed


def test_a_rotated_loopring_part_and_a_from_into_it_replay_as_live(tmp_path):
    """Loopring reads its markets once, on the first connection: a later part given
    alone, or a --from into one, had no slot parser and printed nothing (exit 0). The
    checkpoint's context (`cx`) gives the feed what it needs to read on."""
    from datetime import UTC, datetime

    path = tmp_path / "lr.ndjson.zst"
    live = record(path, "loopring", "LRC-ETH", "--sim", "--fault", "rate=100",
                  "--record-rotate", "8K", count=600)
    parts = sorted(tmp_path.glob("lr.0*.ndjson.zst"))  # (how many: the machine's pace)
    assert parts and parts[0].name == "lr.0001.ndjson.zst"
    done = run_obview("replay", str(parts[0]), "--stream", "json")
    assert done.stderr.count("part 1 of its session") == 1, done.stderr
    replayed = _from_live(live, done)
    assert len(replayed) > 50
    frames = [line.w for line in JournalReader(parts[-1]) if type(line) is Frame]
    start = datetime.fromtimestamp(frames[len(frames) // 2] / 1e9, UTC).isoformat()
    done = run_obview("replay", str(path), "--stream", "json", "--from", start)
    after = _from_live(live, done)
    assert 0 < len(after) < len(replayed)


def test_a_rotated_demo_part_replays_every_feed_as_live(tmp_path):
    """A part of a four-feed session given alone: every stream prints, Loopring's too,
    each the lines live printed for it from the part's checkpoint on."""
    path = tmp_path / "demo.ndjson.zst"
    live = record(path, "demo", "--record-rotate", "4K", count=400)
    parts = sorted(tmp_path.glob("demo.0*.ndjson.zst"))
    assert len(parts) >= 2
    done = run_obview("replay", str(parts[len(parts) // 2]), "--stream", "json")
    assert done.returncode == 0, done.stderr

    def by_stream(lines: list[str]) -> dict[tuple[str, str], list[dict]]:
        streams: dict[tuple[str, str], list[dict]] = {}
        for text in lines:
            line = without_local_stamps(text)
            streams.setdefault((line["venue"], line["symbol"]), []).append(line)
        return streams

    was, now = by_stream(live), by_stream(done.stdout.splitlines())
    assert set(now) == set(was) and len(was) == 4, sorted(now)
    for key, lines in now.items():
        at = was[key].index(lines[0])
        assert lines[:len(was[key]) - at] == was[key][at:at + len(lines)], key


def test_demo_replays_as_live_across_its_four_feeds(tmp_path):
    path = tmp_path / "demo.ndjson.zst"
    live = record(path, "demo", count=200)
    header = JournalReader(path).headers[0]
    assert [f["venue"] for f in header.o["feeds"]] == ["futu", "futu", "loopring", "bthub"]
    _same(live, path)


def test_each_replayed_loopring_push_is_stamped_with_its_own_frame(tmp_path):
    """Frames of a link that takes messages are handed over one by one, not grouped into
    reads: each book change must still see the journal time of the frame that made it
    (what the export's recv columns and the heatmap's sampling read)."""
    import asyncio

    import msgspec

    from obview.events import BookChanged
    from obview.replay import ReplayPlayer

    path = tmp_path / "lr.ndjson.zst"
    record(path, "loopring", "LRC-ETH", "--sim", "--fault", "skip=40", "--fault",
           "rate=100", count=150)
    stamp_of = {}  # endVersion -> (mono, wall) of the push that carried it
    replies = set()  # the REST replies' stamps
    for line in JournalReader(path):
        if type(line) is Frame and line.ch == "rest":
            replies.add((line.m, line.w))
        if type(line) is Frame and line.ch == "ws" and line.p and '"endVersion"' in line.p:
            push = msgspec.json.decode(line.p)
            stamp_of[int(push["endVersion"])] = (line.m, line.w)
    assert len(stamp_of) > 100

    async def replay() -> list[tuple[int, tuple[int, int]]]:
        player = ReplayPlayer([path], speed=None)
        (feed,) = player.feeds
        seen = []
        feed.add_listener(lambda event: seen.append((event.stream.book.version,
                                                     (player.mono, player.wall)))
                          if type(event) is BookChanged else None)
        tasks = [asyncio.create_task(feed.run()), asyncio.create_task(player.run())]
        await asyncio.wait_for(player.finished.wait(), 30)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return seen

    seen = asyncio.run(replay())
    pushed = [(version, at) for version, at in seen if version in stamp_of]
    # pushes held back while a resync fetched its snapshot apply when the reply comes
    own = [(version, at) for version, at in pushed if at not in replies]
    assert len(own) > 100
    assert [at for _, at in own] == [stamp_of[version] for version, _ in own]


def test_an_exception_in_a_replayed_message_ends_its_link_not_the_replay(tmp_path):
    """What the venue's read path raises for one message ends that recorded connection,
    as it ended the read loop live; the player goes on to the journal's end."""
    import asyncio

    from obview.replay import ReplayPlayer

    path = tmp_path / "lr.ndjson.zst"
    record(path, "loopring", "LRC-ETH", "--sim", "--fault", "rate=100", count=80)

    async def replay() -> tuple[int, BaseException | None]:
        player = ReplayPlayer([path], speed=None)
        (feed,) = player.feeds
        take = feed._replay_message  # what the link is given for each message
        handed = [0]

        def failing(frame) -> bool:
            handed[0] += 1
            if handed[0] == 40:
                raise RuntimeError("a bug in the read path")
            return take(frame)

        feed._replay_message = failing
        tasks = [asyncio.create_task(feed.run())]
        driver = asyncio.create_task(player.run())
        await asyncio.wait_for(player.finished.wait(), 30)
        failed = driver.exception() if driver.done() else None
        driver.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(driver, *tasks, return_exceptions=True)
        return handed[0], failed

    handed, failed = asyncio.run(replay())
    assert failed is None
    assert handed == 40  # nothing of the failed connection after the message that raised


def test_the_replay_tui_without_a_terminal_is_one_line_exit_2(futu_journal):
    """...and its hint names only what replay takes: it has --stream, and no --dump (the
    hint had said "use --dump json or --stream json", the venue commands' words)."""
    path, _ = futu_journal
    done = run_obview("replay", str(path), timeout=30)  # stdin at end-of-file, stdout a pipe
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "obview: the TUI needs a terminal and stdin/stdout is not one: "
        "in scripts use --stream json"]
    assert run_obview("replay", str(path), "--stream", "json", "--count", "1").returncode == 0


def test_a_bthub_replay_counts_its_pushes_afresh_after_a_seek_and_names_its_source(tmp_path):
    """bthub has no book versions: the status bar shows the stream's push count, which a
    seek back to the journal's start (no checkpoint to restore it from) kept adding to.
    And the replay's placeholder password, "replay", was registered as a secret, so every
    "replay" in the feed's status read "***"."""
    import asyncio

    from obview.events import StatusChanged
    from obview.replay import ReplayPlayer

    path = tmp_path / "bt.ndjson.zst"
    record(path, "bthub", "BTCUSDT", "--sim", "--fault", "rate=100", count=120)

    async def replay() -> tuple[list[int], list[str]]:
        player = ReplayPlayer([path], speed=None)
        (feed,) = player.feeds
        texts: list[str] = []
        feed.add_listener(lambda e: texts.append(e.text) if type(e) is StatusChanged else None)
        tasks = [asyncio.create_task(feed.run()), asyncio.create_task(player.run())]
        counts = []
        try:
            for _ in range(2):
                await asyncio.wait_for(player.finished.wait(), 30)
                counts.append(feed.streams["BTCUSDT"].pushes)
                player.seek(player.first_wall)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return counts, texts

    counts, texts = asyncio.run(replay())
    assert counts[0] > 100 and counts == [counts[0]] * 2
    assert any("logging in to replay of a simulator session" in t for t in texts), texts
    assert not any("***" in t for t in texts), texts


def test_a_trades_session_replays_and_exports_its_trade_lines(tmp_path):
    """A live `--stream json --trades` printed trade lines: its replay and its ndjson
    export printed book lines instead (the header did not say what the run printed), the
    trades' recv_ts was the replay's own clock (the recording's age, not its stamps),
    and a --from printed the prints before it too."""
    import datetime as dt
    import json

    path = tmp_path / "lt.ndjson.zst"
    live = record(path, "loopring", "LRC-ETH", "--sim", "--fault", "rate=50", "--trades",
                  count=60)
    assert {json.loads(t)["type"] for t in live} == {"trade"}
    replayed = _same(live, path)
    for said, again in zip(live, replayed, strict=False):
        assert abs(json.loads(said)["recv_ts"] - json.loads(again)["recv_ts"]) <= 5
    out = tmp_path / "lt.out.ndjson"
    done = run_obview("export", str(path), "--to", "ndjson", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines() == replayed
    start = json.loads(live[30])["recv_ts"]
    when = dt.datetime.fromtimestamp(start / 1000, dt.UTC).isoformat()
    done = run_obview("replay", str(path), "--stream", "json", "--from", when)
    assert done.returncode == 0, done.stderr
    later = [json.loads(t) for t in done.stdout.splitlines()]
    assert later and len(later) < len(replayed) - 20
    assert all(t["type"] == "trade" and t["recv_ts"] >= start - 1 for t in later)



def test_a_bthub_orders_session_replays_its_order_lines(tmp_path):
    """bthub announces changed orders at most every 0.2 s (the latest state of each):
    on this machine's clock, where a replay at max speed plays a whole session in a
    moment, it printed a handful of the lines live printed (9 of 100). On the journal's
    clock it prints what live did (a line can merge with the next where live's loop
    took two messages in one turn, which the journal does not tell)."""
    import json
    from collections import Counter

    path = tmp_path / "bo.ndjson.zst"
    live = record(path, "bthub", "BTCUSDT", "--sim", "--orders", count=40)
    assert {json.loads(t)["kind"] for t in live} == {"order"}
    done = run_obview("replay", str(path), "--stream", "json")
    assert done.returncode == 0, done.stderr
    replayed = done.stdout.splitlines()[:len(live)]
    assert len(replayed) >= len(live) - 2
    assert sum((Counter(live) & Counter(replayed)).values()) >= len(live) - 4


def test_a_seek_forgets_the_orders_of_the_timeline_it_left(tmp_path):
    """A checkpoint holds books, not orders: after a seek the orders (and risk) table
    kept the rows of the timeline left, so home showed the end's orders at the journal's
    start, and end showed an order's older state beside later ones. A seek forgets them,
    says so to the screen (a RecordsChanged) and the journal brings them back."""
    import asyncio

    from obview.events import RecordsChanged
    from obview.feed import RecordKind
    from obview.replay import ReplayPlayer

    path = tmp_path / "bo.ndjson.zst"
    record(path, "bthub", "BTCUSDT", "--sim", "--orders", count=40)

    async def replay() -> None:
        player = ReplayPlayer([path], speed=None)
        (feed,) = player.feeds
        changed: list[RecordsChanged] = []
        feed.add_listener(lambda e: changed.append(e) if type(e) is RecordsChanged else None)
        tasks = [asyncio.create_task(feed.run()), asyncio.create_task(player.run())]
        try:
            await asyncio.wait_for(player.finished.wait(), 30)
            orders = feed.records[RecordKind.ORDERS]
            at_end = dict(orders)
            assert len(at_end) >= 2
            changed.clear()
            player.seek(player.first_wall)
            assert not orders  # the journal's start: no order yet
            assert any(e.kind == RecordKind.ORDERS for e in changed)  # the table is told
            await asyncio.wait_for(player.finished.wait(), 30)
            assert feed.records[RecordKind.ORDERS] == at_end  # played again: the same
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(replay())
