"""The tab picker (`/`): type part of a code or a name, enter jumps to that tab.

With dozens of codes the number keys and tab stepping stop being a way to find one
book. The picker lists every tab (number, label, instrument name: CJK names too) and
narrows the list to the tabs matching every word typed, case-insensitively. It is
a modal: printable keys go to its filter (so `q` types a `q`), escape closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from obview.tui.actions import Owner, bindings


@dataclass(frozen=True)
class TabEntry:
    """What the picker knows of one tab."""

    pane_id: str
    number: int
    label: str
    name: str = ""

    def matches(self, words: Sequence[str]) -> bool:
        haystack = f"{self.label} {self.name}".casefold()
        return all(word in haystack for word in words)

    def text(self) -> Text:
        text = Text(f"{self.number:>3}  ", style="dim")
        text.append(self.label, style="bold")
        if self.name:
            text.append(f"  {self.name}")
        return text


def filter_entries(entries: Sequence[TabEntry], query: str) -> list[TabEntry]:
    words = query.casefold().split()
    return [entry for entry in entries if entry.matches(words)]


class TabPicker(ModalScreen[str | None]):
    """Dismissed with the chosen tab's pane id, or None (escape)."""

    BINDINGS = [*bindings(Owner.SCREEN),
                # the filter keeps the focus: the arrows move the highlight in the list
                Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False)]

    def __init__(self, entries: Sequence[TabEntry], active_id: str | None = None) -> None:
        super().__init__()
        self.entries = list(entries)
        self.active_id = active_id
        self.shown: list[TabEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Input(placeholder="code or name…", id="picker-filter")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._show("")
        options = self.query_one(OptionList)
        for index, entry in enumerate(self.shown):
            if entry.pane_id == self.active_id:
                options.highlighted = index
        self.query_one(Input).focus()

    def _show(self, query: str) -> None:
        self.shown = filter_entries(self.entries, query)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(entry.text(), id=entry.pane_id) for entry in self.shown])
        if self.shown:
            options.highlighted = 0
        else:  # an empty list would look like a picker still loading
            options.add_option(Option(Text(f"no tab matches {query.strip()!r}", style="dim"),
                                      disabled=True))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.shown:
            self.app.bell()
            return
        self.dismiss(self.shown[options.highlighted].pane_id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self.shown:
            current = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(len(self.shown) - 1, current + step))
