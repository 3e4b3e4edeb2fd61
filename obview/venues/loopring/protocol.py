"""Loopring wire formats (spec §2-§5): msgspec shapes, topics, and exact slot parsing.

Everything the client reads from the network goes through here. Shape checks are
msgspec's (`decode(..., type=...)`); the value checks msgspec cannot express (numeric
version strings, integer size text, decimal price text) are done once per frame before
anything touches a book, so a bad frame is rejected whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import msgspec

V2 = "v2"
V3 = "v3"

DEFAULT_REST = {V2: "https://api.loopring.io", V3: "https://api3.loopring.io"}
DEFAULT_WS = {V2: "wss://ws.loopring.io/v2/ws", V3: "wss://ws.api3.loopring.io/v3/ws"}
WS_KEY_PATH = "/v3/ws/key"  # v3 only, and not under /api (spec §3)

SUB_REJECTED = 104107  # illegal topic or parameters
HEARTBEAT_PING = "ping"
HEARTBEAT_PONG = "pong"

Slot = tuple[str, str, str, str]  # [price, size, volume, count], all text (spec §5)
Version = int | str  # spec §4: a JSON number or a numeric string


def depth_path(api: str) -> str:
    return f"/api/{api}/depth"


def markets_path(api: str) -> str:
    return f"/api/{api}/exchange/markets"


def tokens_path(api: str) -> str:
    return f"/api/{api}/exchange/tokens"


# -- shapes ------------------------------------------------------------------------
class TopicObject(msgspec.Struct):
    """v3 push/sub topic. The docs' example misspells `topic` as `topic:`; match on
    market + level only, so the name key is optional."""

    market: str
    level: int | str
    topic: str = ""


class PushData(msgspec.Struct):
    bids: list[Slot] = []
    asks: list[Slot] = []


class Push(msgspec.Struct):
    topic: str | TopicObject
    startVersion: Version
    endVersion: Version
    data: PushData
    ts: int | None = None


class ResultInfo(msgspec.Struct):
    code: int
    message: str = ""


class ErrorReply(msgspec.Struct):
    resultInfo: ResultInfo


class V2Reply(msgspec.Struct):
    resultInfo: ResultInfo
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class DepthReply(msgspec.Struct):
    version: Version
    bids: list[Slot] = []
    asks: list[Slot] = []
    timestamp: int | None = None
    market: str | None = None


class Market(msgspec.Struct):
    market: str
    baseTokenId: int
    quoteTokenId: int
    precisionForPrice: int
    orderbookAggLevels: int
    enabled: bool = True


class MarketsV3(msgspec.Struct):
    markets: list[Market]


class Token(msgspec.Struct):
    tokenId: int
    symbol: str
    decimals: int
    precision: int = 0
    name: str = ""
    address: str = ""
    enabled: bool = True


class WsKey(msgspec.Struct):
    key: str


class SubStatus(msgspec.Struct):
    status: str
    error: ResultInfo | None = None


class SubReply(msgspec.Struct):
    op: str
    result: SubStatus
    args: list[str] | None = None
    topics: list[TopicObject] | None = None
    sequence: int | None = None


_push_decoder = msgspec.json.Decoder(Push)
_sub_reply_decoder = msgspec.json.Decoder(SubReply)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class ProtocolError(ValueError):
    """A frame or reply that does not have the documented shape or values."""


class ApiError(Exception):
    """The venue answered with a non-zero resultInfo code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"error {code}: {message}" if message else f"error {code}")
        self.code = code
        self.message = message


# -- topics and subscriptions -----------------------------------------------------------
def v2_topic(market: str, level: int) -> str:
    return f"depth&{market}&{level}"


def subscribe_message(api: str, market: str, level: int, sequence: int = 1) -> str:
    if api == V3:
        topic = {"topic": "orderbook", "market": market, "level": level}
        return _encoder.encode({"op": "sub", "sequence": sequence, "topics": [topic]}).decode()
    return _encoder.encode({"op": "sub", "args": [v2_topic(market, level)]}).decode()


