"""Loopring wire formats (spec §2-§5): msgspec shapes, topics, and exact slot parsing.

Everything the client reads from the network goes through here. Shape checks are
msgspec's (`decode(..., type=...)`); the value checks msgspec cannot express (numeric
version strings, integer size text, decimal price text) are done once per frame before
anything touches a book, so a bad frame is rejected whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Annotated, Any

import msgspec

from obview.book import ScaledLevel

V2 = "v2"
V3 = "v3"

DEFAULT_REST = {V2: "https://api.loopring.io", V3: "https://api3.loopring.io"}
DEFAULT_WS = {V2: "wss://ws.loopring.io/v2/ws", V3: "wss://ws.api3.loopring.io/v3/ws"}
WS_KEY_PATH = "/v3/ws/key"  # v3 only, and not under /api (spec §3)

SUB_REJECTED = 104107  # illegal topic or parameters
HEARTBEAT_PING = "ping"
HEARTBEAT_PONG = "pong"

# Integers may come as JSON numbers or as numeric strings (spec §4: versions; §5: sizes
# and counts are integer text). msgspec's non-strict mode turns "90213" into 90213 in C and
# rejects anything that is not an exact non-negative integer ("1.5", "-5", "abc", NaN).
Count = Annotated[int, msgspec.Meta(ge=0)]
Slot = tuple[str, Count, str, Count]  # [price text, size in base units, volume, orders]
RawSlot = tuple[str, str, str, str]  # the documented text form, for producers (sim, tests)


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
    level: Count
    topic: str = ""


# gc=False: pushes hold only strings and numbers, and skipping GC tracking for the
# many short-lived push objects keeps the collector out of the hot path.
class PushData(msgspec.Struct, gc=False):
    bids: list[Slot] = []
    asks: list[Slot] = []


class Push(msgspec.Struct, gc=False):
    """A depth push (spec §4). `start`/`end` are the inclusive version range."""

    topic: str | TopicObject
    start: Count = msgspec.field(name="startVersion")
    end: Count = msgspec.field(name="endVersion")
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
    version: Count
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


_push_decoder = msgspec.json.Decoder(Push, strict=False)
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


# -- prices and sizes ----------------------------------------------------------------
# Wide enough that scaleb never rounds an integer amount (uint256 has 78 digits).
EXACT = Context(prec=200)
_PRICE_CACHE_MAX = 50_000


class SlotParser:
    """Exact slot values for one market: prices by numeric value, sizes in human units.

    Prices repeat constantly, so their parse is cached by text; the value is normalised,
    so "0.2500" and "0.25" are one level. `check_prices` must have accepted a push's
    prices before they are applied: that is what keeps a push with one bad price from
    being half applied. Sizes stay the integers the venue sends (base-token units), in
    `ScaledLevel`s; `unit` is what one of them is worth in human units.
    """

    __slots__ = ("decimals", "scale", "unit", "prices")

    def __init__(self, base_decimals: int) -> None:
        self.decimals = base_decimals
        self.scale = -base_decimals
        self.unit = Decimal(1).scaleb(-base_decimals, EXACT)
        self.prices: dict[str, Decimal] = {}

    def price(self, text: str) -> Decimal:
        value = self.prices.get(text)
        if value is not None:
            return value
        # Decimal() also takes "NaN", "1e5", " 1", "٣"; the venue sends plain digits
        head, dot, tail = text.partition(".")
        if not (text.isascii() and head.isdigit() and (not dot or tail.isdigit())):
            raise ProtocolError(f"bad price {text!r}")
        value = Decimal(text)
        if not value:
            raise ProtocolError(f"zero price {text!r}")
        if len(self.prices) >= _PRICE_CACHE_MAX:
            self.prices.clear()
        value = self.prices[text] = value.normalize(EXACT)
        return value

    def check_prices(self, slots: list[Slot]) -> None:
        prices = self.prices
        for slot in slots:
            if slot[0] not in prices:
                self.price(slot[0])

    def size(self, units: int) -> Decimal:
        """Base amount in smallest units -> human units, exactly."""
        return Decimal(units).scaleb(self.scale, EXACT)

    def levels(self, slots: list[Slot]) -> list[tuple[Decimal, int, int]]:
        """Checked (price, size in base units, orders) of a snapshot side."""
        price = self.price
        return [(price(p), units, orders) for p, units, _volume, orders in slots]

    def book_levels(self, levels: list[tuple[Decimal, int, int]]) -> list[ScaledLevel]:
        """Fresh book levels for `levels()`' output (a snapshot may be applied twice)."""
        unit = self.unit
        return [ScaledLevel(price, units, unit, orders) for price, units, orders in levels]


