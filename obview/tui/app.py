"""The obview Textual app: one tab per stream, a status bar, keys for everything.

Data flow: each venue `Feed` runs as a worker on the app's loop and calls our
listener synchronously for every push. The listener does O(1) work (timing, a set
lookup) and posts at most one `BookUpdated` per stream on screen until the app has
handled it (none for streams on hidden tabs: their ladders draw when shown); the
handler marks that stream's ladder (and an open drilldown of it) dirty, and they
redraw at most once per frame. No widget runs inside the listener.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import DataTable, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from obview.depth_history import DEFAULT_HISTORY_S
from obview.events import BookChanged, FeedFailed, RecordsChanged, StatusChanged, TradesPrinted
from obview.feed import Feed, ReplayCaughtUp, ReplayControl, Stream, describe_error
from obview.logs import status_note
from obview.tui.actions import SCOPES, Owner, Scope, action_name, bindings, palette_actions
from obview.tui.footer import KeyFooter
from obview.tui.heatmap import HeatmapView
from obview.tui.ladder import Ladder
from obview.tui.messages import (
    BookUpdated,
    FeedStopped,
    RecordsUpdated,
    StatusUpdated,
    TradesUpdated,
)
from obview.tui.panels import StatusBar
from obview.tui.panes import ErrorPane, RecordsPane, StreamPane
from obview.tui.picker import TabEntry, TabPicker
from obview.tui.records import OrdersTable
from obview.tui.screens import DrilldownScreen, ExecutionsScreen, HelpScreen
from obview.tui.tape_screen import ThresholdScreen
from obview.tui.themes import THEMES
from obview.venues import VenueConfig

NARROW_WIDTH = 100
SCREENSHOT_DIR_ENV = "OBVIEW_SCREENSHOT_DIR"  # where palette "Screenshot" saves (default: cwd)
REPLACED_SYSTEM_COMMANDS = {"Keys", "Screenshot"}  # ours: the obview help, a path we report


# the share of a core a replay may keep the event loop's thread busy; the screen's own
# lateness, which each paint reports, slows it further where the screen falls behind
# first (obview/replay/governor.py; docs/replay.md, "A replay the machine cannot keep
# up with", has the figures)
REPLAY_CPU_BUDGET = 0.8
HIDDEN_RECORD_EVERY = 0.25  # s: depth-history samples of tabs not on screen

class ObviewApp(App):
    """Live order books for the given venue configs (or ready-made feeds, for tests)."""

    CSS_PATH = str(Path(__file__).with_name("obview.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "obview"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = bindings(Owner.APP)

    def __init__(self, configs: list[VenueConfig], feeds: list[Feed] | None = None, *,
                 mask_times: bool = False, theme: str | None = None, recording=None,
                 player=None, history_s: float = DEFAULT_HISTORY_S) -> None:
        super().__init__()
        self.history_s = history_s  # how far back each stream's depth heatmap reaches
        for each in THEMES:
            self.register_theme(each)
        if theme:
            self.theme = theme
        self.configs = configs
        self.recording = recording  # --record: every feed opened gets its tap
        self.player = player  # replay: drives the given feeds
        if player is not None:  # a replay too fast for the machine slows, not the screen
            player.govern(REPLAY_CPU_BUDGET)
        self.feeds: list[Feed] = list(feeds or [])
        self._given_feeds = feeds is not None
        self.mask_times = mask_times  # snapshots: hide wall-clock numbers, never fade
        self.frozen = False
        self.panes: list[TabPane] = []  # in tab order
        self._stream_panes: dict[Stream, StreamPane] = {}
        self._tab_labels: dict[str, str] = {}  # pane id -> its tab's label
        self._pane_numbers = itertools.count()
        self.book_messages = 0  # BookUpdated messages handled (tests check coalescing)
        self.rebuilds = 0  # replay: heatmap histories rebuilt after a seek (tests wait on it)
        self._queued: set[Stream] = set()
        self._hidden_changed: set[Stream] = set()  # off-screen books changed since sampled
        self._watched: set[Stream] = set()  # streams on screen: the tab's, a drilldown's
        self._queued_records: set[tuple[Feed, str]] = set()  # like _queued, for records tables
        self._stale_records: set[RecordsPane] = set()  # hidden tables changed since shown
        self._stack = contextlib.AsyncExitStack()
        self.feeds_opened = False  # every config tried (opened or shown as an error tab)

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # kept as attributes: `query_one` searches the *current* screen, which may be a
        # drilldown or help screen when a feed event arrives
        self.tabs = TabbedContent(id="tabs")
        self.status_bar = StatusBar(mask_times=self.mask_times, id="status")
        yield self.tabs
        yield self.status_bar
        yield KeyFooter()

    async def on_mount(self) -> None:
        # Everything alive now (Textual, widgets, imported modules) lives as long as the
        # app: keep it out of the cyclic GC's full collections, which otherwise rescan it
        # and stall the loop (measured: worst gen-2 pause 38 ms -> 20 ms under load).
        gc.collect()
        gc.freeze()
        self._apply_width(self.size.width)
        self.set_interval(0.25, self._tick)
        self.set_interval(HIDDEN_RECORD_EVERY, self._record_hidden)
        if self._given_feeds:
            for number, feed in enumerate(self.feeds):
                depth = self.configs[number].depth if number < len(self.configs) else 20
                await self._attach(feed, depth)
            self.feeds_opened = True
            self._watch_replays()
            if self.player is not None:  # replay: the journal drives the feeds from here
                # its warnings (a part given alone, a journal cut short) on the screen:
                # what went to stderr before the TUI started is under it now
                for text in self.player.warnings:
                    self._warn(text)
                self.player.on_warning = self._warn
                self.player.on_error = self._replay_damage
                self.run_worker(self.player.run(), name="replay", group="feeds",
                                exit_on_error=False)
        else:
            self.run_worker(self._open_feeds(), name="open-feeds", group="feeds")

    def _warn(self, text: str) -> None:
        self.notify(text, severity="warning", timeout=30)

    def _replay_damage(self, error: Exception) -> None:
        """Damage a replay stopped at: said on the screen, and the replay stays open
        (paused there, seekable back), where its worker had ended with it."""
        self.notify(str(error), severity="error", timeout=60)

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _narrow(self) -> bool:
        return self.size.width < NARROW_WIDTH

    def _apply_width(self, width: int) -> None:
        narrow = width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        for pane in self._stream_panes.values():
            pane.health.compact = narrow

    async def _open_feeds(self) -> None:
        from obview.venues import load

        # Every venue is opened and its tabs mounted before any feed runs: opening one
        # (its modules' first import, a simulator) and mounting its tabs hold the loop for
        # 30-150 ms each, and a feed already running would have its pushes wait behind
        # that (the demo's first ladder showed a paint delay of 110-230 ms).
        opened = []
        for cfg in self.configs:
            try:
                feed = await load(cfg.venue).open_feed(cfg, self._stack)
            except Exception as exc:  # a venue that cannot start must not take the app down
                await self._add_error_pane(cfg, describe_error(exc))
                continue
            self.feeds.append(feed)
            if self.recording is not None:
                self.recording.attach(feed)
            await self._attach(feed, cfg.depth, run=False)
            opened.append(feed)
        # the tabs just mounted (hundreds of widgets with 100 codes) live as long as the
        # app too: frozen like the rest, or every full collection rescans them
        gc.collect()
        gc.freeze()
        for feed in opened:
            self._run(feed)
        self.feeds_opened = True

    async def _attach(self, feed: Feed, depth: int = 20, run: bool = True) -> None:
        feed.add_listener(partial(self._on_feed_event, feed))
        for stream in list(feed.streams.values()):
            await self._add_stream_pane(feed, stream, depth)
        for kind in feed.capabilities.records:
            await self._add_pane(RecordsPane(self._new_pane_id(), feed, kind))
        if run:
            self._run(feed)

    def _run(self, feed: Feed) -> None:
        self.run_worker(feed.run(), name=f"feed-{feed.venue}", group="feeds",
                        exit_on_error=False)

    def _screen_late(self, seconds: float) -> None:
        governor = self.player.governor
        if governor is not None:
            governor.late(seconds)

    def _new_pane_id(self) -> str:
        return f"pane-{next(self._pane_numbers)}"

    async def _add_pane(self, pane: TabPane, after: TabPane | None = None) -> None:
        """Add a tab (after `after`, else last) and renumber the tabs' labels."""
        if after in self.panes:
            self.panes.insert(self.panes.index(after) + 1, pane)
            await self.tabs.add_pane(pane, after=after)
        else:
            self.panes.append(pane)
            await self.tabs.add_pane(pane)
        for number, each in enumerate(self.panes, 1):
            label = f"{number} {each.label_text}" if number <= 9 else each.label_text
            # only labels that change: each relabel re-lays the tab row out (100 codes
            # relabelled on every add took seconds to start)
            if self._tab_labels.get(each.id) != label:
                self._tab_labels[each.id] = label
                self.tabs.get_tab(each).label = label
        if len(self.panes) == 1:
            self._activate(pane)

    async def _add_stream_pane(self, feed: Feed, stream: Stream, depth: int = 20) -> None:
        if stream in self._stream_panes:
            return
        pane = StreamPane(self._new_pane_id(), feed, stream, depth, mask_times=self.mask_times,
                          frozen=self.frozen, compact=self._narrow(),
                          history_s=self.history_s)
        self._stream_panes[stream] = pane
        if self.player is not None:  # the screen's lateness steers the replay's governor
            pane.ladder.on_late = self._screen_late
        # a stream that appears later (one more source's book) goes next to its feed's others
        after = next((p for p in reversed(self.panes) if isinstance(p, StreamPane)
                      and p.feed is feed), None)
        await self._add_pane(pane, after=after)

    async def _add_error_pane(self, cfg: VenueConfig, reason: str) -> None:
        await self._add_pane(ErrorPane(self._new_pane_id(), cfg.venue, cfg.symbols, reason))
        self.notify(f"{cfg.venue}: {reason}", severity="error")

    # -- feed events -> messages (synchronous, called for every push) ---------------------
    def _on_feed_event(self, feed: Feed, event) -> None:
        if isinstance(event, BookChanged):
            stream = event.stream
            pane = self._stream_panes.get(stream)
            if pane is not None:
                pane.clock.on_push(stream)
                if pane.journal is not None:  # replay: sampled at the journal's time, now
                    pane.journal_book()
                if stream not in self._watched:
                    # off screen: no message at all (with 100 codes, 99 of every 100
                    # pushes); the ladder draws the book as it is when shown (on_show),
                    # its depth history samples the book every HIDDEN_RECORD_EVERY s
                    self._hidden_changed.add(stream)
                    return
            if stream not in self._queued:
                self._queued.add(stream)
                self.post_message(BookUpdated(feed, stream))
        elif isinstance(event, TradesPrinted):
            pane = self._stream_panes.get(event.stream)
            if pane is not None:  # (a stream without a pane yet has no tape to show)
                trades = event.trades
                if pane.journal is not None:
                    trades = pane.journal_trades(trades)
                if not pane.pending_trades:
                    self.post_message(TradesUpdated(feed, event.stream))
                pane.pending_trades.extend(trades)
        elif isinstance(event, StatusChanged):
            self.post_message(StatusUpdated(feed))
        elif isinstance(event, RecordsChanged):
            target = (feed, event.kind)
            if target not in self._queued_records:  # one reload per batch, not per push
                self._queued_records.add(target)
                self.post_message(RecordsUpdated(feed, event.kind))
        elif isinstance(event, FeedFailed):
            self.post_message(FeedStopped(feed, event.reason))

    # -- replay: the heatmaps' history follows the journal --------------------------------
    def _watch_replays(self) -> None:
        """Seeks of every replay among the feeds (one control may drive several)."""
        seen: set[int] = set()
        for feed in self.feeds:
            control = feed.capabilities.replay
            if control is not None and id(control) not in seen:
                seen.add(id(control))
                control.watch(partial(self._on_replay_event, control))

    def _journal_panes(self, control: ReplayControl) -> list[StreamPane]:
        return [pane for pane in self._stream_panes.values() if pane.journal is control]

    def _on_replay_event(self, control: ReplayControl, event) -> None:
        """Called by the player as it happens: a seek clears the heatmaps' history (and
        drops a rebuild under way); the end of its catch-up starts the rebuild, after the
        books are there so it never slows them down."""
        panes = self._journal_panes(control)
        if not panes:
            return
        if isinstance(event, ReplayCaughtUp):
            for pane in panes:
                pane.journal_caught_up(event.split)
            self.run_worker(self._rebuild_history(control, panes, event.target),
                            name="rebuild-history", group="rebuild", exclusive=True,
                            exit_on_error=False)
        else:
            self.workers.cancel_group(self, "rebuild")
            for pane in panes:
                pane.journal_seeked()
                # the seek emptied the books without a push: paused (or at a target the
                # catch-up restores nothing for) no push would come to redraw them
                stream = pane.stream
                if stream in self._watched and stream not in self._queued:
                    self._queued.add(stream)
                    self.post_message(BookUpdated(pane.feed, stream))

    async def _rebuild_history(self, control: ReplayControl, panes: list[StreamPane],
                               target: int) -> None:
        older = {pane.stream: pane.history.sibling() for pane in panes}

        def progress(fraction: float) -> None:
            for pane in panes:
                pane.heatmap.set_note(f"rebuilding history… {fraction:.0%}")

        await control.rebuild(older, target, self.history_s, progress)
        for pane in panes:
            await pane.adopt_history(older[pane.stream])
        self.rebuilds += 1

    def _record_hidden(self) -> None:
        """Books of tabs not on screen into their depth history, one sample each per
        period: a heatmap shown later has the past, at no cost per push."""
        changed, self._hidden_changed = self._hidden_changed, set()
        for stream in changed:
            pane = self._stream_panes.get(stream)
            if pane is not None:
                pane.record_book()

    async def on_book_updated(self, message: BookUpdated) -> None:
        stream = message.stream
        self._queued.discard(stream)
        self.book_messages += 1
        pane = self._stream_panes.get(stream)
        if pane is None:  # a stream the feed added after it started
            await self._add_stream_pane(message.feed, stream)
            pane = self._stream_panes[stream]
        pane.book_updated(message.time)  # (posted at the first push since the last one)
        for screen in self.screen_stack[1:]:  # no self.screen: the stack may be empty by now
            if isinstance(screen, DrilldownScreen) and screen.stream is stream:
                screen.book_updated()

    def on_trades_updated(self, message: TradesUpdated) -> None:
        pane = self._stream_panes.get(message.stream)
        if pane is not None:
            pane.trades_arrived()

    def on_status_updated(self, message: StatusUpdated) -> None:
        self._tick()

    def on_records_updated(self, message: RecordsUpdated) -> None:
        self._queued_records.discard((message.feed, message.kind))
        active = self.active_pane()
        for pane in self.panes:
            if isinstance(pane, RecordsPane) and pane.feed is message.feed \
                    and pane.kind == message.kind and pane.table.is_mounted:
                # a hidden table is rebuilt when shown: rebuilding one costs far more than a push
                if pane is active:
                    pane.table.reload()
                else:
                    self._stale_records.add(pane)

    def on_feed_stopped(self, message: FeedStopped) -> None:
        self.notify(f"{message.feed.venue}: {message.reason}", severity="error", timeout=30)
        self._tick()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Feed.run() handles its own errors; anything escaping it is a bug worth showing
        if event.state is WorkerState.ERROR and event.worker.group in ("feeds", "levels"):
            error = event.worker.error
            self.notify(f"{event.worker.name}: {type(error).__name__}: {error}",
                        severity="error", timeout=30)

    # -- periodic: status bar and health panel -------------------------------------------
    def _tick(self) -> None:
        pane = self.active_pane()
        # once an error is logged, the status says where the log is
        note = "FROZEN (p)" if self.frozen else status_note()
        if pane is None or pane.feed is None:
            self.status_bar.show(None, None, note or "obview: starting feeds…")
            return
        # a replay's time, speed and progress as figures: the bar drops them one by one
        control = self._replay_control()
        # (an orders tab describes its feed's first stream: that stream's pane times it)
        timing = self._stream_panes.get(pane.stream) if pane.stream is not None else None
        self.status_bar.show(pane.feed, pane.stream, note,
                             control.status() if control is not None else None,
                             timing.clock if timing is not None else None)
        pane.tick()

    # -- what is on screen ---------------------------------------------------------
    def active_pane(self):
        with contextlib.suppress(Exception):
            pane = self.tabs.active_pane
            if pane in self.panes:
                return pane
        return None

    def active_stream_pane(self) -> StreamPane | None:
        pane = self.active_pane()
        return pane if isinstance(pane, StreamPane) else None

    def active_ladder(self) -> Ladder | None:
        pane = self.active_stream_pane()
        return pane.ladder if pane is not None else None

    def stream_panes(self) -> list[StreamPane]:
        return list(self._stream_panes.values())

    def _main_in_front(self) -> bool:
        return len(self.screen_stack) == 1

    def _activate(self, pane: TabPane) -> None:
        self.tabs.active = pane.id
        self.call_after_refresh(self._focus_active)

    def _focus_active(self) -> None:
        pane = self.active_pane()
        target = pane.focus_target() if pane is not None else None
        if target is not None and target.is_mounted:
            target.focus()

    def _update_watched(self) -> None:
        pane = self.active_stream_pane()
        self._watched = {screen.stream for screen in self.screen_stack
                         if isinstance(screen, DrilldownScreen)}
        if pane is not None:
            self._watched.add(pane.stream)
            pane.ladder.mark_dirty()  # pushes dropped while it was hidden: draw the book now

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._update_watched()
        pane = self.active_pane()
        if pane in self._stale_records:
            self._stale_records.discard(pane)
            pane.table.reload()
        self._focus_active()
        self._tick()
        self.refresh_bindings()

    def available(self, action: str, screen: Screen | None = None) -> bool:
        """Whether `action` (from the actions table) makes sense on `screen` (default:
        the screen in front; the palette asks about the screen it was opened over)."""
        scope = SCOPES.get(action_name(action), Scope.ANYWHERE)
        if scope is Scope.ANYWHERE:
            return True
        stack = self.screen_stack
        main = bool(stack) and (stack[0] is screen if screen is not None else len(stack) == 1)
        if scope is Scope.OVERLAY:
            return not main
        if not main:
            return False
        if scope is Scope.MAIN:
            return True
        if scope is Scope.ORDERS:
            return isinstance(self.active_pane(), RecordsPane)
        if scope is Scope.REPLAY:
            return self._replay_control() is not None
        pane = self.active_stream_pane()
        if pane is None:
            return False
        if scope is Scope.HEATMAP:  # (the palette offered z / Z over the ladder alone,
            # where they did nothing)
            return bool(pane.heatmap.display)
        return scope is Scope.LADDER or pane.feed.capabilities.levels is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys only where they make sense (hidden from the footer elsewhere)."""
        if action_name(action) not in SCOPES:
            return True
        if not self.available(action):
            return False
        if action_name(action) == "replay" and parameters and parameters[0] in ("pause", "resume"):
            # space's label says what it does now: "Resume" while paused ("Pause" had
            # stayed on the footer of a paused replay)
            return (parameters[0] == "resume") == self._replay_paused()
        return True

    def _replay_paused(self) -> bool:
        control = self._replay_control()
        # (not the state's word: at the end it says "end", paused or not, and the
        # footer said "space Pause" over a paused replay)
        return control is not None and control.status().paused

    # -- actions -------------------------------------------------------------------
    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_prev_tab(self) -> None:
        self._step_tab(-1)

    def _step_tab(self, step: int) -> None:
        if not self._main_in_front() or not self.panes:
            return
        current = self.active_pane()
        index = self.panes.index(current) if current in self.panes else 0
        self._activate(self.panes[(index + step) % len(self.panes)])

    def action_goto_tab(self, number: int) -> None:
        if self._main_in_front() and 1 <= number <= len(self.panes):
            self._activate(self.panes[number - 1])

    def action_pick_tab(self) -> None:
        if not self._main_in_front() or not self.panes:
            return
        entries = [TabEntry(pane.id, number, pane.label_text,
                            (pane.stream.name if pane.stream is not None else "") or "")
                   for number, pane in enumerate(self.panes, 1)]
        active = self.active_pane()
        self.push_screen(TabPicker(entries, active.id if active is not None else None),
                         self._picked_tab)

    def _picked_tab(self, pane_id: str | None) -> None:
        pane = next((p for p in self.panes if p.id == pane_id), None)
        if pane is not None:
            self._activate(pane)

    def _replay_control(self):
        pane = self.active_pane()
        feed = pane.feed if pane is not None else None
        return feed.capabilities.replay if feed is not None else None

    def action_replay(self, what: str) -> None:
        control = self._replay_control()
        if control is not None and self._main_in_front():
            focused = self.focused
            if what == "end" and isinstance(focused, HeatmapView) and (
                    focused.cross_index is not None or focused.cross_row is not None):
                # the heatmap's own end first: its crosshair back to now (the replay's
                # end, a priority key, had taken it: a moved crosshair stayed pinned to
                # its moment for good); end again goes to the journal's end
                focused.action_live()
                return
            if what == "resume":  # (space while paused: the same toggle)
                what = "pause"
            control.control(what)
            self._tick()
            self.refresh_bindings()  # space's label follows the state (Pause / Resume)

    def action_help(self) -> None:
        if isinstance(self.screen_stack[-1], HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen())

    def action_back(self) -> None:
        if not self._main_in_front():
            self.pop_screen()

    async def action_close_or_quit(self) -> None:
        """q: close the screen in front; quit only from the tabs."""
        if self._main_in_front():
            await self.action_quit()
        else:
            self.pop_screen()

    def _frozen_refuses(self, what: str) -> bool:
        """While frozen, the picture is a past book that is no longer kept: it cannot be
        regrouped, deepened or shown at another level. Say so, rather than change the
        title over rows that stay as they were."""
        if self.frozen:
            self.notify(f"frozen: press p to go live, then {what}", severity="warning")
        return self.frozen

    def action_group(self, delta: int) -> None:
        if self._frozen_refuses("regroup"):
            return
        pane = self.active_stream_pane()
        if pane is not None:
            pane.ladder.set_group(delta)
            pane.follow_ladder()

    def action_zoom(self, delta: int) -> None:
        pane = self.active_stream_pane()
        if pane is not None and pane.heatmap.display:
            pane.heatmap.action_zoom(delta)

    def action_tape_threshold(self) -> None:
        pane = self.active_stream_pane()
        if pane is None or pane.tape is None:
            self.notify("this venue has no trade tape", severity="warning")
            return
        tape = pane.tape

        def chosen(value) -> None:
            if value is not False:
                tape.set_threshold(value)

        self.push_screen(ThresholdScreen(tape.threshold), chosen)

    def action_layout(self) -> None:
        pane = self.active_stream_pane()
        if pane is not None:
            pane.cycle_layout()
            self._focus_active()

    def action_depth(self) -> None:
        if self._frozen_refuses("change the depth"):
            return
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.cycle_depth()

    def action_delta(self) -> None:
        ladder = self.active_ladder()
        if ladder is not None:
            ladder.toggle_delta()

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        for pane in self._stream_panes.values():
            pane.ladder.set_frozen(self.frozen)
        self._tick()

    def action_level(self) -> None:
        pane = self.active_stream_pane()
        if pane is None or self._frozen_refuses("change the level"):
            return
        levels = pane.feed.capabilities.levels
        if levels is None:
            self.notify("this venue has no aggregation levels", severity="warning")
            return
        count = levels.count()
        if not count:
            self.notify("levels not known yet (market not loaded)", severity="warning")
            return
        level = (levels.current() + 1) % count
        self.notify(f"{pane.stream.symbol}: aggregation level {level} (0-{count - 1})")
        pane.ladder.reset_history()
        self.run_worker(pane.fresh_history(), group="levels", exit_on_error=False)
        self.run_worker(self._change_level(levels.change, level), group="levels",
                        exit_on_error=False)

    async def _change_level(self, change, level: int) -> None:
        try:
            await change(level)
        except (ValueError, OSError) as exc:
            self.notify(f"aggregation level {level}: {exc}", severity="error")

    def action_drilldown(self) -> None:
        if not self._main_in_front():
            return
        ladder = self.active_ladder()
        if ladder is not None:
            row = ladder.cursor_row()
            if row is None:
                self.bell()
                return
            clock, utc = self.active_stream_pane().data_clock()
            self.push_screen(DrilldownScreen(ladder.feed, ladder.stream, ladder.cursor.is_bid,
                                             row.price, ladder.step, mask_times=self.mask_times,
                                             clock=clock, utc=utc))
            self._update_watched()
            return
        pane = self.active_pane()
        if isinstance(pane, RecordsPane) and isinstance(pane.table, OrdersTable):
            order = pane.table.selected_order()
            if order is not None:
                self.push_screen(ExecutionsScreen(order))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, OrdersTable) and self._main_in_front():
            order = event.data_table.selected_order()
            if order is not None:
                self.push_screen(ExecutionsScreen(order))

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen where the user can find it, and say where."""
        directory = Path(path or os.environ.get(SCREENSHOT_DIR_ENV) or os.getcwd()).expanduser()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(directory))
        except OSError as exc:
            self.notify(f"screenshot not saved: {describe_error(exc)}", severity="error")
            return
        self.notify(f"screenshot saved: {saved}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_SYSTEM_COMMANDS:
                yield command
        yield SystemCommand("Screenshot", "Save an SVG of the screen in the working folder "
                            f"(or ${SCREENSHOT_DIR_ENV})", self.action_screenshot)
        for action in palette_actions():
            if self.available(action.action, screen):
                yield SystemCommand(action.title, action.summary,
                                    partial(self.run_action, action.action))

    # -- shutdown ------------------------------------------------------------------
    async def action_quit(self) -> None:
        await self._close_feeds()
        self.exit()

    async def _close_feeds(self) -> None:
        for feed in self.feeds:
            feed.stop()
        self.workers.cancel_group(self, "feeds")
        self.workers.cancel_group(self, "levels")
        self.workers.cancel_group(self, "rebuild")
        with contextlib.suppress(Exception):
            await self._stack.aclose()

    async def on_unmount(self) -> None:
        await self._close_feeds()
        gc.unfreeze()  # collectable again (matters where apps come and go: tests)
