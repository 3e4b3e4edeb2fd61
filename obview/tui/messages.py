"""Textual messages the app makes from feed events.

Feeds call listeners synchronously, up to thousands of times a second. The app turns
those calls into at most one queued `BookUpdated` per stream (and `can_replace`
lets a newer one supersede a queued older one), so the UI does work per frame, not
per push.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class BookUpdated(Message):
    """A stream's book changed one or more times since the last such message."""

    def __init__(self, feed_index: int, key: str) -> None:
        super().__init__()
        self.feed_index = feed_index
        self.key = key

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, BookUpdated) and message.feed_index == self.feed_index
                and message.key == self.key)


class StatusUpdated(Message):
    """A feed's state or status text changed."""

    def __init__(self, feed_index: int) -> None:
        super().__init__()
        self.feed_index = feed_index

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdated) and message.feed_index == self.feed_index


class RecordsUpdated(Message):
    """bthub orders or risk rows changed."""

    def __init__(self, feed_index: int, kind: str) -> None:
        super().__init__()
        self.feed_index = feed_index
        self.kind = kind

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, RecordsUpdated) and message.feed_index == self.feed_index
                and message.kind == self.kind)


class FeedStopped(Message):
    """A feed failed for good (rejected login/subscription) or could not open."""

    def __init__(self, feed_index: int, reason: str) -> None:
        super().__init__()
        self.feed_index = feed_index
        self.reason = reason


class CursorMoved(Message):
    """The ladder's cursor moved (tests and the drilldown read it)."""

    def __init__(self, ladder: Any, row: Any) -> None:
        super().__init__()
        self.ladder = ladder
        self.row = row
