"""The tape: the trade record (`Trade`, defined with the other typed records in
obview/records.py and shared by venues, the tape and the heatmap), its JSON line, and the
per-stream session figures (last price, volume, VWAP) kept beside it.

Numbers are exact Decimals. `side` is the aggressor's ("buy" lifted an ask, "sell" hit
a bid) or None when the venue does not say (Futu's neutral and unknown directions).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from obview.fmt import dec_str
from obview.records import BUY, SELL, SIDES, Trade

__all__ = ["BUY", "SELL", "SIDES", "TAPE_LENGTH", "Trade", "TradeStats", "trade_json"]

TAPE_LENGTH = 2000  # prints kept per stream for a tape panel (bounded memory)


def trade_json(trade: Trade) -> dict[str, Any]:
    """One `--stream json --trades` line: numbers as exact decimal strings."""
    obj: dict[str, Any] = {
        "type": "trade",
        "venue": trade.venue,
        "symbol": trade.symbol,
        "price": dec_str(trade.price),
        "size": dec_str(trade.size),
        "side": trade.side,
        "venue_ts": trade.venue_ts,
        "recv_ts": trade.recv_ts,
    }
    if trade.turnover is not None:
        obj["turnover"] = dec_str(trade.turnover)
    if trade.sequence is not None:
        obj["sequence"] = str(trade.sequence)  # ids can exceed 2^53
    if trade.kind is not None:
        obj["kind"] = trade.kind
    if trade.own:
        obj["own"] = True
    if trade.source is not None:
        obj["source"] = trade.source
    return obj


class TradeStats:
    """A stream's session figures from every print seen since the feed started: last
    price, volume, notional and VWAP, exactly. Kept across reconnects (one session of
    the viewer); `reset()` starts over."""

    __slots__ = ("last_price", "last_side", "volume", "notional", "count", "buy_volume",
                 "sell_volume", "recent", "_sequences", "_sequence_set", "_keep")

    def __init__(self, keep: int = TAPE_LENGTH) -> None:
        self.recent: deque[Trade] = deque(maxlen=keep)  # newest at the right
        self._sequences: deque = deque()  # the last `keep` sequences, oldest first
        self._sequence_set: set = set()
        self._keep = keep
        self.reset()

    def reset(self) -> None:
        self.last_price: Decimal | None = None
        self.last_side: str | None = None
        self.volume = Decimal(0)
        self.notional = Decimal(0)
        self.count = 0
        self.buy_volume = Decimal(0)
        self.sell_volume = Decimal(0)
        self.recent.clear()
        self._sequences.clear()
        self._sequence_set.clear()

    def seen(self, trade: Trade) -> bool:
        """A print already counted (by the venue's sequence): recent prints fetched at a
        reconnect overlap the ones pushed before it."""
        return trade.sequence is not None and trade.sequence in self._sequence_set

    def add(self, trade: Trade) -> bool:
        """Count one print; False (ignored) when its sequence was already counted."""
        if self.seen(trade):
            return False
        if trade.sequence is not None:
            self._sequences.append(trade.sequence)
            self._sequence_set.add(trade.sequence)
            if len(self._sequences) > self._keep:
                self._sequence_set.discard(self._sequences.popleft())
        self.last_price = trade.price
        self.last_side = trade.side
        self.volume += trade.size
        self.notional += trade.price * trade.size
        self.count += 1
        if trade.side == BUY:
            self.buy_volume += trade.size
        elif trade.side == SELL:
            self.sell_volume += trade.size
        self.recent.append(trade)
        return True

    @property
    def vwap(self) -> Decimal | None:
        """Sum of price x size over the volume, exact to 28 significant digits (None
        before the first print with a size)."""
        if not self.volume:
            return None
        return self.notional / self.volume

    def as_json(self) -> dict[str, Any]:
        vwap = self.vwap
        return {
            "last_price": None if self.last_price is None else dec_str(self.last_price),
            "volume": dec_str(self.volume),
            "vwap": None if vwap is None else dec_str(vwap),
            "trades": self.count,
        }
