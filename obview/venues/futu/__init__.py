"""Futu / moomoo OpenD venue: wire-exact quote client, OpenD simulator, protobuf messages.

Kept light: the CLI imports `obview.venues.futu.symbols` before anything heavy, so the
client, simulator and generated protobuf modules load only when a feed or sim starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obview.feed import Feed
    from obview.venues import VenueConfig
    from obview.venues.futu.sim import FutuSimulator


async def start_sim(host: str, port: int, seed: int, faults: dict[str, str]) -> FutuSimulator:
    """Start the OpenD simulator (fault switches: see `obview.venues.futu.sim`)."""
    from obview.venues.futu.sim import start_sim as _start

    return await _start(host, port, seed, faults)


async def open_feed(cfg: VenueConfig, stack: contextlib.AsyncExitStack) -> Feed:
    """A feed for `cfg.symbols`; with `cfg.sim` against an in-process simulator."""
    from obview.venues.futu.client import FutuFeed

    if cfg.sim:
        sim = await start_sim("127.0.0.1", 0, cfg.seed, cfg.faults)
        stack.push_async_callback(sim.close)
        cfg = dataclasses.replace(
            cfg, options=dataclasses.replace(cfg.options, host="127.0.0.1", port=sim.port))
    elif cfg.faults:
        raise ValueError("--fault only applies with --sim")
    return FutuFeed(cfg)
