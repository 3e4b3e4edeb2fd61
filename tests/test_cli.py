"""The CLI contract: bad input is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from obview.fmt import DecimalCache, dec_str, to_decimal
from tests.conftest import ROOT, obview_env, run_obview


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nasdaq", "AAPL"], "unknown venue 'nasdaq'"),
        (["futu", "HK00700"], "malformed code 'HK00700'"),
        (["futu", "XX.00700"], "unknown market 'XX'"),
        # ASCII only: these failed at OpenD (exit 1), and the escape reached the terminal raw
        (["futu", "HK.００７００"], "malformed code 'HK.００７００': codes are ASCII"),
        (["futu", "HK.\x1b[31mRED"], "malformed code 'HK.\\x1b[31mRED'"),
        (["futu"], "Missing argument"),
        (["futu", "HK.00700", "--port", "70000"], "--port"),
        (["futu", "HK.00700", "--port", "0"], "--port"),
        (["futu", "HK.00700", "--depth", "0"], "--depth"),
        (["futu", "HK.00700", "--count", "3"], "--count goes with --dump or --stream"),
        (["futu", "HK.00700", "--dump", "json", "--stream", "json"], "choose one of"),
        (["futu", "HK.00700", "--dump", "xml"], "--dump"),
        (["loopring", "LRC-ETH", "--level", "x"], "--level"),
        (["loopring", "LRC-ETH", "--level", "-1"], "--level"),
        (["loopring", "LRCETH"], "malformed market"),
        # said "malformed market '@us'": a watchlist is no market, and loopring takes one
        (["loopring", "@us"], "loopring takes one MARKET (such as LRC-ETH), not a watchlist ('@us')"),
        (["futu", "HK.00700", "--history", "25h"], "at most 24h"),
        (["futu", "HK.00700", "--history", "1e309"], "must be finite"),
        (["futu", "HK.00700", "--history", "0"], "more than 0"),
        (["loopring", "LRC-ETH", "--api", "v9"], "--api"),
        (["bthub", "BTCUSDT"], "OBVIEW_BTHUB_USER"),
        (["bthub", "BTCUSDT", "--url", "ftp://x"], "bad --url"),
        (["sim", "nasdaq"], "nasdaq"),
        (["sim", "futu", "--port", "99999"], "--port"),
        (["sim", "futu", "--fault", "nope"], "unknown futu simulator fault"),
        (["futu", "HK.00700", "--bogus"], "--bogus"),
        (["futu", "HK.00700", "--fault", "drop_after=3"], "--fault goes with --sim"),
        # typed beside --sim, an address was ignored in silence: the run seemed to reach it
        (["futu", "HK.00700", "--sim", "--host", "10.0.0.9"], "--host does not go with --sim"),
        (["loopring", "LRC-ETH", "--sim", "--ws-url", "wss://x"], "--ws-url does not go with"),
        # an empty host connected to 127.0.0.1 (serve: bound every interface); a NUL was
        # retried for ever as an internal error
        (["futu", "HK.00700", "--host", ""], "empty: give a host name or address"),
        (["futu", "HK.00700", "--host", "a\tb"], "'a\\tb' is not a host name or address"),
        (["serve", "--host", " ", "--port", "0", "demo"], "empty: give a host name"),
        # said "serve runs a venue command, demo or replay, not '--nosuch'"
        (["serve", "--nosuch", "demo"], "No such option: --nosuch (serve's own are --host and"),
        (["sim", "futu", "--host", "x" * 300], "is not a host name or address"),
        (["futu", "HK.00700", "--sim", "--fault", "nope=1", "--dump", "json"], "unknown futu simulator fault"),
        # an empty size recorded without rotating, and said nothing (its folder does not
        # exist: nothing is written, whichever check comes first)
        (["futu", "HK.00700", "--sim", "--dump", "json", "--record", "/nonexistent-dir/s",
          "--record-rotate", ""], "--record-rotate: bad size ''"),
        (["futu", "HK.00700", "--sim", "--dump", "json", "--record-rotate", ""],
         "--record-rotate goes with --record"),
        (["futu", "HK.00700", "--sim", "--fault", "rate=-5", "--dump", "json"], "rate='-5': must be"),
        (["futu", "HK.00700", "--sim", "--fault", "rate=fast", "--dump", "json"], "expected a number"),
        (["futu", "HK.00700", "--sim", "--fault", "stall_after=-1", "--stream", "json"], "stall_after"),
        (["futu", "HK.00700", "--sim", "--fault", "levels=2.5", "--dump", "json"], "expected a whole number"),
        (["loopring", "LRC-ETH", "--sim", "--fault", "lag=nan", "--dump", "json"], "lag='nan'"),
        (["bthub", "BTCUSDT", "--sim", "--fault", "rate=-5", "--dump", "json"], "rate='-5'"),
        (["bthub", "BTCUSDT", "--sim", "--fault", "drop_after=x", "--dump", "json"], "drop_after='x'"),
        (["sim", "futu", "--fault", "rate=-5"], "rate='-5'"),
        # a switch that needs a value, given bare, was a silent no-op (the default: off)
        (["loopring", "LRC-ETH", "--sim", "--fault", "malformed", "--dump", "json"],
         "loopring simulator fault 'malformed' needs a value: malformed=N, every N-th push"),
        (["futu", "HK.00700", "--sim", "--fault", "drop_after", "--dump", "json"],
         "futu simulator fault 'drop_after' needs a value: drop_after=N"),
        (["bthub", "BTCUSDT", "--sim", "--fault", "login_errors", "--dump", "json"],
         "bthub simulator fault 'login_errors' needs a value: login_errors=N"),
        (["bthub", "BTCUSDT", "--sim", "--fault", "malformed=", "--dump", "json"],
         "'malformed' needs a value"),
        (["sim", "loopring", "--fault", "skip"], "loopring simulator fault 'skip' needs a value"),
        # ... and an on/off switch given a value switched on, whatever the value
        (["loopring", "LRC-ETH", "--sim", "--fault", "truth=0", "--dump", "json"],
         "loopring simulator fault 'truth' is an on/off switch: give it bare"),
        (["futu", "HK.00700", "--sim", "--stream", "json", "--count", "0"], "--count 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle):
    result = run_obview(*args, timeout=30)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("obview: ")
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bthub_password_option_does_not_exist():
    # Secrets never go on the command line, where `ps` shows them.
    result = run_obview("bthub", "BTCUSDT", "--password", "hunter2", timeout=30)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr


def test_help_lists_every_command():
    result = run_obview("--help", timeout=30)
    assert result.returncode == 0
    for command in ("futu", "loopring", "bthub", "demo", "sim"):
        assert command in result.stdout


def test_module_and_version():
    result = run_obview("--version", timeout=30)
    assert result.returncode == 0 and "obview" in result.stdout


@pytest.mark.parametrize(
    ("text", "want"),
    [("0.250", "0.25"), ("2000", "2000"), ("2E+3", "2000"), ("0E-8", "0"), ("-0.071040000000", "-0.07104"),
     ("1500000000000000000000", "1500000000000000000000"), ("1e-7", "0.0000001")],
)
def test_dec_str_is_normalised_without_exponent(text, want):
    assert dec_str(to_decimal(text)) == want


@pytest.mark.parametrize("text", ["nan", "inf", "", "1,5", "0x10", None])
def test_to_decimal_rejects_non_finite(text):
    with pytest.raises(ValueError):
        to_decimal(text)


def test_decimal_cache_returns_the_same_object():
    cache = DecimalCache(limit=2)
    first = cache("1.50")
    assert cache("1.50") is first and first == to_decimal("1.5")
    cache("2")
    cache("3")  # over the limit: dropped whole, still correct
    assert cache("1.50") == first


def test_no_arguments_prints_the_readable_help_on_stdout():
    proc = run_obview()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: obview") and "Commands:" in proc.stdout
    assert "\n  futu " in proc.stdout and proc.stderr == ""


@pytest.mark.parametrize("args", [["demo"], ["futu", "HK.00700", "--sim"]])
def test_the_tui_without_a_terminal_is_one_line_exit_2_not_a_spinning_process(args):
    """stdin at end-of-file and stdout a pipe, as from a script or cron: Textual's input
    thread used to spin on the end-of-file at a full core, and with stdout closed its
    writer blocked for ever; `timeout` here is what a hang would hit."""
    done = run_obview(*args, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "obview: the TUI needs a terminal and stdin/stdout is not one: "
        "in scripts use --dump json or --stream json"]
    assert done.stdout == ""


@pytest.mark.parametrize("args", [["demo"], ["futu", "HK.00700", "--sim"],
                                  ["loopring", "LRC-ETH", "--sim"], ["bthub", "BTCUSDT", "--sim"]])
def test_the_no_terminal_hint_names_only_options_the_command_takes(args):
    """Each command's hint is its own: every option it names is in that command's help
    (`replay`, which has no --dump: tests/replay/test_replay_venues.py)."""
    done = run_obview(*args, timeout=30)
    assert done.returncode == 2, done.stderr
    hint = done.stderr.strip().split("in scripts use ", 1)[1]
    named = re.findall(r"--[a-z-]+", hint)
    assert named, hint
    usage = run_obview(args[0], "--help").stdout
    assert all(re.search(rf"^\s+{option}\b", usage, re.M) for option in named), (named, usage)


def test_the_demo_takes_the_headless_options_the_tui_hint_names():
    """Without a terminal, `obview demo` says "use --dump json or --stream json": both
    work there as on a venue command (the demo had no --dump)."""
    import json

    done = run_obview("demo", "--dump", "json", "--timeout", "30", timeout=60)
    assert done.returncode == 0, done.stderr
    books = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(b["venue"], b["symbol"]) for b in books] == [
        ("futu", "HK.00700"), ("futu", "US.AAPL"), ("loopring", "LRC-ETH"), ("bthub", "BTCUSDT")]
    assert all(b["synced"] and b["bids"] and b["asks"] for b in books)
    done = run_obview("demo", "--dump", "json", "--stream", "json", timeout=30)
    assert (done.returncode, done.stderr) == (2, "obview: choose one of --dump and --stream\n")


@pytest.mark.parametrize(("args", "message"), [
    (("futu", "HK.00700", "--sim", "--dump", "json", "--timeout", "nan"),
     "Invalid value for '--timeout': 'nan' is not a finite number"),
    (("loopring", "LRC-ETH", "--sim", "--dump", "json", "--verify", "inf"),
     "Invalid value for '--verify': 'inf' is not a finite number"),
])
def test_periods_are_finite_numbers(args, message):
    """nan passes every range check (`nan < 0` is false): `--timeout nan` timed out at once."""
    done = run_obview(*args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"obview: {message}\n")


@pytest.mark.parametrize(("args", "env", "message"), [
    (("--level", "x"), {}, "Invalid value for '--level': 'x' is not a valid integer range."),
    (("--verify", "-1"), {"OBVIEW_LOOPRING_VERIFY": "5"},
     "Invalid value for '--verify': -1.0 is not in the range x>=0."),
    ((), {"OBVIEW_LOOPRING_LEVEL": "x"},
     "Invalid value for '--level' (env var: 'OBVIEW_LOOPRING_LEVEL'): 'x' is not a valid "
     "integer range."),
])
def test_a_bad_value_names_the_env_var_only_when_it_came_from_there(args, env, message):
    """`--level x` typed on the command line said "Invalid value for '--level' (env var:
    'OBVIEW_LOOPRING_LEVEL')": Click names an option's variable whenever --help shows it."""
    done = run_obview("loopring", "LRC-ETH", "--sim", *args, "--dump", "json", **env)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"obview: {message}\n")


