"""Command line: pick a venue and symbols, check arguments, run the TUI or headless.

Kept light on purpose (no Textual, protobuf or websockets at import time) so that
`obview --help` and argument errors answer at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from obview import __version__
from obview import config as user_config
from obview.errors import describe_error, one_line, warn
from obview.params import HOST, MAX_HISTORY_S, Duration, host_port, option
from obview.venues import VENUES, VenueConfig, check_symbol, config

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
BTHUB_USER_ENV = "OBVIEW_BTHUB_USER"
BTHUB_PASSWORD_ENV = "OBVIEW_BTHUB_PASSWORD"
FUTU_RSA_KEY_ENV = "OBVIEW_FUTU_RSA_KEY"


class UserError(Exception):
    """A runtime problem to show as one line, exit code 1."""


def _fault_option(value: tuple[str, ...]) -> dict[str, str]:
    faults = {}
    for item in value:
        name, _, arg = item.partition("=")
        if not name:
            raise click.BadParameter(f"bad fault {item!r}: expected NAME or NAME=VALUE")
        faults[name.strip().replace("-", "_")] = arg.strip()
    return faults


class Finite(click.FloatRange):
    """A FloatRange that refuses nan and inf: nan passes every range comparison (nan < 0
    is false), so `--timeout nan` timed out at once, and an infinite `--verify` or
    `--timeout` is no period at all (0 is how `--verify` is turned off)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


HISTORY_OPTION = option(
    "--history", type=Duration(maximum=MAX_HISTORY_S), default="30m", show_default=True,
    metavar="DURATION",
    help="TUI: how far back the depth heatmap reaches (`h`), e.g. 90s, 30m, 1h (at most 24h).")

# --fault's names are the simulator's (each venue's sim.py): listed where they are explained
FAULTS_LISTED = "The README's 'Simulators and fault switches' lists them (so does a bad name)."


def view_options(func: Callable) -> Callable:
    """Options every venue command shares: simulator, depth, headless output."""
    options = [
        option("--sim", is_flag=True, help="Start this venue's simulator in-process and connect to it."),
        option("--seed", type=int, default=1, show_default=True, help="Simulator seed (with --sim)."),
        option("--fault", "faults", multiple=True, metavar="NAME[=VALUE]",
               help=f"Simulator fault switch (with --sim); repeatable. {FAULTS_LISTED}"),
        option("--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
               help="Rows per side."),
        option("--details", is_flag=True, help="Per-order queues where the venue has them."),
        option("--trades", is_flag=True,
               help="Headless: with --stream json, one line per trade print instead of books."),
        *headless_options(),
        option("--log-file", type=click.Path(dir_okay=False), help="Write a debug log here."),
        *record_options(),
        HISTORY_OPTION,
    ]
    return _with_options(func, options)


def _with_options(func: Callable, options: list) -> Callable:
    """`func` decorated with `options`, the first listed first in --help."""
    for decorate in reversed(options):
        func = decorate(func)
    return func


def headless_options() -> list:
    """--dump, --stream, --count and --timeout: the same in every command that has them."""
    return [
        option("--dump", type=click.Choice(["json"]),
               help="Print every book as JSON as soon as all are synced, then exit."),
        option("--stream", type=click.Choice(["json"]),
               help="Print one JSON line per applied update, until --count or interrupted."),
        option("--count", type=click.IntRange(min=0),
               help="--dump: updates to wait for after the sync (default 0); "
                    "--stream: lines to print (default: no limit)."),
        option("--timeout", type=Finite(min=0, min_open=True), default=30.0,
               show_default=True,
               help="Headless: exit 1 if no book is synced (--stream) or the dump is "
                    "not done (--dump) within this many seconds."),
    ]


def record_options(config_file: bool = True) -> list:
    """`config_file`: the command reads the config file, whose record_dir takes a bare
    name (the demo reads none: a bare name is a file in the working folder)."""
    where = ("a bare name goes into the config's record_dir" if config_file else
             "the demo reads no config file: a bare name stays in the working folder")
    return [
        option("--record", "record", metavar="PATH",
               help="Keep a journal of the session (what came off the wire) in PATH "
                    f"(.ndjson.zst); {where}."),
        option("--record-rotate", "record_rotate", metavar="SIZE",
               help="With --record: start a new file past SIZE (e.g. 100M)."),
    ]


