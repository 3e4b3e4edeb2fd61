"""The status bar and the latency / health panel of the active stream.

Both are cheap Rich `Text` refreshed a few times a second (ages and rates change
with time, not only with data) and immediately on a status change. They read the
feed and stream fields only; the TUI's own measurements (push interval, venue
stamp age) live in `StreamClock`, fed by the app's feed listener.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from obview import fmt
from obview.feed import Feed, FeedState, Stream
from obview.latency import LatencyStats

SPARK = "▁▂▃▄▅▆▇█"
STATE_STYLES = {
    FeedState.CONNECTING: "bold #ffd75f",
    FeedState.SYNCED: "bold #5fd75f",
    FeedState.RESYNCING: "bold #ffaf00",
    FeedState.RECONNECTING: "bold #ff8700",
    FeedState.STALE: "bold #ff8700",
    FeedState.ERROR: "bold #ffffff on #af0000",
    FeedState.STOPPED: "bold #808080",
}


class StreamClock:
    """Push timing the TUI measures itself, for venues without receive stamps."""

    __slots__ = ("interval", "venue_age", "last_push")

    def __init__(self) -> None:
        self.interval = LatencyStats(window=300)
        self.venue_age = LatencyStats(window=300)
        self.last_push: float | None = None

    def on_push(self, stream: Stream) -> None:
        now = time.monotonic()
        if self.last_push is not None:
            self.interval.add((now - self.last_push) * 1000)
        self.last_push = now
        venue_ts = stream.book.venue_ts
        self.venue_age.add(None if venue_ts is None else time.time() * 1000 - venue_ts)


class RateMeter:
    """Messages per second over the last refresh interval."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None
        self.value: float | None = None

    def sample(self, count: int) -> float | None:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] >= 0.5:
            self.value = (count - self._last[1]) / (now - self._last[0])
            self._last = (now, count)
        elif self._last is None:
            self._last = (now, count)
        return self.value


def sparkline(stats: LatencyStats, width: int = 24) -> str:
    values = list(stats.samples)[-width:]
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(SPARK[min(7, int(v / top * 7.999))] for v in values)


def state_text(feed: Feed, stream: Stream | None) -> tuple[str, str]:
    """The word for the stream's condition and its style."""
    state = feed.state
    if stream is not None and stream.error:
        return f"error: {stream.error}", STATE_STYLES[FeedState.ERROR]
    if stream is not None and stream.stale and state is FeedState.SYNCED:
        return "stale", STATE_STYLES[FeedState.STALE]
    word = state.value
    if feed.status_text:  # also when synced: e.g. bthub's "TLS NOT VERIFIED (--insecure)"
        word += f": {feed.status_text}"
    return word, STATE_STYLES.get(state, "bold")


