"""Regenerate the README's SVG screenshots: `python -m obview.screenshots [DIR] [--only NAME]`.

Each shot runs the real app headless against the venues' seeded simulators with
pushes switched off after the first snapshot and wall-clock numbers masked (so the
SVGs are the same on every run), presses the keys a user would, and saves an SVG.
`live-futu` is the exception: pushes on, real latency and flashes (differs per run).
A simulator that does not sync is an error: the README must show what the app shows.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from obview.tui.app import ObviewApp
from obview.venues import VenueConfig, config

SIZE = (120, 34)
STATIC = {"rate": "0"}  # simulator fault switch: no pushes after the first snapshot


@dataclass
class Shot:
    name: str
    configs: list[VenueConfig]
    keys: list[str] = field(default_factory=list)
    size: tuple[int, int] = SIZE
    live: bool = False  # pushes on, real timings shown (differs run to run)
    theme: str | None = None
    warmup: float = 3.0  # live: seconds of pushes before the keys (history to show)


def _futu(details: bool = True, live: bool = False) -> VenueConfig:
    return config("futu", ["HK.00700"], details=details, sim=True, seed=1,
                  faults={} if live else dict(STATIC))


def _loopring(live: bool = False) -> VenueConfig:
    return config("loopring", ["LRC-ETH"], sim=True, seed=1, api="v2",
                  faults={} if live else dict(STATIC))


def _bthub() -> VenueConfig:
    return config("bthub", ["BTCUSDT"], sim=True, seed=1, faults=dict(STATIC), book="A")


SHOTS = [
    Shot("ladder-futu", [_futu()], ["down", "down"]),
    Shot("drilldown-futu", [_futu()], ["up", "enter"]),
    Shot("ladder-loopring", [_loopring()], []),
    Shot("ladder-bthub", [_bthub()], ["down"]),
    Shot("drilldown-bthub", [_bthub()], ["down", "enter"]),
    Shot("help", [_futu()], ["question_mark"]),
    Shot("small-80x24", [_futu()], ["down"], (80, 24)),
    Shot("theme-colour-blind", [_bthub()], ["down"], theme="obview-cb"),
    Shot("theme-light", [_futu()], ["down", "down"], theme="textual-light"),
    Shot("live-futu", [_futu(live=True)], ["down", "t"], live=True),
    # the depth heatmap needs time to fill: live pushes, 100 ms columns (z)
    Shot("heatmap-split-loopring", [_loopring(live=True)], ["h", "z"], (140, 34), live=True,
         warmup=9.0),
    Shot("heatmap-futu", [_futu(live=True)], ["h", "h", "z", "up", "up"], live=True, warmup=9.0),
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


async def take(shot: Shot, directory: Path) -> None:
    """Save one SVG of the app running against the seeded simulators."""
    app = ObviewApp(shot.configs, mask_times=not shot.live, theme=shot.theme)
    async with app.run_test(size=shot.size) as pilot:
        settled = await _settled(app)
        if settled:
            if shot.live:
                await pilot.pause(shot.warmup)  # let latency stats, flashes, history build up
            await _press(pilot, shot.keys)
            app.save_screenshot(str(directory / f"{shot.name}.svg"))
        await app.action_quit()
    if not settled:
        raise RuntimeError(f"{shot.name}: the simulators did not sync")


async def _press(pilot, keys: list[str]) -> None:
    await pilot.pause(0.2)
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.15)
    await pilot.pause(0.3)


async def take_replay(directory: Path, name: str = "replay-futu") -> Path:
    """A replay of a session recorded from the seeded simulator just before, paused
    half-way (journal times shown: differs run to run, like live-futu)."""
    import io
    import tempfile

    from obview.headless import run_headless
    from obview.record import Recording
    from obview.replay import ReplayPlayer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.ndjson.zst"
        config = _futu(live=True)
        recording = Recording(path, [config])
        await run_headless([config], "stream", 120, 30, out=io.StringIO(), recording=recording)
        player = ReplayPlayer([path], speed=1.0)
        app = ObviewApp(player.configs, player.feeds, player=player)
        async with app.run_test(size=SIZE) as pilot:
            settled = await _settled(app)
            if settled:
                player.control("faster")
                player.control("faster")  # 5x
                while player.progress() < 0.5:
                    await pilot.pause(0.05)
                await pilot.press("space")
                await pilot.press("down", "down")
                await pilot.pause(0.3)
                app._tick()
                await pilot.pause(0.1)
                app.save_screenshot(str(directory / f"{name}.svg"))
            await app.action_quit()
    if not settled:
        raise RuntimeError(f"{name}: the replay did not sync")
    return directory / f"{name}.svg"


REPLAY_SHOT = "replay-futu"  # (taken by take_replay, from a journal it records first)


async def main(directory: Path, only: tuple[str, ...] = ()) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        if not only or shot.name in only:
            await take(shot, directory)
            print(directory / f"{shot.name}.svg")
    if not only or REPLAY_SHOT in only:
        print(await take_replay(directory))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", default="screenshots", type=click.Path(file_okay=False, path_type=Path))
@click.option("--only", multiple=True, metavar="NAME",
              help="Take only this shot (repeatable), e.g. --only help.")
def cli(directory: Path, only: tuple[str, ...]) -> None:
    """Write the README's screenshots into DIRECTORY (default: screenshots)."""
    known = [shot.name for shot in SHOTS] + [REPLAY_SHOT]
    unknown = [name for name in only if name not in known]
    if unknown:  # (a name with a typo took nothing, in silence)
        raise click.BadParameter(f"no shot {unknown[0]!r} (known: {', '.join(known)})",
                                 param_hint="--only")
    asyncio.run(main(directory, only))


if __name__ == "__main__":
    cli(prog_name="python -m obview.screenshots")
