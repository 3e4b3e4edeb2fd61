"""What a seek point gives back to the replayed feeds: the connections open there, the
feeds' counts, each book and each feed's records, as the live screen had them.

A replay that starts mid-session (a seek, `--from`, a rotated part given alone) reads
the `sync` (or a part's header) and `ckp`/`rec` lines at the seek point first
(docs/journal.md, "Seeking"). Each of them can be damaged, and each kind of damage
is a `JournalError` naming the seek point, never a replay that goes on without what
the line held.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from obview.errors import bounded, named
from obview.feed import RECORD_TYPES, Feed, Stream
from obview.journal import (
    Checkpoint,
    Counters,
    Header,
    JournalError,
    Records,
    SeekPoint,
    Sync,
    book_of,
    records_of,
)
from obview.replay.transport import ReplayLink


class SeekPointRestorer:
    """Puts a seek point's lines back into `feeds`. It shares the player's `links`
    (connection number -> link) and `conns` (connection number -> open) and adds
    the connections the seek point holds open to both."""

    def __init__(self, feeds: list[Feed], links: dict[int, ReplayLink],
                 conns: dict[int, bool], paths: list[Path]) -> None:
        self.feeds = feeds
        self.links = links
        self.conns = conns
        self.paths = paths

    def feed_at(self, index: int | None) -> Feed | None:
        if index is None or not 0 <= index < len(self.feeds):
            return None
        return self.feeds[index]

    def reopen_links(self, open_links: dict[str, int], point: SeekPoint) -> None:
        """The connections open at the seek point, each a `resumed` link of its feed."""
        for conn, index in open_links.items():
            feed = self.feed_at(index)
            if feed is None:  # damage: its frames would go to no connection, in silence
                raise JournalError(
                    f"{self.paths[point.file]}: the checkpoint in the zstd frame at "
                    f"byte {point.offset} is corrupt (its connection {conn} is of feed "
                    f"{index}, and the journal has {feeds_text(len(self.feeds))})")
            self.conns[int(conn)] = True
            if int(conn) not in self.links:
                link = ReplayLink(int(conn), resumed=True)
                self.links[int(conn)] = link
                feed.transport.open(link)

    def counters(self, counts: dict[str, Counters]) -> None:
        """The feeds' counts at the seek point, as the live screen showed them: the
        frames from here on count on from them (a feed the line leaves out keeps 0)."""
        for index, count in counts.items():
            feed = self.feed_at(int(index))
            if feed is None:
                continue
            feed.reconnects, feed.bad_frames, feed.messages = count.rc, count.bf, count.ms
            for key, resyncs in count.rs.items():
                stream = feed.streams.get(key)
                if stream is not None:
                    stream.resyncs = resyncs

    def book_of(self, venue: str, key: str) -> tuple[Feed, Stream] | None:
        """The feed and stream a checkpoint's book of `venue` `key` goes back into."""
        for feed in self.feeds:
            stream = feed.checkpoint_stream(key) if feed.venue == venue else None
            if stream is not None:
                return feed, stream
        return None

    def book(self, line: Checkpoint, point: SeekPoint) -> None:
        found = self.book_of(line.vn, line.sy)
        if found is None:
            # damage: a book the header's feeds never have (the checkpoint's venue or
            # symbol damaged, or the header's); passed by, a seek there went on without it
            raise JournalError(f"{self.paths[point.file]}: the checkpoint of "
                               f"{named(line.vn)} {named(line.sy)} in the zstd frame at byte "
                               f"{point.offset} is corrupt (no feed of the journal has that "
                               "book)")
        feed, stream = found
        if line.pu is not None:
            stream.pushes = line.pu - 1  # book_changed counts the restore as one
        if line.nm is not None:  # (live, it came with the session's first replies)
            stream.name = line.nm
        try:
            if line.cx is not None:  # (a damaged one: ValueError, as levels)
                feed.restore_context(stream, line.cx)
            book = book_of(line)
        except ValueError as exc:  # damage: the replay cannot start from here
            raise JournalError(f"{self.paths[point.file]}: the checkpoint of "
                               f"{named(line.vn)} {named(line.sy)} in the zstd frame at byte "
                               f"{point.offset} is corrupt ({bounded(str(exc))})") from None
        feed.restore_book(stream, book)
        if line.up is not None:  # (the restore made the book synced: 0 updates)
            stream.updates = line.up

    def records(self, line: Records, point: SeekPoint) -> None:
        """The records a feed held at the checkpoint (its orders, its risk rows), so its
        tables show what live showed then; the frames from here on change them on."""
        feed = self.feed_at(line.fd) if line.fd is not None else next(
            (f for f in self.feeds if f.venue == line.vn), None)
        row_type = RECORD_TYPES.get(line.kind)
        if row_type is None:
            return  # (a kind a newer obview added: its rows are not shown here)
        try:
            # damage: a feed the header does not have, or of another venue; passed by
            # in silence, a seek there showed empty tables
            if feed is None:
                raise ValueError(f"they are of feed {line.fd}, and the journal has "
                                 f"{feeds_text(len(self.feeds))}" if line.fd is not None
                                 else f"no feed of the journal is of {named(line.vn)}")
            if feed.venue != line.vn:
                raise ValueError(f"they are of feed {line.fd}, which is {feed.venue}'s")
            rows = records_of(line, row_type)
        except ValueError as exc:  # damage: the replay cannot start from here
            raise JournalError(f"{self.paths[point.file]}: the {line.kind} records of "
                               f"{named(line.vn)} in the zstd frame at byte {point.offset} "
                               f"are corrupt ({bounded(str(exc))})") from None
        feed.restore_records(line.kind, rows, line.cx)


def feeds_text(count: int) -> str:
    return f"{count} feed" + ("s" if count != 1 else "")


def checkpointed(batches: Iterator[list], head: list[list]) -> dict[tuple[str, str], Checkpoint]:
    """The `ckp` lines of the checkpoint at the start of `batches` (after its header or
    `sync` line), by venue and symbol; the batches read go into `head`."""
    books: dict[tuple[str, str], Checkpoint] = {}
    for batch in batches:
        head.append(batch)
        for line in batch:
            kind = type(line)
            if kind is Checkpoint:
                books[line.vn, line.sy] = line
            elif kind is not Sync and kind is not Header and kind is not Records:
                return books
    return books