class StatusBar(Static):
    """venue · symbol · name · state · version · resyncs · msg/s · age."""

    DEFAULT_CSS = "StatusBar { height: 1; background: #1c1c1c; color: #d0d0d0; }"

    def __init__(self, mask_times: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.mask_times = mask_times
        self.feed: Feed | None = None
        self.stream: Stream | None = None
        self.rates: dict[int, RateMeter] = {}
        self._text: Text | None = None

    def show(self, feed: Feed | None, stream: Stream | None, note: str = "") -> None:
        self.feed, self.stream = feed, stream
        self.tick(note)

    def tick(self, note: str = "") -> None:
        feed, stream = self.feed, self.stream
        text = Text(no_wrap=True, overflow="ellipsis")
        if feed is None:
            text.append(f" {note or 'obview'}", "bold")
        else:
            meter = self.rates.setdefault(id(feed), RateMeter())
            rate = meter.sample(feed.messages or sum(s.pushes for s in feed.streams.values()))
            text.append(f" {feed.venue} ", "bold #000000 on #5fafff")
            if stream is not None:
                text.append(f" {stream.symbol}", "bold")
                if stream.source:
                    text.append(f"@{stream.source}", "#ffaf00")
                if stream.name:
                    text.append(f" {stream.name}", "#d0d0d0")
            word, style = state_text(feed, stream)
            text.append("  ")
            text.append(f" {word} ", style)
            if stream is not None:
                version = stream.book.version
                # venues without versions (Futu, bthub): the push counter stands in
                text.append(f"  v{version}" if version is not None else f"  push #{stream.pushes}",
                            "#a8a8a8")
                text.append(f"  resyncs {stream.resyncs}", "#a8a8a8")
            text.append(f"  {'–' if self.mask_times else fmt.rate(rate)} msg/s", "#a8a8a8")
            if stream is not None:
                age = None if self.mask_times else stream.age()
                text.append(f"  age {'–' if self.mask_times else fmt.seconds(age)}", "#a8a8a8")
            if feed.bad_frames:
                text.append(f"  bad frames {feed.bad_frames}", "bold #ff5f5f")
            if note:
                text.append(f"  {note}", "#ffd75f")
        if self._text is None or text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.update(text)


class HealthPanel(Static):
    """Per-side receive latency (or push interval and venue age), counters."""

    DEFAULT_CSS = "HealthPanel { padding: 0 1; }"

    def __init__(self, feed: Feed, stream: Stream, clock: StreamClock,
                 mask_times: bool = False, **kw) -> None:
        super().__init__("", **kw)
        self.feed = feed
        self.stream = stream
        self.clock = clock
        self.mask_times = mask_times
        self.compact = False  # narrow terminals: three lines under the ladder
        self._plain = None

    def tick(self) -> None:
        text = self.build()
        if text.plain != self._plain:
            self._plain = text.plain
            self.update(text)

    def _ms(self, value: float | None) -> str:
        return "–" if self.mask_times else fmt.ms(value)

    def _stats_line(self, text: Text, label: str, stats: LatencyStats) -> None:
        summary = stats.summary()
        text.append(f"{label:<9}", "bold")
        text.append(f"{self._ms(summary['p50']):>7}{self._ms(summary['p99']):>7}"
                    f"{self._ms(summary['max']):>7}\n")
        spark = "" if self.mask_times else sparkline(stats)
        text.append(f"  {spark}\n", "#5fafff")

    def build(self) -> Text:
        return self.build_compact() if self.compact else self.build_full()

    def build_compact(self) -> Text:
        feed, stream = self.feed, self.stream
        text = Text(no_wrap=True, overflow="crop")
        stamped = {k: v for k, v in stream.latency.items() if k in ("bid", "ask")}
        rows = list(stamped.items()) or [
            ("interval", stream.latency.get("interval") or self.clock.interval),
            ("venue age", self.clock.venue_age)]
        for name, stats in rows:
            summary = stats.summary()
            text.append(f"{name:<9}", "bold")
            text.append(f" p50 {self._ms(summary['p50']):>7} p99 {self._ms(summary['p99']):>7}"
                        f" max {self._ms(summary['max']):>7} ")
            text.append(("" if self.mask_times else sparkline(stats, 20)) + "\n", "#5fafff")
        unstamped = ("unstamped " + " ".join(f"{k} {v.unstamped}" for k, v in stamped.items())
                     if stamped else f"no venue ts {self.clock.venue_age.unstamped}")
        text.append(f"{unstamped} · resyncs {stream.resyncs} · reconnects {feed.reconnects}"
                    f" · bad frames {feed.bad_frames}", "#a8a8a8")
        if "verified_at" in stream.extra and not self.mask_times:
            line, alarm = verification_text(stream.extra)
            text.append(f" · {line}", "bold #ff5f5f" if alarm else "#a8a8a8")
        return text

    def build_full(self) -> Text:
        feed, stream = self.feed, self.stream
        text = Text(no_wrap=True, overflow="crop")
        stamped = {k: v for k, v in stream.latency.items() if k in ("bid", "ask")}
        if stamped:
            text.append("Receive latency (venue stamp)\n", "bold underline")
        else:
            text.append("Push timing (no receive stamps)\n", "bold underline")
        text.append(f"{'':<9}{'p50':>7}{'p99':>7}{'max':>7}\n", "#a8a8a8")
        for name, stats in stamped.items():
            self._stats_line(text, name, stats)
        if stamped:
            unstamped = "  ".join(f"{k} {v.unstamped}" for k, v in stamped.items())
            text.append(f"unstamped pushes: {unstamped}\n", "#ffaf00")
        else:
            venue_interval = stream.latency.get("interval")
            self._stats_line(text, "interval", venue_interval or self.clock.interval)
            self._stats_line(text, "venue age", self.clock.venue_age)
            if self.clock.venue_age.unstamped:
                text.append(f"pushes without venue ts: {self.clock.venue_age.unstamped}\n",
                            "#ffaf00")
        text.append("\nHealth\n", "bold underline")
        text.append(f"state     {state_text(feed, stream)[0]}\n")
        text.append(f"synced    {'yes' if stream.synced else 'no'}"
                    f"{'  STALE' if stream.stale else ''}\n")
        text.append(f"messages  {feed.messages}\n")
        text.append(f"pushes    {stream.pushes}  updates {stream.updates}\n")
        text.append(f"resyncs   {stream.resyncs}  reconnects {feed.reconnects}\n")
        text.append(f"bad frames {feed.bad_frames}\n",
                    "bold #ff5f5f" if feed.bad_frames else "")
        if "verified_at" in stream.extra and not self.mask_times:  # masked: a clock
            line, alarm = verification_text(stream.extra)
            text.append(f"verify    {line}\n", "bold #ff5f5f" if alarm else "")
        if feed.address and not self.mask_times:  # masked: ephemeral ports vary per run
            text.append(f"{feed.address}\n", "#808080")
        return text


def verification_text(extra: dict) -> tuple[str, bool]:
    """("verified 12 s ago" / "2 mismatches, verified 3 s ago" / "not yet", alarm) for a
    stream whose feed checks its book against the venue (`verified_at` epoch ms)."""
    verified_at = extra.get("verified_at")
    mismatches = extra.get("verify_mismatches") or 0
    ago = "not yet" if verified_at is None else \
        f"{max(0, int(time.time() - verified_at / 1000))} s ago"
    if mismatches:
        return f"{mismatches} mismatch{'es' if mismatches != 1 else ''}, verified {ago}", True
    return (f"verified {ago}" if verified_at is not None else "not verified yet"), False
