"""The API key: from the environment only, sent as X-API-KEY, never shown or logged;
a 104001/104002 answer is one line. Also: v3 is the default everywhere."""

from __future__ import annotations

import logging

from obview.venues import config
from obview.venues.loopring.client import LoopringFeed
from obview.venues.loopring.credentials import API_KEY_ENV, ApiKey, load_api_key
from tests.conftest import run_obview, wait_until
from tests.loopring.conftest import feed_error

KEY = "k3y-S3CRET-0123456789abcdef"


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_api_key_option_does_not_exist():
    result = run_obview("loopring", "LRC-ETH", "--api-key", KEY, "--sim", "--dump", "json")
    assert result.returncode == 2
    assert "No such option '--api-key'" in _one_line(result) and KEY not in result.stderr


def test_v2_with_the_key_from_the_environment(tmp_path):
    log = tmp_path / "obview.log"
    result = run_obview("loopring", "LRC-ETH", "--sim", "--api", "v2", "--fault", f"api_key={KEY}",
                        "--dump", "json", "--log-file", str(log), **{API_KEY_ENV: KEY})
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr + log.read_text()


def test_v2_without_or_with_a_wrong_key_is_one_line_exit_1():
    missing = run_obview("loopring", "LRC-ETH", "--sim", "--api", "v2", "--fault", f"api_key={KEY}",
                         "--dump", "json", "--timeout", "20")
    assert missing.returncode == 1
    line = _one_line(missing)
    assert "API key missing or rejected" in line and "104001" in line and API_KEY_ENV in line
    wrong = run_obview("loopring", "LRC-ETH", "--sim", "--api", "v2", "--fault", f"api_key={KEY}",
                       "--dump", "json", "--timeout", "20", **{API_KEY_ENV: "not-" + KEY})
    assert wrong.returncode == 1
    line = _one_line(wrong)
    assert "API key missing or rejected" in line and "104002" in line and KEY not in line


async def test_key_sent_as_header_and_never_logged_even_by_httpx(make_harness, caplog):
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, websockets and obview, all of it
    for api in ("v2", "v3"):
        h = await make_harness({"api_key": KEY}, api=api, api_key=ApiKey(KEY))
        await h.pump(3)
        await h.settle()
        assert h.sim.stats["key_refused"] == 0
    # the simulator's own server log shows the headers it received; everything on the
    # client's side (obview, httpx, httpcore, the websockets client) must not
    client = [r for r in caplog.records if not r.name.startswith("websockets.server")]
    assert any(r.name.startswith("httpcore") for r in client)
    text = "\n".join(r.getMessage() for r in client) + repr(h.feed.api_key) + str(h.feed.__dict__)
    assert KEY not in text


async def test_sim_refuses_v2_rest_without_the_key(make_harness):
    h = await make_harness({"api_key": KEY}, api="v2", start=False)
    await h.feed.run()
    assert "API key missing or rejected" in feed_error(h.feed)
    assert h.sim.stats["key_refused"] == 1 and h.sim.stats["connections"] == 0


def test_environment_wins_over_the_config_file_value():
    assert load_api_key("from-file", {API_KEY_ENV: "from-env"}).reveal() == "from-env"
    assert load_api_key("from-file", {}).reveal() == "from-file"
    assert load_api_key(None, {API_KEY_ENV: "  "}) is None
    assert "from-env" not in repr(load_api_key(None, {API_KEY_ENV: "from-env"}))


def test_v3_is_the_default_everywhere():
    from obview.cli import demo_configs, loopring

    feed = LoopringFeed(config("loopring", ["LRC-ETH"]))
    assert feed.api == "v3" and feed.rest_url == "https://api3.loopring.io"
    assert feed.ws_url == "wss://ws.api3.loopring.io/v3/ws" and feed.depth_path == "/api/v3/depth"
    assert next(p for p in loopring.params if p.name == "api").default == "v3"
    assert next(c for c in demo_configs() if c.venue == "loopring").options.api == "v3"


async def test_sim_default_is_v3(make_harness):
    h = await make_harness(start=False)
    assert h.sim.ws_url().endswith("/v3/ws") and h.sim.addresses[1].endswith("/v3/ws")
    await h.start()
    await wait_until(lambda: h.sim.ws_keys, 5, "a /v3/ws/key request")
