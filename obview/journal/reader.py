"""Reads journals: every line of one or several files, in order, or from a seek point.

Damage is handled the way a recording can be damaged: a file cut short (obview was killed
between two flushes) ends the replay at the last complete line with one warning; damaged
bytes raise `JournalError` after every line of the zstd frames before the damaged one (a
frame's lines are given out once its checksum has matched: damaged bytes can decode
without error into wrong lines), a line that is not a journal line after every good line
before it. A file that is not a journal, or a journal of a
newer schema, raises `JournalError` when the reader opens it.

Seek index: the writer starts a zstd frame at each checkpoint with a `sync` line alone in
the frame's first block. The index walks the file's frame and block headers (three bytes a
block, read through mmap) and decompresses only those first blocks, so it costs
milliseconds for an hour-long journal and needs no side file.
"""

from __future__ import annotations

import contextlib
import glob
import io
import logging
import mmap
import os
import re
import struct
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import zstandard

from obview.errors import abridged
from obview.journal import schema
from obview.journal.writer import SUFFIX, part_path

log = logging.getLogger("obview.journal")

_ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE_MASK, _SKIPPABLE = 0xFFFFFFF0, 0x184D2A50
_CHUNK = 1 << 12  # the first read of a file; then sized for about _OUTPUT bytes out
_OUTPUT = 1 << 17  # decompressed bytes a read aims at (measured: 1 MiB decodes 10% slower)
_MIN_CHUNK, _MAX_CHUNK = 1 << 12, 1 << 20
# The most lines one zstd frame may hold. A writer's frame holds `frame_bytes` (1 MiB) and
# the lines up to the next checkpoint (10 s), far below this on any feed; a frame over it
# is damage or a zstd bomb (4 bytes, an RLE block, decompress to 128 KiB) that would be
# held whole until its checksum (docs/journal.md, "Guarantees": reading damaged journals).
_MAX_FRAME = 256 << 20
# zstd's widest expansion: an RLE block, 4 bytes in for 128 KiB out. Input goes to the
# decompressor in slices this much smaller than _MAX_FRAME, so one call never makes more.
_SLICE = _MAX_FRAME // (1 << 15)


class JournalError(Exception):
    """A journal that cannot be read (further). str() is one line fit for a user.
    `read_whole`: found once every line was read (frames no connection took), so what
    an export wrote is all the journal holds, not what came before the damage."""

    read_whole = False


@dataclass(frozen=True, slots=True)
class SeekPoint:
    """Where a replay can start: a file start or a checkpoint's frame."""

    file: int  # index into the reader's paths
    offset: int  # byte offset of the zstd frame
    mono: int  # ns, from the header or sync line
    wall: int


# a rotated part's name, as `part_path` writes it: session.0004.ndjson.zst
_PART_NAME = re.compile(r"^(?P<stem>.+)\.(?P<part>\d{4,})" + re.escape(SUFFIX) + "$")


def session_files(path: str | os.PathLike,
                  warn: Callable[[str], None] | None = None) -> list[Path]:
    """A journal file followed by the rotated parts that exist next to it, in order: the
    first file brings every part, a later part (`s.0004.ndjson.zst`) the parts after it.
    The parts stop at the first one missing; `warn` hears of any found beyond it."""
    path = Path(path)
    base, first = path, 0
    if match := _PART_NAME.match(path.name):
        base, first = path.with_name(match["stem"] + SUFFIX), int(match["part"])
    files = [path]
    while (nxt := part_path(base, first + len(files))).exists():
        files.append(nxt)
    if warn is not None:
        gap = first + len(files)
        stem = base.name[:-len(SUFFIX)] if base.name.endswith(SUFFIX) else base.name
        beyond = [p for p in base.parent.glob(f"{glob.escape(stem)}.*{SUFFIX}")
                  if (m := _PART_NAME.match(p.name)) and m["stem"] == stem
                  and int(m["part"]) > gap]
        if beyond:
            warn(f"{part_path(base, gap).name} is missing: the replay stops before it "
                 f"({len(beyond)} later part{'s' if len(beyond) > 1 else ''} not played)")
    return files


