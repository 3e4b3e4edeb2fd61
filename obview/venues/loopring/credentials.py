"""The Loopring API key: from the environment or the config file, never from the command
line (the process list would show it), and never shown (docs/loopring.md, "API key").

`load_api_key` is the one place the key is looked up; a config file's `[loopring]
api_key` is handed in as `configured`. The environment wins, so a one-off run can
override the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

API_KEY_ENV = "OBVIEW_LOOPRING_API_KEY"


class ApiKey:
    """A key that prints as `***`: it can sit in options, reprs and tracebacks safely."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the X-API-KEY header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    __hash__ = None  # type: ignore[assignment]


def load_api_key(configured: str | None = None,
                 environ: Mapping[str, str] | None = None) -> ApiKey | None:
    """The key from $OBVIEW_LOOPRING_API_KEY, else `configured` (the config file's
    `[loopring] api_key`), else None (keys are optional for the depth feed)."""
    env = os.environ if environ is None else environ
    value = (env.get(API_KEY_ENV) or "").strip() or (configured or "").strip()
    return ApiKey(value) if value else None