def _folder_problem(path: str | os.PathLike) -> str | None:
    """Why a file could not be made at `path` for want of its folder, or None."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):  # ("no such folder" misled)
        return f"{folder} is a file, not a folder"
    if not os.path.isdir(folder):
        return "no such folder"
    return None if os.access(folder, os.W_OK | os.X_OK) else "folder not writable"


def _recording(configs: list[VenueConfig], kw: dict[str, Any], records: str | None = None):
    """The run's Recording, or None; usage errors for bad --record values. `records` (what
    a headless stream prints instead of books: "trades", "orders", "risk") goes into the
    header's view, so that a replay prints the lines this run prints."""
    path, rotate = kw.get("record"), kw.get("record_rotate")
    if rotate is not None and not path:
        raise click.UsageError("--record-rotate goes with --record")
    if path is None:
        return None
    if not path.strip():  # (else nothing would be kept, and nothing said)
        raise click.UsageError("--record needs a file name")
    if path == "-":
        raise click.UsageError("--record -: a journal is a zstd file, not a stream: give a "
                               "file name (--stream json prints the lines)")
    from obview.journal.writer import STOPPED
    from obview.record import Recording, journal_path, parse_size

    try:
        # (an empty SIZE is a bad size: it had recorded without rotating, and said nothing)
        rotate_bytes = parse_size(rotate) if rotate is not None else None
    except ValueError as exc:
        raise click.UsageError(f"--record-rotate: {exc}") from None
    target = journal_path(path, user_config.current().setting("record_dir"))
    unwritable = _folder_problem(target)
    if unwritable:  # said before anything runs; a runtime error, as export's OUT and an
        # open that fails (the name is a fine one: the disk is not ready for it)
        raise UserError(f"cannot write --record {target}: {unwritable}")
    if target.exists():  # a session is not worth less than the one recorded over it
        raise click.UsageError(f"--record {target}: a journal is already there: give "
                               "another name (or a folder, for a new one in it)")
    secrets = [getattr(cfg.options, name, None) for cfg in configs
               for name in ("password", "api_key", "token")]
    secrets = [s.reveal() if hasattr(s, "reveal") else s for s in secrets]
    try:
        recording = Recording(target, configs, rotate_bytes=rotate_bytes,
                              secrets=[s for s in secrets if isinstance(s, str)],
                              view={"depth": kw["depth"], "details": kw["details"],
                                    **({"records": records} if records else {})})
    except OSError as exc:
        raise UserError(f"cannot record to {target}: {exc.strerror or exc}") from None
    if recording.failed:  # its first file would not open (/proc, say): nothing would be kept
        recording.close()
        raise UserError(f"--record: {recording.failed.removeprefix(STOPPED)}")
    return recording


def _recorded_line(recording) -> str:
    """What a TUI session recorded, said once its screen is gone: `obview: recorded to
    PATH` (the first part, which a replay starts from), its parts, and a stop."""
    paths = recording.writer.paths
    if not paths:
        text = "obview: nothing recorded"
    else:
        text = f"obview: recorded to {paths[0]}"
        if len(paths) > 1:
            text += f" (and {len(paths) - 1} more part{'s' if len(paths) > 2 else ''} beside it)"
    if recording.failed:
        text += f"; {recording.failed}"  # "recording stopped: <why>"
    return text


def _symbols(venue: str, values: tuple[str, ...]) -> list[str]:
    checked = []
    for text in values:
        try:
            checked.append(check_symbol(venue, text))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return list(dict.fromkeys(checked))


def _config(venue: str, symbols: list[str], kw: dict[str, Any], **options: Any) -> VenueConfig:
    """A venue command's config: the shared options from `kw`, the venue's own as keywords."""
    return config(venue, symbols, depth=kw["depth"], details=kw["details"], sim=kw["sim"],
                  seed=kw["seed"], faults=_fault_option(kw["faults"]), **options)


_feeds_started = False  # set once a TUI or headless run began: main() then leaves fast
# in a context's meta: run a venue command's every check, then stop short of launching it
CHECK_ONLY = "obview.check_only"


def _need_terminal() -> None:
    """The TUI reads keys from stdin and draws on stdout: without a terminal on both,
    Textual's input thread spins on end-of-file (a core, measured) or its writer blocks
    on a closed pipe for ever. textual-serve's sessions have none, and say so by naming
    their driver."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        hint = _headless_hint()
        raise click.UsageError("the TUI needs a terminal and stdin/stdout is not one"
                               + (f": in scripts use {hint}" if hint else ""))


def _headless_hint() -> str:
    """The headless options of the command running ("--dump json or --stream json"; a
    replay has only --stream), read from the command itself: a hint naming an option the
    command refuses sends a script's author from one usage error to another."""
    names = {param.name for param in click.get_current_context().command.params}
    return " or ".join(f"--{name} json" for name in ("dump", "stream") if name in names)


