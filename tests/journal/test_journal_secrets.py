"""No secret text enters a journal, in any spelling, wherever the caller puts it."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import zstandard

from obview.journal import JournalReader, JournalWriter, Redactor, schema
from tests.journal.conftest import FakeClock

PASSWORD = 'hunter2"pa/ss word'  # a quote, a slash and a space: several spellings
TOKEN = "tok_9f8e7d6c5b4a"
API_KEY = "AKIA-EXAMPLE-KEY-123"
LATE_TOKEN = "late-session-token-xyz"


def _spellings(secret: str) -> list[bytes]:
    escaped = schema.encoder.encode(secret)[1:-1]
    return [secret.encode(), quote(secret, safe="").encode(), escaped,
            schema.encoder.encode(escaped.decode())[1:-1]]


def test_no_secret_reaches_the_journal(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.ndjson.zst"
    w = JournalWriter(
        path, mono=clock.mono, wall=clock.wall, secrets=[PASSWORD, TOKEN, API_KEY, None, "ab"],
        options={"user": "alice", "password": "anything-at-all", "api_key": API_KEY,
                 "nested": {"token": "x"}, "note": f"key is {API_KEY}", "depth": 10},
    )
    login = schema.encoder.encode({"user": "alice", "password": PASSWORD}).decode()
    w.connect("bthub", 1, "ws", f"wss://alice:{PASSWORD}@example/ws?token={TOKEN}")
    w.frame("bthub", 1, "rest", login, url=f"/login?pwd={quote(PASSWORD, safe='')}", status=200)
    w.frame("bthub", 1, "rest", f'{{"token":"{TOKEN}","ok":true}}')
    w.frame("futu", 2, "tcp", b"\x0a\x14" + API_KEY.encode() + b"\x10\x01")
    w.subscribe("bthub", 1, "BTCUSDT", auth=TOKEN, depth=20)
    w.disconnect("bthub", 1, f"server said: bad token {TOKEN}")
    w.add_secret(LATE_TOKEN)  # learnt from a login reply, registered before it is written
    w.frame("bthub", 1, "ws", f'{{"sessionToken":"{LATE_TOKEN}"}}')
    w.close()

    journal = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    assert journal.count(b"\n") == 9
    lines = list(JournalReader(path))
    binary = b"".join(line.b for line in lines if isinstance(line, schema.Frame) and line.b)
    for secret in (PASSWORD, TOKEN, API_KEY, LATE_TOKEN, "anything-at-all"):
        for spelling in _spellings(secret):
            assert spelling not in journal, (secret, spelling)
            assert spelling not in binary
            assert spelling not in base64.b64encode(binary)
    # masks keep lengths, so a masked protobuf body still parses (its length fields hold)
    futu = lines[4]
    assert futu.b == b"\x0a\x14" + b"*" * len(API_KEY) + b"\x10\x01"
    assert lines[0].o["password"] == "***" and lines[0].o["nested"] == {"token": "***"}
    assert lines[0].o["user"] == "alice" and lines[0].o["depth"] == 10
    assert b'"user":"alice"' in journal  # what is not secret stays readable


def test_custom_rule_runs_on_text() -> None:
    redactor = Redactor(custom=lambda text: text.replace("sign=abc", "sign=***"))
    assert redactor.text("GET /x?sign=abc&n=1") == "GET /x?sign=***&n=1"
    assert not Redactor(["abc"])  # too short to mask without hitting innocent text
