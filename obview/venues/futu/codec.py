"""OpenD framing: the 44-byte header, SHA-1 checked bodies, and reassembly across reads.

Header (little-endian, docs/futu.md "Frames"): magic "FT", protocol id u32, body format u8, version u8,
serial u32, body length u32, SHA-1 of the plain body (20 bytes), reserved (8 bytes).
A frame with a wrong magic, a wrong digest or an absurd length means the byte stream can
no longer be trusted, so `FrameBuffer.feed` raises `BadFrame` and the session ends.
With encryption on (docs/futu.md, "Encryption") a `crypto.SessionCipher` seals bodies after
their digest is taken and opens them before it is checked: the SHA-1 is of the plain body.
"""

from __future__ import annotations

import struct
from hashlib import sha1

from obview.feed import FeedError

HEADER = struct.Struct("<2sIBBII20s8s")
HEADER_SIZE = HEADER.size  # 44
MAGIC = b"FT"
FORMAT_PROTOBUF = 0
RESERVED = bytes(8)
# The largest real packet is a full 3013 push: 40 levels a side with 1000 orders each,
# about 2 MB at the widest varints (docs/futu.md, "Push validation"). Twice that leaves
# margin; a longer frame is counted as bad and the connection replaced, never buffered.
MAX_BODY = 4 * 1024 * 1024

# Protocol ids (docs/futu.md "Frames")
INIT_CONNECT = 1001
GET_GLOBAL_STATE = 1002
NOTIFY = 1003
KEEP_ALIVE = 1004
QOT_SUB = 3001
QOT_REG_QOT_PUSH = 3002
QOT_GET_SUB_INFO = 3003
QOT_GET_TICKER = 3010
QOT_UPDATE_TICKER = 3011
QOT_GET_ORDER_BOOK = 3012
QOT_UPDATE_ORDER_BOOK = 3013
QOT_GET_STATIC_INFO = 3202

# Decoding reads the same 44 bytes but skips what a reader never needs (body format,
# version, reserved), which saves building three objects per frame.
_unpack_header = struct.Struct("<2sI2xII20s8x").unpack_from
assert struct.calcsize("<2sI2xII20s8x") == HEADER_SIZE
_pack_header = HEADER.pack


class BadFrame(FeedError):
    """The stream is corrupt (bad magic, digest or length): drop the connection.

    `kind` says what failed ("magic", "length", "sha1", "decrypt", or "unencrypted": a body
    that should have been encrypted came plain), with the frame's `proto_id` and `serial`:
    a bad InitConnect reply usually means the two ends disagree about encryption."""

    def __init__(self, message: str, kind: str = "", proto_id: int | None = None,
                 serial: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.proto_id = proto_id
        self.serial = serial


def encode_frame(proto_id: int, serial: int, body: bytes, fmt: int = FORMAT_PROTOBUF,
                 cipher=None) -> bytes:
    """Header plus body, with the plain body's SHA-1; the body sealed by `cipher` if any."""
    digest = sha1(body).digest()
    if cipher is not None:
        body = cipher.seal(proto_id, body)
    return _pack_header(MAGIC, proto_id, fmt, 0, serial, len(body), digest, RESERVED) + body


class FrameBuffer:
    """Reassembles frames from TCP reads. Call `clear()` whenever the connection changes:
    a half frame from a dead connection must never prefix the next one."""

    __slots__ = ("_pending", "_parts", "_missing", "cipher")

    def __init__(self, cipher=None) -> None:
        self._pending = b""  # the start of a frame whose rest has not arrived yet
        # A long frame's rest comes in many reads: they are kept apart and joined once,
        # when the frame is complete (joining at every read copied all that came before:
        # a 4 MiB body in 536-byte reads cost 0.7 s).
        self._parts: list[bytes] = []  # the reads after `_pending`
        self._missing = 0  # bytes the frame `_pending` begins still lacks
        self.cipher = cipher  # a crypto.SessionCipher on an encrypted connection

    def __len__(self) -> int:
        return len(self._pending) + sum(map(len, self._parts))

    def clear(self) -> None:
        self._pending = b""
        self._parts = []
        self._missing = 0

    def feed(self, chunk: bytes) -> list[tuple[int, int, bytes]]:
        """Add received bytes; return the complete frames as (proto_id, serial, body)."""
        if self._missing:
            self._parts.append(chunk)
            self._missing -= len(chunk)
            if self._missing > 0:
                return []
            data = b"".join((self._pending, *self._parts))
            self._parts = []
            self._missing = 0
        else:
            data = self._pending + chunk if self._pending else bytes(chunk)
        frames: list[tuple[int, int, bytes]] = []
        append = frames.append
        offset = 0
        available = len(data)
        cipher = self.cipher
        while available - offset >= HEADER_SIZE:
            magic, proto_id, serial, length, digest = _unpack_header(data, offset)
            if magic != MAGIC or length > MAX_BODY:
                self.clear()
                if magic != MAGIC:
                    raise BadFrame(f"bad magic {bytes(magic)!r} (proto {proto_id})", "magic",
                                   proto_id, serial)
                raise BadFrame(f"body length {length} too large (proto {proto_id})", "length",
                               proto_id, serial)
            end = offset + HEADER_SIZE + length
            if end > available:
                self._missing = end - available
                break
            body = data[offset + HEADER_SIZE:end]
            if cipher is not None:
                if cipher.hold and proto_id != INIT_CONNECT:
                    # sealed with an AES key the InitConnect reply is still bringing: held
                    # (docs/futu.md, "Encryption"), but no more than a frame's worth. OpenD
                    # pushes nothing before the client subscribes; a server that streams
                    # frames instead of the reply grew this without end, each read
                    # copying all of it.
                    if available - offset > HEADER_SIZE + MAX_BODY:
                        self.clear()
                        raise BadFrame(f"{available - offset} bytes of frames before the "
                                       "InitConnect reply", "held", proto_id, serial)
                    break
                body = self._open(cipher, proto_id, serial, body, digest)
            if sha1(body).digest() != digest:
                self.clear()
                raise BadFrame(f"SHA-1 mismatch (proto {proto_id}, serial {serial})", "sha1",
                               proto_id, serial)
            append((proto_id, serial, body))
            offset = end
        self._pending = data[offset:] if offset < available else b""
        return frames

    def _open(self, cipher, proto_id: int, serial: int, body: bytes, digest: bytes) -> bytes:
        try:
            plain = cipher.open(proto_id, body)
        except ValueError:
            plain = None
        if plain is None or sha1(plain).digest() != digest:
            self.clear()
            if sha1(body).digest() == digest:
                raise BadFrame(f"unencrypted body on an encrypted connection (proto {proto_id}, "
                               f"serial {serial})", "unencrypted", proto_id, serial)
            raise BadFrame(f"body does not decrypt (proto {proto_id}, serial {serial})",
                           "decrypt", proto_id, serial)
        return plain
