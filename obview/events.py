"""What a feed tells its consumers (the headless printer, the TUI).

Feeds call their listeners synchronously with these small objects; consumers that
need coalescing (the TUI) do it on their side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obview.feed import Feed, Stream


@dataclass(slots=True)
class BookChanged:
    """A stream's book was replaced by a snapshot (`snapshot`) or updated."""

    feed: Feed
    stream: Stream
    snapshot: bool = False


@dataclass(slots=True)
class StatusChanged:
    """The feed's connection state or status text changed (as it was at that moment)."""

    feed: Feed
    state: str = ""
    text: str = ""


@dataclass(slots=True)
class FeedFailed:
    """The feed stopped for good (rejected subscription, rejected login, ...)."""

    feed: Feed
    reason: str


@dataclass(slots=True)
class RecordsChanged:
    """Non-book data changed (bthub orders or risk rows). `rows` are the changed records."""

    feed: Feed
    kind: str  # "orders" | "risk"
    rows: list[Any]


@dataclass(slots=True)
class TradesPrinted:
    """New prints on one stream's tape, oldest first (`obview.trades.Trade`). Coalescable:
    a consumer may join the lists of several events for the same stream in order; the
    stream's running figures are already in `stream.tape` when this arrives."""

    feed: Feed
    stream: Stream
    trades: list[Any]
    snapshot: bool = False  # the venue's recent prints fetched at (re)connect


Event = BookChanged | StatusChanged | FeedFailed | RecordsChanged | TradesPrinted