class TwoSessions(ValueError):
    """Journals of more than one recording session were given to one replay."""


def one_session(paths: Iterable[str | os.PathLike],
                warn: Callable[[str], None] | None = None,
                later: list[JournalError] | None = None) -> list[Path]:
    """The files of the one session `paths` name, each once, in part order.

    Every given file brings the parts after it (`session_files`), so a shell glob
    (`s*.ndjson.zst`, which sorts the first file after its parts) or a part named twice
    would otherwise replay the same lines two or more times, out of order and with
    stamps stepping back. Files of another session (their header's `sid`) are refused:
    the replay's feeds are the first header's, and lines meant for another session's
    feeds would be dropped in silence. Raises TwoSessions, or JournalError for a file
    that is no journal. With `later`, a rotated part found after a given file (not
    given itself) whose header cannot be read ends the files before it and its error
    goes into `later`, for the replay to raise once it has played the parts before it
    (a damaged part had refused the whole session at open)."""
    said: list[str] = []

    def warn_once(text: str) -> None:
        if text not in said:
            said.append(text)

    files: dict[Path, tuple[schema.Header, Path]] = {}
    given: dict[str, Path] = {}  # session id -> the first file given of it
    for path in paths:
        key = Path(path).resolve()
        if key in files:  # (brought by a file given before it, with its later parts)
            given.setdefault(files[key][0].sid, Path(path))
            continue
        chain = session_files(path, warn_once)
        headers = []
        for number, file in enumerate(chain):
            try:
                headers.append(JournalReader(file).headers[0])
            except JournalError as exc:
                if number == 0 or later is None:
                    raise
                later.append(exc)
                break
        chain = chain[:len(headers)]
        given.setdefault(headers[0].sid, Path(path))
        for file, header in zip(chain, headers, strict=True):
            if header.sid != headers[0].sid:
                break  # a part left from an earlier session written under the same name
            files.setdefault(file.resolve(), (header, file))
    if len(given) > 1:
        first, other = list(given.values())[:2]
        raise TwoSessions(f"{first} and {other} are two recording sessions: replay one "
                          "session at a time (its first file brings the parts after it)")
    by_part = sorted(files.values(), key=lambda pair: pair[0].part)
    ordered = [by_part[0][1]]
    for (before, _), (header, file) in zip(by_part, by_part[1:], strict=False):
        if header.part != before.part + 1:
            missing = part_path(_base_of(file), before.part + 1)
            named = next((h for h, f in by_part if f.resolve() == missing.resolve()), None)
            if named is not None:  # there, but its header counts otherwise: damage
                warn_once(f"{missing.name} says it is part {named.part} of its session, not "
                          f"{before.part + 1}: the replay stops before it")
            elif not any(missing.name in text for text in said):  # (session_files may have)
                warn_once(f"{missing.name} is missing: the replay stops before it")
            break
        ordered.append(file)
    for text in said:
        (warn or log.warning)(text)
    return ordered


def _base_of(path: Path) -> Path:
    match = _PART_NAME.match(path.name)
    return path.with_name(match["stem"] + SUFFIX) if match else path


