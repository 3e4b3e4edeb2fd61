"""Command-line value types shared by the commands (cli.py) and `serve` (serve.py)."""

from __future__ import annotations

from typing import Any

import click


class HostName(click.ParamType):
    """A host name or address as a socket takes it. An empty one meant 127.0.0.1 to
    connect and every interface to bind; a NUL or a 300-character label failed deep in
    the resolver, where it was retried as an internal error."""

    name = "host"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("empty: give a host name or address (0.0.0.0 for every interface)",
                      param, ctx)
        if len(text) > 253 or not (text.isascii() and text.isprintable()) or " " in text:
            self.fail(f"{text!r} is not a host name or address", param, ctx)
        return text


HOST = HostName()