def test_help_still_lists_the_env_vars():
    done = run_obview("loopring", "--help")
    assert done.returncode == 0 and "env var:" in done.stdout
    assert "OBVIEW_LOOPRING_LEVEL" in done.stdout.replace("\n", " ")


def test_a_bad_config_file_value_names_the_file_and_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[loopring]\nlevel = "x"\n')
    done = run_obview("loopring", "LRC-ETH", "--sim", "--dump", "json", OBVIEW_CONFIG=str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"obview: {path}:2: [loopring] level: 'x' is not a valid integer range.\n"


@pytest.mark.parametrize("args", [("--help",), ("futu", "--help"), ("config", "show")])
def test_a_reader_that_left_before_the_help_is_no_error(args):
    """`obview --help | head -0` ended with exit 1 (Click's own handling of a broken
    pipe), which fails a `set -o pipefail` script."""
    child = subprocess.Popen([sys.executable, "-m", "obview", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=obview_env(),
                             cwd=ROOT)
    child.stdout.close()  # (long before the child has imported enough to print)
    assert child.wait(timeout=60) == 0
    assert child.stderr.read() == b""


def test_record_help_says_where_a_bare_name_goes_and_it_goes_there(tmp_path):
    """A bare --record name goes into the config file's record_dir for a venue command;
    the demo reads no config file, so its name stays in the working folder. The demo's
    --help said record_dir all the same (and its --seed had no help at all)."""
    records, work = tmp_path / "records", tmp_path / "work"
    records.mkdir()
    work.mkdir()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'record_dir = "{records}"\n')
    env = obview_env(OBVIEW_CONFIG=str(cfg))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "obview", *args], capture_output=True,
                              text=True, timeout=60, env=env, cwd=work,
                              stdin=subprocess.DEVNULL)

    for command in (("futu", "HK.00700", "--sim"), ("demo",)):
        done = run(*command, "--record", "s", "--dump", "json")
        assert done.returncode == 0, done.stderr
    assert [p.name for p in records.iterdir()] == ["s.ndjson.zst"]  # futu's
    assert [p.name for p in work.iterdir()] == ["s.ndjson.zst"]  # the demo's

    # replay and export find a journal by the name it was recorded under: `--record s`
    # then `replay s` had said "no such journal: s"; here first, then in record_dir
    done = run("replay", "s", "--stream", "json")
    assert done.returncode == 0 and done.stdout.count("\n") >= 1, done.stderr
    (work / "s.ndjson.zst").unlink()  # the demo's: now only record_dir's is named s
    done = run("export", "s", "--to", "ndjson", "-")
    assert done.returncode == 0 and '"HK.00700"' in done.stdout, done.stderr
    done = run("replay", "absent", "--stream", "json")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"obview: no such journal: absent (nor absent.ndjson.zst, "
                                   f"{records / 'absent.ndjson.zst'})"), done.stderr

    def help_of(*command: str) -> str:
        done = run(*command, "--help")
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    assert "a bare name goes into the config's record_dir" in help_of("futu")
    demo = help_of("demo")
    assert "record_dir" not in demo
    assert "a bare name stays in the working folder" in demo
    assert re.search(r"--seed INTEGER \S", demo) and "--seed INTEGER [default" not in demo


