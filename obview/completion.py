"""Shell completion (Click's own: `_OBVIEW_COMPLETE=bash_source obview`, zsh_source, fish_source).

Venue names and options complete through Click; here the symbol arguments: each venue's static
list and the config file's `@watchlist` names. Nothing here touches the network: a Tab must
answer at once.
"""

from __future__ import annotations

from functools import partial

import click
from click.shell_completion import CompletionItem

from obview.venues import VENUES, known_symbols


def install(group: click.Group) -> None:
    for venue in VENUES:
        command = group.commands.get(venue)
        if command is None:
            continue
        for param in command.params:
            if isinstance(param, click.Argument) and param._custom_shell_complete is None:
                param._custom_shell_complete = partial(complete_symbols, venue)


def _watchlists() -> list[str]:
    from obview import config

    try:
        return list(config.load().watchlists)
    except click.ClickException:  # a broken file must not break the shell's Tab
        return []


def complete_symbols(venue: str, ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[CompletionItem]:
    from obview.config import WATCHLIST_VENUES

    lists = _watchlists() if venue in WATCHLIST_VENUES else []
    if incomplete.startswith("@"):
        return [CompletionItem(f"@{name}", help="watchlist") for name in lists
                if name.startswith(incomplete[1:])]
    wanted = incomplete.upper()
    items = [CompletionItem(symbol) for symbol in known_symbols(venue) if symbol.startswith(wanted)]
    if venue == "futu" and "." not in incomplete:
        from obview.venues.futu.symbols import MARKETS

        given = {item.value.split(".")[0] for item in items}
        items += [CompletionItem(f"{market}.", help="market") for market in MARKETS
                  if market.startswith(wanted) and market not in given]
    if not incomplete:
        items += [CompletionItem(f"@{name}", help="watchlist") for name in lists]
    return items
