"""The README screenshots command keeps working: one shot, from the seeded simulator."""

from __future__ import annotations

from obview.screenshots import SHOTS, take


async def test_screenshot_command_renders_a_simulator_ladder(tmp_path):
    shot = next(s for s in SHOTS if s.name == "ladder-futu")
    await take(shot, tmp_path)
    svg = (tmp_path / "ladder-futu.svg").read_text(encoding="utf-8")
    assert "HK.00700" in svg and "<svg" in svg


def test_the_command_s_help_writes_nothing_and_only_takes_known_names(tmp_path):
    """`--help` was taken for the folder: it wrote every shot into ./--help."""
    import subprocess
    import sys

    from tests.conftest import obview_env

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "obview.screenshots", *args], cwd=tmp_path,
                              env=obview_env(), capture_output=True, text=True, timeout=60)

    done = run("--help")
    assert done.returncode == 0 and "--only NAME" in done.stdout
    done = run("--only", "nope")
    assert done.returncode == 2 and "no shot 'nope' (known: ladder-futu," in done.stderr
    assert list(tmp_path.iterdir()) == []
