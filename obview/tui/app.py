"""The obview Textual app: one tab per stream, a status bar, keys for everything.

Data flow: each venue `Feed` runs as a worker on the app's loop and calls our
listener synchronously for every push. The listener does O(1) work (timing, a set
lookup) and posts at most one `BookUpdated` per stream until the app has handled
it; the handler marks that stream's ladder dirty, and the ladder redraws at most
once per frame. Widgets read books; nothing here parses or touches a socket.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from obview.events import BookChanged, FeedFailed, RecordsChanged, StatusChanged
from obview.feed import Feed, Stream
from obview.logs import status_note
from obview.tui.ladder import Ladder
from obview.tui.messages import BookUpdated, CursorMoved, FeedStopped, RecordsUpdated, StatusUpdated
from obview.tui.panels import HealthPanel, StatusBar, StreamClock
from obview.tui.records import OrdersTable, RiskTable
from obview.tui.screens import DrilldownScreen, ExecutionsScreen, HelpScreen
from obview.venues import VenueConfig

NARROW_WIDTH = 100
LADDER_ACTIONS = {"group", "depth", "delta", "level"}
BASE_SCREEN_ACTIONS = LADDER_ACTIONS | {"freeze", "next_tab", "prev_tab", "goto_tab"}
FIRST_PAINT_ENV = "OBVIEW_FIRST_PAINT_FILE"  # benchmark hook: write the time, then exit


class ObviewApp(App):
    """Live order books for the given venue configs (or ready-made feeds, for tests)."""

    CSS_PATH = str(Path(__file__).with_name("obview.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "obview"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("g", "group(1)", "Coarser"),
        Binding("G", "group(-1)", "Finer", key_display="G"),
        Binding("d", "depth", "Depth"),
        Binding("l", "level", "Level"),
        Binding("t", "delta", "Delta"),
        Binding("p", "freeze", "Freeze"),
        Binding("tab", "next_tab", "Next tab", priority=True, show=False),
        Binding("shift+tab", "prev_tab", "Previous tab", priority=True, show=False),
        *[Binding(str(n), f"goto_tab({n})", f"Tab {n}", show=False) for n in range(1, 10)],
    ]

    def __init__(self, configs: list[VenueConfig], feeds: list[Feed] | None = None, *,
                 mask_times: bool = False) -> None:
        super().__init__()
        self.configs = configs
        self.feeds: list[Feed] = list(feeds or [])
        self._given_feeds = feeds is not None
        self.mask_times = mask_times  # snapshots: hide wall-clock numbers, never fade
        self.frozen = False
        self.ladders: dict[tuple[int, str], Ladder] = {}
        self.health: dict[tuple[int, str], HealthPanel] = {}
        self.clocks: dict[tuple[int, str], StreamClock] = {}
        self.records: dict[tuple[int, str], OrdersTable | RiskTable] = {}
        self.pane_ids: list[str] = []
        self.pane_targets: dict[str, tuple[int, str]] = {}
        self.pane_titles: dict[str, str] = {}
        self.last_cursor_row = None
        self.book_messages = 0  # BookUpdated messages handled (tests check coalescing)
        self._queued: set[tuple[int, str]] = set()
        self._queued_records: set[tuple[int, str]] = set()  # like _queued, for records tables
        self._stale_records: set[tuple[int, str]] = set()  # hidden tables changed since shown
        self._stack = contextlib.AsyncExitStack()
        self._first_paint_file = os.environ.get(FIRST_PAINT_ENV)
        self.feeds_opened = False  # every config tried (opened or shown as an error tab)

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # kept as attributes: `query_one` searches the *current* screen, which may be a
        # drilldown or help screen when a feed event arrives
        self.tabs = TabbedContent(id="tabs")
        self.status_bar = StatusBar(mask_times=self.mask_times, id="status")
        yield self.tabs
        yield self.status_bar
        yield Footer()

    async def on_mount(self) -> None:
        # Everything alive now (Textual, widgets, imported modules) lives as long as the
        # app: keep it out of the cyclic GC's full collections, which otherwise rescan it
        # and stall the loop (measured: worst gen-2 pause 38 ms -> 20 ms under load).
        gc.collect()
        gc.freeze()
        self._apply_width(self.size.width)
        self.set_interval(0.25, self._tick)
        if self._given_feeds:
            for index, feed in enumerate(self.feeds):
                await self._attach(index, feed)
            self.feeds_opened = True
        else:
            self.run_worker(self._open_feeds(), name="open-feeds", group="feeds")

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        narrow = width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        for panel in self.health.values():
            panel.compact = narrow

    async def _open_feeds(self) -> None:
        from obview.venues import load

        for cfg in self.configs:
            index = len(self.feeds)
            try:
                feed = await load(cfg.venue).open_feed(cfg, self._stack)
            except Exception as exc:  # a venue that cannot start must not take the app down
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                await self._add_error_pane(cfg, reason)
                continue
            self.feeds.append(feed)
            await self._attach(index, feed, cfg.depth)
        self.feeds_opened = True

    async def _attach(self, index: int, feed: Feed, depth: int = 20) -> None:
        feed.add_listener(partial(self._on_feed_event, index))
        for stream in list(feed.streams.values()):
            await self._add_stream_pane(index, stream, depth)
        if hasattr(feed, "orders"):
            await self._add_records_pane(index, feed, "orders")
        if hasattr(feed, "risk"):
            await self._add_records_pane(index, feed, "risk")
        self.run_worker(feed.run(), name=f"feed-{index}", group="feeds", exit_on_error=False)
        if len(self.pane_ids) and self.tabs.active == "":
            self._activate(self.pane_ids[0])

    async def _add_pane(self, pane_id: str, title: str, *children,
                        after: str | None = None) -> None:
        """Add a tab (after `after`, else last) and renumber the tabs' labels."""
        tabs = self.tabs
        pane = TabPane(title, *children, id=pane_id)
        self.pane_titles[pane_id] = title
        if after in self.pane_ids:
            self.pane_ids.insert(self.pane_ids.index(after) + 1, pane_id)
            await tabs.add_pane(pane, after=after)
        else:
            self.pane_ids.append(pane_id)
            await tabs.add_pane(pane)
        for number, other in enumerate(self.pane_ids, 1):
            label = self.pane_titles[other]
            tabs.get_tab(other).label = f"{number} {label}" if number <= 9 else label
        if len(self.pane_ids) == 1:
            self._activate(pane_id)

    async def _add_stream_pane(self, index: int, stream: Stream, depth: int = 20) -> None:
        target = (index, stream.key)
        if target in self.ladders:
            return
        feed = self.feeds[index]
        pane_id = f"pane-{index}-{len(self.pane_titles)}"
        ladder = Ladder(feed, stream, depth, frozen_time=self.mask_times)
        ladder.frozen = self.frozen
        clock = self.clocks.setdefault(target, StreamClock())
        health = HealthPanel(feed, stream, clock, mask_times=self.mask_times)
        health.compact = self.size.width < NARROW_WIDTH
        self.ladders[target] = ladder
        self.health[target] = health
        self.pane_targets[pane_id] = target
        if self._first_paint_file:
            ladder.paint_hooks.append(self._first_paint_hook)
        # a stream that appears later (a bthub counterparty) goes next to its feed's others
        after = next((p for p in reversed(self.pane_ids)
                      if self.pane_targets.get(p, (None,))[0] == index and p != pane_id), None)
        await self._add_pane(pane_id, stream.key, Horizontal(ladder, health, classes="book"),
                             after=after)

    async def _add_records_pane(self, index: int, feed: Feed, kind: str) -> None:
        pane_id = f"pane-{index}-{len(self.pane_titles)}"
        table = OrdersTable(feed) if kind == "orders" else RiskTable(feed)
        self.records[(index, kind)] = table
        symbols = sorted({s.symbol for s in feed.streams.values()})
        await self._add_pane(pane_id, f"{' '.join(symbols)} {kind}".strip(), table)

    async def _add_error_pane(self, cfg: VenueConfig, reason: str) -> None:
        pane_id = f"pane-error-{len(self.pane_titles)}"
        text = Text(f"\n  {cfg.venue} {' '.join(cfg.symbols)}: cannot start\n\n  {reason}\n",
                    "bold #ff5f5f")
        await self._add_pane(pane_id, f"{cfg.venue} ✗", Static(text))
        self.notify(f"{cfg.venue}: {reason}", severity="error")

    # -- feed events -> messages (synchronous, called for every push) ---------------------
    def _on_feed_event(self, index: int, event) -> None:
        if isinstance(event, BookChanged):
            target = (index, event.stream.key)
            clock = self.clocks.get(target)
            if clock is None:
                clock = self.clocks[target] = StreamClock()
            clock.on_push(event.stream)
            screen = self.screen_stack[-1] if self.screen_stack else None
            if isinstance(screen, DrilldownScreen) and screen.stream is event.stream:
                screen.on_push()
            if target not in self._queued:
                self._queued.add(target)
                self.post_message(BookUpdated(index, event.stream.key))
        elif isinstance(event, StatusChanged):
            self.post_message(StatusUpdated(index))
        elif isinstance(event, RecordsChanged):
            target = (index, event.kind)
            if target not in self._queued_records:  # one reload per batch, not per push
                self._queued_records.add(target)
                self.post_message(RecordsUpdated(index, event.kind))
        elif isinstance(event, FeedFailed):
            self.post_message(FeedStopped(index, event.reason))

    async def on_book_updated(self, message: BookUpdated) -> None:
        target = (message.feed_index, message.key)
        self._queued.discard(target)
        self.book_messages += 1
        ladder = self.ladders.get(target)
        if ladder is None:
            stream = self.feeds[message.feed_index].streams.get(message.key)
            if stream is None:
                return
            await self._add_stream_pane(message.feed_index, stream)
            ladder = self.ladders[target]
        ladder.mark_dirty()
        screen = self.screen_stack[-1] if self.screen_stack else None  # none while quitting
        if isinstance(screen, DrilldownScreen) and screen.stream is ladder.stream:
            screen.book_updated()

    def on_status_updated(self, message: StatusUpdated) -> None:
        self._tick()

    def on_records_updated(self, message: RecordsUpdated) -> None:
        target = (message.feed_index, message.kind)
        self._queued_records.discard(target)
        table = self.records.get(target)
        if table is None or not table.is_mounted:
            return
        # a hidden table is rebuilt when shown: rebuilding one costs far more than a push
        if table.parent is not None and table.parent.id == self.active_pane_id():
            table.reload()
        else:
            self._stale_records.add(target)

    def on_feed_stopped(self, message: FeedStopped) -> None:
        feed = self.feeds[message.feed_index]
        self.notify(f"{feed.venue}: {message.reason}", severity="error", timeout=30)
        self._tick()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Feed.run() handles its own errors; anything escaping it is a bug worth showing
        if event.state is WorkerState.ERROR and event.worker.group in ("feeds", "levels"):
            error = event.worker.error
            self.notify(f"{event.worker.name}: {type(error).__name__}: {error}",
                        severity="error", timeout=30)

    def on_cursor_moved(self, message: CursorMoved) -> None:
        self.last_cursor_row = message.row  # the ladder repaints itself; this is for readers

    # -- periodic: status bar and health panel -------------------------------------------
    def _tick(self) -> None:
        target = self.active_target()
        status = self.status_bar
        # once an error is logged, the status says where the log is
        note = "FROZEN (p)" if self.frozen else status_note()
        if target is None:
            status.show(None, None, note or "obview: starting feeds…")
            return
        feed = self.feeds[target[0]]
        stream = feed.streams.get(target[1]) if target[1] in feed.streams else None
        status.show(feed, stream, note)
        panel = self.health.get(target)
        if panel is not None and panel.is_mounted:
            panel.tick()

    # -- what is on screen ---------------------------------------------------------
    def active_pane_id(self) -> str:
        with contextlib.suppress(Exception):
            return self.tabs.active
        return ""

    def active_target(self) -> tuple[int, str] | None:
        pane_id = self.active_pane_id()
        if pane_id in self.pane_targets:
            return self.pane_targets[pane_id]
        for key, table in self.records.items():
            if table.parent is not None and table.parent.id == pane_id:
                feed = self.feeds[key[0]]
                first = next(iter(feed.streams), None)
                return (key[0], first) if first else None
        return None

    def active_ladder(self) -> Ladder | None:
        target = self.pane_targets.get(self.active_pane_id())
        return self.ladders.get(target) if target else None

    def _activate(self, pane_id: str) -> None:
        tabs = self.tabs
        tabs.active = pane_id
        self.call_after_refresh(self._focus_active)

    def _focus_active(self) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.focus()
            return
        for table in self.records.values():
            if table.parent is not None and table.parent.id == self.active_pane_id():
                table.focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        for target in list(self._stale_records):
            table = self.records.get(target)
            if table is not None and table.parent is not None \
                    and table.parent.id == self.active_pane_id():
                self._stale_records.discard(target)
                table.reload()
        self._focus_active()
        self._tick()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Ladder keys only where a ladder is in front (hidden from the footer elsewhere)."""
        if action in BASE_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        if action in LADDER_ACTIONS:
            ladder = self.active_ladder()
            if ladder is None:
                return False
            if action == "level" and not hasattr(ladder.feed, "change_level"):
                return False
        return True

    # -- actions -------------------------------------------------------------------
    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_prev_tab(self) -> None:
        self._step_tab(-1)

    def _step_tab(self, step: int) -> None:
        if not isinstance(self.screen, Screen) or self.screen is not self.screen_stack[0]:
            return
        if not self.pane_ids:
            return
        current = self.active_pane_id()
        index = self.pane_ids.index(current) if current in self.pane_ids else 0
        self._activate(self.pane_ids[(index + step) % len(self.pane_ids)])

    def action_goto_tab(self, number: int) -> None:
        if self.screen is not self.screen_stack[0]:
            return
        if 1 <= number <= len(self.pane_ids):
            self._activate(self.pane_ids[number - 1])

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_group(self, delta: int) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.set_group(delta)

    def action_depth(self) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.cycle_depth()

    def action_delta(self) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.toggle_delta()

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        for ladder in self.ladders.values():
            ladder.set_frozen(self.frozen)
        self._tick()

    def action_level(self) -> None:
        ladder = self.active_ladder()
        if ladder is None:
            return
        feed = ladder.feed
        if not hasattr(feed, "change_level"):
            self.notify("aggregation levels are a Loopring feature", severity="warning")
            return
        count = getattr(feed, "level_count", None)
        if not count:
            self.notify("levels not known yet (market not loaded)", severity="warning")
            return
        level = ((ladder.stream.level or 0) + 1) % count
        self.notify(f"{ladder.stream.symbol}: level {level} of 0-{count - 1}")
        ladder.reset_history()
        self.run_worker(self._change_level(feed, level), group="levels", exit_on_error=False)

    async def _change_level(self, feed: Feed, level: int) -> None:
        try:
            await feed.change_level(level)
        except (ValueError, OSError) as exc:
            self.notify(f"level {level}: {exc}", severity="error")

    def action_drilldown(self) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            row = ladder.cursor_row()
            if row is None:
                self.bell()
                return
            self.push_screen(DrilldownScreen(ladder.feed, ladder.stream, ladder.cursor.is_bid,
                                             row.price, ladder.step, mask_times=self.mask_times))
            return
        table = self._active_orders_table()
        if table is not None:
            order = table.selected_order()
            if order is not None:
                self.push_screen(ExecutionsScreen(order))

    def _active_orders_table(self) -> OrdersTable | None:
        for table in self.records.values():
            if isinstance(table, OrdersTable) and table.parent is not None \
                    and table.parent.id == self.active_pane_id():
                return table
        return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, OrdersTable) and self.screen is self.screen_stack[0]:
            order = event.data_table.selected_order()
            if order is not None:
                self.push_screen(ExecutionsScreen(order))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Drill down", "Open the level under the cursor (enter)", self.action_drilldown),
            ("Coarser grouping", "Group prices by a larger step (g)", partial(self.action_group, 1)),
            ("Finer grouping", "Group prices by a smaller step (G)", partial(self.action_group, -1)),
            ("Cycle depth", "Rows per side: 10 / 20 / 50 (d)", self.action_depth),
            ("Change Loopring level", "Next aggregation level (l)", self.action_level),
            ("Toggle delta", "Show the +/- size change column (t)", self.action_delta),
            ("Freeze display", "Freeze / unfreeze the ladders (p)", self.action_freeze),
            ("Next tab", "Next symbol (tab)", self.action_next_tab),
            ("Previous tab", "Previous symbol (shift+tab)", self.action_prev_tab),
            ("Keys", "Every key obview understands (?)", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)

    # -- shutdown ------------------------------------------------------------------
    async def action_quit(self) -> None:
        await self._close_feeds()
        self.exit()

    async def _close_feeds(self) -> None:
        for feed in self.feeds:
            feed.stop()
        self.workers.cancel_group(self, "feeds")
        self.workers.cancel_group(self, "levels")
        with contextlib.suppress(Exception):
            await self._stack.aclose()

    async def on_unmount(self) -> None:
        await self._close_feeds()
        gc.unfreeze()  # collectable again (matters where apps come and go: tests)

    # -- benchmark hook --------------------------------------------------------------
    def _first_paint_hook(self, ladder: Ladder) -> None:
        view = ladder.view
        if self._first_paint_file and view is not None and (view.bids or view.asks):
            path, self._first_paint_file = self._first_paint_file, None
            with open(path, "w") as out:
                out.write(f"{time.time():.6f}\n")
            self.call_later(self.action_quit)
