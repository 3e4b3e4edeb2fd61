"""The key footer leans on a Textual module that is not exported (`textual.widgets._footer`);
a Textual that moves it must cost only the footer's fitting, not the app."""

from __future__ import annotations

import importlib
import sys

from tests.conftest import press_to_quit, wait_until
from tests.tui.conftest import make_app, screen_text


async def test_without_textual_s_private_footer_module_the_app_runs_with_the_stock_footer(
        monkeypatch):
    import obview.tui.footer as footer

    monkeypatch.setitem(sys.modules, "textual.widgets._footer", None)  # an ImportError
    try:
        moved = importlib.reload(footer)
        assert moved.FooterKey is None
        monkeypatch.setattr("obview.tui.app.KeyFooter", moved.KeyFooter)
        app = make_app()
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(lambda: "Quit" in screen_text(app).splitlines()[-1], 10,
                             "the footer's keys")
            await press_to_quit(app, pilot)
    finally:
        monkeypatch.undo()
        importlib.reload(footer)  # (the real one again, for the tests after this)
