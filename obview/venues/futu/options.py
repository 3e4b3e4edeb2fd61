"""Settings of a Futu feed (light: the CLI builds them before anything heavy loads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obview.venues.futu.crypto import RsaKey


@dataclass(frozen=True)
class FutuOptions:
    host: str = "127.0.0.1"
    port: int = 11111  # OpenD's default API port; 0 in a --sim config (the sim's port is used)
    # encrypted OpenD: the loaded key, or a PEM path the feed loads (docs/futu.md "Encryption")
    rsa_key: RsaKey | str | Path | None = None
