"""The replay's stand-in for a connection (obview/replay/transport.py): how recorded REST
replies meet the requests waiting for them."""

from __future__ import annotations

import asyncio

from obview.journal import Frame
from obview.replay.transport import ReplayLink
from tests.conftest import wait_until


def _reply(body: str) -> Frame:
    return Frame(1, 1, "loopring", 1, "rest", p=body, u="/api/v3/depth?market=LRC-ETH", st=200)


async def test_a_request_given_up_leaves_its_reply_to_the_next():
    """A request whose task is cancelled while it waits (a verification the feed dropped)
    kept its place: the next recorded reply went to nobody, and the next request waited
    for the one after it."""
    link = ReplayLink(1)
    dropped = asyncio.create_task(link.request("/api/v3/depth"))
    await wait_until(lambda: link._rest_waiters, 5, "the request waiting for its reply")
    dropped.cancel()
    await asyncio.gather(dropped, return_exceptions=True)
    link.push([_reply('{"version":1}')])
    assert [frame.payload() for frame in link.rest.get("/api/v3/depth", ())] == ['{"version":1}']
    got = await asyncio.wait_for(link.request("/api/v3/depth"), 5)
    assert got.payload() == '{"version":1}'


async def test_a_reply_handed_to_a_waiting_request_is_waited_for_until_taken():
    """The player waits for a reply handed to a waiting request to be taken before the
    next line (`replies_taken`), set by the request's task as it resumes; a request
    given up first owes nothing (the reply is queued for the next: else the player
    waited for good)."""
    link = ReplayLink(1)
    waiting = asyncio.create_task(link.request("/api/v3/depth"))
    await wait_until(lambda: link._rest_waiters, 5, "the request waiting for its reply")
    link.push([_reply('{"version":2}')])
    assert link.unread == 1 and link.needs_turns()
    await asyncio.wait_for(link.replies_taken(), 5)
    assert waiting.done() and waiting.result().payload() == '{"version":2}'
    assert link.unread == 0 and not link.needs_turns()

    dropped = asyncio.create_task(link.request("/api/v3/depth"))
    await wait_until(lambda: link._rest_waiters["/api/v3/depth"], 5, "the next request")
    dropped.cancel()
    await asyncio.gather(dropped, return_exceptions=True)
    link.push([_reply('{"version":3}')])
    assert link.unread == 0 and not link.needs_turns()
