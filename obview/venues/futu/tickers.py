"""Futu's ticker (逐笔) records as obview trades: the Qot_UpdateTicker (3011) push and the
Qot_GetTicker (3010) reply carry the same `Qot_Common.Ticker` rows (docs/futu.md, "Trades").

Every row is checked before any of its push is used: the proto2 required fields present,
price a finite double above 0 naming at most 9 decimals, volume (hpVolume when sent) not
negative, turnover finite and not negative. One bad row makes the whole push bad.
"""

from __future__ import annotations

import time
from decimal import Decimal
from math import isfinite

from obview.fmt import float_to_decimal
from obview.latency import epoch_ms
from obview.trades import BUY, SELL, Trade
from obview.venues.futu.pb import Qot_Common_pb2

# TickerDirection: Bid (外盘) is a trade at the ask, the buyer the aggressor; Ask (内盘)
# the seller hitting the bid; Neutral and Unknown name no aggressor.
_SIDES = {Qot_Common_pb2.TickerDirection_Bid: BUY, Qot_Common_pb2.TickerDirection_Ask: SELL}
_KINDS = {value.number: value.name.removeprefix("TickerType_")
          for value in Qot_Common_pb2.DESCRIPTOR.enum_types_by_name["TickerType"].values}


class BadTicker(ValueError):
    """A ticker row breaking the rules above."""


def _price(raw: float, limit: Decimal, places: int) -> Decimal:
    if not isfinite(raw):
        raise BadTicker(f"price {raw!r}")
    value = float_to_decimal(raw)
    if value <= 0 or value >= limit or value.as_tuple().exponent < -places:
        raise BadTicker(f"price {raw!r}")
    return value


def _volume(row, limit: Decimal, places: int) -> Decimal:
    if row.HasField("hpVolume"):  # the high-precision volume, as the SDK prefers it
        raw = row.hpVolume
        if not isfinite(raw):
            raise BadTicker(f"volume {raw!r}")
        value = float_to_decimal(raw)
        if value.as_tuple().exponent < -places:
            raise BadTicker(f"volume {raw!r}")
    else:
        value = Decimal(row.volume)
    if value < 0 or value >= limit:
        raise BadTicker(f"volume {value}")
    return value


def _turnover(raw: float) -> Decimal:
    # a turnover is a product computed by the venue: any finite double is one exact decimal
    if not isfinite(raw) or raw < 0:
        raise BadTicker(f"turnover {raw!r}")
    return float_to_decimal(raw)


def decode_tickers(rows, venue: str, symbol: str, *, price_limit: Decimal,
                   volume_limit: Decimal, places: int, now: float | None = None) -> list[Trade]:
    """Trades of a push's or reply's ticker rows, oldest first; BadTicker if any is bad."""
    wall = time.time() if now is None else now
    mono = time.monotonic()
    recv_ts = int(wall * 1000)
    trades = []
    for row in rows:
        if not row.IsInitialized():  # protobuf's parser does not check proto2's required
            raise BadTicker("a ticker without its required fields")
        stamp = row.timestamp if row.HasField("timestamp") else 0.0
        trades.append(Trade(
            mono, _price(row.price, price_limit, places), _volume(row, volume_limit, places),
            _SIDES.get(row.dir), venue=venue, symbol=symbol,
            venue_ts=epoch_ms(stamp) if isfinite(stamp) else None, recv_ts=recv_ts,
            turnover=_turnover(row.turnover), sequence=row.sequence,
            kind=_KINDS.get(row.type, str(row.type)) if row.HasField("type") else None,
        ))
    return trades