def _launch(configs: list[VenueConfig], kw: dict[str, Any], records: str | None = None) -> None:
    """Run headless when asked for JSON, else the TUI."""
    global _feeds_started
    if kw["dump"] and kw["stream"]:
        raise click.UsageError("choose one of --dump and --stream")
    if kw["count"] is not None and not (kw["dump"] or kw["stream"]):
        raise click.UsageError("--count goes with --dump or --stream")
    if kw["count"] == 0 and kw["stream"]:
        raise click.UsageError("--count 0 prints nothing: --stream needs --count 1 or more")
    if kw["faults"] and not kw["sim"]:
        raise click.UsageError("--fault goes with --sim")
    if kw["sim"]:
        _no_address_with_sim()
    for cfg in configs:
        _check_faults(cfg.venue, cfg.faults)
    mode = "dump" if kw["dump"] else "stream" if kw["stream"] else None
    if kw.get("trades"):
        if records:
            raise click.UsageError(f"choose one of --trades and --{records}")
        records = "trades"
        for cfg in configs:
            cfg.trades = True
    if records and mode != "stream":
        raise click.UsageError(f"--{records} goes with --stream json")
    if click.get_current_context().meta.get(CHECK_ONLY):  # `serve` checking its command
        if kw.get("record"):
            raise click.UsageError("serve runs one session per browser tab, and each would write "
                                   "the same journal: record with the command itself "
                                   "(obview demo --record PATH), then serve replay PATH")
        return
    _setup_logging(kw.get("log_file"))
    _feeds_started = True
    if mode is None:
        for cfg in configs:
            cfg.trades = True  # the screen has a tape wherever the venue prints trades
    # (after the line above: the journal's header says the run took the venue's prints,
    # so its replay has the tape too; recorded first, it said trades false and the
    # replayed Futu feed dropped the recorded prints, "this venue has no trade tape")
    recording = _recording(configs, kw, records)
    if mode is None:
        from obview.tui import run_app

        try:
            run_app(configs, recording=recording,
                    history_s=kw.get("history") or Duration().convert("30m", None, None),
                    before_run=_need_terminal)
        except BaseException:
            if recording is not None and not recording.feeds:
                # refused before any feed ran (no terminal, a bad theme): a journal of a
                # header alone would only block the name ("a journal is already there")
                recording.discard()
                recording = None
            raise
        finally:
            if recording is not None:
                recording.close()
        if recording is not None:  # the screen that could say so is gone (and a folder's
            # journal is named for its start): where the session went
            print(_recorded_line(recording), file=sys.stderr, flush=True)
        return
    from obview.headless import ConfigError, HeadlessFailure, run_headless

    if recording is not None:
        recording.warn = warn  # a full disk: no status bar to say so
    try:
        try:
            reader_stayed = asyncio.run(
                run_headless(configs, mode, kw["count"], kw["timeout"], kw["details"],
                             records, recording=recording))
        except BaseException:
            if recording is not None:  # (a usage error found on the way left it open)
                recording.close()
                if not recording.connections:  # nothing came off the wire (refused,
                    # an unknown counterparty): a header alone would block the name
                    recording.discard()
            raise
    except HeadlessFailure as exc:
        raise UserError(str(exc)) from None
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not reader_stayed:
        raise BrokenPipeError  # main() ends quietly with exit 0


# Where a venue command connects; --sim connects to its own simulator instead
ADDRESS_OPTIONS = ("host", "port", "url", "rest_url", "ws_url", "depth_path")


def _no_address_with_sim() -> None:
    """An address typed beside --sim was ignored in silence: the run seemed to reach that
    gateway. (A config file's or environment's address is a standing default: --sim
    overrides it, as it should.)"""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    for name in ADDRESS_OPTIONS:
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"{flag} does not go with --sim (the simulator runs on "
                                   "a free loopback port of its own)")


def _check_faults(venue: str, faults: dict[str, str]) -> None:
    """Fault switches checked before anything starts: names the venue's simulator knows,
    a value for each switch that is not a bare flag, and values it declares numeric must
    be finite, non-negative numbers (usage errors)."""
    if not faults:
        return
    import importlib

    from obview.venues.simkit import check_faults

    sim = importlib.import_module(f"obview.venues.{venue}.sim")
    try:
        check_faults(venue, faults, sim.KNOWN_FAULTS, sim.NUMERIC_FAULTS, sim.FLAG_FAULTS,
                     sim.FAULT_VALUES)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _setup_logging(path: str | None) -> None:
    """Debug log to --log-file, else warnings and errors to the platform's log folder."""
    from obview.logs import setup

    try:
        setup(path)
    except OSError as exc:
        # a runtime error, as --record's and export's: the name is fine, the disk is not
        raise UserError(f"cannot write --log-file {path}: {describe_error(exc)}") from None


def _silence_logging() -> None:
    for name in ("obview", "websockets", "httpx", "httpcore", "asyncio"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="obview")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """obview: live order books in the terminal.

    \b
      obview futu HK.00700 US.AAPL        Futu / moomoo OpenD gateway
      obview loopring LRC-ETH --level 1   Loopring DEX depth
      obview bthub BTCUSDT                bthub trading hub
      obview demo                         all of the above against built-in simulators
    """
    user_config.apply(ctx, cli)  # the config file's values become the command's defaults


