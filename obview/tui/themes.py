"""obview's own themes. Everything on screen takes its colours from the theme's
variables ($success for bids, $error for asks, ...), so any Textual theme works;
these add what Textual lacks. Hex colours live here and in nowhere else in the TUI."""

from __future__ import annotations

from rich.style import Style
from textual.theme import Theme

# Okabe-Ito colours: told apart with every common colour-vision deficiency.
# Bids and "grew" are blue, asks and "shrank" orange (no green/red pair anywhere).
COLOUR_BLIND = Theme(
    name="obview-cb",
    primary="#56B4E9",
    secondary="#0072B2",
    accent="#F0E442",
    warning="#F0E442",
    error="#E69F00",
    success="#56B4E9",
    foreground="#e0e0e0",
    background="#121212",
    surface="#1c1c1c",
    panel="#262626",
    dark=True,
)

THEMES = (COLOUR_BLIND,)

NO_STYLE = Style()  # a component style asked for before the stylesheet is applied