def unsubscribe_message(api: str, market: str, level: int) -> str:
    if api == V3:
        topic = {"topic": "orderbook", "market": market, "level": level}
        return _encoder.encode({"op": "unSub", "topics": [topic]}).decode()
    return _encoder.encode({"op": "unSub", "args": ["depth"]}).decode()


def parse_version(value: Version) -> int:
    """A version field: a JSON integer or a string of ASCII digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ProtocolError(f"negative version {value}")
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ProtocolError(f"bad version {value!r}")


# -- slots ----------------------------------------------------------------------------
# Wide enough that scaleb never rounds an integer amount (uint256 has 78 digits).
_EXACT = Context(prec=200)
_PRICE_CACHE_MAX = 50_000


class SlotParser:
    """Turns slot text into (price, size, count) for one market's base-token decimals.

    Prices repeat constantly, so their parse is cached by text; the key is the
    normalised value, so "0.2500" and "0.25" land on the same level.
    """

    __slots__ = ("decimals", "_prices")

    def __init__(self, base_decimals: int) -> None:
        self.decimals = base_decimals
        self._prices: dict[str, Decimal] = {}

    def price(self, text: str) -> Decimal:
        price = self._prices.get(text)
        if price is not None:
            return price
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ProtocolError(f"bad price {text!r}") from None
        # Decimal() also takes "NaN", "Infinity", "1e5" and " 1 "; the venue sends plain text
        if not value.is_finite() or value <= 0 or not _plain_decimal(text):
            raise ProtocolError(f"bad price {text!r}")
        if len(self._prices) >= _PRICE_CACHE_MAX:
            self._prices.clear()
        price = self._prices[text] = value.normalize(_EXACT)
        return price

    def size(self, text: str) -> Decimal:
        """Base amount in smallest units (integer text) -> human units, exactly."""
        if not (text.isascii() and text.isdigit()):
            raise ProtocolError(f"bad size {text!r}")
        return Decimal(text).scaleb(-self.decimals, _EXACT)

    def slots(self, slots: list[Slot]) -> list[tuple[Decimal, Decimal, int]]:
        out = []
        price_cache = self._prices
        for price_text, size_text, _volume, count_text in slots:
            price = price_cache.get(price_text)
            if price is None:
                price = self.price(price_text)
            if not (size_text.isascii() and size_text.isdigit()):
                raise ProtocolError(f"bad size {size_text!r}")
            if not (count_text.isascii() and count_text.isdigit()):
                raise ProtocolError(f"bad count {count_text!r}")
            out.append((price, Decimal(size_text).scaleb(-self.decimals, _EXACT), int(count_text)))
        return out


def _plain_decimal(text: str) -> bool:
    head, dot, tail = text.partition(".")
    return (
        text.isascii()
        and head.isdigit()
        and (not dot or tail.isdigit())
    )


# -- pushes ---------------------------------------------------------------------------
@dataclass(slots=True)
class DepthUpdate:
    """A push, checked and converted: the state at `end` of every slot it lists."""

    start: int
    end: int
    ts: int | None
    bids: list[tuple[Decimal, Decimal, int]]
    asks: list[tuple[Decimal, Decimal, int]]


@dataclass(slots=True)
class DepthSnapshot:
    version: int
    ts: int | None
    bids: list[tuple[Decimal, Decimal, int]]
    asks: list[tuple[Decimal, Decimal, int]]


class FrameKind:
    PING = "ping"
    PUSH = "push"  # ours and well-formed
    MALFORMED = "malformed"  # ours (or unattributable but push-shaped) and broken
    SUB_REPLY = "sub_reply"
    FOREIGN = "foreign"  # not JSON, not an object, another topic: ignore


class PushReader:
    """Classifies incoming text frames for one subscription (market, level)."""

    __slots__ = ("market", "level", "topic", "parser")

    def __init__(self, market: str, level: int, parser: SlotParser) -> None:
        self.market = market
        self.level = level
        self.topic = v2_topic(market, level)
        self.parser = parser

    def is_ours(self, topic: Any) -> bool:
        if isinstance(topic, str):
            return topic == self.topic
        if isinstance(topic, TopicObject):
            market, level = topic.market, topic.level
        elif isinstance(topic, dict):
            market, level = topic.get("market"), topic.get("level")
        else:
            return False
        return market == self.market and str(level) == str(self.level)

    def read(self, frame: str | bytes) -> tuple[str, Any]:
        """(kind, payload): DepthUpdate for PUSH, SubReply for SUB_REPLY, reason text else."""
        if frame == HEARTBEAT_PING:
            return FrameKind.PING, None
        try:
            push = _push_decoder.decode(frame)
        except msgspec.DecodeError:
            return self._classify_odd(frame)
        if not self.is_ours(push.topic):
            return FrameKind.FOREIGN, "another topic"
        try:
            start = parse_version(push.startVersion)
            end = parse_version(push.endVersion)
            if end < start:
                raise ProtocolError(f"endVersion {end} < startVersion {start}")
            parser = self.parser
            update = DepthUpdate(
                start, end, push.ts, parser.slots(push.data.bids), parser.slots(push.data.asks)
            )
        except ProtocolError as exc:
            return FrameKind.MALFORMED, str(exc)
        return FrameKind.PUSH, update

    def _classify_odd(self, frame: str | bytes) -> tuple[str, Any]:
        try:
            obj = _any_decoder.decode(frame)
        except msgspec.DecodeError:
            return FrameKind.FOREIGN, "not JSON"
        if not isinstance(obj, dict):
            return FrameKind.FOREIGN, "not an object"
        if "op" in obj and "result" in obj:
            try:
                return FrameKind.SUB_REPLY, _sub_reply_decoder.decode(frame)
            except msgspec.DecodeError as exc:
                return FrameKind.MALFORMED, f"bad subscription reply: {exc}"
        if self.is_ours(obj.get("topic")):
            return FrameKind.MALFORMED, "push does not have the documented shape"
        return FrameKind.FOREIGN, "another topic"


# -- REST -----------------------------------------------------------------------------
def decode_reply(api: str, status: int, body: bytes, payload_type: Any) -> Any:
    """A REST reply's payload (spec §2 envelope). Raises ApiError or ProtocolError."""
    try:
        if api == V2:
            if status != 200:
                _raise_error_body(status, body)
            reply = msgspec.json.decode(body, type=V2Reply)
            if reply.resultInfo.code != 0:
                raise ApiError(reply.resultInfo.code, reply.resultInfo.message)
            if reply.data is msgspec.UNSET:
                raise ProtocolError("reply without data")
            return msgspec.json.decode(reply.data, type=payload_type)
        if status != 200:
            _raise_error_body(status, body)
        return msgspec.json.decode(body, type=payload_type)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"unexpected reply: {exc}") from None


def _raise_error_body(status: int, body: bytes) -> None:
    try:
        info = msgspec.json.decode(body, type=ErrorReply).resultInfo
    except msgspec.DecodeError:
        raise ProtocolError(f"HTTP {status}") from None
    raise ApiError(info.code, info.message)


def decode_markets(api: str, status: int, body: bytes) -> list[Market]:
    if api == V3:
        return decode_reply(api, status, body, MarketsV3).markets
    return decode_reply(api, status, body, list[Market])


def decode_tokens(api: str, status: int, body: bytes) -> list[Token]:
    return decode_reply(api, status, body, list[Token])


def decode_depth(api: str, status: int, body: bytes, parser: SlotParser) -> DepthSnapshot:
    reply = decode_reply(api, status, body, DepthReply)
    return DepthSnapshot(
        parse_version(reply.version), reply.timestamp,
        parser.slots(reply.bids), parser.slots(reply.asks),
    )


def decode_ws_key(status: int, body: bytes) -> str:
    return decode_reply(V3, status, body, WsKey).key