@cli.command(context_settings=CONTEXT, short_help="Futu / moomoo OpenD books (HK.00700 US.AAPL ...).")
@click.argument("codes", nargs=-1, metavar="CODE...|@WATCHLIST")
@option("--host", type=HOST, default="127.0.0.1", show_default=True, help="OpenD host.")
@option("--port", type=click.IntRange(1, 65535), default=11111, show_default=True, help="OpenD API port.")
@option("--rsa-key", "rsa_key", metavar="FILE", envvar=FUTU_RSA_KEY_ENV,
        help="Encrypted OpenD: the PEM file of the 1024-bit RSA private key that "
             f"OpenD's rsa_private_key names (env {FUTU_RSA_KEY_ENV}).")
@view_options
def futu(codes: tuple[str, ...], host: str, port: int, rsa_key: str | None, **kw: Any) -> None:
    """Futu / moomoo OpenD order books, e.g. HK.00700 US.AAPL, or @WATCHLIST from the config
    file; no codes opens the file's [futu] watchlist."""
    symbols = _symbols("futu", user_config.expand_symbols("futu", codes))
    key = _futu_rsa_key(rsa_key) if rsa_key else None
    _launch([_config("futu", symbols, kw, host=host, port=port, rsa_key=key)], kw)


def _futu_rsa_key(path: str):
    """The loaded key (its contents are never shown), or a one-line usage error."""
    from obview.venues.futu.crypto import KeyFileError, load_rsa_key

    try:
        return load_rsa_key(os.path.expanduser(path))
    except KeyFileError as exc:
        raise click.UsageError(f"--rsa-key: {exc}") from None


@cli.command(context_settings=CONTEXT, short_help="Loopring DEX depth for one market (LRC-ETH).")
@click.argument("market")
@option("--level", type=click.IntRange(min=0), default=0, show_default=True,
        help="Aggregation level, 0 = finest.")
@option("--api", type=click.Choice(["v3", "v2"]), default="v3", show_default=True,
        help="v3: the live API. v2: the March 2020 draft protocol (docs/loopring.md).")
@option("--rest-url", help="REST base URL (default per --api).")
@option("--ws-url", help="WebSocket URL (default per --api).")
@option("--depth-path", help="REST depth path (default /api/v3/depth or /api/v2/depth).")
@option("--verify", type=Finite(min=0), default=60.0, show_default=True,
        metavar="S", help="Check the book against a REST snapshot every S seconds (0: off).")
@view_options
def loopring(market: str, level: int, api: str, rest_url: str | None, ws_url: str | None,
             depth_path: str | None, verify: float, **kw: Any) -> None:
    """Loopring DEX depth for one MARKET, e.g. LRC-ETH.

    An API key, where one is wanted, comes from OBVIEW_LOOPRING_API_KEY (or the config
    file), never from the command line; it is sent as X-API-KEY and never shown.
    """
    from obview.venues.loopring.credentials import load_api_key

    if market.startswith("@"):  # one market a run: a watchlist (futu, bthub) has no place
        raise click.UsageError(f"loopring takes one MARKET (such as LRC-ETH), "
                               f"not a watchlist ({market!r})")
    symbols = _symbols("loopring", (market,))
    _launch([_config("loopring", symbols, kw, level=level, api=api, rest_url=rest_url,
                     ws_url=ws_url, depth_path=depth_path, verify=verify,
                     api_key=load_api_key(user_config.secret("loopring", "api_key")))], kw)


@cli.command(context_settings=CONTEXT, short_help="bthub hub books, orders and risk (BTCUSDT).")
@click.argument("symbols", nargs=-1, metavar="SYMBOL...|@WATCHLIST")
@option("--url", default="https://trade.bthub.com:444", show_default=True,
        help="The hub's base URL; REST and WebSocket derive from it (http:// gives ws://).")
@option("--insecure", is_flag=True, help="Do not verify TLS certificates (self-signed test hubs).")
@option("--cp", help="One counterparty's book: headless, instead of the aggregated one; "
                     "the TUI opens on its tab (every book keeps its own).")
