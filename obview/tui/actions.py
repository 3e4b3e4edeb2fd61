"""Every user action, once: the key bindings, the command palette and the help screen
are all generated from `KEYS` (and a test holds the README's key table to it).

A `Scope` says where an action makes sense; the app hides it from the footer, refuses
its key and leaves it out of the palette anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from textual.binding import Binding


class Scope(StrEnum):
    ANYWHERE = "anywhere"
    MAIN = "main"  # the tabs are in front (no drilldown, help or palette on top)
    LADDER = "ladder"  # a ladder tab is in front
    LEVELS = "levels"  # ... and its venue has aggregation levels
    HEATMAP = "heatmap"  # ... and its depth heatmap is on screen (h)
    ORDERS = "orders"  # an orders table is in front
    OVERLAY = "overlay"  # a screen is on top of the tabs
    REPLAY = "replay"  # the tab in front shows a feed a journal drives


class Owner(StrEnum):
    APP = "app"  # an App binding
    LADDER = "ladder"  # a binding of the focused ladder
    FOCUS = "focus"  # a binding of the focused ladder or orders table
    SCREEN = "screen"  # a binding of every screen shown over the tabs (a modal one
    # cuts the App's bindings off, so these must be the screen's own)
    BUILTIN = "builtin"  # handled by Textual (palette key); listed, not bound


@dataclass(frozen=True)
class Action:
    keys: str  # Textual key names, comma-separated
    action: str  # the action string ("group(1)")
    title: str  # command palette title; "" = not in the palette
    summary: str  # command palette help line
    scope: Scope = Scope.ANYWHERE
    footer: str = ""  # footer label; "" = not in the footer
    display: str | None = None  # how the footer shows the key
    owners: tuple[Owner, ...] = (Owner.APP,)
    priority: bool = False


@dataclass(frozen=True)
class KeyRow:
    """One line of the help screen (and of the README's key table)."""

    keys: str
    text: str
    actions: tuple[Action, ...]


KEYS: tuple[KeyRow, ...] = (
    KeyRow("up / down", "move the level cursor (its row shows cumulative size, notional, "
           "bps from mid; past the last row on screen, that side scrolls); mouse: click a "
           "level, wheel moves", (
               Action("up", "cursor(-1)", "", "", Scope.LADDER, owners=(Owner.LADDER,)),
               Action("down", "cursor(1)", "", "", Scope.LADDER, owners=(Owner.LADDER,)))),
    KeyRow("enter", "drill down into the level under the cursor (order queue, sources, or "
           "size history) / an order's executions", (
               Action("enter", "app.drilldown", "Drill down",
                      "Open the level under the cursor / the order's executions (enter)",
                      Scope.ANYWHERE, "Drilldown", owners=(Owner.FOCUS,)),)),
    KeyRow("escape", "close the screen in front (drilldown, help, executions, tab picker)", (
        Action("escape", "app.back", "", "", Scope.OVERLAY, "Back",
               owners=(Owner.SCREEN,)),)),
    KeyRow("g / G", "coarser / finer price grouping (bids round down, asks round up)", (
        Action("g", "group(1)", "Coarser grouping", "Group prices by a larger step (g)",
               Scope.LADDER, "Coarser"),
        Action("G", "group(-1)", "Finer grouping", "Group prices by a smaller step (G)",
               Scope.LADDER, "Finer", "G"))),
    KeyRow("d", "depth presets 10 / 20 / 50", (
        Action("d", "depth", "Cycle depth", "Rows per side: 10 / 20 / 50 (d)", Scope.LADDER,
               "Depth"),)),
    KeyRow("l", "next aggregation level, where the venue has levels (new subscription, "
           "fresh book; not in a replay, whose journal holds one level)", (
               Action("l", "level", "Next aggregation level",
                      "The venue's next book aggregation level (l)", Scope.LEVELS, "Level"),)),
    KeyRow("h", "ladder / ladder + depth heatmap / heatmap (heatmap: arrows or mouse move "
           "its crosshair, end back to now; in a replay, end again: the journal's end)", (
               Action("h", "layout", "Cycle heatmap layout",
                      "Ladder, ladder + depth heatmap, heatmap (h)", Scope.LADDER),)),
    KeyRow("z / Z", "depth heatmap: finer / coarser time columns (100 ms, 1 s, 10 s)", (
        Action("z", "zoom(-1)", "Finer heatmap time", "Narrower heatmap time columns (z)",
               Scope.HEATMAP),
        Action("Z", "zoom(1)", "Coarser heatmap time", "Wider heatmap time columns (Z)",
               Scope.HEATMAP))),
    KeyRow("T", "trade tape: highlight prints of at least this size (empty: none)", (
        Action("T", "tape_threshold", "Tape highlight size",
               "Highlight prints on the tape at or above a size (T)", Scope.LADDER),)),
    KeyRow("t", "show the +/- size change since the previous update", (
        Action("t", "delta", "Toggle delta", "Show the +/- size change column (t)",
               Scope.LADDER, "Delta"),)),
    KeyRow("p", "freeze the ladders (data keeps flowing; g, d and l wait for p again)", (
        Action("p", "freeze", "Freeze display", "Freeze / unfreeze the ladders (p)",
               Scope.MAIN, "Freeze"),)),
    KeyRow("space", "replay: pause / resume", (
        # one key, two footer labels: what it does now (the app offers the one that fits)
        Action("space", "replay('pause')", "Pause / resume replay", "Pause or resume (space)",
               Scope.REPLAY, "Pause", priority=True),
        Action("space", "replay('resume')", "", "", Scope.REPLAY, "Resume", priority=True),)),
    KeyRow("+ / -", "replay: faster / slower (0.1x to 100x, then max)", (
        Action("plus", "replay('faster')", "Replay faster", "Next speed up (+)", Scope.REPLAY,
               "Faster", "+", priority=True),
        Action("minus", "replay('slower')", "Replay slower", "Next speed down (-)",
               Scope.REPLAY, "Slower", "-", priority=True))),
    KeyRow("[ / ]", "replay: 10 s back / forward (from the checkpoint before)", (
        Action("left_square_bracket", "replay('back')", "Replay 10 s back",
               "Seek 10 s back ([)", Scope.REPLAY, priority=True),
        Action("right_square_bracket", "replay('forward')", "Replay 10 s forward",
               "Seek 10 s forward (])", Scope.REPLAY, priority=True))),
    KeyRow("home / end", "replay: start / end of the journal", (
        Action("home", "replay('home')", "Replay from the start", "Seek to the start (home)",
               Scope.REPLAY, priority=True),
        Action("end", "replay('end')", "Replay: go to the end", "Seek to the end (end)",
               Scope.REPLAY, priority=True))),
    KeyRow(".", "replay: one message forward (pauses)", (
        Action("full_stop", "replay('step')", "Replay one message", "One message forward (.)",
               Scope.REPLAY, priority=True),)),
    KeyRow("tab / shift+tab", "next / previous tab", (
        Action("tab", "next_tab", "Next tab", "Next tab (tab)", Scope.MAIN, priority=True),
        Action("shift+tab", "prev_tab", "Previous tab", "Previous tab (shift+tab)",
               Scope.MAIN, priority=True))),
    KeyRow("1 … 9", "jump to tab N", tuple(
        Action(str(n), f"goto_tab({n})", "", "", Scope.MAIN) for n in range(1, 10))),
    KeyRow("/", "find a tab by code or name (type to filter, up / down, enter jumps; "
           "escape closes)", (
               Action("slash", "pick_tab", "Find a tab",
                      "Filter the tabs by code or name and jump to one (/)", Scope.MAIN,
                      display="/"),)),
    KeyRow("?", "this help", (
        Action("question_mark", "app.help", "Keys", "Every key obview understands (?)",
               Scope.ANYWHERE, "Help", "?", owners=(Owner.APP, Owner.SCREEN)),)),
    KeyRow("ctrl+p", "command palette (every action available here, themes, screenshot)", (
        Action("ctrl+p", "command_palette", "", "", owners=(Owner.BUILTIN,)),)),
    KeyRow("q", "close the screen in front; on the tabs: quit", (
        Action("q", "app.close_or_quit", "", "", Scope.ANYWHERE, "Quit",
               owners=(Owner.APP, Owner.SCREEN)),)),
    KeyRow("ctrl+c", "quit", (
        Action("ctrl+c", "quit", "Quit", "Quit obview (ctrl+c)", priority=True),)),
)

ACTIONS: tuple[Action, ...] = tuple(action for row in KEYS for action in row.actions)


def action_name(action: str) -> str:
    """"group(1)" -> "group"; "app.drilldown" -> "drilldown"."""
    return action.split("(", 1)[0].removeprefix("app.")


SCOPES: dict[str, Scope] = {action_name(a.action): a.scope for a in ACTIONS}


def bindings(*owners: Owner) -> list[Binding]:
    return [Binding(a.keys, a.action, a.footer or a.title, show=bool(a.footer),
                    key_display=a.display, priority=a.priority)
            for a in ACTIONS if set(a.owners) & set(owners)]


def palette_actions() -> list[Action]:
    return [a for a in ACTIONS if a.title]
