"""Regenerate the README's SVG screenshots: `python -m obview.tui.screenshots [DIR]`.

Each shot runs the real app headless against the venues' seeded simulators with
pushes switched off after the first snapshot and wall-clock numbers masked (so the
SVGs are the same on every run), presses the keys a user would, and saves an SVG.
`live-futu` is the exception: pushes on, real latency and flashes (differs per run).
A venue whose simulator is unavailable falls back to the deterministic fake feed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from obview.feed import Feed
from obview.tui.app import ObviewApp
from obview.venues import VenueConfig

SIZE = (120, 34)
STATIC = {"rate": "0"}  # simulator fault switch: no pushes after the first snapshot


@dataclass
class Shot:
    name: str
    configs: list[VenueConfig]
    keys: list[str] = field(default_factory=list)
    fake: Callable[[], list[Feed]] | None = None
    size: tuple[int, int] = SIZE
    live: bool = False  # pushes on, real timings shown (differs run to run)


def _futu(details: bool = True, live: bool = False) -> VenueConfig:
    return VenueConfig("futu", ["HK.00700"], details=details, sim=True, seed=1,
                       options={"host": "127.0.0.1", "port": 0},
                       faults={} if live else dict(STATIC))


def _loopring() -> VenueConfig:
    return VenueConfig("loopring", ["LRC-ETH"], sim=True, seed=1,
                       options={"level": 0, "api": "v2"}, faults=dict(STATIC))


def _bthub() -> VenueConfig:
    return VenueConfig("bthub", ["BTCUSDT"], sim=True, seed=1, faults=dict(STATIC),
                       options={"url": "", "insecure": False, "cp": None, "book": "A"})


def _fake(kind: str, symbol: str) -> Callable[[], list[Feed]]:
    def build() -> list[Feed]:
        from obview.tui.fake_feed import FakeFeed

        return [FakeFeed(kind, (symbol,), details=kind == "futu")]

    return build


SHOTS = [
    Shot("ladder-futu", [_futu()], ["down", "down"], _fake("futu", "HK.00700")),
    Shot("drilldown-futu", [_futu()], ["up", "enter"], _fake("futu", "HK.00700")),
    Shot("ladder-loopring", [_loopring()], [], _fake("loopring", "LRC-ETH")),
    Shot("ladder-bthub", [_bthub()], ["down"], _fake("bthub", "BTCUSDT")),
    Shot("drilldown-bthub", [_bthub()], ["down", "enter"], _fake("bthub", "BTCUSDT")),
    Shot("help", [_futu()], ["question_mark"], _fake("futu", "HK.00700")),
    Shot("small-80x24", [_futu()], ["down"], _fake("futu", "HK.00700"), (80, 24)),
    Shot("live-futu", [_futu(live=True)], ["down", "t"], _fake("futu", "HK.00700"), live=True),
]


async def _settled(app: ObviewApp, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ladder = app.active_ladder()
        if (app.feeds and all(s.synced for f in app.feeds for s in f.streams.values())
                and ladder is not None and ladder.view is not None
                and (ladder.view.bids or ladder.view.asks)):
            return True
        if app.feeds_opened and len(app.feeds) < len(app.configs):
            return False  # a venue could not start
        await asyncio.sleep(0.05)
    return False


async def take(shot: Shot, directory: Path, use_sims: bool = True) -> str:
    """Save one SVG; returns where its books came from ("simulator" or "fake feed")."""
    source = "simulator"
    app = ObviewApp(shot.configs, mask_times=not shot.live) if use_sims else None
    if app is not None:
        async with app.run_test(size=shot.size) as pilot:
            if await _settled(app):
                if shot.live:
                    await pilot.pause(3)  # let latency stats and flashes build up
                await _press(pilot, shot.keys)
                app.save_screenshot(str(directory / f"{shot.name}.svg"))
                await app.action_quit()
                return source
            await app.action_quit()
    if shot.fake is None:
        raise RuntimeError(f"{shot.name}: no simulator and no fake feed")
    app = ObviewApp([], shot.fake(), mask_times=not shot.live)
    async with app.run_test(size=shot.size) as pilot:
        await _settled(app)
        await _press(pilot, shot.keys)
        app.save_screenshot(str(directory / f"{shot.name}.svg"))
        await app.action_quit()
    return "fake feed"


async def _press(pilot, keys: list[str]) -> None:
    await pilot.pause(0.2)
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.15)
    await pilot.pause(0.3)


async def main(directory: Path, use_sims: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        source = await take(shot, directory, use_sims)
        print(f"{directory / (shot.name + '.svg')}  ({source})")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(Path(args[0] if args else "screenshots"), "--fake" not in sys.argv))