@option("--book", "risk_book", help="Risk book to subscribe (apiRiskPosition).")
@option("--orders", is_flag=True, help="Headless: stream order events instead of books.")
@option("--risk", is_flag=True, help="Headless: stream risk position rows instead of books.")
@view_options
def bthub(symbols: tuple[str, ...], url: str, insecure: bool, cp: str | None,
          risk_book: str | None, orders: bool, risk: bool, **kw: Any) -> None:
    """bthub trading hub books for SYMBOL..., e.g. BTCUSDT ETHUSDT, or a watchlist from
    the config file (@name); no symbols opens the file's [bthub] watchlist.

    Credentials come from the environment (OBVIEW_BTHUB_USER, OBVIEW_BTHUB_PASSWORD)
    or from ~/.config/obview/bthub.toml (user = "...", password = "...", chmod 600),
    never from the command line. With --sim and no credentials, the simulator's demo
    login is used (user demo, password demo-secret).
    """
    checked = _symbols("bthub", user_config.expand_symbols("bthub", symbols,
                                                           metavar="SYMBOL..."))
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"bad --url {url!r}: expected http:// or https://")
    # environment, then config.toml (mode 600), then the keyring; bthub.toml after that
    user = user_config.secret("bthub", "user", env=BTHUB_USER_ENV)
    password = user_config.secret("bthub", "password", env=BTHUB_PASSWORD_ENV)
    if not kw["sim"] and not (user and password):
        user, password = _bthub_file_credentials()
    if not kw["sim"] and not (user and password):
        raise click.UsageError(
            f"bthub needs credentials: set {BTHUB_USER_ENV} and {BTHUB_PASSWORD_ENV}, "
            "or put user and password in ~/.config/obview/bthub.toml (chmod 600)"
        )
    if orders and risk:
        raise click.UsageError("choose one of --orders and --risk")
    if risk and not risk_book:
        raise click.UsageError("--risk needs --book NAME")
    records = "orders" if orders else "risk" if risk else None
    _launch([_config("bthub", checked, kw, url=url, insecure=insecure, cp=cp,
                     book=risk_book, user=user, password=password)], kw, records)


def _bthub_file_credentials() -> tuple[str | None, str | None]:
    """(user, password) from the bthub config file, if there is a usable one."""
    from obview.venues.bthub.credentials import CredentialsError, load_credentials

    try:
        found = load_credentials()
    except CredentialsError as exc:
        raise UserError(str(exc)) from None
    return found if found else (None, None)


def demo_options(func: Callable) -> Callable:
    options = [option("--seed", type=int, default=1, show_default=True,
                      help="Every simulator's seed (makes the demo repeatable)."),
               *headless_options(),
               option("--log-file", type=click.Path(dir_okay=False),
                      help="Write a debug log here."),
               *record_options(config_file=False), HISTORY_OPTION]
    return _with_options(func, options)


@cli.command(context_settings=CONTEXT, short_help="Every venue against built-in simulators.")
@demo_options
def demo(seed: int, dump: str | None, stream: str | None, count: int | None, timeout: float,
         log_file: str | None, record: str | None, record_rotate: str | None,
         history: float) -> None:
    """Every venue against its built-in simulator: no setup, no network."""
    kw = {"depth": 20, "details": False, "sim": True, "seed": seed, "faults": (),
          "dump": dump, "stream": stream, "count": count, "timeout": timeout,
          "log_file": log_file, "record": record, "record_rotate": record_rotate,
          "history": history}
    configs = demo_configs(seed)
    _launch(configs, kw)


def demo_configs(seed: int = 1) -> list[VenueConfig]:
    """The demo's tabs: futu HK.00700 (with details) and US.AAPL, loopring, bthub."""
    return [
        config("futu", ["HK.00700"], details=True, sim=True, seed=seed),
        config("futu", ["US.AAPL"], sim=True, seed=seed),
        config("loopring", ["LRC-ETH"], sim=True, seed=seed, api="v3"),
        config("bthub", ["BTCUSDT"], sim=True, seed=seed, book="A"),
    ]


@cli.command(context_settings=CONTEXT, short_help="Run a venue simulator (real wire protocol).")
@click.argument("venue", type=click.Choice(VENUES))
@option("--host", type=HOST, default="127.0.0.1", show_default=True, help="Address to bind.")
@option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
        help="Port to bind (0: any free port).")
@option("--seed", type=int, default=1, show_default=True, help="Makes the simulated market repeatable.")
@option("--fault", "faults", multiple=True, metavar="NAME[=VALUE]",
        help=f"Fault switch; repeatable. {FAULTS_LISTED}")
def sim(venue: str, host: str, port: int, seed: int, faults: tuple[str, ...]) -> None:
    """Run a venue simulator that speaks the real wire protocol, until interrupted."""
    from obview.venues import load

    parsed_faults = _fault_option(faults)
    _check_faults(venue, parsed_faults)
    module = load(venue)

    async def serve() -> None:
        simulator = await module.start_sim(host, port, seed, parsed_faults)
        try:
            print(f"obview sim {venue} serving {' '.join(simulator.addresses)}", flush=True)
        except BrokenPipeError:  # nobody reads the address line: the clients still come
            from obview.headless import discard_output

            discard_output(sys.stdout)
        try:
            await asyncio.Event().wait()
        finally:
            await simulator.close()

    try:
        asyncio.run(serve())
    except ValueError as exc:  # the simulator refused its fault switches
        raise click.UsageError(f"{venue}: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot serve on {host_port(host, port)}: {describe_error(exc)}") from None


def _speed(text: str | None) -> float | None:
    if text is None or text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a number (0.1 to 100) or max",
                                 param_hint="'--speed'") from None
    if not 0.1 <= value <= 100:
        raise click.BadParameter(f"{text!r}: from 0.1 to 100, or max", param_hint="'--speed'")
    return value


