"""The config file: precedence option > environment > file > default, watchlists, bad files,
`obview config path|show|init`, secrets."""

from __future__ import annotations

import json
import os
import sys
import tomllib
import types

import pytest

from obview import config
from obview.config_cmd import TEMPLATE
from obview.params import option
from tests.conftest import run_obview


def _write(tmp_path, text: str, mode: int = 0o644):
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _dump_rows(done) -> list[int]:
    assert done.returncode == 0, done.stderr
    return [len(json.loads(line)["bids"]) for line in done.stdout.splitlines()]


@pytest.mark.parametrize(
    ("env", "args", "rows"),
    [
        ({}, [], 20),  # built-in default
        ({"file": True}, [], 3),  # file beats default
        ({"file": True, "OBVIEW_FUTU_DEPTH": "4"}, [], 4),  # environment beats file
        ({"file": True, "OBVIEW_FUTU_DEPTH": "4"}, ["--depth", "5"], 5),  # option beats all
    ],
)
def test_precedence_option_env_file_default(tmp_path, env, args, rows):
    path = _write(tmp_path, "[futu]\ndepth = 3\n")
    extra = {k: v for k, v in env.items() if k != "file"}
    if env.get("file"):
        extra["OBVIEW_CONFIG"] = str(path)
    done = run_obview("futu", "HK.00700", "--sim", "--dump", "json", *args, **extra)
    assert _dump_rows(done) == [rows]


def test_default_path_is_the_platform_config_folder(tmp_path):
    done = run_obview("config", "path", XDG_CONFIG_HOME=str(tmp_path))
    assert done.stdout.strip() == str(tmp_path / "obview" / "config.toml")
    done = run_obview("config", "path", OBVIEW_CONFIG=str(tmp_path / "x.toml"))
    assert done.stdout.strip() == str(tmp_path / "x.toml")


def test_watchlists(tmp_path):
    path = _write(tmp_path, '[futu]\nwatchlist = "hk"\n\n[watchlists]\n'
                            'hk = ["HK.00700", "HK.09988"]\nus = ["US.AAPL"]\n')
    env = {"OBVIEW_CONFIG": str(path)}
    done = run_obview("futu", "--sim", "--dump", "json", **env)  # no codes: the configured list
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["symbol"] for line in done.stdout.splitlines()] == ["HK.00700", "HK.09988"]
    done = run_obview("futu", "@us", "HK.00005", "--sim", "--dump", "json", **env)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(line)["symbol"] for line in done.stdout.splitlines()) == ["HK.00005", "US.AAPL"]
    done = run_obview("futu", "@nope", "--sim", "--dump", "json", **env)
    assert done.returncode == 2 and "unknown watchlist '@nope'" in done.stderr and "@hk, @us" in done.stderr


def test_a_watchlist_may_name_other_watchlists_and_one_that_names_itself_is_refused(tmp_path):
    """`all = ["@hk", "@us"]` was passed on as a code named "@hk"; now it expands, a
    name that is not there is refused with the file's line, and a loop says where it turns."""
    path = _write(tmp_path, '[futu]\nwatchlist = "all"\n\n[watchlists]\n'
                            'hk = ["HK.00700"]\nus = ["US.AAPL"]\n'
                            'all = ["@hk", "@us", "HK.00700"]\n'
                            'ring = ["@round"]\nround = ["HK.00005", "@ring"]\n')
    env = {"OBVIEW_CONFIG": str(path)}
    done = run_obview("futu", "--sim", "--dump", "json", **env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["symbol"] for line in done.stdout.splitlines()] == [
        "HK.00700", "US.AAPL"]  # nested, and the code named twice shown once
    done = run_obview("futu", "@ring", "--sim", "--dump", "json", **env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"obview: watchlist @ring -> @round -> @ring names itself (in {path})"]
    path = _write(tmp_path, '[watchlists]\nhk = ["HK.00700"]\nall = ["@hk", "@nope"]\n')
    done = run_obview("futu", "@hk", "--sim", "--dump", "json", OBVIEW_CONFIG=str(path))
    assert done.returncode == 2
    assert f"{path}:3: [watchlists] all: no watchlist '@nope' in [watchlists]" in done.stderr


