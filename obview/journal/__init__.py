"""Record what came off the wire, read it back, and pace it for replay (docs/journal.md)."""

from obview.journal.clock import ReplayClock
from obview.journal.reader import (
    JournalError,
    JournalReader,
    SeekPoint,
    TwoSessions,
    one_session,
    session_files,
)
from obview.journal.redact import Redactor
from obview.journal.schema import (
    RECORDING_CLOSED,
    SCHEMA_VERSION,
    Checkpoint,
    Connect,
    Counters,
    Disconnect,
    End,
    Frame,
    Gap,
    Header,
    Line,
    Records,
    Resync,
    Subscribe,
    Sync,
    book_of,
    checkpoint_of,
    records_of,
)
from obview.journal.writer import JournalWriter, part_path

__all__ = [
    "RECORDING_CLOSED", "SCHEMA_VERSION", "Checkpoint", "Connect", "Counters", "Disconnect", "End", "Frame", "Gap", "Header",
    "JournalError", "JournalReader", "JournalWriter", "Line", "Records", "Redactor", "ReplayClock",
    "Resync", "SeekPoint", "Subscribe", "Sync", "TwoSessions", "book_of", "checkpoint_of",
    "records_of",
    "one_session", "part_path", "session_files",
]