@cli.command(context_settings=CONTEXT, short_help="Replay a recorded journal (TUI or JSON).")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@option("--stream", type=click.Choice(["json"]),
        help="Print the session's JSON lines instead of opening the TUI.")
@option("--speed", metavar="X|max",
        help="Replay speed, 0.1 to 100 or max (default: max with --stream, 1 in the TUI).")
@option("--from", "start", metavar="TIME",
        help="Start at this wall-clock time (ISO 8601, or HH:MM:SS of the journal's day, UTC).")
@option("--until", metavar="TIME", help="Stop at this wall-clock time (as --from).")
@option("--count", type=click.IntRange(min=1), help="With --stream: stop after N lines.")
@option("--depth", type=click.IntRange(1, 1000), help="Rows per side (default: as recorded).")
@option("--log-file", type=click.Path(dir_okay=False), help="Write a debug log here.")
@HISTORY_OPTION
def replay(paths: tuple[str, ...], stream: str | None, speed: str | None, start: str | None,
           until: str | None, count: int | None, depth: int | None, log_file: str | None,
           history: float) -> None:
    """Replay journals written with --record through the same decoders and books as live.

    \b
    TUI keys: space pause/resume, + / - speed, [ / ] 10 s back/forward,
    home / end, . one message forward while paused. The depth heatmap runs on the
    journal's clock; a seek rebuilds its --history from the journal.
    """
    global _feeds_started
    if count is not None and not stream:
        raise click.UsageError("--count goes with --stream")
    pace = _speed(speed) if speed is not None else (None if stream else 1.0)
    paths = tuple(_journal_named(path) for path in paths)
    if click.get_current_context().meta.get(CHECK_ONLY):
        # `serve` checking the replay it will run in each browser tab: a file that is no
        # journal, or of a newer schema, is found by its header; two sessions, or a bad
        # --from, here too
        from obview.journal import JournalError

        try:
            _replay_window(paths, start, until)
        except JournalError as exc:
            raise UserError(str(exc)) from None
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        return
    _setup_logging(log_file)
    from obview.headless import HeadlessFailure
    from obview.journal import JournalError

    _feeds_started = True
    try:
        asyncio.run(_replay(list(paths), stream, pace, start, until, count, depth, history))
    except (JournalError, HeadlessFailure) as exc:
        raise UserError(str(exc)) from None
    except BrokenPipeError:
        raise
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _journal_named(path: str) -> str:
    """The journal PATH names: the file itself, or the one `--record PATH` wrote (a bare
    name in the config's record_dir, `.ndjson.zst` added). `--record session` and then
    `replay session` had said "no such journal: session"."""
    if not path.strip():  # (as a folder: it named "obview-<now>.ndjson.zst" as tried)
        raise click.UsageError("PATH is empty: give a journal's file name")
    if os.path.exists(path):
        return path
    from obview.record import SUFFIX, journal_path

    tried: list[str] = []
    if not path.endswith(("/", os.sep)):
        # here first (the demo reads no config: its bare name stays in the working
        # folder), then where a venue command's bare name went
        here = path if path.endswith(SUFFIX) else path + SUFFIX
        recorded = str(journal_path(path, user_config.current().setting("record_dir")))
        for candidate in dict.fromkeys((here, recorded)):
            if os.path.exists(candidate):
                return candidate
            if candidate != path:
                tried.append(candidate)
    also = f" (nor {', '.join(tried)})" if tried else ""
    raise UserError(f"no such journal: {path}{also}")


def _replay_window(paths: Sequence[str], start: str | None,
                   until: str | None) -> tuple[int | None, int | None]:
    """--from and --until as wall-clock ns (HH:MM:SS: see `parse_when`), checked against
    what the journal spans; ValueError (a usage error) for two sessions or an empty window."""
    from obview.journal import JournalReader, one_session
    from obview.replay import parse_when

    # (the player warns, and raises a damaged later part's error once it has played
    # the parts before it)
    reader = JournalReader(one_session(paths, warn=lambda _text: None, later=[]))
    if start is None and until is None:
        return None, None
    begin, end = reader.headers[0].w, reader.end_wall()
    start_ns = parse_when(start, begin, end) if start is not None else None
    until_ns = parse_when(until, begin, end) if until is not None else None
    # a window that holds nothing would print nothing and exit 0, as if the journal were
    # empty: say what the journal spans instead
    if start_ns is not None and until_ns is not None and start_ns >= until_ns:
        raise ValueError(f"--from {start} is not before --until {until}")
    if until_ns is not None and until_ns <= begin:
        raise ValueError(f"--until {until} is before the journal starts ({_utc(begin)})")
    if start_ns is not None and start_ns > end and not reader.damaged_at_end:
        raise ValueError(f"--from {start} is after the journal ends ({_utc(end)})")
    return start_ns, until_ns


