"""Loopring wire formats (docs/loopring.md): msgspec shapes, topics, exact slot values.

Everything the client reads from the network goes through here. Shapes are checked by
msgspec; values by `numbers` (exact text rules, never a float), once per frame before
anything touches a book, so a bad frame is rejected whole. Decoding never raises past
this module: every msgspec, recursion or value error becomes a `ProtocolError` or a
frame class.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from obview.book import ScaledLevel
from obview.errors import describe_error
from obview.fmt import CACHE_LIMIT, BoundedCache
from obview.venues.loopring import numbers
from obview.venues.loopring.numbers import EXACT, BadNumber, JsonNumber

V2 = "v2"
V3 = "v3"

DEFAULT_REST = {V2: "https://api.loopring.io", V3: "https://api3.loopring.io"}
DEFAULT_WS = {V2: "wss://ws.loopring.io/v2/ws", V3: "wss://ws.api3.loopring.io/v3/ws"}
WS_KEY_PATH = "/v3/ws/key"  # v3 only, and not under /api

SUB_REJECTED = 104107  # illegal topic or parameters
API_KEY_CODES = {104001, 104002}  # ApiKey empty / invalid
HEARTBEAT_PING = "ping"
HEARTBEAT_PONG = "pong"

# What a decode may raise on hostile input: a 200,000-deep array is a RecursionError
# inside msgspec, not a DecodeError.
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError,
                 OverflowError, MemoryError)

Count = Annotated[int, msgspec.Meta(ge=0)]
# The documented slot, [price, size, volume, count], all text: the form the fast path
# reads. Anything else (JSON numbers, say) is read by the lenient decoder below.
# The length caps are checked by msgspec in C (longer text takes the lenient path, which
# names the fault): a size is at most a uint256, a version fits 20 digits.
SizeText = Annotated[str, msgspec.Meta(min_length=1, max_length=numbers.MAX_UNITS_DIGITS)]
VersionText = Annotated[str, msgspec.Meta(max_length=20)]
Slot = tuple[str, SizeText, str, str]
Level3 = tuple[Decimal, int, int]  # checked (price, size in base units, orders)
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


class Push(msgspec.Struct, gc=False, kw_only=True):
    """A depth push as written on the wire, all slot values still text (fast path only).
    `start`/`end` are the inclusive version range; the docs write one as a number and
    the other as a string. The fields are in the documented key order, which msgspec
    matches key by key without a lookup."""

    topic: str | TopicObject
    ts: Annotated[int, msgspec.Meta(ge=0, lt=2**53)] | None = None
    start: Count | VersionText = msgspec.field(name="startVersion")
    end: Count | VersionText = msgspec.field(name="endVersion")
    data: PushData


class LoosePushData(msgspec.Struct, gc=False):
    bids: list[tuple[Any, Any, Any, Any]] = []
    asks: list[tuple[Any, Any, Any, Any]] = []


class LoosePush(msgspec.Struct, gc=False):
    """Any push-shaped object; values are checked by `numbers` afterwards."""

    topic: Any
    start: Any = msgspec.field(name="startVersion")
    end: Any = msgspec.field(name="endVersion")
    data: LoosePushData
    ts: Any = None


@dataclass(slots=True)
class DepthPush:
    """A push whose every value has been checked: what `DepthSync` applies."""

    start: int
    end: int
    ts: int | None
    bids: list[Level3]
    asks: list[Level3]


class ResultInfo(msgspec.Struct):
    code: int
    message: str = ""


class ErrorReply(msgspec.Struct):
    resultInfo: ResultInfo


class CodeMsgReply(msgspec.Struct):
    """The v3 general error form, `{"code": N, "msg": ".."}`."""

    code: int
    msg: str = ""


class V2Reply(msgspec.Struct):
    resultInfo: ResultInfo
    data: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class DepthReply(msgspec.Struct):
    version: Any
    bids: list[tuple[Any, Any, Any, Any]] = []
    asks: list[tuple[Any, Any, Any, Any]] = []
    timestamp: Any = None
    market: Any = None


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
    topics: list[Any] | None = None  # echoed as sent: depth and trade topics differ
    sequence: int | None = None


_push_decoder = msgspec.json.Decoder(Push)
_loose_push_decoder = msgspec.json.Decoder(LoosePush, float_hook=JsonNumber)
_sub_reply_decoder = msgspec.json.Decoder(SubReply)
_any_decoder = msgspec.json.Decoder(float_hook=JsonNumber)
_encoder = msgspec.json.Encoder()


class ProtocolError(Exception):
    """A frame or reply that does not have the documented shape or values."""


class ApiError(Exception):
    """The venue answered with a non-zero error code (resultInfo or code/msg body)."""

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
_COUNT_CACHE_LIMIT = 4_096  # order counts are small integers: few distinct texts


class SlotParser:
    """Exact slot values for one market: prices by numeric value, sizes in base units.

    Prices and order counts repeat constantly, so their checked values are cached by
    text; a price is normalised, so "0.2500" and "0.25" are one level. Sizes stay the
    integers the venue sends (base-token units), in `ScaledLevel`s; `unit` is what one of
    them is worth in human units.
    """

    __slots__ = ("decimals", "scale", "unit", "prices", "counts")

    def __init__(self, base_decimals: int) -> None:
        self.decimals = base_decimals
        self.scale = -base_decimals
        self.unit = Decimal(1).scaleb(-base_decimals, EXACT)
        self.prices: dict[Any, Decimal] = BoundedCache(CACHE_LIMIT)  # the shared policy
        self.counts: dict[str, int] = BoundedCache(_COUNT_CACHE_LIMIT)

    def price(self, value: Any) -> Decimal:
        """The checked price of a slot value; raises BadNumber."""
        if type(value) is str:
            cached = self.prices.get(value)
            if cached is not None:
                return cached
        elif type(value) is not JsonNumber and type(value) is not int:
            raise BadNumber(f"bad price {value!r}")
        checked = numbers.price(value)
        self.prices[value] = checked
        return checked

    def count(self, value: Any) -> int:
        cached = self.counts.get(value) if type(value) is str else None
        if cached is not None:
            return cached
        checked = numbers.plain_integer(value, "order count")
        if type(value) is str:
            self.counts[value] = checked
        return checked

    def size(self, units: int) -> Decimal:
        """Base amount in smallest units -> human units, exactly."""
        return Decimal(units).scaleb(self.scale, EXACT)

    def levels(self, slots: list, what: str = "side") -> list[Level3]:
        """Checked (price, size in base units, orders) of a side; one price twice is bad."""
        price, count = self.price, self.count
        out = []
        for slot in slots:
            p, u, volume, n = slot
            if not numbers.is_scalar(volume):
                raise BadNumber(f"bad volume {volume!r}")
            out.append((price(p), numbers.units(u), count(n)))
        if len(out) > 1 and len({level[0] for level in out}) != len(out):
            raise BadNumber(f"the same price twice in {what}")
        return out

    def book_levels(self, levels: list[Level3]) -> list[ScaledLevel]:
        """Fresh book levels for `levels()`' output (a snapshot may be applied twice)."""
        unit = self.unit
        return [ScaledLevel(price, units, unit, orders) for price, units, orders in levels]


