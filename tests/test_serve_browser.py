"""`obview serve` in a real browser: Debian's Chromium, driven by Playwright (never a
downloaded browser). The page's WebSocket frames are replayed into a terminal emulator
(pyte) to read what the browser's terminal shows; every request the page makes is kept."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import obview_env

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SECRETS = {"OBVIEW_LOOPRING_API_KEY": "sekrit-api-key-4711", "OBVIEW_BTHUB_PASSWORD": "hunter2-pw-0815"}
READOUT = re.compile(r"▶ (bid|ask) (\d+) @ ([0-9.]+)")


def _needs() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium (Debian package `chromium`; .ci/run installs it)")
    for module, why in (("playwright.sync_api", "playwright (test extra)"),
                        ("textual_serve", "textual-serve (web extra)"), ("pyte", "pyte (test extra)")):
        pytest.importorskip(module, reason=f"{why} is not installed")


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=deadline - time.monotonic()):
            return proc.stdout.readline()
        if proc.poll() is not None:
            break
    raise AssertionError(f"obview serve printed no address: {proc.stderr.read() if proc.poll() is not None else ''}")


def _descendant_command_lines(root: int) -> list[str]:
    """Command lines of every process below `root` (Linux /proc), as `ps` would show them."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        for pid in frontier:
            with suppress(OSError):
                found.append((Path("/proc") / str(pid) / "cmdline").read_bytes()
                             .replace(b"\0", b" ").decode(errors="replace"))
    return found


class Terminal:
    """What the browser's xterm shows, rebuilt from the bytes the page received."""

    def __init__(self) -> None:
        import pyte

        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes = 0
        self.texts: list[str] = []

    def sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            self.screen.resize(size["height"], size["width"])

    def received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.bytes += len(payload)
            self.stream.feed(payload)
        else:
            self.texts.append(payload)

    def text(self) -> str:
        return "\n".join(self.screen.display)


def test_serve_in_headless_chromium(tmp_path):
    _needs()
    from playwright.sync_api import sync_playwright

    env = obview_env(**SECRETS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "serve", "--port", "0", "futu", "HK.00700", "--sim"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=env, cwd=tmp_path, start_new_session=True)
    try:
        line = _first_line(proc, 20)
        url = re.search(r"http://\S+", line).group(0)
        assert urlsplit(url).hostname == "127.0.0.1"  # loopback unless asked otherwise
        requests: list[str] = []
        term = Terminal()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            sockets: list[str] = []

            def on_socket(ws) -> None:
                sockets.append(ws.url)
                query = parse_qs(urlsplit(ws.url).query)
                if "width" in query:
                    term.screen.resize(int(query["height"][0]), int(query["width"][0]))
                ws.on("framesent", term.sent)
                ws.on("framereceived", term.received)

            page.on("websocket", on_socket)
            page.goto(url)

            def wait_for(predicate, what: str, timeout: float = 25.0):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    found = predicate()
                    if found:
                        return found
                    page.wait_for_timeout(50)  # lets Playwright deliver the page's events
                raise AssertionError(f"timed out waiting for {what}; screen:\n{term.text()}")

            # the ladder shows the simulator's HK.00700 prices (512.5 and around)
            wait_for(lambda: "HK.00700" in term.text() and re.search(r"\b51\d\.\d\b", term.text())
                     and READOUT.search(term.text()), "the ladder with prices")
            before = READOUT.search(term.text()).groups()
            page.click("#terminal")
            page.keyboard.press("ArrowDown")
            after = wait_for(lambda: (m := READOUT.search(term.text())) and m.groups() != before
                             and m.groups(), "the cursor to move")
            html = page.content()
            sessions = _descendant_command_lines(proc.pid)
            shot = tmp_path / "serve.png"
            page.screenshot(path=str(shot))
            browser.close()
        print(f"\npage {url}: {len(requests)} requests, {term.bytes} terminal bytes; "
              f"cursor {' '.join(before)} -> {' '.join(after)}")
        for request_url in requests:
            print("  request", request_url)
        print("screen:\n" + "\n".join(line.rstrip() for line in term.screen.display[:14]))
        outside = [u for u in requests + sockets
                   if urlsplit(u).scheme not in ("data", "blob", "about")
                   and urlsplit(u).hostname not in LOOPBACK]
        assert not outside, f"the page reached outside loopback: {outside}"
        assert any("/static/js/textual.js" in u for u in requests)
        assert sockets and all(urlsplit(u).hostname in LOOPBACK for u in sockets)
        for secret in SECRETS.values():
            page_bytes = html + " ".join(requests + sockets) + "".join(term.texts) + term.text()
            assert secret not in page_bytes
        assert shot.stat().st_size > 0
        # the session's app runs exactly the venue command, with no secret in its argv
        assert any("-m obview futu HK.00700 --sim" in cmd for cmd in sessions), sessions
        assert not [cmd for cmd in sessions for secret in SECRETS.values() if secret in cmd]
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the sessions' app processes too
            proc.stdout.close()
            proc.stderr.close()