def _frame_extent(buf, offset: int) -> tuple[int, int | None, bool]:
    """(end of the first block, end of the frame or None if cut short, skippable?) of the
    zstd frame at `offset`; raises ValueError where the bytes are not a zstd frame."""
    size = len(buf)
    if offset + 4 > size:
        return size, None, False
    (magic,) = struct.unpack_from("<I", buf, offset)
    if magic & _SKIPPABLE_MASK == _SKIPPABLE:
        if offset + 8 > size:
            return size, None, True
        (length,) = struct.unpack_from("<I", buf, offset + 4)
        end = offset + 8 + length
        return end, (end if end <= size else None), True
    if magic != _ZSTD_MAGIC:
        raise ValueError("not a zstd frame")
    if offset + 5 > size:
        return size, None, False
    fhd = buf[offset + 4]
    single = (fhd >> 5) & 1
    pos = offset + 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3]
    pos += ((1 if single else 0), 2, 4, 8)[fhd >> 6]
    checksum = (fhd >> 2) & 1
    first_end = None
    while True:
        if pos + 3 > size:
            return (first_end or size), None, False
        header = buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16)
        kind = (header >> 1) & 3
        if kind == 3:
            raise ValueError("reserved zstd block type")
        pos += 3 + (1 if kind == 1 else header >> 3)
        if first_end is None:
            first_end = pos
        if header & 1:
            pos += 4 * checksum
            return first_end, (pos if pos <= size else None), False


def _diagnose(path: Path, offset: int, start: int) -> tuple[str, int | None, int]:
    """The frame at `start` that zstd refused, for the message: where it is, the block
    whose bytes it refused (fed one block at a time; None where the frame's own header
    is bad, or only its checksum failed), and the lines from `offset` to it. The error
    path only."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return f"the zstd frame at byte {start}", None, 0
    lines = 0
    if start > offset:  # frames read whole and checked already
        dobj = zstandard.ZstdDecompressor().decompressobj()
        with contextlib.suppress(zstandard.ZstdError):
            lines = dobj.decompress(data[offset:start]).count(b"\n")
            while dobj.eof and dobj.unused_data:
                rest = dobj.unused_data
                dobj = zstandard.ZstdDecompressor().decompressobj()
                lines += dobj.decompress(rest).count(b"\n")
    try:
        _first, end, _skip = _frame_extent(data, start)
    except ValueError:
        return f"the data from byte {start} on (not a zstd frame)", None, lines
    last = (len(data) if end is None else end) - 1
    what = f"the zstd frame at bytes {start}-{last}"
    # the block walk of _frame_extent, feeding each block as it is passed
    fhd = data[start + 4]
    single = (fhd >> 5) & 1
    pos = start + 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3]
    pos += ((1 if single else 0), 2, 4, 8)[fhd >> 6]
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        dobj.decompress(data[start:pos])
    except zstandard.ZstdError:
        return what, None, lines
    while pos + 3 <= len(data):
        header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)
        kind = (header >> 1) & 3
        block_end = pos + 3 + (1 if kind == 1 else header >> 3)
        if header & 1:
            block_end += 4 * ((fhd >> 2) & 1)  # the checksum, fed with the last block
        try:
            dobj.decompress(data[pos:block_end])
        except zstandard.ZstdError as exc:
            return what, (None if "checksum" in str(exc) else pos), lines
        if header & 1 or dobj.eof:
            break
        pos = block_end
    return what, None, lines


def _header_line(fh, head: bytes, first_end: int) -> bytes:
    """The first line of a file whose first bytes are `head`: its first block, where the
    writer puts it, then on from `fh` while the line has not ended (the header of a
    session of thousands of symbols outgrows the block and the 64 KiB; it was read as
    corrupt). At most _MAX_FRAME of it; bytes past the line are not decoded."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    out = b""
    data = head[:first_end]
    rest = head[first_end:]
    try:
        while data:
            out += dobj.decompress(data)
            if b"\n" in out or dobj.eof or len(out) > _MAX_FRAME:
                break
            data, rest = (rest, b"") if rest else (fh.read(_MAX_CHUNK), b"")
    except zstandard.ZstdError:
        pass
    return out.split(b"\n", 1)[0]


