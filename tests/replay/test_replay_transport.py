"""The replay's stand-in for a connection (obview/replay/transport.py): how recorded REST
replies meet the requests waiting for them."""

from __future__ import annotations

import asyncio

from obview.journal import Frame
from obview.replay.transport import ReplayLink
from tests.conftest import wait_until


def _reply(body: str) -> Frame:
    return Frame(1, 1, "loopring", 1, "rest", p=body, u="/api/v3/depth?market=LRC-ETH", st=200)


async def test_a_request_given_up_leaves_its_reply_to_the_next_and_owes_no_turn():
    """A request whose task is cancelled while it waits (a verification the feed dropped)
    kept its place: the next recorded reply went to nobody, the next request waited for
    the one after it, and the link asked the player for a feed turn after every line
    for the rest of the session (a reply counted as handed over, never read)."""
    link = ReplayLink(1)
    dropped = asyncio.create_task(link.request("/api/v3/depth"))
    await wait_until(lambda: link._rest_waiters, 5, "the request waiting for its reply")
    dropped.cancel()
    await asyncio.gather(dropped, return_exceptions=True)
    link.push([_reply('{"version":1}')])
    assert not link.needs_turns()
    got = await asyncio.wait_for(link.request("/api/v3/depth"), 5)
    assert got.payload() == '{"version":1}'


async def test_a_reply_handed_to_a_waiting_request_owes_its_feed_a_turn():
    link = ReplayLink(1)
    waiting = asyncio.create_task(link.request("/api/v3/depth"))
    await wait_until(lambda: link._rest_waiters, 5, "the request waiting for its reply")
    link.push([_reply('{"version":2}')])
    assert link.needs_turns()  # the feed reads it before the lines after it
    assert (await asyncio.wait_for(waiting, 5)).payload() == '{"version":2}'
    assert not link.needs_turns()
