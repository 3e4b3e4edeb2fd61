"""Shell completion through Click's own mechanism (`_OBVIEW_COMPLETE`), and --version."""

from __future__ import annotations

import pytest

from obview import __version__
from tests.conftest import run_obview


def _complete(words: str, shell: str = "bash", **env: str) -> list[str]:
    parts = words.split(" ")
    done = run_obview(_OBVIEW_COMPLETE=f"{shell}_complete", COMP_WORDS=words,
                      COMP_CWORD=str(len(parts) - 1) if shell != "fish" else parts[-1], **env)
    assert done.returncode == 0, done.stderr
    if shell == "zsh":  # type, value, help: three lines per item
        lines = done.stdout.splitlines()
        return [lines[i + 1] for i in range(0, len(lines), 3)]
    return [line.split(",", 1)[1].split("\t")[0] for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_source_scripts_for_each_shell(shell):
    done = run_obview(_OBVIEW_COMPLETE=f"{shell}_source")
    assert done.returncode == 0 and "_OBVIEW_COMPLETE" in done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_venue_names(shell):
    assert _complete("obview ", shell) == ["bthub", "config", "demo", "export", "futu",
                                             "loopring", "replay", "serve", "sim"]
    assert _complete("obview lo", shell) == ["loopring"]


def test_options():
    assert "--port" in _complete("obview futu --p")
    assert _complete("obview loopring LRC-ETH --api ") == ["v3", "v2"]  # the live API first


def test_known_symbols_without_network():
    assert _complete("obview futu hk.0") == ["HK.00700", "HK.09988", "HK.00005", "HK.03690"]
    assert _complete("obview futu US") == ["US.AAPL", "US.TSLA"]
    assert "SG." in _complete("obview futu S")  # a market prefix where no code is known
    assert _complete("obview loopring LRC", "zsh") == ["LRC-ETH", "LRC-USDT"]
    assert _complete("obview bthub ") == ["BTCUSDT", "ETHUSDT"]


def test_watchlist_names(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[watchlists]\nhk-tech = ["HK.00700"]\nhk-banks = ["HK.00005"]\nus = ["US.AAPL"]\n')
    assert _complete("obview futu @hk", OBVIEW_CONFIG=str(path)) == ["@hk-tech", "@hk-banks"]
    assert "@us" in _complete("obview futu ", OBVIEW_CONFIG=str(path))
    assert _complete("obview bthub @u", OBVIEW_CONFIG=str(path)) == ["@us"]
    assert _complete("obview loopring @", OBVIEW_CONFIG=str(path)) == []  # one market
    path.write_text("not = = toml")  # a broken file never breaks the shell's Tab
    assert _complete("obview futu @", OBVIEW_CONFIG=str(path)) == []


def test_version_and_module():
    done = run_obview("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"obview, version {__version__}"
