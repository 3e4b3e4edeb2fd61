"""`obview config path|show|init`: where the file is, what is in force, a commented template."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import click

from obview import config
from obview.venues import VENUES

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

TEMPLATE = """\
# obview configuration. Precedence: command-line option > environment variable
# (OBVIEW_<VENUE>_<OPTION>, e.g. OBVIEW_FUTU_PORT) > this file > built-in default.
# `obview config show` prints what is in force and where each value comes from.
#
# Secrets (Loopring API key, bthub password) do NOT belong in a file others can read:
# prefer the environment (OBVIEW_LOOPRING_API_KEY, OBVIEW_BTHUB_PASSWORD) or the system
# keyring (`keyring set obview loopring.api_key`). If you put one here, obview refuses the
# file unless only you can read it (chmod 600).

# theme = "textual-dark"         # the TUI's colour theme
# history = "30m"                # how much history the TUI keeps
# record_dir = "~/obview-records"  # where recordings go

[futu]
# host = "127.0.0.1"             # OpenD
# port = 11111
# depth = 20                     # rows per side
# details = false                # per-order queues
# watchlist = "hk-tech"          # what `obview futu` opens with no codes (or a list)

[loopring]
# api = "v3"
# rest_url = "https://api3.loopring.io"
# ws_url = "wss://ws.api3.loopring.io/v3/ws"
# level = 0
# depth = 20

[bthub]
# url = "https://trade.bthub.com:444"
# cp = "okex"
# book = "A"
# depth = 20

[watchlists]
# `obview futu @hk-tech` opens these
# hk-tech = ["HK.00700", "HK.09988", "HK.03690"]
# us = ["US.AAPL", "US.TSLA"]
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             short_help="The config file: path, show, init.")
def config_group() -> None:
    """The config file (OBVIEW_CONFIG overrides its location)."""


@config_group.command()
def path() -> None:
    """Print the config file's path."""
    click.echo(str(config.config_path()))


@config_group.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(force: bool) -> None:
    """Write a commented template (mode 600) to the config path."""
    target = config.config_path()
    if target.is_dir():  # (--force must not try to write over a folder)
        raise click.ClickException(f"cannot write {target}: it is a folder")
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists (--force overwrites it)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # private from the start: the user may add a secret to it later
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(TEMPLATE)
        os.chmod(target, 0o600)
    except (FileExistsError, NotADirectoryError) as exc:  # a file where a folder should be
        raise click.ClickException(f"cannot write {target}: {exc.filename} is not a "
                                   "folder") from None
    except OSError as exc:  # a full disk, a read-only folder
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from None
    click.echo(f"wrote {target}")


@config_group.command()
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print every setting in force and where it comes from (secrets: only whether set)."""
    group = ctx.find_root().command
    cfg = config.load(group=group)
    click.echo(f"# {cfg.path}{'' if cfg.exists else ' (absent: built-in defaults)'}")
    for key in config.SETTINGS:
        if key in cfg.data:
            click.echo(f"{key} = {_toml(cfg.data[key])}  # file")
    for venue in VENUES:
        command = group.commands.get(venue)
        if command is None:
            continue
        click.echo(f"\n[{venue}]")
        for key, option in config.configurable(command).items():
            value, source = _effective(cfg, venue, key, option, command)
            prefix = "# " if value is None else ""  # no value in force: keep the output TOML
            click.echo(f"{prefix}{key} = {_toml(value)}  # {source}")
        watchlist = cfg.venue(venue).get("watchlist")
        if watchlist is not None:
            click.echo(f"watchlist = {_toml(watchlist)}  # file")
        for name in sorted(config.SECRET_KEYS[venue]):
            click.echo(f"# {name}: {_secret_source(cfg, venue, name)}")
    if cfg.watchlists:
        click.echo("\n[watchlists]")
        for name, symbols in cfg.watchlists.items():
            click.echo(f"{_toml_key(name)} = {_toml(symbols)}")


def _effective(cfg: config.Config, venue: str, key: str, option: click.Option,
               command: click.Command) -> tuple[Any, str]:
    env = option.envvar if isinstance(option.envvar, str) else config.envvar_name(venue, key)
    if os.environ.get(env):
        return _typed(os.environ[env], option, command), f"env {env}"
    if key in cfg.venue(venue):
        return cfg.venue(venue)[key], "file"
    if key in config.SETTINGS and key in cfg.data:  # a top-level setting is every venue's
        return cfg.data[key], "file (top level)"
    value = option.get_default(click.Context(command), call=True)
    if not isinstance(value, str | int | float | bool | list | tuple):
        value = None  # Click's "no default" marker
    return value, "default"


def _typed(text: str, option: click.Option, command: click.Command) -> Any:
    """A variable's text as the option reads it, when that is a number or a switch
    (`port = 1234`, not "1234"); anything else as written (a duration stays "10m")."""
    if option.is_flag or isinstance(option.type, click.types.IntParamType
                                    | click.types.FloatParamType | click.types.BoolParamType):
        try:
            return option.type_cast_value(click.Context(command), text)
        except click.BadParameter:
            return text  # (the command itself will say what is wrong with it)
    return text


def _secret_source(cfg: config.Config, venue: str, name: str) -> str:
    env = config.envvar_name(venue, name)
    if os.environ.get(env):
        return f"set (env {env})"
    if cfg.venue(venue).get(name):
        return "set (this file)"
    if config._keyring(venue, name):
        return f"set (keyring {config.KEYRING_SERVICE} {venue}.{name})"
    return f"not set ({env}, this file at mode 600, or keyring {config.KEYRING_SERVICE} {venue}.{name})"


def _toml_key(name: str) -> str:
    """A bare key where TOML allows one; quoted otherwise, since `a.b = [...]` bare
    would read back as a table `a` holding `b`."""
    return name if BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _toml(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
