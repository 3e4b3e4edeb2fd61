"""The user's config file: per-venue defaults, UI settings, watchlists, and secret lookup.

`~/.config/obview/config.toml` (the platform's config folder; `OBVIEW_CONFIG` names another
file). Its values become Click's `default_map`, and every configurable venue option also
reads `OBVIEW_<VENUE>_<OPTION>`; Click ranks the sources command line > environment >
default_map > built-in default, which is exactly the precedence we promise. Light module:
the CLI imports it for every command (tomllib and platformdirs only).

Secrets never come from the command line (the process list shows it). `secret()` looks in
the environment, then in the config file (which must then be readable by its owner only),
then in the system keyring when the `keyring` package is importable.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from obview.venues import VENUES

CONFIG_ENV = "OBVIEW_CONFIG"
KEYRING_SERVICE = "obview"
# Options that describe one run rather than a standing preference: never taken from the file.
RUN_ONLY = {"sim", "seed", "faults", "dump", "stream", "count", "timeout", "log_file",
            "orders", "risk", "trades", "record", "record_rotate", "help"}
# The venues whose commands take several symbols, so a watchlist (Loopring takes one market)
WATCHLIST_VENUES = ("futu", "bthub")
# Per-venue secrets the file may hold (then only at mode 600); never options, never shown.
SECRET_KEYS: dict[str, set[str]] = {"futu": set(), "loopring": {"api_key"},
                                    "bthub": {"user", "password"}}
# Top-level settings; each is also the default of any command option of the same name.
SETTINGS: dict[str, tuple[type, ...]] = {"theme": (str,), "history": (str, int, float),
                                         "record_dir": (str,)}
WATCHLIST_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class ConfigError(click.UsageError):
    """A config file that cannot be used: one line naming the file, line and key (exit 2)."""


@dataclass
class Config:
    path: Path
    exists: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def venue(self, venue: str) -> dict[str, Any]:
        return self.data.get(venue, {})

    @property
    def watchlists(self) -> dict[str, list[str]]:
        return self.data.get("watchlists", {})

    def setting(self, name: str, default: Any = None) -> Any:
        value = self.data.get(name, default)
        return os.path.expanduser(value) if name == "record_dir" and isinstance(value, str) else value

    def line_of(self, table: str | None, key: str) -> int | None:
        """The line defining `key` (in `[table]`, or at top level): tomllib keeps no positions."""
        current = None
        key_re = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
        for number, line in enumerate(self.text.splitlines(), 1):
            header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
            if header:
                current = header.group(1).strip("\"' ")
            elif current == table and key_re.match(line):
                return number
        return None

    def error(self, table: str | None, key: str, message: str) -> ConfigError:
        line = self.line_of(table, key)
        where = f"[{table}] {key}" if table else key
        return ConfigError(f"{self.path}{f':{line}' if line else ''}: {where}: {message}")


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path("obview", appauthor=False) / "config.toml"


def load(path: Path | None = None, group: click.Group | None = None) -> Config:
    """Read and check the file (a missing file is an empty config)."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # "... (at line 3, column 7)": lead with the position the way compilers do
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        reason = re.sub(r"\s*\(at line.*\)$", "", str(exc))
        raise ConfigError(f"{path}{f':{found.group(1)}' if found else ''}: {reason}") from None
    cfg = Config(path, True, data, text)
    check(cfg, group)
    return cfg


def _option_name(param: click.Parameter) -> str:
    return max(param.opts, key=len).lstrip("-").replace("-", "_")


def configurable(command: click.Command) -> dict[str, click.Option]:
    """{file key: option} for the options of a venue command the file may set."""
    return {_option_name(p): p for p in command.params
            if isinstance(p, click.Option) and p.name not in RUN_ONLY and p.name}