def _first_line(buf, offset: int, first_end: int, end: int) -> bytes:
    """The first line of the zstd frame at `offset` (its first block ends at
    `first_end`, the frame at `end`): the first block, where the writer puts a `sync`
    line alone, then on while the line has not ended. A `sync` line of thousands of
    streams (its `fc`) outgrows the 128 KiB block, and the index had ended at it (the
    seek points after it lost, a seek past it read from the one before). At most
    _MAX_FRAME of it; an unended line (damage) gives what it has."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        piece = dobj.decompress(buf[offset:first_end])
        out = bytearray(piece)  # (grows in place)
        at = first_end
        while b"\n" not in piece and at < end and not dobj.eof and len(out) <= _MAX_FRAME:
            piece = dobj.decompress(buf[at:min(at + _SLICE, end)])
            out += piece
            at += _SLICE
    except zstandard.ZstdError:
        return b""
    return bytes(out.split(b"\n", 1)[0])


class JournalReader:
    """Lines of one session's files (or several sessions', in the order given)."""

    def __init__(self, paths: str | os.PathLike | Iterable[str | os.PathLike], *,
                 warn: Callable[[str], None] | None = None) -> None:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise JournalError("no journal given")
        self._warn = warn or log.warning
        self.warnings: list[str] = []
        self.truncated = False
        self._index: list[SeekPoint] | None = None
        self._end_wall: int | None = None
        self.damaged_at_end = False  # `end_wall` stopped at damage, not at the last line
        self.headers = [self._read_header(p) for p in self.paths]

    # -- opening ----------------------------------------------------------------------
    def _read_header(self, path: Path) -> schema.Header:
        try:
            with open(path, "rb") as fh:
                head = fh.read(64 * 1024)
                if not head:  # (it was "not an obview journal (no journal header)")
                    raise JournalError(f"{path} is not an obview journal (it is empty: a "
                                       "recording killed before its first write?)")
                try:
                    first_end, _end, _skip = _frame_extent(head, 0)
                except ValueError:
                    raise JournalError(f"{path} is not an obview journal (not zstd data)") from None
                line = _header_line(fh, head, first_end)
        except OSError as exc:
            raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not line.startswith(schema.HEADER_PREFIX):
            raise JournalError(f"{path} is not an obview journal (no journal header)")
        try:
            raw = msgspec.json.decode(line)
            version = raw["v"]
        except (msgspec.DecodeError, KeyError, TypeError, RecursionError):
            raise JournalError(f"{path}: the journal header is corrupt") from None
        if type(version) is not int or version < 1:  # (no obview wrote it: not a newer one)
            raise JournalError(f"{path}: the journal header is corrupt (schema {abridged(version)})")
        if version > schema.SCHEMA_VERSION:
            raise JournalError(
                f"{path} was written by a newer obview (journal schema {version}; this "
                f"obview reads schema {schema.SCHEMA_VERSION} and older): upgrade obview")
        try:
            return msgspec.convert(raw, schema.Header)
        except msgspec.ValidationError as exc:
            raise JournalError(f"{path}: the journal header is corrupt ({exc})") from None

    # -- reading ----------------------------------------------------------------------
    def __iter__(self) -> Iterator[schema.Line]:
        return self.lines()

    def raw_lines(self, start: SeekPoint | None = None) -> Iterator[bytes]:
        """Every line as its JSON bytes, undecoded (for tools that only count or copy)."""
        for block in self._blocks(start):
            lines = bytes(block).split(b"\n")
            lines.pop()  # the b"" after the block's last newline
            yield from lines

    def _blocks(self, start: SeekPoint | None) -> Iterator[bytes | memoryview]:
        first = start.file if start else 0
        for number in range(first, len(self.paths)):
            offset = start.offset if start and number == first else 0
            if not (yield from self._file_blocks(number, offset)):
                return  # cut short: what follows would not continue from here

    def lines(self, start: SeekPoint | None = None) -> Iterator[schema.Line]:
        """Every line from `start` (default: the beginning) to the end of the last file.
        A text payload embedded as JSON (`j`) comes as `p`, the text, as in schema 1."""
        as_text = schema.as_text
        for decoded in self.batches(start):
            as_text(decoded)
            yield from decoded

    def batches(self, start: SeekPoint | None = None) -> Iterator[list[schema.Line]]:
        """The lines in lists, as decoded a block at a time (a replay's hot path): embedded
        JSON stays in `j` (`Frame.data()` gives it). A damage raises `JournalError` after
        every good line before it has come."""
        first = start.file if start else 0
        for number in range(first, len(self.paths)):
            offset = start.offset if start and number == first else 0
            if not (yield from self._file_batches(number, offset)):
                return

    def _file_batches(self, number: int, offset: int) -> Iterator[list[schema.Line]]:
        # Whole blocks of lines go through msgspec's NDJSON decoder at once (no bytes object
        # per line); a block that fails is decoded again line by line to name the bad one.
        decode_lines = schema.raw_line_decoder.decode_lines
        header = schema.Header
        count = 0
        blocks = self._file_blocks(number, offset)
        while True:
            try:
                block = next(blocks)
            except StopIteration as stop:
                return stop.value
            try:
                decoded = decode_lines(block)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                # (RecursionError: msgspec's decoder recurses per bracket, in `j` and
                # `x` too, so a line nested some thousand deep stopped it mid-block
                # with "internal error: RecursionError")
                good, error = self._locate_bad_line(number, offset, block, count)
                if good:
                    yield good
                raise error from None
            # A header after a file's first line: journals joined with `cat` (zstd
            # frames concatenate into one valid stream). The second session's lines went
            # to the first one's feeds and connections: they printed nothing, exit 0.
            # (A scan in C: about 1% of the decoding.)
            if header in map(type, decoded):
                first = 1 if count == 0 and offset == 0 else 0
                at = next((n for n in range(first, len(decoded))
                           if type(decoded[n]) is header), None)
                if at is not None:
                    if at:
                        yield decoded[:at]
                    where = f"line {count + at + 1}" + (f" after byte {offset}" if offset else "")
                    raise JournalError(
                        f"{self.paths[number]}: {where} is another journal's header (files "
                        "joined with cat?): the lines before it were read; give each "
                        "journal on its own")
            count += len(decoded)
            yield decoded

    def _locate_bad_line(self, number: int, offset: int, block: bytes | memoryview,
                         before: int) -> tuple[list[schema.Line], JournalError]:
        """The good lines of a block that failed, and the error naming the bad one."""
        decode = schema.raw_line_decoder.decode
        good: list[schema.Line] = []
        count = before
        for count, line in enumerate(bytes(block).split(b"\n")[:-1], before + 1):
            try:
                good.append(decode(line))
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                where = f"line {count}" + (f" after byte {offset}" if offset else "")
                why = "nested too deeply" if isinstance(exc, RecursionError) else exc
                return good, JournalError(f"{self.paths[number]}: {where} is corrupt ({why})")
        return good, JournalError(f"{self.paths[number]}: lines {before + 1}-{count} are corrupt")

    def _file_blocks(self, number: int, offset: int) -> Iterator[bytes | memoryview]:
        """One file as blocks of whole lines (each ending in a newline); returns False if
        the file was cut short. A block is a view into what zstd returned (no copy):
        decoded `Raw` values keep that alive, and nothing ever writes to it.

        A frame's blocks come out only once its content checksum has matched, at the
        frame's end: damaged bytes can decode without any error into lines that parse
        but are not what was written (a size 3300 read as 7526), and zstd has no
        checksum finer than the frame, so nothing of a damaged frame can be told good.
        The frame's blocks are held as they come (about `frame_bytes` of lines, 1 MiB)
        and their lines decoded after: the decompression keeps its cache-sized reads.
        The last frame of a file cut short never got its checksum: its blocks come at
        the end of the file, unchecked, before the warning that the file ends abruptly."""
        path = self.paths[number]
        dctx = zstandard.ZstdDecompressor()
        dobj = dctx.decompressobj()
        fed = False  # the current frame has had input
        pending = b""
        done = offset  # where the current frame starts
        held: list[bytes | memoryview] = []  # the current frame's blocks, unchecked yet
        frame_out = 0  # bytes the current frame has decompressed to
        size = _CHUNK
        try:
            fh = open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
        with fh:
            fh.seek(offset)
            position = offset
            while chunk := fh.read(size):
                position += len(chunk)
                taken = len(chunk)
                made = 0
                while chunk:
                    piece = chunk if len(chunk) <= _SLICE else chunk[:_SLICE]
                    try:
                        out = dobj.decompress(piece)
                    except zstandard.ZstdError as exc:
                        raise JournalError(self._damage(number, offset, done, exc)) from None
                    fed = True
                    made += len(out)
                    frame_out += len(out)
                    if frame_out > _MAX_FRAME:
                        raise JournalError(self._too_large(number, offset, done))
                    if out:
                        end = out.rfind(b"\n") + 1
                        if end:
                            if pending:  # the line begun in the last output ends here
                                first = out.find(b"\n") + 1
                                held.append(pending + out[:first])
                                if first < end:
                                    held.append(memoryview(out)[first:end])
                            else:
                                held.append(memoryview(out)[:end] if end < len(out) else out)
                            pending = out[end:]
                        else:  # (a bytearray: a long line grows in place, not quadratically)
                            if type(pending) is not bytearray:
                                pending = bytearray(pending)
                            pending += out
                    if dobj.eof:  # the checksum matched (zstd raises where it does not)
                        yield from held
                        held = []
                        chunk = dobj.unused_data + chunk[len(piece):]
                        done = position - len(chunk)
                        dobj = dctx.decompressobj()
                        fed = False
                        frame_out = 0
                    else:
                        chunk = chunk[len(piece):]
                # about _OUTPUT bytes out of each read, whatever the ratio: large enough
                # to cost few calls, small enough to stay in cache while it is decoded. At
                # most twice the last read: a first read whose output was little more than
                # the header's block would size the next for a ratio never measured (on a
                # Loopring journal: 1 MiB in, 1.7 MB out, one block for the whole file).
                if made:
                    size = min(max(taken * _OUTPUT // made, _MIN_CHUNK), _MAX_CHUNK, 2 * size)
        if fed or pending:
            yield from held  # unchecked: the frame's checksum was never written
            self._cut_short(path)
            return False
        return True

    def _damage(self, number: int, offset: int, start: int, exc: zstandard.ZstdError) -> str:
        """The one line for a frame that failed: its bytes, what failed and in which
        block, and how far the reading got (the lines are counted here, on the error
        path: counting newlines as they pass would cost a third of the reading)."""
        path = self.paths[number]
        what, block, lines = _diagnose(path, offset, start)
        if "checksum" in str(exc):
            why = "its lines do not match its checksum: the damage can be anywhere in it"
        else:
            why = str(exc).removeprefix("zstd decompressor error: ")
            if block is not None:
                why += f", in its block at byte {block}"
        if not lines:
            got = "no line before it was read"
        else:
            got = f"the lines before it were read (1-{lines}" + (
                f" after byte {offset})" if offset else ")")
        return f"{path}: {what} is corrupt ({why}); {got}"

    def _too_large(self, number: int, offset: int, start: int) -> str:
        """The one line for a frame that decompresses to more than _MAX_FRAME."""
        path = self.paths[number]
        lines = 0
        with contextlib.suppress(OSError, zstandard.ZstdError), open(path, "rb") as fh:
            fh.seek(offset)  # the frames before it, read and checked already
            before = zstandard.ZstdDecompressor().stream_reader(
                io.BytesIO(fh.read(start - offset)), read_across_frames=True)
            while out := before.read(_OUTPUT):
                lines += out.count(b"\n")
        got = (f"the lines before it were read (1-{lines}" + (
            f" after byte {offset})" if offset else ")")) if lines else "no line before it was read"
        return (f"{path}: the zstd frame at byte {start} is corrupt (it decompresses to more "
                f"than {_MAX_FRAME >> 20} MiB, far more than obview writes in a frame); {got}")

    def _cut_short(self, path: Path) -> None:
        self.truncated = True
        message = f"{path} ends abruptly (a crash or a copy in progress?): read up to its last complete line"
        if message not in self.warnings:
            self.warnings.append(message)
            if len(self.warnings) == 1:
                self._warn(message)

    def where(self, target: schema.Line, start: SeekPoint | None = None) -> str:
        """'<file>: line N' ('line N after byte S' from a seek point) of `target`, a line
        read from `start`, for a message about what it holds: found by reading the
        lines again (the error path only; a replay does not count lines as it goes)."""
        first = start.file if start else 0
        for number in range(first, len(self.paths)):
            offset = start.offset if start and number == first else 0
            count = 0
            with contextlib.suppress(JournalError):
                for batch in self._file_batches(number, offset):
                    for line in batch:
                        count += 1
                        if line == target:
                            return f"{self.paths[number]}: line {count}" + (
                                f" after byte {offset}" if offset else "")
        return f"{self.paths[first]}: a {target.__struct_config__.tag} line"

    # -- seeking ----------------------------------------------------------------------
    def index(self) -> list[SeekPoint]:
        """Every seek point of every file, in file order."""
        if self._index is None:
            points: list[SeekPoint] = []
            for number, path in enumerate(self.paths):
                points.extend(self._file_index(number, path))
            self._index = points
        return self._index

    def _file_index(self, number: int, path: Path) -> list[SeekPoint]:
        header = self.headers[number]
        points = [SeekPoint(number, 0, header.m, header.w)]
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return points
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                offset = 0
                while offset < size:
                    try:
                        first_end, end, skippable = _frame_extent(buf, offset)
                    except ValueError:
                        break  # damage: reading will report it when it gets there
                    if offset and not skippable:
                        line = _first_line(buf, offset, first_end,
                                           size if end is None else end)
                        if line.startswith(b'{"k":"sync"'):
                            try:
                                sync = msgspec.json.decode(line, type=schema.Sync)
                            except (msgspec.DecodeError, msgspec.ValidationError,
                                    RecursionError):
                                break
                            points.append(SeekPoint(number, offset, sync.m, sync.w))
                    if end is None:
                        break
                    offset = end
        return points

    def end_wall(self) -> int:
        """The wall stamp of the last line (read once, from the last seek point: at most
        about a frame of lines); up to any damage there, which reading reports later."""
        if self._end_wall is None:
            points = self.index()
            last = points[-1].wall if points else self.headers[0].w
            try:
                for line in self.lines(points[-1] if points else None):
                    last = max(last, getattr(line, "w", last))
            except JournalError:
                # the journal is damaged there: it does not end at `last`, its reading
                # does (a --from past it is no usage error: the replay names the damage)
                self.damaged_at_end = True
            self._end_wall = last
        return self._end_wall

    def seek_point(self, *, wall: int | None = None, mono: int | None = None) -> SeekPoint:
        """The last seek point at or before the target (a wall-clock or a monotonic ns;
        a monotonic target is only meaningful within one session); the first point if
        the target is earlier than the journal."""
        if (wall is None) == (mono is None):
            raise ValueError("give exactly one of wall= and mono=")
        points = self.index()
        keys = [p.wall for p in points] if wall is not None else [p.mono for p in points]
        target = wall if wall is not None else mono
        at = bisect_right(keys, target) - 1
        return points[max(at, 0)]

    def seek(self, *, wall: int | None = None, mono: int | None = None) -> Iterator[schema.Line]:
        """Lines from the checkpoint before the target: replaying them up to the target
        rebuilds the books as they were then."""
        return self.lines(self.seek_point(wall=wall, mono=mono))
