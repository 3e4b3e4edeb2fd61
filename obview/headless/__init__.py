"""Headless mode: the same feeds and books as the TUI, printed as JSON lines for scripts.

`run` drives the feeds and prints (`--dump json`, `--stream json`); `json` holds the one
JSON form of books and records. The contract is in docs/feeds.md.
"""

from obview.headless.json import book_json, record_json
from obview.headless.run import (
    SHUTDOWN_GRACE,
    ConfigError,
    HeadlessFailure,
    HeadlessPrinter,
    discard_output,
    run_headless,
)

__all__ = ["SHUTDOWN_GRACE", "ConfigError", "HeadlessFailure", "HeadlessPrinter", "book_json",
           "discard_output", "record_json", "run_headless"]