def test_bthub_takes_watchlists_and_loopring_one_market(tmp_path):
    """The file accepted `watchlist` under [bthub] and completion offered @names there,
    but `obview bthub @crypto` was a malformed symbol and no symbols a missing argument."""
    path = _write(tmp_path, '[bthub]\nwatchlist = "crypto"\n\n[watchlists]\n'
                            'crypto = ["BTCUSDT", "ETHUSDT"]\nbtc = ["BTCUSDT"]\n')
    env = {"OBVIEW_CONFIG": str(path)}
    for args in ((), ("@crypto",)):
        done = run_obview("bthub", *args, "--sim", "--dump", "json", **env)
        assert done.returncode == 0, done.stderr
        assert [json.loads(line)["symbol"] for line in done.stdout.splitlines()] == [
            "BTCUSDT", "ETHUSDT"]
    # a Loopring command shows one market: a watchlist there is an unknown key
    path = _write(tmp_path, '[loopring]\nwatchlist = "crypto"\n')
    done = run_obview("loopring", "LRC-ETH", "--sim", "--dump", "json", OBVIEW_CONFIG=str(path))
    assert done.returncode == 2 and ":2: [loopring] watchlist: unknown key" in done.stderr


def test_demo_ignores_the_file(tmp_path):
    # even a file every other command refuses: the demo needs no setup at all
    path = _write(tmp_path, "[futu]\ndepth = 2\nbogus = 1\n")
    done = run_obview("demo", "--stream", "json", "--count", "8", OBVIEW_CONFIG=str(path))
    assert done.returncode == 0, done.stderr
    futu = [json.loads(line) for line in done.stdout.splitlines() if '"futu"' in line]
    assert futu and all(len(book["bids"]) > 2 for book in futu)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[futu]\nhost = \"h\"\nport = = 7\n", ":3: "),  # syntax: line from the parser
        ("theme = \"x\"\n[futu]\nhostt = \"x\"\n", ":3: [futu] hostt: unknown key"),
        ("[futu]\n\nport = 70000\n", ":3: [futu] port: 70000 is not in the range"),
        ("[futu]\nport = \"eleven\"\n", ":2: [futu] port: 'eleven' is not a valid integer"),
        ("[loopring]\napi = \"v9\"\n", ":2: [loopring] api:"),
        ("[bthub]\ninsecure = \"yes\"\n", ":2: [bthub] insecure: expected true or false"),
        ("history = true\n", ":1: history: expected str or int or float"),
        ("colour = 1\n", ":1: colour: unknown key"),
        ("[watchlists]\nhk = \"HK.00700\"\n", ":2: [watchlists] hk: expected a list"),
        ("[futu]\nwatchlist = \"missing\"\n", ":2: [futu] watchlist: no watchlist 'missing'"),
        # Click's casts are for text: int(True) is 1, int(1.9) is 1 (port 1, 2 rows)
        ("[futu]\nport = true\n", ":2: [futu] port: expected an integer, got true"),
        ("[futu]\nport = 1.9\n", ":2: [futu] port: expected an integer, got 1.9"),
        ("[futu]\ndepth = 2.7\n", ":2: [futu] depth: expected an integer, got 2.7"),
        ("[futu]\nhost = false\n", ":2: [futu] host: expected a string, got false"),
        ("[loopring]\nverify = true\n", ":2: [loopring] verify: expected a number, got true"),
        ("[loopring]\nverify = nan\n", ":2: [loopring] verify: nan is not a finite number"),
        # a one-run switch, as --orders: set in the file it broke the TUI and --dump
        ("[futu]\ntrades = true\n", ":2: [futu] trades: unknown key"),
        # as every command's --history default it blamed an unset environment variable
        ("history = \"bogus\"\n", ":1: history: 'bogus' is not a duration"),
        ("history = \"25h\"\n", ":1: history: '25h': at most 24h"),
    ],
)
def test_bad_file_is_one_line_with_file_line_key_exit_2(tmp_path, text, needle):
    path = _write(tmp_path, text)
    done = run_obview("futu", "HK.00700", "--sim", "--dump", "json", OBVIEW_CONFIG=str(path))
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"obview: {path}")
    assert needle in lines[0], lines[0]


