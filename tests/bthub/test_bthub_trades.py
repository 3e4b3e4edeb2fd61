"""bthub own fills: every execution of the account's orders (API_ORDER) goes on its
symbol's tape once, labelled as ours, exactly as the simulator executed it."""

from __future__ import annotations

import json
from decimal import Decimal

from obview.events import TradesPrinted
from obview.feed import TradeKind
from tests.bthub.test_bthub_feed import SYM, hub
from tests.conftest import run_obview, wait_until


def _sim_fills(sim) -> dict[str, tuple]:
    """exec id -> (order side, cp, price, volume, amount, time) of our symbol's orders."""
    fills = {}
    for order in sim.market.orders.values():
        if order["symbol"] != SYM:
            continue
        for child in order["cpOrders"]:
            for ex in child["executions"]:
                fills[ex["cpExecutionid"]] = (
                    order["side"], ex["cp"], Decimal(str(ex["executePrice"])),
                    Decimal(str(ex["executeVolume"])), Decimal(str(ex["executeAmount"])),
                    int(ex["executeTime"]))
    return fills


async def test_every_execution_is_one_own_fill_on_the_tape():
    async with hub({"rate": "200"}) as (sim, feed):
        assert feed.capabilities.trades is TradeKind.OWN and feed.trades_enabled
        tape = feed.streams[SYM].tape
        await wait_until(lambda: tape.count >= 10, message="own fills")
        sim.pause()
        await wait_until(lambda: set(_sim_fills(sim)) <= {t.sequence for t in tape.recent},
                         message="every execution on the tape")
        expected = _sim_fills(sim)
        fills = list(tape.recent)
        assert len(fills) == len({t.sequence for t in fills}) == len(expected)  # once each
        for trade in fills:
            side, cp, price, volume, amount, at = expected[trade.sequence]
            assert trade.own and trade.source == cp and trade.symbol == SYM
            assert trade.side == {1: "buy", -1: "sell", "BUY": "buy", "SELL": "sell"}[side]
            assert (trade.price, trade.size, trade.turnover, trade.venue_ts) == (
                price, volume, amount, at)
        assert tape.volume == sum(v[3] for v in expected.values())
        assert tape.notional == sum(v[2] * v[3] for v in expected.values())
        # an order pushed again (cumulative state) adds no fill twice
        printed = [t.sequence for e in feed.events if isinstance(e, TradesPrinted)
                   for t in e.trades]
        assert len(printed) == len(set(printed))
        assert all(e.stream.key == SYM for e in feed.events if isinstance(e, TradesPrinted))


def test_headless_trades_prints_own_fills():
    result = run_obview("bthub", "BTCUSDT", "--sim", "--stream", "json", "--trades",
                        "--count", "3", "--fault", "rate=50")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for obj in lines:
        assert obj["venue"] == "bthub" and obj["own"] is True and obj["source"]
        assert obj["side"] in ("buy", "sell") and Decimal(obj["size"]) > 0
        assert Decimal(obj["turnover"]) == Decimal(obj["price"]) * Decimal(obj["size"])
    result = run_obview("bthub", "BTCUSDT", "--sim", "--stream", "json", "--trades", "--orders")
    assert result.returncode == 2 and "choose one of --trades and --orders" in result.stderr
