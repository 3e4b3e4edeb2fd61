"""Where log lines go: `--log-file PATH` (debug, everything), else the platform's log folder.

Without `--log-file`, warnings and errors still land somewhere a user looks
(`platformdirs.user_log_path("obview")/obview.log`: `~/.local/state/obview/log` on Linux,
`~/Library/Logs/obview` on macOS), rotated so it never grows without bound. Nothing goes to
the terminal: it would scribble over the TUI or the JSON. Every handler redacts secrets.
When an error is logged, `status_note()` says where, for the TUI's status bar.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOG_NAME = "obview.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_errors = 0
_where: Path | None = None


def default_log_path() -> Path:
    import platformdirs

    return platformdirs.user_log_path("obview", appauthor=False) / LOG_NAME


class _ErrorCounter(logging.Handler):
    """Counts errors so the status bar can point at the log; keeps no record."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        global _errors
        _errors += 1


def setup(log_file: str | None) -> Path | None:
    """Attach the file handler; returns the log's path (None if it cannot be opened)."""
    global _where
    from obview.venues.bthub.redact import RedactingFilter

    logger = logging.getLogger("obview")
    if log_file:
        handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        logger.setLevel(logging.DEBUG)
        path = Path(log_file)
    else:
        path = default_log_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        except OSError:
            return None  # a read-only home must not stop the viewer
        handler.setLevel(logging.WARNING)
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(FORMAT))
    # on the handler, so records propagated from every obview.* logger pass through it
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.addHandler(_ErrorCounter())
    _where = path
    return path


def errors_logged() -> int:
    return _errors


def status_note() -> str:
    """'errors logged: ~/.local/state/obview/log/obview.log' once an error is logged, else ''."""
    if not _errors or _where is None:
        return ""
    home = os.path.expanduser("~")
    shown = str(_where)
    if home and home != "/" and shown.startswith(home + os.sep):
        shown = "~" + shown[len(home):]
    return f"{_errors} error{'s' if _errors > 1 else ''} logged: {shown}"
