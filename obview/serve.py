"""`obview serve [--host H] [--port P] VENUE-COMMAND...`: the same app, in a browser.

textual-serve (the optional `web` extra) runs one `python -m obview VENUE-COMMAND...` per
browser session under Textual's web driver and relays its screen over a WebSocket. What it
runs is exactly the venue command given here, which by obview's own rule carries no secret:
secrets reach the app through the inherited environment or the config file, never argv,
so never the page, its URL or the process list.

The page is our own copy of textual-serve's template minus the web-font link (the stock page
fetches Roboto Mono from a font CDN); the font it names is served from textual-serve's own
static folder, so the page makes no request beyond the address it was loaded from.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys
from pathlib import Path

import click

from obview.errors import describe_error
from obview.params import HOST, host_port

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TEMPLATES = Path(__file__).with_name("web")
SHUTDOWN_S = 0.5  # how long a stop waits for the browser tabs' handlers (see _serve)
NOT_SERVABLE = {"serve", "sim", "config", "export"}  # no screen to serve


def _check_command(ctx: click.Context, argv: tuple[str, ...]) -> None:
    """Check the venue command now, so a typo fails here and not in every browser tab."""
    root = ctx.find_root()
    group = root.command
    if not argv:
        raise click.UsageError("serve needs a command to run, e.g. obview serve futu HK.00700 --sim")
    name = argv[0]
    if name.startswith("-"):  # (ignore_unknown_options passes it on as the command)
        raise click.UsageError(f"No such option: {name} (serve's own are --host and --port, "
                               "before the venue command)")
    command = group.get_command(root, name) if isinstance(group, click.Group) else None
    if command is None or name in NOT_SERVABLE:
        raise click.UsageError(f"serve runs a venue command, demo or replay, not {name!r}")
    if any(arg in ("--dump", "--stream") or arg.startswith(("--dump=", "--stream=")) for arg in argv):
        raise click.UsageError("serve shows the TUI: drop --dump/--stream")
    from obview.cli import CHECK_ONLY

    # its callback too: a code, a watchlist or credentials that are missing are found by
    # the command itself, not by its options
    with command.make_context(name, list(argv[1:]), parent=root) as sub:
        sub.meta[CHECK_ONLY] = True  # (meta is shared by the whole context tree)
        try:
            command.invoke(sub)
        finally:
            del sub.meta[CHECK_ONLY]


@click.command(context_settings={"help_option_names": ["-h", "--help"],
                                 "ignore_unknown_options": True, "allow_interspersed_args": False},
               short_help="Serve the TUI to a browser (needs the web extra).")
@click.option("--host", type=HOST, default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback is reachable without authentication.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to bind (0: any free port).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="VENUE-COMMAND...")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, command: tuple[str, ...]) -> None:
    """Serve obview to a browser, e.g. `obview serve --port 8000 futu HK.00700 --sim`.

    Serve's own options come first; everything after the venue name is that command's.
    Each browser tab runs its own session of the command.
    """
    _check_command(ctx, command)
    try:
        from textual_serve.server import Server
    except ImportError:
        from obview.cli import UserError

        raise UserError("serve needs the web extra: pip install 'obview[web]'") from None
    line = shlex.join([sys.executable, "-m", "obview", *command])
    from obview.venues.bthub.redact import redact

    title = redact("obview " + " ".join(command))  # shown on the page: e.g. no URL userinfo
    try:
        asyncio.run(_serve(Server, line, title, host, port))
    except OSError as exc:
        from obview.cli import UserError

        raise UserError(f"cannot serve on {host_port(host, port)}: {describe_error(exc)}") from None


async def _serve(server_class: type, line: str, title: str, host: str, port: int) -> None:
    from aiohttp import web

    class ObviewServer(server_class):  # type: ignore[misc, valid-type]
        async def on_startup(self, app: web.Application) -> None:
            pass  # the stock banner would go to stdout, where we print the one URL line

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            # URLs in the page follow the address the browser used (port 0, 0.0.0.0 binds)
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

    server = ObviewServer(line, host=host, port=port, title=title, templates_path=TEMPLATES)
    # a browser tab's handler waits for its socket: on a stop it is cancelled after this
    # (aiohttp's 60 s default held ctrl+c for 20 s), which quits that tab's app process
    runner = web.AppRunner(await server._make_app(), shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    bound = sockets[0].getsockname()[1] if sockets else port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the address line: a stop may follow it at once
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    if host not in LOOPBACK:  # (once bound: a bind that fails says only why, in one line)
        click.echo(f"obview serve: WARNING: listening on {host} with no authentication: anyone who "
                   "can reach this port sees the books and drives the app", err=True)
    print(f"obview serve: http://{host_port(host, bound)}/  (ctrl+c stops)", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # ends every browser session's app process