def test_init_writes_a_private_template_that_loads(tmp_path):
    target = tmp_path / "c" / "obview" / "config.toml"
    done = run_obview("config", "init", XDG_CONFIG_HOME=str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert target.read_text() == TEMPLATE
    assert (target.stat().st_mode & 0o777) == 0o600
    assert run_obview("config", "init", XDG_CONFIG_HOME=str(tmp_path / "c")).returncode == 2
    # every line of the template, uncommented, is a valid setting
    body = "\n".join(line[2:] if line.startswith("# ") and "=" in line.split("#")[1] else line
                     for line in TEMPLATE.splitlines())
    _write(tmp_path, body.replace('watchlist = "hk-tech"', 'watchlist = "hk-tech"'))
    done = run_obview("futu", "--sim", "--dump", "json", OBVIEW_CONFIG=str(tmp_path / "config.toml"))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3  # the hk-tech watchlist


def test_show_gives_sources_and_never_a_secret(tmp_path):
    path = _write(tmp_path, '[futu]\nport = 11112\nhost = "10.0.0.9"\n'
                            '[loopring]\napi_key = "sekrit-in-file-77"\n', mode=0o600)
    done = run_obview("config", "show", OBVIEW_CONFIG=str(path), OBVIEW_FUTU_HOST="10.1.1.1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "port = 11112  # file" in out
    assert 'host = "10.1.1.1"  # env OBVIEW_FUTU_HOST' in out
    assert "depth = 20  # default" in out
    assert "api_key: set (this file)" in out
    assert "sekrit-in-file-77" not in out + done.stderr


def test_show_gives_what_is_in_force_typed_and_the_top_level_settings(tmp_path):
    """A top-level `history` is every venue's (unless its table sets its own), and a
    variable shows as the option reads it: a number, not a string."""
    path = _write(tmp_path, 'history = "10m"\n[bthub]\nhistory = "2h"\n')
    done = run_obview("config", "show", OBVIEW_CONFIG=str(path), OBVIEW_FUTU_PORT="1234",
                      OBVIEW_LOOPRING_DETAILS="1")
    assert done.returncode == 0, done.stderr
    tables = {block.split("]", 1)[0]: block for block in done.stdout.split("\n[")[1:]}
    assert "port = 1234  # env OBVIEW_FUTU_PORT" in tables["futu"]
    assert 'history = "10m"  # file (top level)' in tables["futu"]
    assert 'history = "10m"  # file (top level)' in tables["loopring"]
    assert "details = true  # env OBVIEW_LOOPRING_DETAILS" in tables["loopring"]
    assert 'history = "2h"  # file' in tables["bthub"]


def test_show_quotes_a_watchlist_name_toml_would_read_as_a_table(tmp_path):
    """`a.b = [...]` bare is a table `a` holding `b`: show's output read back as TOML
    gave another config than the one in force."""
    path = _write(tmp_path, '[watchlists]\n"hk.tech" = ["HK.00700"]\nus = ["US.AAPL"]\n')
    done = run_obview("config", "show", OBVIEW_CONFIG=str(path))
    assert done.returncode == 0, done.stderr
    assert '"hk.tech" = ["HK.00700"]' in done.stdout.splitlines()
    assert tomllib.loads(done.stdout)["watchlists"] == {"hk.tech": ["HK.00700"], "us": ["US.AAPL"]}


def test_a_readable_file_holding_a_secret_is_refused(tmp_path):
    path = _write(tmp_path, '[loopring]\napi_key = "sekrit-in-file-77"\n', mode=0o644)
    for args in (["config", "show"], ["futu", "HK.00700", "--sim", "--dump", "json"]):
        done = run_obview(*args, OBVIEW_CONFIG=str(path))
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"obview: refusing {path}: it holds [loopring] api_key but other users can access it "
            f"(mode 644); run: chmod 600 {path}"]


def test_secret_lookup_order(tmp_path, monkeypatch):
    path = _write(tmp_path, '[loopring]\napi_key = "from-file-1234"\n', mode=0o600)
    monkeypatch.setenv("OBVIEW_CONFIG", str(path))
    stored = {("obview", "loopring.api_key"): "from-keyring-1234", ("obview", "bthub.password"): "kr-pw-1234"}
    fake = types.SimpleNamespace(get_password=lambda service, user: stored.get((service, user)))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setenv("OBVIEW_LOOPRING_API_KEY", "from-env-1234")
    assert config.secret("loopring", "api_key") == "from-env-1234"
    monkeypatch.delenv("OBVIEW_LOOPRING_API_KEY")
    assert config.secret("loopring", "api_key") == "from-file-1234"
    assert config.secret("bthub", "password") == "kr-pw-1234"  # not in env nor file
    assert config.secret("futu", "nothing") is None
    monkeypatch.setenv("OBVIEW_X_KEY", "named-env-1234")
    assert config.secret("loopring", "api_key", env="OBVIEW_X_KEY") == "named-env-1234"
    from obview.venues.bthub.redact import redact

    assert redact("key from-file-1234 and kr-pw-1234") == "key *** and ***"


def test_configured_options_declare_their_env_vars():
    done = run_obview("loopring", "--help")
    for name in ("OBVIEW_LOOPRING_API", "OBVIEW_LOOPRING_REST_URL", "OBVIEW_LOOPRING_LEVEL"):
        assert name in done.stdout
    assert "OBVIEW_LOOPRING_DUMP" not in done.stdout  # per-run options stay off the file


def test_theme_from_the_file(tmp_path, monkeypatch):
    from obview.tui import _apply_theme
    from obview.tui.app import ObviewApp

    monkeypatch.setenv("OBVIEW_CONFIG", str(_write(tmp_path, 'theme = "nord"\n')))
    app = ObviewApp([])
    _apply_theme(app)
    assert app.theme == "nord"
    _write(tmp_path, '\ntheme = "no-such-theme"\n')
    with pytest.raises(config.ConfigError, match=r"config.toml:2: theme: unknown theme 'no-such-theme'"):
        _apply_theme(ObviewApp([]))
    done = run_obview("futu", "HK.00700", "--sim", OBVIEW_CONFIG=str(tmp_path / "config.toml"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "theme: unknown theme 'no-such-theme'" in done.stderr


def test_bthub_credentials_from_a_private_config_file(tmp_path):
    path = _write(tmp_path, '[bthub]\nuser = "demo"\npassword = "demo-secret"\n', mode=0o600)
    done = run_obview("bthub", "BTCUSDT", "--sim", "--dump", "json", OBVIEW_CONFIG=str(path))
    assert done.returncode == 0, done.stderr
    # without --sim the file's credentials are what the command needs (no "needs credentials")
    done = run_obview("bthub", "BTCUSDT", "--url", "http://127.0.0.1:9", "--dump", "json",
                      "--timeout", "1", OBVIEW_CONFIG=str(path))
    assert done.returncode == 1 and "needs credentials" not in done.stderr
    assert "demo-secret" not in done.stderr


def test_an_rsa_key_option_gets_file_and_env_for_free(tmp_path, monkeypatch):
    # what `--rsa-key FILE` on the futu command gets once it exists: OBVIEW_FUTU_RSA_KEY and
    # `rsa_key = "~/..."` under [futu], ~ expanded as a shell would
    import click

    @click.group()
    def group():
        pass

    @group.command()
    @option("--rsa-key", type=click.Path(dir_okay=False))
    @option("--sim", is_flag=True)
    def futu(rsa_key, sim):
        pass

    config.declare_envvars(group)
    assert futu.params[0].envvar == "OBVIEW_FUTU_RSA_KEY"
    assert futu.params[1].envvar is None  # per-run options stay off env and file
    path = _write(tmp_path, '[futu]\nrsa_key = "~/keys/opend.pem"\n')
    cfg = config.load(path, group)
    assert config.default_map(cfg, group) == {
        "futu": {"rsa_key": os.path.expanduser("~/keys/opend.pem")}}
    _write(tmp_path, '[futu]\nsim = true\n')
    with pytest.raises(config.ConfigError, match=r":2: \[futu\] sim: unknown key"):
        config.load(path, group)


def test_config_path_and_init_work_with_a_broken_file(tmp_path):
    path = _write(tmp_path, "[futu\n")
    assert run_obview("config", "path", OBVIEW_CONFIG=str(path)).stdout.strip() == str(path)
    shown = run_obview("config", "show", OBVIEW_CONFIG=str(path))
    assert shown.returncode == 2 and shown.stderr.startswith(f"obview: {path}:1: ")
    assert run_obview("config", "init", "--force", OBVIEW_CONFIG=str(path)).returncode == 0
    assert run_obview("config", "show", OBVIEW_CONFIG=str(path)).returncode == 0


def test_init_where_a_file_or_folder_is_in_the_way_is_one_line_exit_1(tmp_path):
    """They were `internal error: IsADirectoryError: …` and `FileExistsError: …`."""
    folder = tmp_path / "conf"
    folder.mkdir()
    done = run_obview("config", "init", "--force", OBVIEW_CONFIG=str(folder))
    assert (done.returncode, done.stderr) == (1, f"obview: cannot write {folder}: it is a folder\n")
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "c.toml"
    done = run_obview("config", "init", OBVIEW_CONFIG=str(target))
    assert (done.returncode, done.stderr) == (
        1, f"obview: cannot write {target}: {tmp_path / 'afile'} is not a folder\n")