# -- pushes ---------------------------------------------------------------------------
@dataclass(slots=True)
class DepthSnapshot:
    version: int
    ts: int | None
    bids: list[tuple[Decimal, int, int]]  # (price, size in base units, orders)
    asks: list[tuple[Decimal, int, int]]


class FrameKind:
    PING = "ping"
    PUSH = "push"  # ours and well-formed
    MALFORMED = "malformed"  # ours and broken: drop it whole
    SUB_REPLY = "sub_reply"
    FOREIGN = "foreign"  # not JSON, not an object, another topic: ignore


class PushReader:
    """Classifies incoming text frames for one subscription (market, level).

    A PUSH payload is a `Push` whose versions are ordered and whose every price is in
    the parser's cache, so applying it cannot fail half-way.
    """

    __slots__ = ("market", "level", "topic", "parser", "decode")

    def __init__(self, market: str, level: int, parser: SlotParser) -> None:
        self.market = market
        self.level = level
        self.topic = v2_topic(market, level)
        self.parser = parser
        self.decode = _push_decoder.decode

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
        """(kind, payload): Push for PUSH, SubReply for SUB_REPLY, reason text else."""
        try:
            push = self.decode(frame)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            if frame == HEARTBEAT_PING or frame == b"ping":
                return FrameKind.PING, None
            return self._classify_odd(frame, str(exc))
        topic = push.topic
        if topic != self.topic and not self.is_ours(topic):
            return FrameKind.FOREIGN, "another topic"
        if push.end < push.start:
            return FrameKind.MALFORMED, f"endVersion {push.end} < startVersion {push.start}"
        parser = self.parser
        prices = parser.prices
        try:
            for slot in push.data.bids:
                if slot[0] not in prices:
                    parser.price(slot[0])
            for slot in push.data.asks:
                if slot[0] not in prices:
                    parser.price(slot[0])
        except ProtocolError as exc:
            return FrameKind.MALFORMED, str(exc)
        return FrameKind.PUSH, push

    def _classify_odd(self, frame: str | bytes, error: str) -> tuple[str, Any]:
        try:
            obj = _any_decoder.decode(frame)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return FrameKind.FOREIGN, "not JSON"
        if not isinstance(obj, dict):
            return FrameKind.FOREIGN, "not an object"
        if "op" in obj and "result" in obj:
            try:
                return FrameKind.SUB_REPLY, _sub_reply_decoder.decode(frame)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                return FrameKind.MALFORMED, f"bad subscription reply: {exc}"
        if self.is_ours(obj.get("topic")):
            return FrameKind.MALFORMED, f"bad push: {error}"
        return FrameKind.FOREIGN, "another topic"


# -- REST -----------------------------------------------------------------------------
def decode_reply(api: str, status: int, body: bytes, payload_type: Any, strict: bool = True) -> Any:
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
            return msgspec.json.decode(reply.data, type=payload_type, strict=strict)
        if status != 200:
            _raise_error_body(status, body)
        return msgspec.json.decode(body, type=payload_type, strict=strict)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"unexpected reply: {exc}") from None


def _raise_error_body(status: int, body: bytes) -> None:
    try:
        info = msgspec.json.decode(body, type=ErrorReply).resultInfo
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ProtocolError(f"HTTP {status}") from None
    raise ApiError(info.code, info.message)


def decode_markets(api: str, status: int, body: bytes) -> list[Market]:
    if api == V3:
        return decode_reply(api, status, body, MarketsV3).markets
    return decode_reply(api, status, body, list[Market])


def decode_tokens(api: str, status: int, body: bytes) -> list[Token]:
    return decode_reply(api, status, body, list[Token])


def decode_depth(api: str, status: int, body: bytes, parser: SlotParser) -> DepthSnapshot:
    reply = decode_reply(api, status, body, DepthReply, strict=False)
    return DepthSnapshot(
        reply.version, reply.timestamp, parser.levels(reply.bids), parser.levels(reply.asks))


def decode_ws_key(status: int, body: bytes) -> str:
    return decode_reply(V3, status, body, WsKey).key