def test_serve_refuses_headless_and_warns_off_loopback():
    from tests.conftest import run_obview

    done = run_obview("serve", "futu", "HK.00700", "--sim", "--dump", "json", timeout=30)
    assert done.returncode == 2 and "drop --dump/--stream" in done.stderr
    done = run_obview("serve", "sim", "futu", timeout=30)
    assert done.returncode == 2 and "not 'sim'" in done.stderr
    done = run_obview("serve", "futu", "HK.00700", "--port", "99999", timeout=30)
    assert done.returncode == 2 and "--port" in done.stderr


@pytest.fixture
def taken_port():
    """A loopback port something else already listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_serve_on_a_port_in_use_is_one_line_exit_1(taken_port):
    """It said "cannot serve on 127.0.0.1:P: error while attempting to bind on address
    ('127.0.0.1', P): address already in use" (asyncio's wrapping, the address twice)."""
    pytest.importorskip("textual_serve", reason="textual-serve (web extra) is not installed")
    from tests.conftest import run_obview

    done = run_obview("serve", "--port", str(taken_port), "demo", timeout=30)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"obview: cannot serve on 127.0.0.1:{taken_port}: address already in use\n"


@pytest.mark.parametrize(("host", "shown"), [("203.0.113.7", "203.0.113.7:8000"),
                                             ("2001:db8::7", "[2001:db8::7]:8000")])
def test_serve_on_an_address_not_of_this_machine_is_one_line_exit_1(host, shown):
    """The no-authentication warning came first, for a server that never started. An
    IPv6 address is bracketed, as in a URL (`2001:db8::7:8000` reads as one address)."""
    pytest.importorskip("textual_serve", reason="textual-serve (web extra) is not installed")
    from tests.conftest import run_obview

    done = run_obview("serve", "--host", host, "--port", "8000", "demo", timeout=30)
    assert (done.returncode, done.stdout) == (1, "")
    # (the reason after the address is the kernel's: a machine without IPv6 gives another)
    assert done.stderr.startswith(f"obview: cannot serve on {shown}: ")
    assert done.stderr.count("\n") == 1
    if host.startswith("203."):
        assert done.stderr == ("obview: cannot serve on 203.0.113.7:8000: cannot assign "
                               "requested address (not an address of this machine)\n")


@pytest.mark.parametrize("venue", ["futu", "loopring", "bthub"])
def test_a_simulator_on_a_port_in_use_is_one_line_exit_1(taken_port, venue):
    from tests.conftest import run_obview

    done = run_obview("sim", venue, "--port", str(taken_port), timeout=30)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"obview: cannot serve on 127.0.0.1:{taken_port}: address already in use\n"


def test_serve_checks_what_the_command_itself_checks_before_serving(tmp_path):
    """A missing code, a malformed one, missing credentials: found by the venue command's
    own checks, which `serve` now runs up front (it used to serve, and then every browser
    tab failed the same way)."""
    from tests.conftest import run_obview

    nowhere = str(tmp_path / "absent.toml")
    env = {"OBVIEW_CONFIG": nowhere, "OBVIEW_BTHUB_USER": "", "OBVIEW_BTHUB_PASSWORD": "",
           "HOME": str(tmp_path)}
    for argv, says in ((["futu", "--sim"], "Missing argument 'CODE...'"),
                       (["futu", "XX00700", "--sim"], "malformed code 'XX00700'"),
                       (["bthub", "BTCUSDT"], "bthub needs credentials"),
                       (["futu", "HK.00700", "--sim", "--count", "3"], "--count goes with")):
        done = run_obview("serve", "--port", "0", *argv, timeout=20, **env)
        assert done.returncode == 2 and says in done.stderr, (argv, done.stderr)
        assert "obview serve: http" not in done.stdout + done.stderr, argv  # nothing served


def _serve_until_its_address(cwd: Path, *argv: str, env: dict[str, str] | None = None,
                             while_up: Callable[[str], None] | None = None
                             ) -> tuple[str, str, int]:
    """Start `obview serve ARGV`, wait for its address line (then `while_up(line)`), stop
    it with SIGTERM: that line, its stderr and its exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "serve", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=obview_env(**(env or {})), cwd=cwd, start_new_session=True)
    try:
        line = _first_line(proc, 20)
        if while_up is not None:
            while_up(line)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    return line, err, proc.returncode


def test_serve_off_loopback_warns_there_is_no_authentication(tmp_path):
    pytest.importorskip("textual_serve", reason="textual-serve (web extra) is not installed")
    line, err, code = _serve_until_its_address(tmp_path, "--host", "0.0.0.0", "--port", "0", "demo")
    assert line.startswith("obview serve: http://0.0.0.0:")
    assert "WARNING: listening on 0.0.0.0 with no authentication" in err
    assert code == 0  # SIGTERM is a clean stop


def test_the_served_page_never_shows_a_url_s_userinfo_or_a_password(tmp_path):
    """The page's title is the command line: a `--url` with userinfo in it is masked,
    and the password (from the environment) is in neither the page nor serve's output."""
    pytest.importorskip("textual_serve", reason="textual-serve (web extra) is not installed")
    from urllib.request import urlopen

    userinfo_pw = "s3cr3t-in-url-2718"
    pages = []

    def fetch(line: str) -> None:
        with urlopen(re.search(r"http://\S+", line).group(0), timeout=10) as reply:
            pages.append(reply.read().decode())

    line, err, _ = _serve_until_its_address(
        tmp_path, "--port", "0", "bthub", "BTCUSDT", "--url",
        f"https://bob:{userinfo_pw}@hub.example.com:444",
        env={"OBVIEW_BTHUB_USER": "alice", **SECRETS}, while_up=fetch)
    page = pages[0]
    assert "obview bthub BTCUSDT --url https://***@hub.example.com:444" in page
    for secret in (userinfo_pw, *SECRETS.values()):
        assert secret not in page + line + err


