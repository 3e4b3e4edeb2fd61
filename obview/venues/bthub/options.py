"""Settings of a bthub feed (light: the CLI builds them before anything heavy loads)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_URL = "https://trade.bthub.com:444"  # the production hub; the vendor pages also name a demo hub


@dataclass(frozen=True)
class BthubOptions:
    url: str = DEFAULT_URL  # REST base; the WebSocket URL derives from it (docs/bthub.md "Session")
    insecure: bool = False  # no TLS certificate check (self-signed test hubs)
    cp: str | None = None  # one counterparty's book instead of the aggregated one
    book: str | None = None  # risk book to subscribe
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr or a log
    ws_url: str | None = None
    ping_interval: float = 30.0  # docs/bthub.md "Session": well under the documented 30 minutes
    stale_after: float = 10.0  # no push rate is documented (docs/bthub.md)
    timeout: float = 10.0
    max_reply_bytes: int | None = None  # at least 1024 (docs/bthub.md "Limits")
    max_frame_bytes: int | None = None
