"""Replay: a journal drives the venues' own feeds in place of the network (docs/replay.md).

`ReplayPlayer` reads a journal, paces it (`ReplayClock`) and hands each recorded
connection's frames to the feed that recorded them, through a `ReplayTransport` that
stands where the socket was. The feeds decode, sync and build their books exactly as
live; the TUI and headless mode see ordinary feeds.
"""

from obview.replay.player import ReplayPlayer, open_player, parse_when
from obview.replay.transport import ReplayLink, ReplayTransport

__all__ = ["ReplayLink", "ReplayPlayer", "ReplayTransport", "open_player", "parse_when"]
