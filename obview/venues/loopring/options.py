"""Settings of a Loopring feed (light: the CLI builds them before anything heavy loads).

None means "the default for the chosen API" (URLs, depth path, request spacing); the
timing and size limits are there so tests and hostile-input checks can tighten them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obview.venues.loopring.credentials import ApiKey


@dataclass(frozen=True)
class LoopringOptions:
    api: str = "v3"  # v3: the live API; v2: the 2020 draft (docs/loopring.md)
    level: int = 0  # aggregation level, 0 = finest
    rest_url: str | None = None
    ws_url: str | None = None
    depth_path: str | None = None
    limit: int | None = None  # levels a snapshot asks for (default: max(depth, 50))
    api_key: ApiKey | str | None = field(default=None, repr=False)  # never shown
    verify: float | None = None  # seconds between REST checks of the book; 0 = off
    verify_lead: float = 1.0
    first_push_wait: float = 0.5
    ack_timeout: float = 10.0
    refetch_delay: float = 0.25
    refetch_cap: float = 5.0
    min_snapshot_interval: float | None = None
    max_reply_bytes: int | None = None
    max_frame_bytes: int | None = None
    reply_deadline: float | None = None
