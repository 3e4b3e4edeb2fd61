"""`obview export`: a journal replayed as fast as possible into a file for analysis.

`--to ndjson` writes the `--stream json` lines. `--to parquet` writes one row per level
change, found by comparing each applied update's book with the one before (a snapshot
writes every level, with `snapshot` true: a reader starts its book over there). A level
that left the book gets a row with size 0. Prices and sizes stay exact: decimal128 with
the journal's largest scale when every value fits 38 digits, else strings. The columns
are listed in README.md ("Record and replay").
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from obview.events import BookChanged, Event, FeedFailed
from obview.headless import SHUTDOWN_GRACE, HeadlessFailure
from obview.journal import JournalError
from obview.replay.player import ReplayPlayer

PARQUET_HINT = "export --to parquet needs pyarrow: pip install 'obview[parquet]'"
MAX_DIGITS = 38  # decimal128


class ExportError(Exception):
    """One line for the user (a missing optional dependency)."""


class ExportIncomplete(Exception):
    """The journal is damaged: OUT holds what came before the damage, `written` rows or
    lines of it (None on stdout: a pipe's lines are not counted). str() is the reader's
    one line."""

    def __init__(self, error: JournalError, written: int | None) -> None:
        super().__init__(str(error))
        self.written = written
        self.read_whole = error.read_whole  # OUT holds every line the journal could give


class _Counted:
    """The output file, counting the lines written to it: the count is what went out,
    whatever OUT is (reading OUT back counted 0 lines for /dev/null)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")  # one per JSON line: JSON escapes its own
        return self.out.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


class LevelChanges:
    """Rows of level changes, column by column, from the feeds' BookChanged events."""

    COLUMNS = ("recv_mono", "recv_wall", "venue_ts", "venue", "symbol", "stream", "source",
               "side", "price", "size", "orders", "snapshot", "version")

    def __init__(self, player: ReplayPlayer) -> None:
        self.player = player
        self.cols: dict[str, list[Any]] = {name: [] for name in self.COLUMNS}
        self._last: dict[tuple[int, str, bool], dict[Any, tuple[Decimal, int]]] = {}
        # a feed that stopped for good ends the export as it ends --to ndjson's (the
        # rows went on without it, and a header naming a market the session never had
        # exported 0 rows and exit status 0)
        self.failure: str | None = None
        self.failed = asyncio.Event()

    def on_event(self, event: Event) -> None:
        if type(event) is FeedFailed and self.failure is None:
            self.failure = f"{event.feed.venue}: {event.reason}"
            self.failed.set()
        if type(event) is not BookChanged or not event.stream.synced or self.player.catching_up:
            return
        stream = event.stream
        book = stream.book
        version = book.version if book.version is not None else stream.pushes
        for is_bid, side in ((True, book.bids), (False, book.asks)):
            key = (id(event.feed), stream.key, is_bid)
            now = {(lv.price, lv.source): (lv.size, lv.orders) for lv in side.iter_levels()}
            before = {} if event.snapshot else self._last.get(key, {})
            for spot, (size, orders) in now.items():
                if before.get(spot) != (size, orders):
                    self._row(event, spot, size, orders, is_bid, version)
            for spot in before.keys() - now.keys():
                self._row(event, spot, Decimal(0), 0, is_bid, version)
            self._last[key] = now

    def _row(self, event: BookChanged, spot: tuple, size: Decimal, orders: int, is_bid: bool,
             version: int | None) -> None:
        cols, player = self.cols, self.player
        cols["recv_mono"].append(player.mono)
        cols["recv_wall"].append(player.wall)
        cols["venue_ts"].append(event.stream.book.venue_ts)
        cols["venue"].append(event.feed.venue)
        cols["symbol"].append(event.stream.symbol)
        # which book: bthub's aggregated book and each counterparty's share venue and
        # symbol (BTCUSDT, BTCUSDT@okex, ...), as the JSON lines and checkpoints tell them
        cols["stream"].append(event.stream.key)
        cols["source"].append(spot[1])
        cols["side"].append("bid" if is_bid else "ask")
        cols["price"].append(spot[0])
        cols["size"].append(size)
        cols["orders"].append(orders)
        cols["snapshot"].append(bool(event.snapshot))
        cols["version"].append(version)

    def __len__(self) -> int:
        return len(self.cols["side"])


def _decimal_type(values: list[Decimal], pa):
    """decimal128(precision, scale) holding every value exactly, or None (strings)."""
    scale = 0
    whole = 1
    for value in values:
        sign, digits, exponent = value.as_tuple()
        places = -exponent if exponent < 0 else 0
        scale = max(scale, places)
        whole = max(whole, len(digits) + (exponent if exponent > 0 else 0) - places)
    if whole + scale > MAX_DIGITS:
        return None
    return pa.decimal128(whole + scale, scale)


def write_parquet(changes: LevelChanges, out: str | Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(PARQUET_HINT) from None
    cols = changes.cols
    arrays = {
        "recv_mono": pa.array(cols["recv_mono"], pa.int64()),
        "recv_wall": pa.array(cols["recv_wall"], pa.timestamp("ns", tz="UTC")),
        "venue_ts": pa.array(cols["venue_ts"], pa.int64()),
        "venue": pa.array(cols["venue"], pa.string()).dictionary_encode(),
        "symbol": pa.array(cols["symbol"], pa.string()).dictionary_encode(),
        "stream": pa.array(cols["stream"], pa.string()).dictionary_encode(),
        "source": pa.array(cols["source"], pa.string()),
        "side": pa.array(cols["side"], pa.string()).dictionary_encode(),
    }
    for name in ("price", "size"):
        kind = _decimal_type(cols[name], pa)
        arrays[name] = (pa.array(cols[name], kind) if kind is not None
                        else pa.array([format(v, "f") for v in cols[name]], pa.string()))
    arrays["orders"] = pa.array(cols["orders"], pa.int64())
    arrays["snapshot"] = pa.array(cols["snapshot"], pa.bool_())
    arrays["version"] = pa.array(cols["version"], pa.int64())
    pq.write_table(pa.table(arrays), str(out))


async def export_journal(path: str | Path, fmt: str, out: str | Path,
                         warn: Callable[[str], None] | None = None) -> int | None:
    """Rows (parquet) or lines (ndjson) written, None for ndjson to stdout (`out` "-",
    for a pipe: BrokenPipeError when its reader leaves); `warn` hears of a journal cut
    short or a missing part, whose export stops there. A damaged journal is exported up
    to the damage, in either format, then raises `ExportIncomplete`: what was read before
    it is worth keeping, and the user hears how much of it there is."""
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  # the hint before any replaying
        except ImportError:
            raise ExportError(PARQUET_HINT) from None
    player = ReplayPlayer([Path(path)], speed=None, warn=warn)
    if fmt == "ndjson":
        from obview.replay.headless import replay_headless

        if str(out) == "-":
            try:
                if not await replay_headless([], player=player, out=sys.stdout):
                    raise BrokenPipeError
            except JournalError as exc:
                raise ExportIncomplete(exc, None) from None
            return None
        with open(out, "w", encoding="utf-8") as fh:
            counted = _Counted(fh)
            try:
                await replay_headless([], player=player, out=counted)  # type: ignore[arg-type]
            except JournalError as exc:
                raise ExportIncomplete(exc, counted.lines) from None
        return counted.lines
    changes = LevelChanges(player)
    for feed in player.feeds:
        feed.add_listener(changes.on_event)
    tasks = [asyncio.create_task(feed.run()) for feed in player.feeds]
    driver = asyncio.create_task(player.run())
    ended = asyncio.create_task(player.finished.wait())
    failed = asyncio.create_task(changes.failed.wait())
    damage = None
    try:
        await asyncio.wait({driver, ended, failed}, return_when=asyncio.FIRST_COMPLETED)
        if driver.done() and driver.exception() is not None:
            raise driver.exception()
    except JournalError as exc:
        damage = exc  # the rows before it are written, as --to ndjson writes its lines
    finally:
        for task in (driver, ended, failed, *tasks):
            task.cancel()
        await asyncio.wait([driver, ended, failed, *tasks], timeout=SHUTDOWN_GRACE)
    write_parquet(changes, out)
    if changes.failure is not None:
        raise HeadlessFailure(changes.failure)
    if damage is not None:
        raise ExportIncomplete(damage, len(changes))
    return len(changes)
