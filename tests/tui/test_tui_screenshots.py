"""The README screenshots command keeps working: one shot, from the seeded simulator."""

from __future__ import annotations

from obview.screenshots import SHOTS, take


async def test_screenshot_command_renders_a_simulator_ladder(tmp_path):
    shot = next(s for s in SHOTS if s.name == "ladder-futu")
    await take(shot, tmp_path)
    svg = (tmp_path / "ladder-futu.svg").read_text(encoding="utf-8")
    assert "HK.00700" in svg and "<svg" in svg
