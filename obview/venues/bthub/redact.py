"""Keep bthub secrets (password, token) out of every text a person or a log can read.

The password travels in the login query string and the token in the WebSocket URL, and
httpx and websockets log request lines at info/debug level. `redact` masks secret query
values, URL userinfo and the literal secrets registered by live feeds; `install_filter`
puts a redacting filter on the loggers that may print such URLs.
"""

from __future__ import annotations

import logging
import re
import traceback

_SECRET_PARAM = re.compile(
    r"(?i)((?:[?&;]|%3F|%26)(?:x-api-token|token|password|passwd|pwd|loginid)(?:=|%3D))"
    r"[^&;\s'\"<>#]*"
)
_USERINFO = re.compile(r"(?i)\b((?:https?|wss?)://)[^/\s@'\"]+@")
_secrets: set[str] = set()  # literal secrets seen by this process, scrubbed from every text
MIN_SECRET = 4  # shorter strings would mask innocent text; the URL rules still catch them


def add_secret(secret: str | None) -> None:
    if secret and len(secret) >= MIN_SECRET:
        _secrets.add(secret)


def redact(text: str) -> str:
    """Text safe to log or show."""
    text = _SECRET_PARAM.sub(r"\1***", text)
    text = _USERINFO.sub(r"\1***@", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string in a library: keep its raw template
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            record.exc_info, record.exc_text = None, None
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


_filter = RedactingFilter()


def install_filter(*names: str) -> None:
    """Filters act only on records created on that very logger, so name each one."""
    for name in names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
