"""Many streams: hidden tabs cost no rendering, the tab picker finds a tab by code or name."""

from __future__ import annotations

from tests.conftest import wait_until
from tests.support.fake_feed import FakeFeed
from tests.tui.conftest import make_app, ready, screen_text, settle

CODES = tuple(f"HK.{n:05d}" for n in range(1, 6))


def _count_ticks(pane, ticks: dict) -> None:
    real = pane.health.tick

    def tick() -> None:
        ticks[pane] += 1
        real()

    pane.health.tick = tick


def many_app():
    return make_app([FakeFeed("futu", CODES, seed=4)])


async def test_a_hidden_tab_costs_no_message_nor_frame_and_is_fresh_when_shown():
    app = many_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        first = app.active_stream_pane()
        await pilot.press("tab")
        await settle(pilot)
        assert app.active_stream_pane() is not first
        hidden = first.ladder
        flushes, builds, cpu = hidden.stats.flushes, hidden.stats.builds, hidden.stats.cpu_ns
        shown = app.active_stream_pane()
        ticks = {first: 0, shown: 0}  # health panel refreshes, hidden pane and shown pane
        for pane in ticks:
            _count_ticks(pane, ticks)
        stream = first.stream
        calls = []
        real_flush = hidden._flush
        hidden._flush = lambda: (calls.append(1), real_flush())  # a frame scheduled for it
        messages = app.book_messages
        for _ in range(200):
            feed.walk(stream)
        await settle(pilot)
        await pilot.pause(0.1)
        assert app.book_messages == messages  # its pushes post nothing
        hidden.mark_dirty()  # and a ladder marked dirty while hidden schedules nothing
        await pilot.pause(0.1)
        assert not calls and not hidden._timer_pending  # no frame timer for a hidden ladder
        assert (hidden.stats.flushes, hidden.stats.builds, hidden.stats.cpu_ns) == (
            flushes, builds, cpu)
        # the shown tab's panel refreshed twice meanwhile (4 ticks a second), the hidden none
        await wait_until(lambda: ticks[shown] >= 2, 5, "the shown health panel refreshed")
        assert ticks[first] == 0
        await pilot.press("shift+tab")
        await wait_until(lambda: hidden.stats.builds > builds, 5, "the shown tab redrawn")
        await wait_until(lambda: ticks[first] >= 1, 5, "its health panel refreshed")
        await settle(pilot)
        assert hidden.view.bids[0].size == stream.book.bids.best().size
        assert hidden.view.asks[0].price == stream.book.asks.best().price


async def test_a_ladder_covered_by_a_screen_is_fresh_when_uncovered():
    app = many_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed, pane = app.feeds[0], app.active_stream_pane()
        await pilot.press("question_mark")
        await settle(pilot)
        for _ in range(50):
            feed.walk(pane.stream)
        await settle(pilot)
        await pilot.press("escape")
        await wait_until(lambda: pane.ladder.view.bids[0].size
                         == pane.stream.book.bids.best().size
                         and pane.ladder.view.asks[0].price == pane.stream.book.asks.best().price,
                         5, "the uncovered ladder shows the book as it is now")


def picker_labels(app) -> list[str]:
    from obview.tui.picker import TabPicker

    screen = app.screen
    assert isinstance(screen, TabPicker)
    return [entry.label for entry in screen.shown]


async def test_slash_picker_filters_by_code_and_cjk_name_and_enter_jumps():
    from obview.tui.picker import TabPicker

    app = many_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        feed.streams["HK.00004"].name = "九龍倉集團"
        await pilot.press("slash")
        await wait_until(lambda: isinstance(app.screen, TabPicker), 5, "the picker open")
        assert picker_labels(app) == list(CODES)
        await pilot.press(*"00003")
        await settle(pilot)
        assert picker_labels(app) == ["HK.00003"]
        await pilot.press("enter")
        await wait_until(lambda: not isinstance(app.screen, TabPicker), 5, "the picker closed")
        assert app.active_stream_pane().stream.symbol == "HK.00003"
        # a CJK name, case-insensitive codes, the arrows
        await pilot.press("slash")
        await wait_until(lambda: isinstance(app.screen, TabPicker), 5, "the picker open")
        app.screen.query_one("Input").value = "龍倉"
        await settle(pilot)
        assert picker_labels(app) == ["HK.00004"]
        app.screen.query_one("Input").value = "hk.0000"
        await settle(pilot)
        assert len(picker_labels(app)) == len(CODES)
        await pilot.press("down", "down", "enter")
        await wait_until(lambda: not isinstance(app.screen, TabPicker), 5, "the picker closed")
        assert app.active_stream_pane().stream.symbol == CODES[2]


async def test_escape_closes_the_picker_and_q_types_into_it():
    from obview.tui.picker import TabPicker

    app = many_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        before = app.active_stream_pane()
        await pilot.press("slash")
        await wait_until(lambda: isinstance(app.screen, TabPicker), 5, "the picker open")
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, TabPicker) and app.screen.query_one("Input").value == "q"
        assert picker_labels(app) == []
        # an empty list says why (else it looks like a picker still loading)
        assert "no tab matches 'q'" in screen_text(app)
        await pilot.press("enter")  # nothing matches: stays open
        await settle(pilot)
        assert isinstance(app.screen, TabPicker)
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, TabPicker), 5, "the picker closed")
        assert app.active_stream_pane() is before and app.is_running
