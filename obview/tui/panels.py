"""The status bar and the latency / health panel of the active stream.

Both are cheap Rich `Text` refreshed a few times a second (ages and rates change
with time, not only with data) and immediately on a status change. They read the
feed and stream fields only; the TUI's own measurements (push interval, venue
stamp age at receive) live in `StreamClock`, fed by the app's feed listener; the
receive-to-paint delay is the ladder's own (`Ladder.paint_delay`).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.widgets import Static

from obview import fmt
from obview.feed import (
    Feed,
    FeedState,
    LatencyKind,
    ReplayControl,
    ReplayStatus,
    Stream,
    wall_now,
)
from obview.latency import IntervalStats, LatencyStats
from obview.tui.themes import NO_STYLE

SPARK = "▁▂▃▄▅▆▇█"
NO_STAMPS = "no venue time stamps"  # a venue whose books carry none (LatencyKind.NONE)
NOT_PAINTING = "not measured: the ladder is hidden"  # the heatmap alone (`h` twice)


def state_class(state: FeedState) -> str:
    """The stylesheet class of a feed state (`state--synced`, ...)."""
    return f"state--{state.value}"


STATE_CLASSES = {state_class(state) for state in FeedState}
WORDS_CLASSES = STATE_CLASSES | {"status--note"}  # status parts that are words: cut, not dropped


class StreamClock:
    """Push timing the TUI measures itself: the interval between pushes, and the venue
    stamp's age at *receive* (the feed's stamp, so the event loop's delay is not in it).

    In a replay (`journal`, the feed's `ReplayControl`) both are on the journal's clock:
    when the push was received then, as a replayed feed that measures its own latency
    does (docs/replay.md, "Time on screen"). On this machine's clock the age is how old
    the recording is (minutes, hours) and the interval the replay's pace (a tenth of the
    venue's at 10x)."""

    __slots__ = ("interval", "venue_age", "journal", "last_push")

    def __init__(self, journal: ReplayControl | None = None) -> None:
        self.interval = IntervalStats(window=300)
        self.venue_age = LatencyStats(window=300)
        self.journal = journal
        self.last_push: int | None = None  # a replay: the last push's journal mono (ns)

    def on_push(self, stream: Stream) -> None:
        book = stream.book
        venue_ts = book.venue_ts
        if self.journal is None:
            self.interval.mark(time.monotonic())
            self.venue_age.add(None if venue_ts is None else book.recv_ts - venue_ts)
            return
        now = self.journal.clock()  # (called as the feed applies it: that line's stamps)
        self.last_push = now.mono
        self.interval.mark(now.mono / 1e9)
        self.venue_age.add(None if venue_ts is None else now.wall / 1e6 - venue_ts)

    def restart(self) -> None:
        """A replay's seek: the intervals measured belong to the timeline left (and one
        would span the jump in journal time), as the other latency figures do."""
        self.interval.reset()
        self.last_push = None

    def wall(self) -> float:
        """Epoch seconds now: in a replay, the journal's."""
        return wall_now(self.journal)

    def age(self, stream: Stream) -> float | None:
        """Seconds since the stream's last update. In a replay, journal seconds: paused it
        stands still, and at 10x it is the gap the venue left, not a tenth of it."""
        if self.journal is None:
            return stream.age()
        if self.last_push is None:
            return None
        return max(0, self.journal.clock().mono - self.last_push) / 1e9


class RateMeter:
    """Messages per second over the last refresh interval.

    A replay measures on the journal's clock (`now`: its wall time, s), so the figure is
    the venue's rate at the playhead, what live showed then, at any speed (on the
    screen's clock, 10x showed ten times the rate, and a pause 0). `epoch` is the
    replay's seek count: a seek starts the rate over, since a count and a time that
    jumped together make no rate (a jump to the end showed thousands a second)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: tuple[float, int] | None = None
        self._epoch = 0
        self.value: float | None = None

    def sample(self, count: int, now: float | None = None, epoch: int = 0) -> float | None:
        if now is None:
            now = self._clock()
        last = self._last
        if last is None or epoch != self._epoch or count < last[1] or now < last[0]:
            # the first sample, or a replay's seek (back, the count is the journal's at
            # the new moment, lower): the rate starts over, never below zero or bursting
            self._last, self._epoch = (now, count), epoch
            if last is not None:
                self.value = None
        elif now - last[0] >= 0.5:
            self.value = (count - last[1]) / (now - last[0])
            self._last = (now, count)
        return self.value


def sparkline(stats: LatencyStats, width: int = 24) -> str:
    """The last `width` samples, from the lowest bar at 0 (or at the lowest sample, when
    some are below 0: a venue stamp a little ahead of our receive clock) to the highest
    at the largest. (Negative samples once indexed the bars from the end, and past it.)"""
    values = list(stats.samples)[-width:]
    if not values:
        return ""
    low = min(0.0, min(values))
    span = max(values) - low or 1.0
    return "".join(SPARK[min(7, int((v - low) / span * 7.999))] for v in values)


def state_text(feed: Feed, stream: Stream | None) -> tuple[str, str]:
    """The word for the stream's condition and its stylesheet class."""
    state = feed.state
    if stream is not None and stream.error:
        return f"error: {stream.error}", state_class(FeedState.ERROR)
    if stream is not None and stream.stale and state is FeedState.SYNCED:
        return "stale", state_class(FeedState.STALE)
    word = state.value
    if feed.status_text:  # also when synced: e.g. a venue's "TLS NOT VERIFIED (--insecure)"
        word += f": {feed.status_text}"
    return word, state_class(state)


def _cut_words(text: str, room: int, keep_tail: bool) -> str:
    """`text` in `room` cells, its head ("reconnecting: ", "saved to: ", or else its first
    word) kept whole when it leaves room for words, and "…" where words went: at the end
    of a reason (its start says most), or before the tail of a note (where a path ends)."""
    body = text.lstrip()
    lead = text[:len(text) - len(body)]
    head, sep, tail = body.partition(": ")
    if not sep:
        head, sep, tail = body.partition(" ")
    head = lead + head
    if not sep or cell_len(head) + len(sep) + 4 >= room:
        head, sep, tail = "", "", text
    keep = room - cell_len(head) - len(sep) - 1  # cells: a CJK character takes two
    if keep_tail:
        return f"{head}{sep}…{_cells(tail[::-1], keep)[::-1]}"
    cut = _cells(tail, keep)
    if len(cut) < len(tail) and not tail[len(cut)].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0].rstrip()  # whole words: "replay of a…", not "a si…"
    return f"{head}{sep}{cut}…"


