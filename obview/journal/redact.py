"""Keep secrets out of journals.

A journal holds raw wire bytes, so a secret can reach it in several spellings: as sent,
URL-encoded in a query, JSON-escaped inside a text payload, and escaped once more when the
payload itself becomes a JSON string in the journal line. `Redactor` masks every spelling
with as many `*` as it is long, so a masked protobuf body keeps its field lengths and still
parses on replay; it checks each finished line once more as a last guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

import msgspec

MIN_SECRET = 4  # shorter strings would mask innocent text
MASK = "***"
# Option names whose values never enter a journal header, whatever they hold.
SECRET_NAMES = ("password", "passwd", "pwd", "token", "secret", "key", "auth", "sign", "cookie")


def _json_inner(text: str) -> str:
    return msgspec.json.encode(text).decode()[1:-1]


def _spellings(secret: str) -> list[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), _json_inner(secret)}
    forms |= {_json_inner(form) for form in list(forms)}  # a payload turned journal string
    return sorted(forms, key=len, reverse=True)  # longest first: masks never split a form


class Redactor:
    """Masks registered secrets in payloads, and `custom` (say, a venue's URL rule
    str -> str) applied to text first."""

    def __init__(self, secrets: Iterable[str | None] = (),
                 custom: Callable[[str], str] | None = None) -> None:
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self.custom = custom
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET:
            return
        for form in _spellings(secret):
            if form not in self._text:
                self._text.append(form)
                self._bytes.append(form.encode())

    def __bool__(self) -> bool:
        return bool(self._text) or self.custom is not None

    def text(self, value: str) -> str:
        if self.custom is not None:
            value = self.custom(value)
        for form in self._text:
            if form in value:
                value = value.replace(form, "*" * len(form))
        return value

    def binary(self, value: bytes) -> bytes:
        for form in self._bytes:
            if form in value:
                value = value.replace(form, b"*" * len(form))
        return value

    def line(self, line: bytes) -> bytes:
        """The last guard, on an encoded journal line."""
        for form in self._bytes:
            if form in line:
                line = line.replace(form, b"*" * len(form))
        return line

    def options(self, options: dict) -> dict:
        """Options fit for a header: secret-named values dropped, the rest masked."""
        clean: dict = {}
        for name, value in options.items():
            if any(word in str(name).lower() for word in SECRET_NAMES):
                clean[name] = MASK
            elif isinstance(value, dict):
                clean[name] = self.options(value)
            elif isinstance(value, str):
                clean[name] = self.text(value)
            elif isinstance(value, (list, tuple)):
                clean[name] = [self.text(v) if isinstance(v, str) else v for v in value]
            else:
                clean[name] = value
        return clean
