"""`obview replay` in the TUI: the normal app, its keys driving the journal."""

from __future__ import annotations

from obview.replay import ReplayPlayer
from obview.tui.app import ObviewApp
from tests.conftest import wait_until
from tests.tui.conftest import screen_text


async def test_replay_keys_drive_the_journal(futu_journal):
    path, _ = futu_journal
    player = ReplayPlayer([path], speed=1.0)
    app = ObviewApp(player.configs, player.feeds, player=player)
    async with app.run_test(size=(160, 40)) as pilot:
        feed = player.feeds[0]
        await wait_until(lambda: any(s.synced for s in feed.streams.values()), 20,
                         "a replayed book")
        await pilot.pause()
        app._tick()
        assert "replay" in app.status_bar._text.plain
        assert " 1x" in app.status_bar._text.plain
        await pilot.press("plus")
        assert player.speed == 2.0
        await pilot.press("minus", "minus")
        assert player.speed == 0.5
        await pilot.press("space")
        assert player.paused
        app._tick()
        assert "paused" in app.status_bar._text.plain
        before = player.lines
        await pilot.press("full_stop")
        assert player.lines == before + 1
        await pilot.press("end")
        await wait_until(lambda: player.progress() > 0.9, 10, "the end of the journal")
        await pilot.press("home")
        await wait_until(lambda: player.progress() < 0.1, 10, "the start of the journal")
        await pilot.press("space")
        assert not player.paused
        at = player.wall
        await pilot.press("right_square_bracket")  # 10 s on: past this short journal's end
        assert player.wall == player.last_wall > at
        await pilot.press("left_square_bracket")
        assert player.wall == max(player.first_wall, player.last_wall - 10_000_000_000)
        await wait_until(lambda: any(s.synced for s in feed.streams.values()), 20,
                         "the book after a seek")
        assert "HK.00700" in screen_text(app)


def test_replay_actions_are_not_offered_live():
    from obview.tui.actions import SCOPES, Scope

    assert {name for name, scope in SCOPES.items() if scope is Scope.REPLAY} == {"replay"}
