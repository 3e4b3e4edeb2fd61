"""The app's tabs. Each pane owns what it shows, so the app keeps one list of panes
instead of parallel dicts keyed by feed and stream."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TabPane

from obview.depth_history import DEFAULT_HISTORY_S, DepthHistory, SlotSampler
from obview.feed import Feed, Stream, TradeKind
from obview.tui.heatmap import HeatmapView
from obview.tui.ladder import Ladder, price_places
from obview.tui.panels import HealthPanel, StreamClock
from obview.tui.records import OrdersTable, RiskTable
from obview.tui.tape import TapeView

RECORD_EVERY = 0.02  # s: the heatmap's finest columns are 100 ms wide
LAYOUTS = ("ladder", "split", "heatmap")  # `h`: ladder | ladder + heatmap | heatmap
REBUILDING = "rebuilding history…"


class StreamPane(TabPane):
    """One stream's tab: its ladder, its depth heatmap, its health panel and the push
    clock they share.

    The heatmap's history is recorded on every coalesced book update, whether or not
    the heatmap (or the tab) is on screen, so showing it shows the past; drawing it
    costs nothing while hidden. Masked times (snapshots): each recorded book is one
    second after the previous one, so the picture depends on the books, not on when
    they arrived.

    Replay (the feed declares `capabilities.replay`): the history is on the journal's
    clock, not the screen's. The app hands every book change and print over as it
    happens (`journal_book`, `journal_trades`), stamped with the journal's time; a
    `SlotSampler` samples the book on a fixed grid of journal time, the heatmap's columns
    advance with the journal (paused: frozen), its readout shows the journal's wall
    clock. A seek clears the history and the app rebuilds it from the journal
    (`journal_seeked`, `journal_caught_up`, `adopt_history`; docs/replay.md).
    """

    def __init__(self, pane_id: str, feed: Feed, stream: Stream, depth: int, *,
                 mask_times: bool, frozen: bool, compact: bool,
                 history_s: float = DEFAULT_HISTORY_S) -> None:
        self.feed = feed
        self.stream = stream
        self.label_text = stream.key
        self.mask_times = mask_times
        self.history_s = history_s
        self.layout_name = LAYOUTS[0]
        self._books_recorded = 0
        self._last_record = 0.0
        self._record_pending = False
        self.ladder = Ladder(feed, stream, depth, frozen_time=mask_times)
        self.ladder.frozen = frozen
        self.ladder.on_view = self.follow_ladder
        self.history = DepthHistory(history_s)
        # replay: the journal's time drives the history (masked snapshots keep theirs)
        self.journal = None if mask_times else feed.capabilities.replay
        self.clock = StreamClock(self.journal)  # (replay: push timing as received then)
        self.sampler = SlotSampler(self.history, stream.book) if self.journal else None
        self.heatmap = self._new_heatmap()
        self.health = HealthPanel(feed, stream, self.clock, self.ladder.paint_delay,
                                  mask_times=mask_times)
        self.health.compact = compact
        # a venue that declares a tape gets one, above the health panel; the account's
        # own fills are the symbol's, on its own stream: a counterparty's book (a source)
        # gets none, where it had a tape that stayed "last –  vol 0" for good
        kind = feed.capabilities.trades
        own = kind is TradeKind.OWN
        has_tape = (own and not stream.source) or (kind is TradeKind.MARKET
                                                   and feed.trades_enabled)
        on_journal = mask_times or self.journal is not None  # times as epoch seconds, UTC
        self.tape = TapeView(stream.tape, mask_times=mask_times, utc=on_journal, own=own,
                             epoch_offset=0 if on_journal else None) if has_tape else None
        self.pending_trades: list = []  # printed, not yet handled by the app
        side = self.health if self.tape is None else Vertical(self.tape, self.health,
                                                              classes="side")
        self.book = Horizontal(self.ladder, self.heatmap, side, classes="book")
        super().__init__(stream.key, self.book, id=pane_id)

    def _new_heatmap(self) -> HeatmapView:
        if self.journal is not None:  # the journal's wall clock: epoch seconds already
            heatmap = HeatmapView(self.history, step=self.ladder.step,
                                  clock=self._journal_seconds, epoch_offset=0, utc=True)
        else:
            heatmap = HeatmapView(self.history, step=self.ladder.step,
                                  clock=None if self.mask_times else time.monotonic,
                                  epoch_offset=0 if self.mask_times else None,
                                  utc=self.mask_times)
        heatmap.display = self.layout_name != "ladder"
        return heatmap

    def focus_target(self):
        return self.heatmap if self.layout_name == "heatmap" else self.ladder

    def data_clock(self) -> tuple[Callable[[], float], bool]:
        """Epoch seconds of the data now, and whether they read in UTC: the journal's time
        in a replay (as on the tape and the heatmap), else this machine's, local."""
        journal = self.journal
        if journal is not None:
            return (lambda: journal.clock().wall / 1e9), True
        return time.time, False

    # -- the book and its history ----------------------------------------------------
    def _now(self) -> float:
        if self.mask_times:
            return float(self._books_recorded)
        return self.stream.book.recv_mono or time.monotonic()

    def book_updated(self, changed_at: float | None = None) -> None:
        """One coalesced book change (its first push at `changed_at`, monotonic): into
        the history, then the ladder (and the heatmap, if shown) redraw within a frame."""
        self.ladder.mark_dirty(changed_at)
        if self.journal is not None:  # recorded as it happened (journal_book)
            return
        if self.mask_times:
            self._record()
            return
        # at most one book every RECORD_EVERY s (a recording walks 200 levels, ~0.2 ms,
        # for every tab, shown or not): the last book of a burst is recorded at its end
        wait = self._last_record + RECORD_EVERY - time.monotonic()
        if wait <= 0:
            self._record()
        elif not self._record_pending:
            self._record_pending = True
            asyncio.get_running_loop().call_later(wait, self._record)

    def record_book(self) -> None:
        """A sample of a book not on screen into its history (nothing drawn)."""
        if self.journal is None and not self._record_pending:
            self._record()

    def _record(self) -> None:
        self._record_pending = False
        self._last_record = time.monotonic()
        self._books_recorded += 1
        self.history.record(self.stream.book, self._now())
        if self.heatmap.display:
            self.heatmap.mark_dirty()

    def trades_arrived(self) -> None:
        """The prints queued since the last call: onto the heatmap and the tape."""
        trades, self.pending_trades = self.pending_trades, []
        if self.mask_times:  # the heatmap's masked clock: at the book they came with
            now = self._now()
            trades = [dataclasses.replace(trade, mono=now) for trade in trades]
        if self.journal is None:  # (replay: on the heatmap already, journal_trades)
            for trade in trades:
                if trade.side is not None:  # a print without an aggressor has no marker side
                    self.history.record_trade(trade)
        if self.heatmap.display:
            self.heatmap.mark_dirty()
        if self.tape is not None:
            self.tape.places = price_places(self.stream.book)
            self.tape.add(trades)

    # -- replay: the history on the journal's clock ---------------------------------------
    def _journal_ns(self) -> int:
        return self.journal.clock().wall

    def _journal_seconds(self) -> float:
        """The heatmap's clock: the journal's wall time up to which every line has been
        handed over (a sample whose slot ended by then is recorded first)."""
        now = self._journal_ns()
        self.sampler.flush_due(now)
        return now / 1e9

    def journal_book(self) -> None:
        """The book changed, now in journal time (called as the feed applies it)."""
        due = self.sampler.changed(self._journal_ns())
        if due is not None:
            self.journal.call_at(due, partial(self._journal_due, due))

    def _journal_due(self, due: int) -> None:
        sampler = self.sampler
        if sampler.due == due:
            sampler.flush()
            if self.heatmap.display:
                self.heatmap.mark_dirty()

    def journal_trades(self, trades: list) -> list:
        """Prints as the feed counts them: onto the heatmap at the journal's time, and
        returned stamped with it (the tape shows when they were received then)."""
        now = self._journal_ns()
        seconds = now / 1e9
        trades = [dataclasses.replace(trade, mono=seconds) for trade in trades]
        if self.sampler.armed:
            self.sampler.trades(trades, now)
            if self.heatmap.display:
                self.heatmap.mark_dirty()
        return trades

    def journal_seeked(self) -> None:
        """The replay jumped: what was recorded belongs to another moment. Nothing is
        recorded while the books catch up (the rebuild covers that time)."""
        self.sampler.stop()
        self.clock.restart()
        # the latency panel's figures too: they measured the timeline left
        self.clock.venue_age.reset()
        self.ladder.paint_delay.reset()
        for stats in self.stream.latency.values():
            stats.reset()
        self.history.clear()
        self.pending_trades.clear()
        if self.tape is not None:
            self.tape.clear()
        self.heatmap.history_replaced()
        self.heatmap.set_note(REBUILDING)

    def journal_caught_up(self, split: int | None) -> None:
        """Every line before the target is in the books: record from `split` (the
        next line's stamp) on."""
        if split is not None:
            due = self.sampler.start(split)
            self.journal.call_at(due, partial(self._journal_due, due))

    async def adopt_history(self, older: DepthHistory) -> None:
        """The rebuilt past (a `history.sibling()`, filled up to where recording
        resumed) in front of what was recorded since, without holding the loop."""
        history = self.history
        while older.places != history.places:
            if older.places < history.places:  # the big one: rescaled in slices
                for _ in older.rescaling(history.places):
                    await asyncio.sleep(0)
            else:  # the few columns since the seek: at once
                for _ in history.rescaling(older.places):
                    pass
        history.prepend(older)
        self.heatmap.history_replaced()
        self.heatmap.set_note(None)

    def follow_ladder(self) -> None:
        """The heatmap's rows follow the ladder's grouping and its prices: beside it, the
        rows on screen; alone, the rows of its depth (`d`), as it would show them."""
        heatmap = self.heatmap
        heatmap.set_step(self.ladder.step)
        if self.layout_name == "split":
            heatmap.hold_prices(None)
            shown = self.ladder.shown_prices()
            heatmap.follow_prices(*(shown or (None, None)))
        elif self.layout_name == "heatmap":
            heatmap.hold_prices(self.ladder.depth_prices)
        else:
            heatmap.hold_prices(None)
            heatmap.follow_prices(None, None)

    async def fresh_history(self) -> None:
        """A different book is coming (another aggregation level): a new history, as the
        ladder forgets its flashes and deltas."""
        self.history = DepthHistory(self.history_s)
        if self.sampler is not None:
            self.sampler.history = self.history
        self._books_recorded = 0
        if self.tape is not None:
            self.tape.clear()
        old, self.heatmap = self.heatmap, self._new_heatmap()
        await self.book.mount(self.heatmap, after=old)
        await old.remove()
        self.follow_ladder()

    def cycle_layout(self) -> str:
        """`h`: ladder | ladder + heatmap | heatmap. Returns the new layout's name."""
        self.layout_name = LAYOUTS[(LAYOUTS.index(self.layout_name) + 1) % len(LAYOUTS)]
        for name in LAYOUTS:
            self.book.set_class(name == self.layout_name, f"-{name}")
        self.heatmap.display = self.layout_name != "ladder"
        self.ladder.display = self.layout_name != "heatmap"
        self.health.paint_measured = self.ladder.display  # (the delay is the ladder's paint)
        self.follow_ladder()
        self.heatmap.mark_dirty()
        self.ladder.mark_dirty()
        return self.layout_name

    def tick(self) -> None:
        if self.health.is_mounted:
            self.health.tick()


class RecordsPane(TabPane):
    """A feed's records of one kind (orders or risk) as a table."""

    def __init__(self, pane_id: str, feed: Feed, kind: str) -> None:
        self.feed = feed
        self.kind = kind
        self.table = OrdersTable(feed) if kind == "orders" else RiskTable(feed)
        symbols = sorted({s.symbol for s in feed.streams.values()})
        self.label_text = f"{' '.join(symbols)} {kind}".strip()
        super().__init__(self.label_text, self.table, id=pane_id)

    @property
    def stream(self) -> Stream | None:
        """The stream the status bar describes while this tab is in front."""
        return next(iter(self.feed.streams.values()), None)

    def focus_target(self):
        return self.table

    def tick(self) -> None:
        pass


class ErrorPane(TabPane):
    """A venue that could not start: what and why, in place of its books."""

    feed = None
    stream = None

    def __init__(self, pane_id: str, venue: str, symbols: list[str], reason: str) -> None:
        self.label_text = f"{venue} ✗"
        text = Text(f"\n  {venue} {' '.join(symbols)}: cannot start\n\n  {reason}\n")
        super().__init__(self.label_text, Static(text, classes="error-text"), id=pane_id)

    def focus_target(self):
        return None

    def tick(self) -> None:
        pass
