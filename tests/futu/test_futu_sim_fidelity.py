"""The OpenD simulator behaves like OpenD, seen by a raw protobuf client on a real socket
(docs/futu.md, "Simulator fidelity")."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from obview.venues.futu import codec
from obview.venues.futu.pb import (
    InitConnect_pb2,
    Qot_Sub_pb2,
    Qot_UpdateOrderBook_pb2,
)
from obview.venues.futu.sim import start_sim
from obview.venues.futu.symbols import split_code


class RawClient:
    def __init__(self, reader, writer) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = codec.FrameBuffer()
        self.frames: list[tuple[int, int, bytes]] = []
        self.serial = 0

    async def request(self, proto_id: int, message) -> bytes:
        self.serial += 1
        self.writer.write(codec.encode_frame(proto_id, self.serial, message.SerializeToString()))
        await self.writer.drain()
        while True:
            for i, (pid, serial, body) in enumerate(self.frames):
                if (pid, serial) == (proto_id, self.serial):
                    del self.frames[i]
                    return body
            await self.read()

    async def read(self) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), 5)
        assert data, "the simulator closed the connection"
        self.frames += self.buffer.feed(data)

    async def pushes(self, n: int) -> list:
        """The first `n` order book pushes received, decoded."""
        while sum(p == codec.QOT_UPDATE_ORDER_BOOK for p, _, _ in self.frames) < n:
            await self.read()
        return [Qot_UpdateOrderBook_pb2.Response.FromString(b)
                for p, _, b in self.frames if p == codec.QOT_UPDATE_ORDER_BOOK][:n]


@contextlib.asynccontextmanager
async def connected(faults: dict[str, str] | None = None):
    sim = await start_sim("127.0.0.1", 0, 4, {"rate": "40", **(faults or {})})
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    client = RawClient(reader, writer)
    init = InitConnect_pb2.Request()
    init.c2s.clientVer, init.c2s.clientID = 300, "test"
    reply = InitConnect_pb2.Response.FromString(await client.request(codec.INIT_CONNECT, init))
    assert reply.retType == 0
    try:
        yield client, sim
    finally:
        writer.close()
        await sim.close()


async def subscribe(client: RawClient, codes: list[str], details: bool):
    sub = Qot_Sub_pb2.Request()
    for code in codes:
        market, short = split_code(code)
        sub.c2s.securityList.add(market=market, code=short)
    sub.c2s.subTypeList.append(2)
    sub.c2s.isSubOrUnSub = sub.c2s.isRegOrUnRegPush = True
    sub.c2s.isSubOrderBookDetail = details
    return Qot_Sub_pb2.Response.FromString(await client.request(codec.QOT_SUB, sub))


async def test_receive_stamps_only_for_hk_and_absent_elsewhere():
    async with connected() as (client, _):
        assert (await subscribe(client, ["HK.00700", "US.AAPL"], False)).retType == 0
        pushes = await client.pushes(12)
        hk = [p.s2c for p in pushes if p.s2c.security.market == 1]
        us = [p.s2c for p in pushes if p.s2c.security.market == 11]
        assert hk and us
        assert any(s.svrRecvTimeBidTimestamp > 0 and s.svrRecvTimeAsk for s in hk)
        for s2c in us:  # left out, which the SDK shows as ''
            assert not s2c.HasField("svrRecvTimeBid") and not s2c.HasField("svrRecvTimeAsk")
            assert not s2c.HasField("svrRecvTimeBidTimestamp")
            assert s2c.svrRecvTimeBid == ""


@pytest.mark.parametrize("details", [False, True])
async def test_order_details_only_when_asked_and_as_far_as_the_right_allows(details):
    async with connected() as (client, sim):
        for book in ("HK.00700", "US.AAPL", "SH.600519"):
            queue = sim.book(book).bids[0][1]
            while len(queue) < 45:  # a deep queue at the best bid: more than US LV2 shows
                queue.append([10**16 + len(queue), 100])
        assert (await subscribe(client, ["HK.00700", "US.AAPL", "SH.600519"], details)).retType == 0
        pushes = await client.pushes(3)
        caps = {1: 1000, 11: 40, 21: 0}
        for push in pushes:
            levels = list(push.s2c.orderBookBidList) + list(push.s2c.orderBookAskList)
            cap = caps[push.s2c.security.market] if details else 0
            assert all(len(lv.detailList) == min(lv.orederCount, cap) for lv in levels)
            if push.s2c.security.market in (1, 11) and details:
                assert len(push.s2c.orderBookBidList[0].detailList) == min(45, cap)


@pytest.mark.parametrize(
    ("faults", "codes", "message"),
    [
        ({}, ["HK.00700", "JP.7203"], "No right to subscribe 7203"),
        ({"no_right": "US.AAPL"}, ["HK.00700", "US.AAPL"], "No right to subscribe AAPL"),
        ({"no_right": "hk+US.TSLA"}, ["US.TSLA"], "No right to subscribe TSLA"),
        ({"no_right": "HK"}, ["HK.00005", "US.AAPL"], "No right to subscribe 00005"),
        ({"quota": "1"}, ["HK.00700", "US.AAPL"],
         "Subscription quota exceeded: 0 of 1 used, 2 more requested"),
    ],
)
async def test_a_refusal_refuses_the_whole_qot_sub(faults, codes, message):
    async with connected(faults) as (client, sim):
        reply = await subscribe(client, codes, False)
        assert reply.retType == -1 and reply.retMsg == message
        assert not sim.connections[0].subs  # nothing of the batch was subscribed


async def test_the_quota_counts_across_connections_and_one_by_one_fills_it():
    async with connected({"quota": "2"}) as (client, sim):
        assert (await subscribe(client, ["HK.00700"], False)).retType == 0
        assert (await subscribe(client, ["HK.00700"], False)).retType == 0  # held: no new unit
        assert (await subscribe(client, ["US.AAPL"], False)).retType == 0
        reply = await subscribe(client, ["US.TSLA"], False)
        assert reply.retMsg == "Subscription quota exceeded: 2 of 2 used, 1 more requested"


def test_bad_no_right_and_quota_values_are_refused():
    from obview.venues.futu.sim import FutuSimulator

    with pytest.raises(ValueError, match="neither a market nor a code"):
        FutuSimulator(1, {"no_right": "MARS"})
    with pytest.raises(ValueError, match="quota"):
        FutuSimulator(1, {"quota": "-1"})
    with pytest.raises(ValueError):
        FutuSimulator(1, {"quota": "many"})