def _cells(text: str, cells: int) -> str:
    """The start of `text` that fits in `cells` (never half of a wide character)."""
    return set_cell_size(text, cells).rstrip() if cell_len(text) > cells else text


# The ranks of a replay's status bar parts (lower: more important). After venue and
# symbol, the journal's time, then speed and paused/end, then how far through (what a
# replay's user steers by); then the state's words and the notes; then the bar and the
# date (the percentage says how far, and a session rarely spans days); the counters last.
_FIRST, _REPLAY_TIME, _REPLAY_SPEED, _REPLAY_PROGRESS, _WORDS, _BAR, _DATE = range(7)
_AFTER = 100  # the rest, in the order they are shown


def _fit(parts: list[tuple[str, str, int]], width: int) -> list[tuple[str, str]]:
    """The (text, class) parts shown in `width` cells, in their order: taken by rank (and
    order within a rank), each whole, until one does not fit. A number is never cut; the
    first part that does not fit, if it is words (a state with its reason, a note), is cut
    with "…" instead when a useful part of it fits. A gap (a part of spaces only) goes
    with the part after it."""
    order = sorted(range(len(parts)), key=lambda i: (parts[i][2], i))
    shown: dict[int, str] = {}
    used = 0
    for index in order:
        text, cls, _ = parts[index]
        size = cell_len(text)
        if used + size <= width:
            shown[index] = text
            used += size
            continue
        # the state (with its reason: why a feed cannot connect, say) and a note are
        # words, not numbers: shown cut rather than dropped when a useful part fits
        room = width - used - 1
        if cls in WORDS_CLASSES and room >= 16:
            shown[index] = _cut_words(text, room, keep_tail=cls == "status--note")
        break
    return [(shown[i], parts[i][1]) for i in sorted(shown)
            if shown[i].strip() or i + 1 in shown]


