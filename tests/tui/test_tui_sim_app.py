"""Functional tests of the app over the real venue simulators (live pushes)."""

from __future__ import annotations

import re

from obview.tui.app import ObviewApp
from obview.tui.screens import DrilldownScreen
from obview.venues import config
from tests.conftest import press_to_quit, wait_until
from tests.tui.conftest import ready, screen_text


async def test_l_switches_the_loopring_level_on_the_simulator():
    cfg = config("loopring", ["LRC-ETH"], sim=True, seed=3, api="v2")
    app = ObviewApp([cfg], mask_times=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        stream = app.feeds[0].streams["LRC-ETH"]
        await pilot.press("l")
        # the toast in words: which level of which range (the market's levels are 0-3)
        assert [n.message for n in app._notifications] == ["LRC-ETH: aggregation level 1 (0-3)"]
        await wait_until(lambda: stream.level == 1 and stream.synced, 10, "level 1 synced")
        await wait_until(lambda: "level 1" in screen_text(app), 5, "level shown")
        await press_to_quit(app, pilot)


async def test_futu_live_queue_drilldown_matches_the_level():
    cfg = config("futu", ["HK.00700"], details=True, sim=True, seed=5, faults={"rate": "20"})
    app = ObviewApp([cfg], mask_times=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DrilldownScreen) and screen.mode == "queue"
        updates = screen.updates
        await wait_until(lambda: screen.updates >= updates + 3, 10, "pushes while open")
        levels = screen.levels()
        if levels:  # the level may have gone meanwhile; then the last seen state shows
            assert sum(sum(lv.queue.values()) for lv in levels) == sum(lv.size for lv in levels)
        await pilot.press("escape", "q")


async def test_bthub_tabs_counterparties_orders_and_risk():
    cfg = config("bthub", ["BTCUSDT"], sim=True, seed=2, book="A")
    app = ObviewApp([cfg], mask_times=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        await wait_until(lambda: len(app.panes) == 6, 10, "six tabs")
        titles = [p.label_text for p in app.panes]
        assert titles[0] == "BTCUSDT" and titles[-2:] == ["BTCUSDT orders", "BTCUSDT risk"]
        assert sorted(titles[1:4]) == ["BTCUSDT@binance", "BTCUSDT@huobi", "BTCUSDT@okex"]
        assert app.active_ladder().stream.book.bids.sourced
        await pilot.press("5")
        feed = app.feeds[0]
        await wait_until(lambda: feed.orders, 10, "orders")
        await wait_until(lambda: next(iter(feed.orders)) in screen_text(app), 5, "orders shown")
        await press_to_quit(app, pilot)


async def test_bthub_without_a_risk_book_has_no_risk_tab():
    """Risk rows come only for a book followed (--book): without one, the feed declares
    orders alone and there is no risk tab (it had stayed empty without a word)."""
    cfg = config("bthub", ["BTCUSDT"], sim=True, seed=2)
    app = ObviewApp([cfg], mask_times=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        feed = app.feeds[0]
        await wait_until(lambda: feed.orders and len(app.panes) >= 5, 10, "the orders")
        await pilot.pause()
        titles = [p.label_text for p in app.panes]
        assert titles[-1] == "BTCUSDT orders" and not any("risk" in t for t in titles), titles
        await press_to_quit(app, pilot)


async def test_a_refused_code_shows_its_message_on_its_tab_and_the_other_renders():
    cfg = config("futu", ["HK.00700", "HK.99999"], sim=True, seed=5, faults={"rate": "20"})
    app = ObviewApp([cfg], mask_times=True)
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_until(lambda: app.feeds and app.feeds[0].streams["HK.00700"].synced, 10,
                         "the accepted code synced")
        feed = app.feeds[0]
        assert feed.streams["HK.99999"].error == "Unknown stock HK.99999"
        await wait_until(lambda: "腾讯控股" in screen_text(app), 5, "the good tab renders")
        book = feed.streams["HK.00700"].book
        assert book.bids and book.asks
        await pilot.press("2")
        await pilot.pause()
        app._tick()
        await wait_until(lambda: "Unknown stock HK.99999" in screen_text(app), 5,
                         "the refused tab shows OpenD's message")
        await pilot.press("1")
        await pilot.pause()
        app._tick()
        await wait_until(lambda: "Unknown stock" not in screen_text(app)
                         and "synced" in screen_text(app), 5, "the good tab is synced")
        await press_to_quit(app, pilot)


def _status_rate(app) -> str:
    app._tick()
    return re.search(r"(\S+) msg/s", app.status_bar._text.plain).group(1)


async def test_a_tab_s_msg_rate_is_its_own_stream_s():
    """The status bar's msg/s counts the tab's stream: a code OpenD refused gets none,
    where it showed its connection's rate (the other code's pushes, about 12 a second)."""
    cfg = config("futu", ["HK.00700", "HK.99999"], sim=True, seed=5, faults={"rate": "20"})
    app = ObviewApp([cfg])
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_until(lambda: app.feeds and app.feeds[0].streams["HK.00700"].synced, 10,
                         "the accepted code synced")
        await wait_until(lambda: _status_rate(app) not in ("-", "–", "0"), 10,
                         "a rate on the good tab")
        assert float(_status_rate(app).replace(",", "")) > 0
        await pilot.press("2")
        await wait_until(lambda: "Unknown stock" in app.status_bar._text.plain, 5,
                         "the refused tab's status")
        # two samples half a second apart on the refused stream's own meter
        await wait_until(lambda: _status_rate(app) not in ("-", "–"), 10,
                         "a rate on the refused tab")
        assert _status_rate(app) == "0", app.status_bar._text.plain
        await press_to_quit(app, pilot)


async def test_no_feed_runs_until_every_venue_is_open_and_its_tabs_are_mounted(monkeypatch):
    """Opening a venue (its first import, its simulator) and mounting its tabs hold the
    loop for 30-150 ms: a feed already running would have its pushes wait behind that,
    and the first ladder painted 200 ms late in the demo's first seconds."""
    from obview.cli import demo_configs

    configs = demo_configs(1)
    app = ObviewApp(configs, mask_times=True)
    seen = []
    run = app._run

    def recording_run(feed):
        seen.append((feed.venue, len(app.feeds), len(app.stream_panes())))
        run(feed)

    monkeypatch.setattr(app, "_run", recording_run)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot)
        streams = sum(len(cfg.symbols) for cfg in configs)
        assert [venue for venue, _, _ in seen] == [cfg.venue for cfg in configs]
        assert all(feeds == len(configs) and panes >= streams for _, feeds, panes in seen), seen
        await press_to_quit(app, pilot)
