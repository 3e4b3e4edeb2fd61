"""bthub trading hub: REST login + one WebSocket for books, orders and risk (docs/bthub.md).

`open_feed` builds a `BthubFeed` from a `BthubOptions`; `start_sim` runs the simulator.
Heavy modules (httpx, websockets) load only when a feed or simulator is started, so the
CLI can import this package (for `credentials`) without delay.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

from obview.venues.bthub.options import DEFAULT_URL

if TYPE_CHECKING:
    from obview.venues import VenueConfig
    from obview.venues.bthub.client import BthubFeed
    from obview.venues.bthub.sim import BthubSimulator


async def start_sim(host: str, port: int, seed: int, faults: dict[str, str]) -> BthubSimulator:
    from obview.venues.bthub.sim import BthubSimulator

    return await BthubSimulator(seed, faults).start(host, port)


async def open_feed(cfg: VenueConfig, stack: contextlib.AsyncExitStack) -> BthubFeed:
    """The feed for `cfg`; with `cfg.sim`, against an in-process simulator on loopback.

    With --sim the simulator accepts the credentials given (so the whole login path is
    exercised with them), or the simulator's demo credentials when none are given.
    """
    from obview.venues.bthub.client import BthubFeed
    from obview.venues.bthub.sim import DEMO_PASSWORD, DEMO_USER

    opts = cfg.options
    user, password, url = opts.user, opts.password, opts.url or DEFAULT_URL
    if cfg.sim:
        faults = dict(cfg.faults)
        if user and password:
            faults.setdefault("user", user)
            faults.setdefault("password", password)
        else:
            user, password = DEMO_USER, DEMO_PASSWORD
        sim = await start_sim("127.0.0.1", 0, cfg.seed, faults)
        stack.push_async_callback(sim.close)
        url = sim.addresses[0]
    elif not (user and password):
        raise ValueError("bthub needs credentials: set OBVIEW_BTHUB_USER and OBVIEW_BTHUB_PASSWORD")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"bad bthub URL {url!r}: expected http:// or https://")
    feed = BthubFeed(dataclasses.replace(
        cfg, options=dataclasses.replace(opts, url=url, user=user, password=password)))
    stack.push_async_callback(feed.close)
    await feed.check_cp()  # an unknown --cp is a usage error, said at once
    return feed


def replay_feed(cfg: VenueConfig) -> BthubFeed:
    """A feed that a journal drives (obview/replay): the same client, no network and no
    credentials (the recorded login reply stands in)."""
    from obview.venues.bthub.client import BthubFeed

    # no password: nothing is sent, and one would be masked in every text as a secret
    # (a placeholder "replay" turned the status into "logging in to *** of ...")
    opts = dataclasses.replace(cfg.options, url=cfg.options.url or DEFAULT_URL,
                               user="replay", password=None)
    return BthubFeed(dataclasses.replace(cfg, options=opts))
