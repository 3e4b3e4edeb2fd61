"""The key footer: Textual's, except that a key which does not fit is not shown at all.

Textual lays the keys out in a row and crops the row at the palette key, so the last
key that reached the edge showed a key without its label ("space ▏"): a key nobody can
read the meaning of. Here a key that does not fit whole is hidden, the least important
first: in a replay its own keys (pause, speed) are kept before any other, the others in
their order. (obview's bindings form no groups: every key is a `FooterKey` of its own.)
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import Footer

try:  # (not exported: the keys the footer lays out)
    from textual.widgets._footer import FooterKey
except ImportError:  # a Textual that moved it: its own footer, a cropped key and all,
    FooterKey = None  # rather than an app that cannot start

from obview.tui.actions import SCOPES, Scope, action_name


def _width(key, last: bool) -> int:
    """Cells `key` takes in the row; `last`: only up to the end of its label (what
    follows it is padding, which may fall off the edge)."""
    text = key.render().plain
    margin = key.styles.margin
    if last:
        return margin.left + key.styles.gutter.left + cell_len(text.rstrip())
    return margin.width + key.styles.gutter.width + cell_len(text)


def _rank(key) -> int:
    """0 for a replay's keys (shown only in a replay, where they are what is steered
    by), 1 for the rest."""
    return 0 if SCOPES.get(action_name(key.action)) is Scope.REPLAY else 1


class KeyFooter(Footer):
    """Textual's footer, its keys shown whole or not at all (see the module)."""

    async def recompose(self) -> None:
        await super().recompose()  # the keys of the bindings now in force
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        if FooterKey is None:
            return
        keys = [child for child in self.children if isinstance(child, FooterKey)]
        palette = [key for key in keys if key.has_class("-command-palette")]
        keys = [key for key in keys if key not in palette]
        room = self.size.width - sum(_width(key, last=False) for key in palette)
        order = sorted(range(len(keys)), key=lambda i: (_rank(keys[i]), i))
        shown: set[int] = set()
        for index in order:
            # the row as it would be with this key too: its last key may lose its padding
            row = sorted(shown | {index})
            used = sum(_width(keys[i], last=i == row[-1]) for i in row)
            if used > room:
                break
            shown.add(index)
        for index, key in enumerate(keys):
            key.display = index in shown