def check(cfg: Config, group: click.Group | None) -> None:
    """Unknown keys and wrong types are refused up front, each naming its key."""
    holds_secret = None
    for key, value in cfg.data.items():
        if key in VENUES:
            if not isinstance(value, dict):
                raise cfg.error(None, key, f"expected a [{key}] table")
            command = group.commands.get(key) if group else None
            options = configurable(command) if command else {}
            for name, item in value.items():
                if name in SECRET_KEYS[key]:
                    if not isinstance(item, str):
                        raise cfg.error(key, name, "expected a string")
                    holds_secret = holds_secret or f"[{key}] {name}"
                elif name == "watchlist" and key in WATCHLIST_VENUES:
                    _check_list(cfg, key, name, item, allow_name=True)
                elif name in options:
                    _check_option(cfg, key, name, item, options[name], command)
                elif command is not None:
                    known = sorted([*options, *SECRET_KEYS[key],
                                    *(["watchlist"] if key in WATCHLIST_VENUES else [])])
                    raise cfg.error(key, name, f"unknown key (known: {', '.join(known)})")
        elif key == "watchlists":
            if not isinstance(value, dict):
                raise cfg.error(None, key, "expected a [watchlists] table of name = [symbols]")
            for name, item in value.items():
                if not WATCHLIST_NAME.match(name):
                    raise cfg.error(key, name, "a watchlist name is letters, digits, . _ -")
                _check_list(cfg, key, name, item, allow_name=False)
        elif key in SETTINGS:
            if not isinstance(value, SETTINGS[key]) or isinstance(value, bool):
                kinds = " or ".join(t.__name__ for t in SETTINGS[key])
                raise cfg.error(None, key, f"expected {kinds}, got {type(value).__name__}")
            if key == "history":  # checked here: as a command's default, Click blamed an
                _check_history(cfg, value)  # environment variable nobody had set
        else:
            known = [*VENUES, "watchlists", *SETTINGS]
            raise cfg.error(None, key, f"unknown key (known: {', '.join(known)})")
    if holds_secret:
        _check_private(cfg, holds_secret)


def _check_option(cfg: Config, table: str, name: str, value: Any, option: click.Option,
                  command: click.Command) -> None:
    if isinstance(value, dict | list):
        raise cfg.error(table, name, f"expected a single value, got {type(value).__name__}")
    if option.is_flag and not isinstance(value, bool):
        raise cfg.error(table, name, f"expected true or false, got {value!r}")
    # Click's casts are for command-line text: int(True) is 1 and int(1.9) is 1, so
    # `port = true` connected to port 1 and `depth = 2.7` showed 2 rows
    if isinstance(value, bool) and not option.is_flag and not isinstance(option.type,
                                                                          click.types.BoolParamType):
        raise cfg.error(table, name, f"expected {_kind(option)}, got {str(value).lower()}")
    if isinstance(value, float) and isinstance(option.type, click.types.IntParamType):
        raise cfg.error(table, name, f"expected an integer, got {value!r}")
    try:
        option.type_cast_value(click.Context(command), _file_value(option, value))
    except click.BadParameter as exc:
        raise cfg.error(table, name, exc.message) from None


def _check_history(cfg: Config, value: Any) -> None:
    from obview.params import MAX_HISTORY_S, Duration

    try:
        Duration(maximum=MAX_HISTORY_S).convert(value, None, None)
    except click.BadParameter as exc:
        raise cfg.error(None, "history", exc.message) from None


def _kind(option: click.Option) -> str:
    if isinstance(option.type, click.types.IntParamType):
        return "an integer"
    if isinstance(option.type, click.types.FloatParamType):
        return "a number"
    return "a string"


def _check_list(cfg: Config, table: str, name: str, value: Any, allow_name: bool) -> None:
    if allow_name and isinstance(value, str):
        if value.lstrip("@") not in cfg.watchlists:
            raise cfg.error(table, name, f"no watchlist {value!r} in [watchlists]")
        return
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise cfg.error(table, name, "expected a list of symbols, e.g. [\"HK.00700\"]")
    for item in value:  # a list may name other watchlists: `all = ["@hk", "@us"]`
        if item.startswith("@") and item[1:] not in cfg.watchlists:
            raise cfg.error(table, name, f"no watchlist {item!r} in [watchlists]")


def _check_private(cfg: Config, what: str) -> None:
    """A secret that other accounts can read is already leaked: refuse, as ssh does."""
    info = cfg.path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"refusing {cfg.path}: it holds {what} but other users can access it "
            f"(mode {stat.S_IMODE(info.st_mode):03o}); run: chmod 600 {cfg.path}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"refusing {cfg.path}: it holds {what} but belongs to another user")


def _file_value(option: click.Option, value: Any) -> Any:
    """A path in the file may start with ~ (a shell would have expanded it on the command line)."""
    if isinstance(option.type, click.Path) and isinstance(value, str):
        return os.path.expanduser(value)
    return value


# -- wiring into Click -----------------------------------------------------------------------

