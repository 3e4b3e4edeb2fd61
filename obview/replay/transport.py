"""What a feed reads from during replay: one `ReplayLink` per recorded connection.

A venue's replay session asks its `ReplayTransport` for the next connection, sets
`link.deliver` to the function its live read loop calls for what a read returned (or,
where every frame is a message handled alone, a WebSocket's, `link.take` to the function
called for one message), and waits on `link.closed()`, which raises the recorded
disconnect reason like a lost socket would (the base feed's reconnect loop then asks for
the next connection). Requests the
feed sends go to `link.writer`, which drops them: the journal holds the replies.

A link goes through three states the player must respect, since frames handed over
before the feed reads them would pile up and reach it in one batch, or never, if the
recorded disconnect comes first: opened (the feed is still ending its last session),
`taken` (its session is setting up: a handshake, a login, the reference data) and
`reading` (`deliver` or `take` set).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from obview.errors import abridged
from obview.feed import FeedError, SessionRestart
from obview.journal import Frame


class NullWriter:
    """Where a replayed feed's requests go (an asyncio StreamWriter's surface)."""

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class NullSocket:
    """A replayed WebSocket: what the client sends goes nowhere; closing it ends the link
    (as closing the socket ended the read loop live)."""

    def __init__(self, link: ReplayLink) -> None:
        self._link = link

    async def send(self, data: str | bytes) -> None:
        pass

    async def close(self, *args: object) -> None:
        self._link.close("closed by obview")


class ReplayLink:
    """One recorded connection. `resumed`: the replay starts in its middle (at a
    checkpoint), so no handshake frames will come."""

    def __init__(self, conn: int, resumed: bool = False) -> None:
        self.conn = conn
        self.resumed = resumed
        self.writer = NullWriter()
        self.socket = NullSocket(self)
        self._deliver: Callable[[list[Frame]], None] | None = None
        self._take: Callable[[Frame], bool] | None = None
        self._backlog: list[list[Frame]] = []
        self._closed: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()
        # True while the feed's own coroutines (a handshake, a snapshot fetch) must run
        # between two deliveries, as they did between two reads live
        self.busy: Callable[[], bool] = _idle
        self.taken = False  # the transport handed it to its feed
        self.feed: Any = None  # the feed whose transport it was opened on
        # its feed's journal channels (`Feed.wire`, `Feed.channels`), once opened on it
        self.wire: str | None = None
        self.channels: frozenset[str] | None = None
        self.rest: dict[str, deque[Frame]] = {}  # REST replies not yet asked for, by path
        self._rest_waiters: dict[str, deque[asyncio.Future[Frame]]] = {}
        # replies handed to a request that waits for it, which its task has not taken
        # yet, and what `replies_taken()` waits on
        self._unread = 0
        self._taken: asyncio.Future[None] | None = None

    @property
    def deliver(self) -> Callable[[list[Frame]], None] | None:
        return self._deliver

    @deliver.setter
    def deliver(self, func: Callable[[list[Frame]], None]) -> None:
        self._deliver = func
        backlog, self._backlog = self._backlog, []
        for frames in backlog:
            self.push(frames)

    @property
    def take(self) -> Callable[[Frame], bool] | None:
        return self._take

    @take.setter
    def take(self, func: Callable[[Frame], bool]) -> None:
        """A feed whose frames are messages, each handled alone as its live read loop
        does (a WebSocket's): `func(frame)` handles one and returns True when the feed
        needs the event loop's turns before the next (a snapshot fetch it started, the
        session it ended). The player then hands such frames over one by one without
        grouping them into reads (obview/replay/player.py, `_dispatch_lines`)."""
        self._take = func
        self.deliver = self._take_each

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    @property
    def reading(self) -> bool:
        return self._deliver is not None

    def setting_up(self) -> bool:
        """The feed holds the link but does not read it yet, and is not waiting for a
        recorded reply either: its session needs loop turns to get to its read path
        (after a login reply, say) before the next frame comes."""
        if not self.taken or self._deliver is not None or self._closed.done():
            return False
        return not any(not waiter.done() for waiters in self._rest_waiters.values()
                       for waiter in waiters)

    def needs_turns(self) -> bool:
        """The player's question after each delivery: does the feed need the loop before
        the next one?"""
        return (self._deliver is None and self.setting_up()) or self.busy() or \
            self._unread > 0

    @property
    def unread(self) -> int:
        """Recorded replies handed to the requests waiting for them that their tasks
        have not taken yet: the player waits for them (`replies_taken`) before the next
        line, as live read a reply before the pushes that came after it."""
        return self._unread

    async def replies_taken(self) -> None:
        """Until every reply handed over was taken by the request it answered (its task
        then runs on to its next wait before the player's, whose turn comes after)."""
        while self._unread:
            if self._taken is None or self._taken.done():
                self._taken = asyncio.get_running_loop().create_future()
            await self._taken

    def taker(self) -> Callable[[Frame], bool] | None:
        """`take`, while the link is open."""
        return None if self._closed.done() else self._take

    def _take_each(self, frames: list[Frame]) -> None:
        take = self._take
        for frame in frames:
            if take(frame) and self._closed.done():
                return  # the feed closed it: the rest went unread live too

    def push(self, frames: list[Frame]) -> None:
        if self._closed.done():  # closed by the client: the rest of it went unread live too
            return
        channel = frames[0].ch  # (the player groups a read's frames by channel too)
        if channel != self.wire:
            if self.channels is not None and channel not in self.channels:
                # damage: a channel its venue never records (a REST reply on a TCP
                # connection waited for a request that never came, dropped unsaid)
                self.feed.count_bad_frame(
                    f"a recorded frame of channel {abridged(channel)}, which a "
                    f"{self.feed.venue} connection does not carry", len(frames))
                return
            if channel == "rest":
                for frame in frames:
                    if frame.u is None and self.feed is not None:
                        # damage as well: every reply is recorded with its request's path
                        # (else it queued for a path no request asks for)
                        self.feed.count_bad_frame("a recorded REST reply without its path")
                    else:
                        self._rest_reply(frame)
                return
        if self._deliver is None:
            self._backlog.append(frames)
            return
        try:
            self._deliver(frames)
        except Exception as exc:  # noqa: BLE001  # what ended the read loop live ends the link
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """The venue's read path raised (a corrupt frame): the session ends with it."""
        if not self._closed.done():
            self._closed.set_exception(exc)
            self._fail_requests(FeedError(str(exc) or type(exc).__name__))

    # -- REST: a request gets the next recorded reply for its path ----------------------
    def _rest_reply(self, frame: Frame) -> None:
        key = _path(frame.u)
        waiters = self._rest_waiters.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self._unread += 1
                waiter.set_result(frame)
                return
        self.rest.setdefault(key, deque()).append(frame)

    async def request(self, path: str) -> Frame:
        """The recorded reply to a GET of `path` (query ignored: it may hold secrets)."""
        key = _path(path)
        queued = self.rest.get(key)
        if queued:
            return queued.popleft()
        if self._closed.done():  # no reply will come on it
            await self.closed()
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._rest_waiters.setdefault(key, deque()).append(waiter)
        try:
            return await asyncio.shield(waiter)
        finally:
            if not waiter.done():
                # the request was given up (its task cancelled: a check the feed dropped):
                # the shield kept the waiter in its place, and the next reply went to it,
                # read by nobody, while the next request waited for the one after
                waiter.cancel()
            elif not waiter.cancelled() and waiter.exception() is None:
                # taken, by the task itself as it resumes (or is cancelled): the player
                # knows the reply was read, and the task has run on to its next wait by
                # the time the player's own turn comes, however many loop turns it took
                self._unread -= 1
                if not self._unread and self._taken is not None and not self._taken.done():
                    self._taken.set_result(None)

    # -- the end ------------------------------------------------------------------------
    def close(self, reason: str | None, restart: bool = False) -> None:
        """`restart`: closed by the player (a seek), not by the recorded session."""
        if not self._closed.done():
            self._closed.set_result((reason or "connection closed", restart))
            # a session waiting for a reply (a login) would wait on the closed link
            # forever, and its feed never take the next one
            self._fail_requests((SessionRestart if restart else FeedError)(
                reason or "connection closed"))

    def _fail_requests(self, exc: BaseException) -> None:
        waiters, self._rest_waiters = self._rest_waiters, {}
        for queue in waiters.values():
            for waiter in queue:
                if not waiter.done():
                    waiter.set_exception(exc)

    async def closed(self) -> None:
        """Returns never while the link lives; raises FeedError(reason) when it closes
        (SessionRestart when the player closed it: no reconnect happened)."""
        reason, restart = await asyncio.shield(self._closed)
        raise (SessionRestart if restart else FeedError)(reason)


def _idle() -> bool:
    return False


def _path(url: str | None) -> str:
    """'/api/v3/depth' for '/api/v3/depth?market=..#check' -> '/api/v3/depth#check'."""
    text = url or ""
    text, _, tag = text.partition("#")
    if tag:
        return _path(text) + "#" + tag
    if "://" in text:
        text = text.split("://", 1)[1]
        text = "/" + text.split("/", 1)[1] if "/" in text else "/"
    return text.split("?", 1)[0]


class ReplayTransport:
    """Hands a feed its recorded connections, in order."""

    def __init__(self, feed: Any) -> None:
        self.feed = feed
        self._links: deque[ReplayLink] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.current: ReplayLink | None = None

    def open(self, link: ReplayLink) -> None:
        link.feed = self.feed
        link.wire, link.channels = self.feed.wire, self.feed.channels
        self._links.append(link)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def connection(self) -> ReplayLink:
        while not self._links:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.current = self._links.popleft()
        self.current.taken = True
        return self.current