# -- pushes ---------------------------------------------------------------------------
@dataclass(slots=True)
class DepthSnapshot:
    version: int
    ts: int | None
    bids: list[Level3]  # (price, size in base units, orders), best first
    asks: list[Level3]
    limit: int | None = None  # the `limit` asked for: a side this long may be cut short


class FrameKind:
    PING = "ping"
    PUSH = "push"  # ours and well-formed
    MALFORMED = "malformed"  # ours and broken: drop it whole, resync
    UNDECODABLE = "undecodable"  # not JSON at all (or too deep to read): counted, ignored
    SUB_REPLY = "sub_reply"
    FOREIGN = "foreign"  # JSON, but not an object or another topic: ignore


def plausible_ts(value: Any) -> int | None:
    """A push's `ts` in ms, or None (unstamped) when it is not a sane epoch stamp."""
    return value if type(value) is int and 0 <= value < 2**53 else None


class PushReader:
    """Classifies incoming text frames for one subscription (market, level).

    A PUSH payload is a `DepthPush`: versions ordered, every value checked.
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
        return market == self.market and type(level) in (int, str) and str(level) == str(self.level)

    def read(self, frame: str | bytes) -> tuple[str, Any]:
        """(kind, payload): DepthPush for PUSH, SubReply for SUB_REPLY, reason text else."""
        if frame == HEARTBEAT_PING or frame == b"ping":
            return FrameKind.PING, None
        try:
            push = _loose_push_decoder.decode(frame)
        except DECODE_ERRORS as exc:
            return self._classify_odd(frame, _error_text(exc))
        if not self.is_ours(push.topic):
            return FrameKind.FOREIGN, "another topic"
        try:
            return FrameKind.PUSH, self.check(push)
        except BadNumber as exc:
            return FrameKind.MALFORMED, str(exc)

    def check(self, push: LoosePush) -> DepthPush:
        start = numbers.plain_integer(push.start, "startVersion")
        end = numbers.plain_integer(push.end, "endVersion")
        if end < start:
            raise BadNumber(f"endVersion {end} < startVersion {start}")
        parser = self.parser
        return DepthPush(start, end, plausible_ts(push.ts),
                         parser.levels(push.data.bids, "bids"), parser.levels(push.data.asks, "asks"))

    def _classify_odd(self, frame: str | bytes, error: str) -> tuple[str, Any]:
        try:
            obj = _any_decoder.decode(frame)
        except DECODE_ERRORS as exc:
            return FrameKind.UNDECODABLE, _error_text(exc)
        if not isinstance(obj, dict):
            return FrameKind.FOREIGN, "not an object"
        if "op" in obj and "result" in obj:
            try:
                return FrameKind.SUB_REPLY, _sub_reply_decoder.decode(frame)
            except DECODE_ERRORS as exc:
                return FrameKind.MALFORMED, f"bad subscription reply: {_error_text(exc)}"
        if self.is_ours(obj.get("topic")):
            return FrameKind.MALFORMED, f"bad push: {error}"
        return FrameKind.FOREIGN, "another topic"


def _error_text(exc: BaseException) -> str:
    return describe_error(exc, limit=200)  # the text quotes hostile input


# -- REST -----------------------------------------------------------------------------
def decode_reply(api: str, status: int, body: bytes, payload_type: Any) -> Any:
    """A REST reply's payload (docs/loopring.md, "Errors"). Raises ApiError or ProtocolError.

    Errors come as `{"resultInfo": {"code", "message"}}` (v2 with HTTP 200, v3 with 400)
    or, in the v3 general docs, as `{"code", "msg"}`: both are an ApiError.
    """
    try:
        if status != 200:
            _raise_error_body(status, body)
        if api == V2:
            reply = msgspec.json.decode(body, type=V2Reply)
            if reply.resultInfo.code != 0:
                raise ApiError(reply.resultInfo.code, reply.resultInfo.message)
            if reply.data is msgspec.UNSET:
                raise ProtocolError("reply without data")
            return _decode_payload(reply.data, payload_type)
        try:
            return _decode_payload(body, payload_type)
        except DECODE_ERRORS:
            _raise_error_body(status, body, quiet=True)
            raise
    except DECODE_ERRORS as exc:
        raise ProtocolError(f"unexpected reply: {_error_text(exc)}") from None


_payload_decoders: dict[Any, msgspec.json.Decoder] = {}


def _decode_payload(body: Any, payload_type: Any) -> Any:
    decoder = _payload_decoders.get(payload_type)
    if decoder is None:
        decoder = _payload_decoders[payload_type] = msgspec.json.Decoder(
            payload_type, float_hook=JsonNumber)
    return decoder.decode(body)


def _raise_error_body(status: int, body: bytes, quiet: bool = False) -> None:
    """Raise the ApiError a body describes; ProtocolError if it is none (unless quiet)."""
    for shape in (ErrorReply, CodeMsgReply):
        try:
            reply = msgspec.json.decode(body, type=shape)
        except DECODE_ERRORS:
            continue
        if isinstance(reply, ErrorReply):
            if reply.resultInfo.code != 0:
                raise ApiError(reply.resultInfo.code, reply.resultInfo.message)
        elif reply.code != 0:
            raise ApiError(reply.code, reply.msg)
    if not quiet:
        raise ProtocolError(f"HTTP {status}")


def decode_markets(api: str, status: int, body: bytes) -> list[Market]:
    if api == V3:
        return decode_reply(api, status, body, MarketsV3).markets
    return decode_reply(api, status, body, list[Market])


def decode_tokens(api: str, status: int, body: bytes) -> list[Token]:
    return decode_reply(api, status, body, list[Token])


def decode_depth(api: str, status: int, body: bytes, parser: SlotParser,
                 limit: int | None = None) -> DepthSnapshot:
    reply = decode_reply(api, status, body, DepthReply)
    try:
        version = numbers.plain_integer(reply.version, "version")
        return DepthSnapshot(version, plausible_ts(reply.timestamp),
                             parser.levels(reply.bids, "bids"), parser.levels(reply.asks, "asks"),
                             limit)
    except BadNumber as exc:
        raise ProtocolError(f"bad depth reply: {exc}") from None


def decode_ws_key(status: int, body: bytes) -> str:
    return decode_reply(V3, status, body, WsKey).key