def envvar_name(venue: str, key: str) -> str:
    return f"OBVIEW_{venue}_{key}".upper()


def declare_envvars(group: click.Group) -> None:
    """Give every configurable venue option its `OBVIEW_<VENUE>_<OPTION>` variable,
    shown in --help; the option is an `EnvOption`, whose error names the variable only
    when the value came from it."""
    from obview.params import EnvOption

    for venue in VENUES:
        command = group.commands.get(venue)
        if command is None:
            continue
        for key, option in configurable(command).items():
            if not option.envvar:
                if not isinstance(option, EnvOption):
                    raise TypeError(f"{venue} {option.name}: declare it with "
                                    "obview.params.option")
                option.envvar = envvar_name(venue, key)
                option.show_envvar = True


def default_map(cfg: Config, group: click.Group) -> dict[str, dict[str, Any]]:
    """The file as Click's default_map: {command: {parameter name: value}}."""
    result: dict[str, dict[str, Any]] = {}
    for name, command in group.commands.items():
        values: dict[str, Any] = {}
        by_param = {p.name: p for p in command.params if isinstance(p, click.Option)}
        for key in SETTINGS:  # `theme = ...` is the default of any `--theme`
            if key in cfg.data and key in by_param:
                values[key] = cfg.data[key]
        if name in VENUES:
            options = configurable(command)
            for key, value in cfg.venue(name).items():
                if key in options:
                    values[options[key].name] = _file_value(options[key], value)
        if values:
            result[name] = values
    return result


def apply(ctx: click.Context, group: click.Group) -> None:
    """Group callback hook: the file's values become the invoked command's defaults."""
    if ctx.invoked_subcommand in (None, "config", "demo"):
        # `config` reports a bad file itself; the demo takes nothing from it (not even a theme)
        ctx.meta["obview.config"] = Config(config_path())
        return
    cfg = load(group=group)
    ctx.default_map = default_map(cfg, group)
    ctx.meta["obview.config"] = cfg


def current(ctx: click.Context | None = None) -> Config:
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is not None:
        found = ctx.find_root().meta.get("obview.config")
        if found is not None:
            return found
    return load()


def expand_symbols(venue: str, values: tuple[str, ...] | list[str],
                   cfg: Config | None = None, metavar: str = "CODE...") -> list[str]:
    """`@name` becomes that watchlist; no symbols at all, the venue's `watchlist`."""
    cfg = cfg or current()
    if not values:
        default = cfg.venue(venue).get("watchlist")
        if default is None:
            raise click.UsageError(
                f"Missing argument '{metavar}': give symbols or @watchlist, "
                f"or set watchlist in [{venue}] of {cfg.path}")
        values = [f"@{default.lstrip('@')}"] if isinstance(default, str) else list(default)
    out: list[str] = []
    _expand(cfg, values, out, within=())
    return out


def _expand(cfg: Config, values: tuple[str, ...] | list[str], out: list[str],
            within: tuple[str, ...]) -> None:
    """A watchlist may name others (`all = ["@hk", "@us"]`); one that names itself,
    directly or through others, is refused rather than expanded for ever."""
    for value in values:
        if not value.startswith("@"):
            out.append(value)
            continue
        name = value[1:]
        if name not in cfg.watchlists:  # (a name inside the file was checked at load)
            known = ", ".join("@" + n for n in cfg.watchlists) or "none"
            raise click.UsageError(f"unknown watchlist {value!r} (in {cfg.path}: {known})")
        if name in within:
            loop = " -> ".join("@" + n for n in (*within[within.index(name):], name))
            raise click.UsageError(f"watchlist {loop} names itself (in {cfg.path})")
        _expand(cfg, cfg.watchlists[name], out, (*within, name))


# -- secrets -----------------------------------------------------------------------------

def secret(venue: str, name: str, env: str | None = None) -> str | None:
    """A secret from the environment, the (private) config file, or the system keyring.

    Whatever is found is registered with the log redaction, so it never reaches a log.
    """
    value = os.environ.get(env or envvar_name(venue, name)) or None
    if value is None:
        found = current().venue(venue).get(name)
        value = found if isinstance(found, str) and found else None
    if value is None:
        value = _keyring(venue, name)
    if value:
        from obview.venues.bthub.redact import add_secret

        add_secret(value)
    return value


def _keyring(venue: str, name: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, f"{venue}.{name}") or None
    except Exception:  # no usable backend (headless box, locked store): not configured
        return None
