"""The one exception-to-line rule every layer (CLI, feeds, venue parsers) shares."""

from __future__ import annotations

import errno
import socket

from obview.errors import describe_error, one_line


def test_common_failures_read_as_plain_phrases():
    assert describe_error(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert describe_error(TimeoutError()) == "timed out"
    assert describe_error(socket.gaierror(-2, "Name or service not known")) == \
        "unknown host (Name or service not known)"
    assert describe_error(RecursionError("maximum recursion depth exceeded")) == "nested too deeply"
    assert describe_error(FileNotFoundError(2, "No such file or directory", "x")) == \
        "No such file or directory"


def test_text_is_one_line_capped_on_request_and_never_empty():
    assert describe_error(ValueError("first\n  second\n")) == "first second"
    assert describe_error(ValueError("x" * 500), limit=200) == "x" * 200
    assert describe_error(KeyError()) == "KeyError"
    assert one_line("Usage: obview\n\nTry 'obview -h'") == "Usage: obview Try 'obview -h'"


def test_a_bind_error_says_why_once():
    """asyncio's create_server wraps the socket's error with the address, which the
    caller ("cannot serve on HOST:PORT") already names."""
    wrapped = OSError(errno.EADDRINUSE, "error while attempting to bind on address "
                                        "('127.0.0.1', 8000): address already in use")
    assert describe_error(wrapped) == "address already in use"
    wrapped = OSError(errno.EADDRNOTAVAIL, "error while attempting to bind on address "
                                           "('203.0.113.7', 8000): cannot assign requested address")
    assert describe_error(wrapped) == "cannot assign requested address (not an address of this machine)"
    wrapped = OSError(errno.EACCES, "error while attempting to bind on address "
                                    "('127.0.0.1', 80): permission denied")
    assert describe_error(wrapped) == "permission denied"  # a privileged port, as non-root


def test_an_ipv6_address_is_bracketed_before_its_port():
    """`::1:11111` reads as one address; the status bar and errors write it as a URL does."""
    from obview.params import host_port
    from obview.venues import config
    from obview.venues.futu.client import FutuFeed

    assert host_port("127.0.0.1", 8000) == "127.0.0.1:8000"
    assert host_port("opend.example", 11111) == "opend.example:11111"
    assert host_port("::1", 11111) == "[::1]:11111"
    assert FutuFeed(config("futu", ["HK.00700"], host="::1", port=11112)).address == "[::1]:11112"
