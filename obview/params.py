"""Value types shared by the commands (cli.py), `serve` (serve.py) and the config file
check (config.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource


class EnvOption(click.Option):
    """A click.Option whose error names its environment variable only when the bad
    value came from there. `config.declare_envvars` sets `show_envvar`, so that --help
    lists the variable, and Click's own hint then blamed it for any bad value:
    `--level x` typed on the command line said "Invalid value for '--level' (env var:
    'OBVIEW_LOOPRING_LEVEL')". (Click records the value's source before converting it.)"""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        if (ctx is not None and self.name
                and ctx.get_parameter_source(self.name) is ParameterSource.ENVIRONMENT):
            return super().get_error_hint(ctx)
        return click.Parameter.get_error_hint(self, ctx)


def option(*decls: str, **attrs: Any) -> Callable:
    """`click.option` making an `EnvOption`: the commands' options, any of which may be
    given an environment variable (`config.declare_envvars`)."""
    return click.option(*decls, cls=EnvOption, **attrs)


def host_port(host: str, port: int | str) -> str:
    """`host:port` as a URL writes it: an IPv6 address in brackets (`[::1]:8000`), or
    its colons would run into the port's."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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


class Duration(click.ParamType):
    """A span of time: seconds as a number, or with units, "90s", "30m", "1h", "1h30m"
    (the config file's `history = "30m"` goes through here too)."""

    name = "duration"
    UNITS = {"s": 1, "m": 60, "h": 3600}

    def __init__(self, maximum: float | None = None) -> None:
        self.maximum = maximum  # seconds (None: any finite span)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            seconds = self._parse(str(value).strip().lower())
            if seconds is None:
                self.fail(f"{value!r} is not a duration (e.g. 90s, 30m, 1h)", param, ctx)
        if seconds == float("inf"):
            self.fail(f"{value!r}: a duration must be finite", param, ctx)
        if not seconds > 0:
            self.fail(f"{value!r}: a duration must be more than 0", param, ctx)
        if self.maximum is not None and seconds > self.maximum:
            self.fail(f"{value!r}: at most {self.maximum / 3600:g}h", param, ctx)
        return seconds

    def _parse(self, text: str) -> float | None:
        import re

        try:
            return float(text)
        except ValueError:
            pass
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?",
                             text)
        if not text or parts is None:
            return None
        return sum(float(amount) * unit for amount, unit in zip(parts.groups(), (3600, 60, 1),
                                                                 strict=True) if amount)


# The heatmap's memory grows with its history (about 16 MB an hour a stream at 200 price
# rows, bench/heatmap_bench.py): a day is the most any market's session needs.
MAX_HISTORY_S = 24 * 3600
