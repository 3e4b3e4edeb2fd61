"""Venue registry. Imported by the CLI, so it stays light: venue packages load lazily.

Every venue package `obview.venues.<name>` provides:

- `symbols.check_symbol(text) -> str`: the canonical symbol, or ValueError with one line
  (a light module: the CLI checks arguments before anything heavy is imported);
- `async open_feed(cfg: VenueConfig, stack: AsyncExitStack) -> Feed`: builds the feed;
  with `cfg.sim` it first starts the venue's simulator in-process on a free loopback
  port (registering its shutdown on `stack`) and points the feed at it;
- `async start_sim(host, port, seed, faults) -> Simulator`: the wire-protocol simulator.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

VENUES = ("futu", "loopring", "bthub")


@dataclass
class VenueConfig:
    venue: str
    symbols: list[str]
    depth: int = 20
    details: bool = False
    sim: bool = False
    seed: int = 1
    options: dict[str, Any] = field(default_factory=dict)  # venue-specific settings
    faults: dict[str, str] = field(default_factory=dict)  # simulator fault switches (--sim)
    trades: bool = False  # subscribe the venue's trades (the tape), where it has them


class Simulator(Protocol):
    addresses: list[str]  # what it serves, for the one line `obview sim` prints

    async def close(self) -> None: ...


def load(venue: str) -> ModuleType:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r} (choose from {', '.join(VENUES)})")
    return importlib.import_module(f"obview.venues.{venue}")


def check_symbol(venue: str, text: str) -> str:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r} (choose from {', '.join(VENUES)})")
    module = importlib.import_module(f"obview.venues.{venue}.symbols")
    return module.check_symbol(text)


def known_symbols(venue: str) -> tuple[str, ...]:
    """Symbols shell completion offers: each venue's static list, never a network call."""
    if venue not in VENUES:
        return ()
    module = importlib.import_module(f"obview.venues.{venue}.symbols")
    return tuple(getattr(module, "known_symbols", tuple)())