def _utc(wall_ns: int) -> str:
    import datetime as dt

    return f"{dt.datetime.fromtimestamp(wall_ns // 10**9, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


async def _replay(paths: list[str], stream: str | None, speed: float | None, start: str | None,
                  until: str | None, count: int | None, depth: int | None,
                  history: float | None = None) -> None:
    from obview.replay import ReplayPlayer

    start_ns, until_ns = _replay_window(paths, start, until)

    player = ReplayPlayer([Path(p) for p in paths], speed=speed, start=start_ns,
                          until=until_ns, warn=warn)
    if stream:
        from obview.replay.headless import replay_headless

        if not await replay_headless([], count=count, depth=depth, player=player):
            raise BrokenPipeError
        return
    from obview.tui import run_replay_app

    await run_replay_app(player, depth, history_s=history, before_run=_need_terminal)


@cli.command(context_settings=CONTEXT, short_help="Export a journal's level changes (parquet, ndjson).")
@click.argument("path", metavar="PATH")
@option("--to", "fmt", type=click.Choice(["parquet", "ndjson"]), required=True,
        help="parquet: one row per level change; ndjson: the --stream json lines.")
@click.argument("out", metavar="OUT")
def export(path: str, fmt: str, out: str) -> None:
    """Export the journal PATH to OUT (docs/replay.md lists the columns); OUT - is
    stdout, for --to ndjson."""
    from obview.headless import HeadlessFailure
    from obview.journal import JournalError
    from obview.replay.export import ExportError, ExportIncomplete, export_journal

    path = _journal_named(path)
    if not out.strip():
        raise click.UsageError("OUT is empty: give a file name (or - for stdout, with --to ndjson)")
    if out == "-" and fmt == "parquet":
        raise click.UsageError("--to parquet needs a file: a Parquet file is not a stream "
                               "(- is for --to ndjson)")
    unit = "rows" if fmt == "parquet" else "lines"
    if out != "-":  # said now, not after replaying the whole journal
        unwritable = _out_problem(out)
        if unwritable:
            raise UserError(f"cannot write {out}: {unwritable}")
        if _is_journal_file(out, path):  # opening OUT for writing would empty the journal
            raise click.UsageError(f"OUT {out} is the journal being exported (or one of its "
                                   "parts): give another file name")
        if _a_journal(out):
            raise click.UsageError(f"OUT {out} is an obview journal (another recording): "
                                   "an export would write over it: give another file name")
    try:
        rows = asyncio.run(export_journal(path, fmt, out, warn))
    except ExportIncomplete as exc:  # a damaged journal: what came before it was written
        if exc.written is None:
            raise UserError(str(exc)) from None
        upto = "everything else" if exc.read_whole else "up to the damage"
        raise UserError(f"{exc}; wrote {exc.written} {unit} to {out}, {upto}") from None
    except (JournalError, ExportError, HeadlessFailure) as exc:
        raise UserError(str(exc)) from None
    except BrokenPipeError:
        raise  # stdout's reader left (`| head`): main() ends quietly
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    if rows is not None:  # (none counted on stdout, a pipe's data)
        print(f"obview: wrote {rows} {unit} to {out}", file=sys.stderr)


def _out_problem(out: str) -> str | None:
    """Why export could not write the file `out`, or None: said before the journal is
    read (Parquet is written at the end, and pyarrow's message came after the whole
    replay)."""
    if os.path.isdir(out):
        return "it is a folder"
    if out.endswith(("/", os.sep)):  # a folder's name, whether it exists or not
        return "it names a folder (it ends in /): give a file name"
    if os.path.exists(out):  # /dev/null, or a file to replace: its own permission counts
        return None if os.access(out, os.W_OK) else "not writable"
    return _folder_problem(out)


def _is_journal_file(out: str, journal: str) -> bool:
    """Whether `out` names `journal` or another part of its session: one that follows
    it, or one before it (`export s.0002.ndjson.zst --to ndjson s.ndjson.zst` wrote over
    the session's first part), found by its header's session id."""
    from obview.journal import session_files

    if not os.path.exists(out):
        return False
    if any(os.path.samefile(out, file) for file in session_files(journal)):
        return True
    sid = _session_id(out) if os.path.isfile(out) else None  # (not a FIFO's reader)
    return sid is not None and sid == _session_id(journal)


def _a_journal(out: str) -> bool:
    """Whether `out` is an obview journal (any session's): a recording is not worth less
    than an export written over it, and --record refuses to write over one as well."""
    return os.path.isfile(out) and _session_id(out) is not None


def _session_id(path: str) -> str | None:
    """The session id in the header of the journal at `path`, or None (not a journal)."""
    from obview.journal import JournalError, JournalReader

    try:
        return JournalReader([path]).headers[0].sid
    except (JournalError, OSError, IndexError):
        return None