def test_a_tui_run_refused_for_want_of_a_terminal_leaves_no_journal(tmp_path):
    """`--record PATH` without a terminal is refused (exit 2) before anything runs, but
    the journal's header was written: the file left at PATH refused the same command
    run again from a terminal ("a journal is already there")."""
    target = tmp_path / "s.ndjson.zst"
    for _ in range(2):  # the second time, refused for the terminal again, not for PATH
        done = run_obview("futu", "HK.00700", "--sim", "--record", str(target))
        assert done.returncode == 2, done.stderr
        assert "the TUI needs a terminal" in done.stderr, done.stderr
        assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_headless_run_refused_before_any_connection_leaves_no_journal(tmp_path):
    """A run that fails before anything came off the wire (OpenD refused, an unknown
    counterparty: a usage error found once the hub answered) left a journal of its
    header alone at --record PATH, which refused the corrected command ("a journal is
    already there"); the usage error's was not even closed (its replay warned it ended
    abruptly). A run that did record keeps its journal."""
    refused = tmp_path / "refused.ndjson.zst"
    done = run_obview("futu", "HK.00700", "--port", "1", "--dump", "json",
                      "--record", str(refused))
    assert done.returncode == 1 and "connection refused" in done.stderr, done.stderr
    unknown = tmp_path / "cp.ndjson.zst"
    done = run_obview("bthub", "BTCUSDT", "--sim", "--cp", "nope", "--dump", "json",
                      "--record", str(unknown))
    assert done.returncode == 2 and "unknown counterparty" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept.ndjson.zst"
    done = run_obview("futu", "HK.00700", "--sim", "--dump", "json", "--record", str(kept))
    assert done.returncode == 0, done.stderr
    assert kept.exists()


@pytest.mark.parametrize("command", [("replay",), ("export", "--to", "ndjson")])
def test_an_empty_journal_name_is_a_usage_error(command):
    """An empty PATH was looked for as a folder's journal: "no such journal:  (nor
    .ndjson.zst, obview-<now>.ndjson.zst)", a name made up on the spot."""
    args = [*command[:1], "", *command[1:]] + (["-"] if command[0] == "export" else [])
    done = run_obview(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == "obview: PATH is empty: give a journal's file name"
