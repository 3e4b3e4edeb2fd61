"""Loopring DEX depth: exact versioned books, v3 (live) and v2 (the 2020 draft), and a
simulator (docs/loopring.md).

Modules: `protocol` (wire shapes and slot parsing), `sync` (the socket-free book
procedure), `client` (the feed), `sim` (REST + WebSocket simulator with ground truth).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obview.feed import Feed
    from obview.venues import VenueConfig


async def open_feed(cfg: VenueConfig, stack: contextlib.AsyncExitStack) -> Feed:
    from obview.venues.loopring.client import LoopringFeed

    if cfg.sim:
        sim = await start_sim("127.0.0.1", 0, cfg.seed, cfg.faults)
        stack.push_async_callback(sim.close)
        cfg = dataclasses.replace(cfg, options=dataclasses.replace(
            cfg.options, rest_url=sim.rest_url, ws_url=sim.ws_url(cfg.options.api)))
    feed = LoopringFeed(cfg)
    stack.push_async_callback(feed.close)
    return feed


async def start_sim(host: str, port: int, seed: int, faults: dict[str, str]):
    from obview.venues.loopring.sim import LoopringSimulator

    return await LoopringSimulator(seed, faults).start(host, port)