def _install_hooks() -> None:
    """Config-file envvars, shell completion and the extra commands, once every venue
    command above exists (commands added later in this file are covered too)."""
    from obview.completion import install
    from obview.config_cmd import config_group
    from obview.serve import serve

    user_config.declare_envvars(cli)
    install(cli)
    cli.add_command(config_group, "config")
    cli.add_command(serve, "serve")


def _end_as_on_ctrl_c() -> None:
    """SIGTERM (`kill`, `timeout`, a service manager) and SIGHUP (the terminal closed) end
    obview the way Ctrl-C does: the terminal restored from the TUI's raw mode and
    alternate screen, a journal closed whole. Python's default for both is to die on the
    spot, which left the terminal unusable and a recording without its end. A signal the
    caller ignores stays ignored (`nohup` ignores SIGHUP); an ignored SIGINT (a script's
    background job) does not stop SIGTERM from ending obview.

    Only the first becomes an interrupt: a closing terminal can send more than one, and
    asyncio turns a second SIGINT into a KeyboardInterrupt raised wherever the shutdown
    happens to be (it was seen inside Textual's output queue, which then hung)."""
    numbers = [n for n in (signal.SIGTERM, getattr(signal, "SIGHUP", None))
               if n is not None and signal.getsignal(n) is signal.SIG_DFL]

    def as_interrupt(signum: int, frame: Any) -> None:
        for number in numbers:
            signal.signal(number, signal.SIG_IGN)  # the shutdown is under way
        if signum == getattr(signal, "SIGHUP", None):
            # a hang-up comes with a SIGCONT, and Textual's handler for it redraws the
            # screen from inside the signal handler, re-entering the output queue the
            # shutdown is writing to: it hung there. There is no terminal to resume.
            signal.signal(signal.SIGCONT, signal.SIG_DFL)
        if callable(signal.getsignal(signal.SIGINT)):
            signal.raise_signal(signal.SIGINT)  # asyncio's handler, the headless one, or Python's
        else:
            # SIGINT is ignored (a script's `obview ... &`): Ctrl-C's path is closed to us,
            # and raising SIGINT did nothing (obview streamed on). End as Python's own
            # Ctrl-C does, with a KeyboardInterrupt here; asyncio.run then cancels the tasks
            # and their cleanup runs (the journal is closed whole).
            signal.default_int_handler(signal.SIGINT, frame)

    for number in numbers:
        signal.signal(number, as_interrupt)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error becomes one line on stderr (2 = usage, 1 = runtime)."""
    _end_as_on_ctrl_c()
    try:
        _main(argv)
        code = 0
    except SystemExit as exc:
        if not _feeds_started:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if _feeds_started:
        _leave_now(code)


def _leave_now(code: int) -> None:
    """End the process without the interpreter's teardown of every loaded module (0.15 to
    0.3 s measured with the TUI, protobuf and the venues loaded): Ctrl-C and `q` must end
    obview within a second. The event loop and the terminal are already closed here;
    what is buffered is flushed first."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        logging.shutdown()
    os._exit(code)


def _main(argv: list[str] | None) -> None:
    _silence_logging()
    if not (sys.argv[1:] if argv is None else argv):
        argv = ["--help"]  # bare `obview`: the readable help on stdout, not a usage error
    _install_hooks()
    try:
        cli.main(args=argv, prog_name="obview", standalone_mode=False)
    except click.NoSuchOption as exc:
        _exit(2, one_line(exc.format_message()))
    except click.UsageError as exc:
        text = one_line(exc.format_message())
        if text.startswith("No such command"):
            name = exc.format_message().split("'")[1] if "'" in text else "?"
            text = (f"unknown venue {name!r} (choose from {', '.join(VENUES)}, demo, sim, "
                    "replay, export)")
        _exit(2, text)
    except click.ClickException as exc:
        _exit(exc.exit_code, one_line(exc.format_message()))
    except UserError as exc:
        _exit(1, str(exc))
    except (KeyboardInterrupt, click.Abort):
        _exit(130, "interrupted")
    except BrokenPipeError:
        # A reader such as `head` went away: not an error worth a line, and the
        # interpreter's final flush must not complain either.
        from obview.headless import discard_output

        discard_output(sys.stdout)
        sys.exit(0)
    except SystemExit as exc:
        # Click ends a command whose reader left (`obview --help | head -1`) with exit 1
        # after swapping stdout for its PacifyFlushWrapper: as above, that is no error
        if exc.code == 1 and isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            sys.exit(0)
        raise
    except Exception as exc:  # a bug: still one line, with a pointer to the log
        logging.getLogger("obview").exception("unhandled error")
        _exit(1, f"internal error: {type(exc).__name__}: {exc}")


def _exit(code: int, message: str) -> None:
    print(f"obview: {message}", file=sys.stderr)
    if code == 1 and _feeds_started:  # why the run ended, in its log too (a usage error
        # came before any log was opened): a log that stops without it explains nothing
        logging.getLogger("obview").error("ended: %s", message)
    sys.exit(code)
