"""Venue registry. Imported by the CLI, so it stays light: venue packages load lazily.

Every venue package `obview.venues.<name>` provides:

- `symbols.check_symbol(text) -> str`: the canonical symbol, or ValueError with one line
  (a light module: the CLI checks arguments before anything heavy is imported);
- `options.<Name>Options`: a frozen dataclass of the venue's settings, every field with a
  default (also light); `config(venue, symbols, **settings)` below is the one way to build
  a `VenueConfig`, and a misspelt setting is a TypeError there;
- `async open_feed(cfg: VenueConfig, stack: AsyncExitStack) -> Feed`: builds the feed;
  with `cfg.sim` it first starts the venue's simulator in-process on a free loopback
  port (registering its shutdown on `stack`) and points the feed at it;
- `async start_sim(host, port, seed, faults) -> Simulator`: the wire-protocol simulator.

Constructors follow one convention: a feed is `<Name>Feed(cfg: VenueConfig)` (it reads
`cfg.options`, never a loose dict), and a simulator is `<Name>Simulator(seed, faults)` whose
`await sim.start(host, port)` binds it (port 0: any free port) and returns it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from obview.errors import abridged

if TYPE_CHECKING:
    from obview.venues.bthub.options import BthubOptions
    from obview.venues.futu.options import FutuOptions
    from obview.venues.loopring.options import LoopringOptions

    VenueOptions = FutuOptions | LoopringOptions | BthubOptions

VENUES = ("futu", "loopring", "bthub")


@dataclass
class VenueConfig:
    venue: str
    symbols: list[str]
    depth: int = 20
    details: bool = False
    sim: bool = False
    seed: int = 1
    options: VenueOptions | None = None  # the venue's settings; None: all defaults
    faults: dict[str, str] = field(default_factory=dict)  # simulator fault switches (--sim)
    trades: bool = False  # subscribe the venue's trades (the tape), where it has them

    def __post_init__(self) -> None:
        kind = options_type(self.venue)
        if self.options is None:
            self.options = kind()
        elif not isinstance(self.options, kind):
            raise TypeError(f"{self.venue} options must be {kind.__name__}, not "
                            f"{type(self.options).__name__} (build configs with obview.venues.config)")


def options_type(venue: str) -> type:
    """The venue's settings class (from its light `options` module)."""
    if venue not in VENUES:
        raise ValueError(f"unknown venue {abridged(venue)} (choose from {', '.join(VENUES)})")
    module = importlib.import_module(f"obview.venues.{venue}.options")
    return getattr(module, f"{venue.capitalize()}Options")


def config(venue: str, symbols: list[str], *, depth: int = 20, details: bool = False,
           sim: bool = False, seed: int = 1, faults: dict[str, str] | None = None,
           trades: bool = False, **settings: Any) -> VenueConfig:
    """The one way to build a VenueConfig: `settings` are the venue's options fields."""
    return VenueConfig(venue, list(symbols), depth, details, sim, seed,
                       options_type(venue)(**settings), dict(faults or {}), trades)


class Simulator(Protocol):
    addresses: list[str]  # what it serves, for the one line `obview sim` prints

    async def close(self) -> None: ...


def load(venue: str) -> ModuleType:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {abridged(venue)} (choose from {', '.join(VENUES)})")
    return importlib.import_module(f"obview.venues.{venue}")


def check_symbol(venue: str, text: str) -> str:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {abridged(venue)} (choose from {', '.join(VENUES)})")
    module = importlib.import_module(f"obview.venues.{venue}.symbols")
    return module.check_symbol(text)


def known_symbols(venue: str) -> tuple[str, ...]:
    """Symbols shell completion offers: each venue's static list, never a network call."""
    if venue not in VENUES:
        return ()
    module = importlib.import_module(f"obview.venues.{venue}.symbols")
    return tuple(getattr(module, "known_symbols", tuple)())