def test_serve_without_the_web_extra_is_a_one_line_hint(tmp_path):
    from tests.conftest import run_obview

    # a textual_serve that cannot be imported, as on an install without the extra
    (tmp_path / "textual_serve").mkdir()
    (tmp_path / "textual_serve" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = obview_env()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    done = run_obview("serve", "futu", "HK.00700", "--sim", env=env, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "obview: serve needs the web extra: pip install 'obview[web]'"]


def test_serve_refuses_export_and_checks_a_replay_before_serving(tmp_path):
    """`serve export ...` ran the export and then served; `serve replay ...` ran the replay
    TUI inside the serve process itself. Export has no screen; a replay's paths, options
    and journal header are checked up front, and then it is served like a venue command."""
    from tests.conftest import run_obview

    journal = tmp_path / "s.ndjson.zst"
    done = run_obview("futu", "HK.00700", "--sim", "--stream", "json", "--count", "3",
                      "--record", str(journal), timeout=60)
    assert done.returncode == 0 and journal.exists(), done.stderr
    out = tmp_path / "out.ndjson"
    done = run_obview("serve", "--port", "0", "export", str(journal), "--to", "ndjson", str(out),
                      timeout=30)
    assert done.returncode == 2 and "not 'export'" in done.stderr, done.stderr
    assert not out.exists()
    (tmp_path / "plain.ndjson.zst").write_text("hello\n")
    for argv, code, says in ((["replay", str(tmp_path / "absent.ndjson.zst")], 1, "no such journal"),
                             (["replay", str(tmp_path / "plain.ndjson.zst")], 1, "not an obview journal"),
                             (["replay", str(journal), "--count", "3"], 2, "--count goes with"),
                             (["replay", str(journal), "--from", "soon"], 2, "bad time 'soon'"),
                             # every browser tab would write the one journal
                             (["demo", "--record", str(tmp_path / "t")], 2, "each would write"),
                             (["futu", "HK.00700", "--sim", f"--record={tmp_path / 't'}"], 2,
                              "record with the command itself")):
        done = run_obview("serve", "--port", "0", *argv, timeout=30)
        assert done.returncode == code and says in done.stderr, (argv, done.stderr)
        assert done.stderr.count("\n") == 1
        assert "obview serve: http" not in done.stdout + done.stderr, argv
    pytest.importorskip("textual_serve", reason="textual-serve (web extra) is not installed")
    line, err, code = _serve_until_its_address(tmp_path, "--port", "0", "replay", str(journal))
    assert line.startswith("obview serve: http://127.0.0.1:")
    assert code == 0 and err == "", err


async def test_ctrl_c_with_a_tab_open_stops_serve_and_its_session_at_once(tmp_path):
    """With a browser tab open, ctrl+c (or SIGTERM) took 20 s: the tab's handler waited
    out aiohttp's shutdown time, and a user who gave up with kill -9 was left with the
    tab's app process running on."""
    import asyncio

    import websockets

    pytest.importorskip("textual_serve")
    proc = subprocess.Popen(
        [sys.executable, "-m", "obview", "serve", "--port", "0", "futu", "HK.00700", "--sim"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=obview_env(), cwd=tmp_path, start_new_session=True)
    try:
        url = re.search(r"http://\S+", _first_line(proc, 20)).group(0).rstrip("/")
        async with websockets.connect(url.replace("http", "ws") + "/ws?width=80&height=24") as ws:
            await ws.send(json.dumps(["resize", {"width": 80, "height": 24}]))
            await asyncio.wait_for(ws.recv(), 20)  # the tab's app is up and drawing
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                      text=True).stdout.split()
            assert children
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            while proc.poll() is None and time.monotonic() - started < 10:
                await asyncio.sleep(0.05)
            assert proc.poll() == 0, "serve did not stop within 10 s"
            assert time.monotonic() - started < 5
        for child in children:  # the tab's session (a shell, then obview) is gone too
            assert not Path(f"/proc/{child}").exists() or \
                "zombie" in Path(f"/proc/{child}/status").read_text().lower()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
