"""The one way an exception becomes the one line a user sees (status bar, stderr, logs).

Light on purpose: the CLI imports it before anything heavy.
"""

from __future__ import annotations

import errno
import os
import reprlib
import socket
import sys

# asyncio's create_server (so the simulators' and serve's binds) wraps the socket's error
# as "error while attempting to bind on address ('127.0.0.1', 8000): address already in
# use": the caller names the address already, and the reason is the errno's own text
_BIND_WRAPPED = "error while attempting to bind on address"
_BIND_HINTS = {errno.EADDRNOTAVAIL: " (not an address of this machine)"}


def abridged(value: object, width: int = 40) -> str:
    """`value`'s repr for a message about damaged input, which can be any size: long
    strings and containers shortened (reprlib), and at most `width` characters."""
    return _cut(reprlib.repr(value), width)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def named(value: object, width: int = 40) -> str:
    """A name read from damaged input (a journal's venue or symbol) for a message: as it
    reads where it looks like one (printable, 1 to `width` characters), else `abridged`
    (a 100 kB venue was quoted whole, a newline in one broke the message's one line)."""
    if type(value) is str and 0 < len(value) <= width and value.isprintable():
        return value
    return abridged(value, width)


def bounded(text: str, width: int = 300) -> str:
    """A reason that may quote damaged input (a venue's own check of a journal's feed
    config, which quotes what it refused whole) on one line and at most `width` long."""
    return _cut(one_line(text), width)


def describe_error(exc: BaseException, limit: int | None = None) -> str:
    """One line for a user: the exception's text with its lines joined, or a plain
    phrase for the failures everyone meets (refused, unknown host, timed out), or the
    type's name when there is no text. `limit` caps text that came off the network."""
    text = str(exc).strip()
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or text})"
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, OSError) and exc.errno and str(exc.strerror).startswith(_BIND_WRAPPED):
        return os.strerror(exc.errno).lower() + _BIND_HINTS.get(exc.errno, "")
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror  # "[Errno 2] ... 'path'" says the same twice
    return one_line(text, limit) or type(exc).__name__


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with its lines joined (a usage error's hint stays on the line)."""
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if limit is None else line[:limit]


def warn(text: str) -> None:
    """A warning for whoever runs obview without a screen: one line on stderr."""
    print(f"obview: warning: {one_line(text)}", file=sys.stderr, flush=True)
