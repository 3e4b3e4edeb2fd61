"""Textual messages the app makes from feed events.

Feeds call listeners synchronously, up to thousands of times a second. The app turns
those calls into at most one queued `BookUpdated` per stream (and `can_replace`
lets a newer one supersede a queued older one), so the UI does work per frame, not
per push. Everything downstream (ladder, drilldown) is fed from that one message.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from obview.feed import Feed, Stream


class BookUpdated(Message):
    """A stream's book changed one or more times since the last such message."""

    def __init__(self, feed: Feed, stream: Stream) -> None:
        super().__init__()
        self.feed = feed
        self.stream = stream

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BookUpdated) and message.stream is self.stream


class StatusUpdated(Message):
    """A feed's state or status text changed."""

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = feed

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdated) and message.feed is self.feed


class RecordsUpdated(Message):
    """A feed's records of one kind (orders, risk) changed."""

    def __init__(self, feed: Feed, kind: str) -> None:
        super().__init__()
        self.feed = feed
        self.kind = kind

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, RecordsUpdated) and message.feed is self.feed
                and message.kind == self.kind)


class TradesUpdated(Message):
    """A stream printed one or more trades since the last such message; the prints
    wait in its pane (`StreamPane.pending_trades`)."""

    def __init__(self, feed: Feed, stream: Stream) -> None:
        super().__init__()
        self.feed = feed
        self.stream = stream


class FeedStopped(Message):
    """A feed failed for good (rejected login/subscription) or could not open."""

    def __init__(self, feed: Feed, reason: str) -> None:
        super().__init__()
        self.feed = feed
        self.reason = reason


class CursorMoved(Message):
    """The ladder's cursor moved (tests read it)."""

    def __init__(self, ladder: Any, row: Any) -> None:
        super().__init__()
        self.ladder = ladder
        self.row = row
