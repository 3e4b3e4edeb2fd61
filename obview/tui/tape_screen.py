"""`T`: a small input for the tape's highlight size."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from obview import fmt


class ThresholdScreen(ModalScreen):
    """Returns the new threshold (a Decimal, or None for no highlight), or False if
    the user backed out."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ThresholdScreen { align: center middle; }
    ThresholdScreen > Vertical { width: 56; height: auto; background: $panel; padding: 1 2; }
    ThresholdScreen #threshold-error { color: $text-error; }
    """

    def __init__(self, current: Decimal | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Highlight prints of at least this size (empty: none)")
            yield Input(value="" if self.current is None else fmt.dec_str(self.current),
                        placeholder="e.g. 1000", id="threshold")
            yield Static("", id="threshold-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip().replace(",", "").replace("_", "")
        if not text:
            self.dismiss(None)
            return
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value <= 0:
            self.query_one("#threshold-error", Static).update(
                f"{event.value!r} is not a size above 0")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(False)