class StatusBar(Static):
    """venue · symbol · name · state · version · resyncs · msg/s (the stream's) · age; a
    replay's time, speed and progress."""

    COMPONENT_CLASSES = {"status--venue", "status--muted", "status--bad", "status--note",
                         "status--replay", "status--source", *STATE_CLASSES}

    def __init__(self, mask_times: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.mask_times = mask_times
        self.feed: Feed | None = None
        self.stream: Stream | None = None
        self.replay: ReplayStatus | None = None
        self.clock: StreamClock | None = None  # the stream's pane's: its age
        self.rates: dict[int, RateMeter] = {}
        self._text: Text | None = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._text = None

    def show(self, feed: Feed | None, stream: Stream | None, note: str = "",
             replay: ReplayStatus | None = None, clock: StreamClock | None = None) -> None:
        self.feed, self.stream, self.replay, self.clock = feed, stream, replay, clock
        self.tick(note)

    def _replay_parts(self) -> list[tuple[str, str, int]]:
        """"  replay 2026-12-07 14:03:22 UTC ██████░░░░░░ 50% 10x paused", in parts that
        go one by one (each a figure: never cut)."""
        status = self.replay
        if status is None:
            return []
        when = _dt.datetime.fromtimestamp(status.wall / 1e9, _dt.UTC)
        speed = f" {status.speed}" + (f" {status.state}" if status.state else "")
        return [("  replay", "status--replay", _REPLAY_TIME),
                (f" {when:%Y-%m-%d}", "status--replay", _DATE),
                (f" {when:%H:%M:%S} UTC", "status--replay", _REPLAY_TIME),
                (f" {fmt.progress_bar(status.progress)}", "status--replay", _BAR),
                (f" {status.progress:.0%}", "status--replay", _REPLAY_PROGRESS),
                (speed, "status--replay", _REPLAY_SPEED)]

    def _parts(self, note: str) -> list[tuple[str, str, int]]:
        """(text, class, rank) in the order shown; what does not fit is dropped whole,
        the least important first (see `_fit`)."""
        feed, stream = self.feed, self.stream
        replay = self._replay_parts()
        if feed is None:
            return [(f" {note or 'obview'}", "", _FIRST)]
        # a tab's own rate: a stream's messages, not its connection's (a code the venue refused
        # showed the other codes' 12 msg/s); a tab of records, the connection's
        if stream is not None:
            meter = self.rates.setdefault(id(stream), RateMeter())
            count = stream.pushes
        else:
            meter = self.rates.setdefault(id(feed), RateMeter())
            count = feed.messages or sum(s.pushes for s in feed.streams.values())
        status = self.replay
        rate = (meter.sample(count) if status is None
                else meter.sample(count, status.wall / 1e9, status.seeks))
        parts = [(f" {feed.venue} ", "status--venue", _FIRST)]
        if stream is not None:
            parts.append((f" {stream.symbol}", "", _FIRST))
            if stream.source:
                parts.append((f"@{stream.source}", "status--source", _FIRST))
        word, style = state_text(feed, stream)
        parts.append(("  ", "", _WORDS))
        parts.append((f" {word} ", style, _WORDS))
        parts.extend(replay)
        if note:
            parts.append((f"  {note}", "status--note", _WORDS))
        if feed.bad_frames:
            parts.append((f"  bad frames {feed.bad_frames}", "status--bad", _AFTER))
        if stream is not None:
            version = stream.book.version
            # venues without versions: the push counter stands in
            parts.append((f"  v{version}" if version is not None else f"  push #{stream.pushes}",
                          "status--muted", _AFTER))
            parts.append((f"  resyncs {stream.resyncs}", "status--muted", _AFTER))
        parts.append((f"  {'–' if self.mask_times else fmt.rate(rate)} msg/s", "status--muted",
                      _AFTER))
        if stream is not None:
            age = None if self.mask_times else (self.clock.age(stream) if self.clock
                                                else stream.age())
            parts.append((f"  age {'–' if self.mask_times else fmt.seconds(age)}",
                          "status--muted", _AFTER))
            if stream.name:
                parts.append((f"  {stream.name}", "", _AFTER))
        if not replay:  # live: taken in the order shown, the first that does not fit ends it
            parts = [(text, cls, rank) for rank, (text, cls, _) in enumerate(parts)]
        return parts

    def tick(self, note: str = "") -> None:
        parts = _fit(self._parts(note), self.size.width or 200)
        text = Text(no_wrap=True, overflow="crop")
        for part, cls in parts:
            text.append(part, self.get_component_rich_style(cls, default=NO_STYLE) if cls else "")
        if self._text is None or text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            # the stylesheet fixes the bar's size: new text needs no layout of the screen
            # (Static.update's default; one costs 13-18 ms on a slow VM, 4 times a second)
            self.update(text, layout=False)


class HealthPanel(Static):
    """The venue's latency as the feed declares it, obview's own receive-to-paint delay
    (kept apart: one is the network and the venue, the other is us), counters."""

    COMPONENT_CLASSES = {"health--heading", "health--muted", "health--spark", "health--warn",
                         "health--bad"}  # the state's colour is the status bar's

    def __init__(self, feed: Feed, stream: Stream, clock: StreamClock,
                 paint_delay: LatencyStats, mask_times: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.feed = feed
        self.stream = stream
        self.clock = clock
        self.paint_delay = paint_delay
        self.mask_times = mask_times
        self.compact = False  # narrow terminals: three lines under the ladder
        # False while the ladder is hidden (the heatmap alone): it paints nothing, so its
        # receive -> paint figures would stand still and pass for live ones
        self.paint_measured = True
        self._plain = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._plain = None

    def _s(self, name: str):
        return self.get_component_rich_style(name, default=NO_STYLE)

    def tick(self) -> None:
        text = self.build()
        if text.plain != self._plain:
            self._plain = text.plain
            self.update(text, layout=False)  # its size is the stylesheet's, as the bar's

    def _ms(self, value: float | None) -> str:
        return "–" if self.mask_times else fmt.ms(value)

    def venue_rows(self) -> tuple[str, list[tuple[str, LatencyStats]]]:
        """The heading and rows of the venue-side figures, per the feed's declaration."""
        stream, kind = self.stream, self.feed.capabilities.latency
        if kind is LatencyKind.RECEIVE:
            return "Venue stamp → receive", [(k, v) for k, v in stream.latency.items()]
        if kind is LatencyKind.INTERVAL:
            return "Venue push timing", [("interval", stream.latency["interval"]),
                                         ("stamp age", self.clock.venue_age)]
        # no venue stamps to age (this venue's books carry none): an empty row of dashes, and
        # every push counted "unstamped" in the warning colour, would say something is wrong
        return "Push timing (measured here)", [("interval", self.clock.interval)]

    def unstamped_text(self) -> str:
        kind = self.feed.capabilities.latency
        if kind is LatencyKind.RECEIVE:
            return "unstamped " + " ".join(f"{k} {v.unstamped}"
                                           for k, v in self.stream.latency.items())
        if kind is LatencyKind.NONE:
            return NO_STAMPS
        return f"unstamped {self.clock.venue_age.unstamped}"

    def _stats_line(self, text: Text, label: str, stats: LatencyStats) -> None:
        summary = stats.summary()
        text.append(f"{label:<10}", "bold")
        text.append(f"{self._ms(summary['p50']):>7}{self._ms(summary['p99']):>7}"
                    f"{self._ms(summary['max']):>7}\n")
        spark = "" if self.mask_times else sparkline(stats)
        text.append(f"  {spark}\n", self._s("health--spark"))

    def build(self) -> Text:
        return self.build_compact() if self.compact else self.build_full()

    def build_compact(self) -> Text:
        feed, stream = self.feed, self.stream
        text = Text(no_wrap=True, overflow="crop")
        _, rows = self.venue_rows()
        label = "venue" if feed.capabilities.latency is LatencyKind.RECEIVE else "push"
        text.append(f"{label:<6}", "bold")
        for name, stats in rows:
            summary = stats.summary()
            text.append(f" {name} p50 {self._ms(summary['p50'])} p99 {self._ms(summary['p99'])}")
        text.append("\n")
        text.append(f"{'paint':<6}", "bold")
        if not self.paint_measured:
            text.append(f" recv→paint {NOT_PAINTING}\n", self._s("health--muted"))
        else:
            summary = self.paint_delay.summary()
            text.append(f" recv→paint p50 {self._ms(summary['p50']):>7} p99 "
                        f"{self._ms(summary['p99']):>7} max {self._ms(summary['max']):>7} ")
            text.append(("" if self.mask_times else sparkline(self.paint_delay, 16)) + "\n",
                        self._s("health--spark"))
        text.append(f"{self.unstamped_text()} · resyncs {stream.resyncs} · reconnects "
                    f"{feed.reconnects} · bad frames {feed.bad_frames}", self._s("health--muted"))
        if "verified_at" in stream.extra and not self.mask_times:
            line, alarm = verification_text(stream.extra, self.clock.wall())
            text.append(f" · {line}", self._s("health--bad") if alarm else self._s("health--muted"))
        return text

    def build_full(self) -> Text:
        feed, stream = self.feed, self.stream
        text = Text(no_wrap=True, overflow="crop")
        heading, rows = self.venue_rows()
        text.append(f"{heading}\n", self._s("health--heading"))
        text.append(f"{'':<10}{'p50':>7}{'p99':>7}{'max':>7}\n", self._s("health--muted"))
        for name, stats in rows:
            self._stats_line(text, name, stats)
        unstamped = self.unstamped_text()
        if unstamped == NO_STAMPS:
            text.append(f"{unstamped}\n", self._s("health--muted"))
        elif any(char.isdigit() and char != "0" for char in unstamped):
            text.append(f"{unstamped}\n", self._s("health--warn"))
        text.append("obview receive → paint\n", self._s("health--heading"))
        if self.paint_measured:
            self._stats_line(text, "delay", self.paint_delay)
        else:
            text.append(f"{NOT_PAINTING}\n\n", self._s("health--muted"))
        text.append("\nHealth\n", self._s("health--heading"))
        text.append(f"state     {state_text(feed, stream)[0]}\n")
        text.append(f"synced    {'yes' if stream.synced else 'no'}"
                    f"{'  STALE' if stream.stale else ''}\n")
        text.append(f"messages  {feed.messages}\n")
        text.append(f"pushes    {stream.pushes}  updates {stream.updates}\n")
        text.append(f"resyncs   {stream.resyncs}  reconnects {feed.reconnects}\n")
        text.append(f"bad frames {feed.bad_frames}\n",
                    self._s("health--bad") if feed.bad_frames else "")
        if "verified_at" in stream.extra and not self.mask_times:  # masked: a clock
            line, alarm = verification_text(stream.extra, self.clock.wall())
            text.append(f"verify    {line}\n", self._s("health--bad") if alarm else "")
        if feed.address and not self.mask_times:  # masked: ephemeral ports vary per run
            text.append(f"{feed.address}\n", self._s("health--muted"))
        return text


def verification_text(extra: dict, now: float) -> tuple[str, bool]:
    """("verified 12 s ago" / "2 mismatches, verified 3 s ago" / "not yet", alarm) for a
    stream whose feed checks its book against the venue (`verified_at` epoch ms; `now`
    epoch s, the journal's in a replay, where the feed stamps its checks on it too)."""
    verified_at = extra.get("verified_at")
    mismatches = extra.get("verify_mismatches") or 0
    ago = "not yet" if verified_at is None else \
        f"{max(0, int(now - verified_at / 1000))} s ago"
    if mismatches:
        return f"{mismatches} mismatch{'es' if mismatches != 1 else ''}, verified {ago}", True
    return (f"verified {ago}" if verified_at is not None else "not verified yet"), False
