"""Login outcomes (docs/bthub.md "Session", step 1) against a loopback HTTP server answering each case, token
expiry on the WebSocket upgrade, and the private credentials file."""

from __future__ import annotations

import socket
from http import HTTPStatus

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from obview.feed import FatalFeedError, FeedError
from obview.venues import config
from obview.venues.bthub.client import BthubFeed, websocket_url
from obview.venues.bthub.credentials import CredentialsError, load_credentials
from obview.venues.bthub.sim import DEMO_PASSWORD, DEMO_USER, BthubSimulator
from tests.conftest import wait_until

SECRET = "Pw-LOGIN-CASES-55"


async def login_against(status: int, body: str) -> tuple[str, list]:
    """Run one login against a server answering (status, body); returns (outcome, requests)."""
    requests = []

    def answer(connection, request):
        requests.append(request)
        payload = body.encode()
        headers = Headers([("Content-Type", "application/json"),
                           ("Content-Length", str(len(payload))), ("Connection", "close")])
        return Response(status, HTTPStatus(status).phrase, headers, payload)

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=answer) as server:
        port = server.sockets[0].getsockname()[1]
        feed = BthubFeed(config("bthub", ["BTCUSDT"], url=f"http://127.0.0.1:{port}", user="alice", password=SECRET))
        try:
            token = await feed.login()
            outcome = f"token {token}"
        except FatalFeedError as exc:
            outcome = f"fatal {exc}"
        except FeedError as exc:
            outcome = f"retry {exc}"
        finally:
            await feed.close()
    assert SECRET not in outcome
    return outcome, requests


@pytest.mark.parametrize("status, body, outcome", [
    (200, '{"data":{"token":"tok-123"},"result":"SUCCESS","type":"API"}', "token tok-123"),
    (401, '{"result":"UNAUTHORIZED","type":"API"}', "fatal login rejected (UNAUTHORIZED)"),
    (403, "", "fatal login rejected (HTTP 403)"),
    (200, '{"result":"REJECTED","type":"API"}', "fatal login rejected (REJECTED)"),
    (200, '{"data":{"type":"VALIDATION","data":{"loginId":"INVALID"}},"result":"INVALID_DATA","type":"API"}',
     "fatal login rejected (INVALID_DATA)"),
    (400, '{"result":"INVALID_REQUEST","type":"API"}', "fatal login rejected (INVALID_REQUEST)"),
    (500, '{"result":"INTERNAL_ERROR","type":"API"}', "retry login failed: HTTP 500"),
    (502, "Bad gateway", "retry login failed: HTTP 502"),
    (200, "<html>maintenance</html>", "retry login failed: reply is not JSON"),
    (200, '{"result":"STALE_VERSION","type":"API"}', "retry login failed: result STALE_VERSION"),
    (200, '{"result":"SUCCESS","data":{}}', "retry login failed: no token in the reply"),
    (200, '{"result":"SUCCESS","data":{"token":""}}', "retry login failed: no token in the reply"),
    (200, "[1]", "retry login failed: result None"),
])
async def test_login_outcomes(status, body, outcome):
    got, requests = await login_against(status, body)
    assert got == outcome
    (request,) = requests
    # docs/bthub.md "Session": POST with both parameters in the query string, nothing in the body
    assert request.method == "POST"
    assert request.path == f"/api/v1/operator/login?loginId=alice&password={SECRET}"
    assert set(request.headers.get_all("Content-Length")) <= {"0"}


async def test_unreachable_hub_is_transient():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed = BthubFeed(config("bthub", ["BTCUSDT"], url=f"http://127.0.0.1:{port}", user="alice", password=SECRET))
    try:
        with pytest.raises(FeedError, match="login failed"):
            await feed.login()
    finally:
        await feed.close()


async def test_expired_token_is_refused_on_upgrade():
    sim = await BthubSimulator(1, {"rate": "0", "token_ttl": "0.2"}).start()
    feed = BthubFeed(config("bthub", ["BTCUSDT"], url=sim.url, user=DEMO_USER, password=DEMO_PASSWORD))
    try:
        token = await feed.login()
        async with connect(websocket_url(sim.url, token)) as ws:
            await ws.send("ping")
            assert await ws.recv() == "pong"
            await wait_until(lambda: not sim._valid_token(token), message="token expiry")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with connect(websocket_url(sim.url, token)):
                pass
        assert refused.value.response.status_code == 401
    finally:
        await feed.close()
        await sim.close()


# -- credentials file ----------------------------------------------------------------------
def test_credentials_file(tmp_path):
    path = tmp_path / "bthub.toml"
    assert load_credentials(path) is None
    path.write_text('user = "alice"\npassword = "s3cret-pw"\n')
    path.chmod(0o600)
    assert load_credentials(path) == ("alice", "s3cret-pw")
    for mode in (0o644, 0o640, 0o604, 0o620):
        path.chmod(mode)
        with pytest.raises(CredentialsError, match="chmod 600"):
            load_credentials(path)


@pytest.mark.parametrize("text", ['user = "alice"\n', 'user = "a"\npassword = 5\n',
                                  'password = "s3cret-pw" user\n'])
def test_bad_credentials_file_is_refused_without_quoting_it(tmp_path, text):
    path = tmp_path / "bthub.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(CredentialsError) as refused:
        load_credentials(path)
    assert "s3cret" not in str(refused.value)


def test_unknown_simulator_fault_is_refused():
    with pytest.raises(ValueError, match="unknown bthub simulator fault bogus"):
        BthubSimulator(1, {"bogus": ""})


async def test_a_login_reply_that_is_not_utf8_is_journaled_as_its_bytes(tmp_path):
    """The journal keeps a reply's bytes when they are not UTF-8. Live refuses this one
    (not JSON: JSON is UTF-8); the journal held it decoded with replacement characters,
    valid JSON, so a replay of the session logged in where live had not."""
    from obview.journal import Frame, JournalReader
    from obview.record import Recording

    body = b'{"data":{"token":"tok-9"},"result":"SUCCESS","note":"caf\xe9"}'

    def answer(connection, request):
        headers = Headers([("Content-Type", "application/json"),
                           ("Content-Length", str(len(body))), ("Connection", "close")])
        return Response(200, "OK", headers, body)

    path = tmp_path / "s.ndjson.zst"
    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=answer) as server:
        port = server.sockets[0].getsockname()[1]
        cfg = config("bthub", ["BTCUSDT"], url=f"http://127.0.0.1:{port}", user="alice",
                     password=SECRET)
        recording = Recording(path, [cfg], secrets=[SECRET])
        feed = BthubFeed(cfg)
        recording.attach(feed)
        feed.conn = feed.tap.connect("rest", f"http://127.0.0.1:{port}")
        try:
            outcome = await feed.login()
        except FeedError as exc:
            outcome = f"refused: {exc}"
        finally:
            await feed.close()
            recording.close()
    kept = [line.payload() for line in JournalReader([path]).lines()
            if type(line) is Frame and line.ch == "rest"]
    assert outcome == "refused: login failed: reply is not JSON"
    assert kept == [body]
