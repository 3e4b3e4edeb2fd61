"""Encrypted OpenD (RSA InitConnect, AES bodies) and InitConnect refusals, obview against
the simulator over loopback sockets; the key is made at test time."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from obview.events import StatusChanged
from obview.feed import FeedState
from obview.venues import config
from obview.venues.futu import codec, crypto
from obview.venues.futu.client import FutuFeed
from obview.venues.futu.pb import InitConnect_pb2, Qot_Sub_pb2
from obview.venues.futu.sim import start_sim
from tests.conftest import run_obview, wait_until
from tests.futu.test_futu_client import book_matches, feed_rows, sim_rows, synced


def write_key(path: Path, bits: int = 1024) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    return write_key(tmp_path_factory.mktemp("keys") / "opend_test_key.pem")


@pytest.fixture(scope="module")
def other_key_file(tmp_path_factory) -> Path:
    return write_key(tmp_path_factory.mktemp("keys") / "other_test_key.pem")


@contextlib.asynccontextmanager
async def session(codes, faults=None, sim_key=None, client_key=None, seed=3):
    sim = await start_sim("127.0.0.1", 0, seed, faults or {"rate": "40"}, rsa_key=sim_key)
    options = {"host": "127.0.0.1", "port": sim.port}
    if client_key is not None:
        options["rsa_key"] = str(client_key)
    feed = FutuFeed(config("futu", codes, **options))
    feed.backoff.initial = 0.05  # fast in tests; the policy is the base class's
    statuses: list[str] = []
    feed.add_listener(lambda e: statuses.append(e.text) if isinstance(e, StatusChanged) else None)
    task = asyncio.create_task(feed.run())
    try:
        yield feed, sim, statuses
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.close()


# -- the cipher layer ---------------------------------------------------------------
@pytest.mark.parametrize("iv", ["FEDCBA9876543210", None])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100, 1600])
def test_aes_round_trip_and_sizes(iv, size):
    aes = crypto.session_aes("0123456789ABCDEF", iv)
    plain = bytes(range(256)) * 7
    plain = plain[:size]
    sealed = aes.encrypt(plain)
    assert aes.decrypt(sealed) == plain
    if iv is None:  # zero padding to 16, plus a 16-byte trailer carrying len % 16
        assert len(sealed) == -(-size // 16) * 16 + 16 and sealed[-1] == size % 16
    else:  # PKCS#7 always adds 1..16 bytes
        assert len(sealed) == (size // 16 + 1) * 16
    assert sealed[:16] != plain[:16] or size == 0


def test_aes_matches_pycryptodome_as_the_sdk_uses_it():
    from Crypto.Cipher import AES

    key, iv, plain = b"0123456789ABCDEF", b"FEDCBA9876543210", b"x" * 37
    pad = 16 - len(plain) % 16
    sdk_cbc = AES.new(key, AES.MODE_CBC, iv=iv).encrypt(plain + bytes([pad]) * pad)
    assert crypto.session_aes(key.decode(), iv.decode()).encrypt(plain) == sdk_cbc
    sdk_ecb = AES.new(key, AES.MODE_ECB).encrypt(plain + bytes(11)) + bytes(15) + bytes([5])
    assert crypto.session_aes(key.decode(), None).encrypt(plain) == sdk_ecb


def test_one_aes_session_decrypts_a_run_of_sdk_packets_whatever_came_before():
    from Crypto.Cipher import AES

    key, iv = b"0123456789ABCDEF", b"FEDCBA9876543210"
    aes = crypto.session_aes(key.decode(), iv.decode())
    for size in (781, 0, 16, 5, 1600, 33):
        plain = bytes((size + i) % 251 for i in range(size))
        pad = 16 - size % 16
        # the SDK makes a new CBC cipher from the IV for every packet
        packet = AES.new(key, AES.MODE_CBC, iv=iv).encrypt(plain + bytes([pad]) * pad)
        assert aes.decrypt(packet) == plain
        with pytest.raises(ValueError):
            aes.decrypt(packet[:-1])  # refused before it could disturb the session
        with contextlib.suppress(ValueError):
            aes.decrypt(bytes(range(32)))  # garbage in between changes nothing either


def test_rsa_pieces_of_100_become_blocks_of_128(key_file):
    key = crypto.load_rsa_key(key_file)
    plain = bytes(range(250))
    sealed = key.encrypt(plain)
    assert len(sealed) == 3 * 128
    assert key.decrypt(sealed) == plain
    from Crypto.Cipher import PKCS1_v1_5
    from Crypto.PublicKey import RSA

    sdk = PKCS1_v1_5.new(RSA.importKey(key_file.read_bytes()))  # what RsaCrypt.decrypt does
    assert b"".join(sdk.decrypt(sealed[i:i + 128], None) for i in range(0, 384, 128)) == plain


def test_sealed_frames_carry_the_plain_digest_and_a_wrong_key_is_caught(key_file,
                                                                      other_key_file):
    key, other = crypto.load_rsa_key(key_file), crypto.load_rsa_key(other_key_file)
    body = InitConnect_pb2.Request(c2s={"clientVer": 300, "clientID": "x"}).SerializeToString()
    frame = codec.encode_frame(codec.INIT_CONNECT, 5, body, cipher=crypto.SessionCipher(key))
    assert frame[16:36] == __import__("hashlib").sha1(body).digest()
    assert codec.FrameBuffer(crypto.SessionCipher(key)).feed(frame) == [(1001, 5, body)]
    with pytest.raises(codec.BadFrame) as caught:
        codec.FrameBuffer(crypto.SessionCipher(other)).feed(frame)
    assert caught.value.kind == "decrypt" and caught.value.proto_id == 1001
    with pytest.raises(codec.BadFrame) as caught:
        codec.FrameBuffer(crypto.SessionCipher(key)).feed(codec.encode_frame(1001, 5, body))
    assert caught.value.kind == "unencrypted"
    with pytest.raises(codec.BadFrame) as caught:
        codec.FrameBuffer().feed(frame)  # a plain reader: the digest cannot match
    assert caught.value.kind == "sha1"


def test_frames_after_the_init_reply_wait_for_the_aes_key(key_file):
    key = crypto.load_rsa_key(key_file)
    server = crypto.SessionCipher(key)
    reply = codec.encode_frame(codec.INIT_CONNECT, 1, b"reply", cipher=server)
    server.install(crypto.session_aes("0123456789ABCDEF", "FEDCBA9876543210"))
    push = codec.encode_frame(codec.NOTIFY, 2, b"push", cipher=server)
    client = crypto.SessionCipher(key, hold=True)
    buffer = codec.FrameBuffer(client)
    assert buffer.feed(reply + push[:50]) == [(1001, 1, b"reply")]
    assert buffer.feed(push[50:]) == []  # held: its key is not installed yet
    client.install(crypto.session_aes("0123456789ABCDEF", "FEDCBA9876543210"))
    assert buffer.feed(b"") == [(codec.NOTIFY, 2, b"push")]


# -- obview against the simulator ---------------------------------------------------------
@pytest.mark.parametrize("mode", ["cbc", "ecb"])
async def test_encrypted_session_decodes_the_same_book_as_a_plain_one(key_file, mode):
    still = {"rate": "0"} | ({"aes_ecb": ""} if mode == "ecb" else {})
    codes = ["HK.00700", "US.AAPL"]
    async with session(codes, {"rate": "0"}) as (plain, plain_sim, _), \
            session(codes, still, sim_key=str(key_file), client_key=key_file) as (enc, sim, _):
        await wait_until(lambda: synced(plain) and synced(enc), 10, "both sessions synced")
        for code in codes:
            assert feed_rows(enc, code) == feed_rows(plain, code) == sim_rows(plain_sim, code)
            assert enc.streams[code].name == plain.streams[code].name
        cipher = sim.connections[0].cipher
        assert isinstance(cipher.aes, crypto.AesCbc if mode == "cbc" else crypto.FtAesEcb)
        assert type(enc.buffer.cipher.aes) is type(cipher.aes)
        assert enc.bad_frames == 0 and enc.reconnects == 0


async def test_encrypted_pushes_keep_the_book_right_across_a_reconnect(key_file):
    faults = {"rate": "40", "keepalive": "1", "drop_after": "8"}
    async with session(["HK.00700"], faults, sim_key=str(key_file),
                       client_key=key_file) as (feed, sim, _):
        await wait_until(lambda: feed.reconnects >= 1, 10, "the dropped connection")
        await wait_until(lambda: synced(feed, 5), 10, "pushes after the reconnect")
        await wait_until(lambda: book_matches(feed, sim, "HK.00700"), 5, "book = sim")
        assert feed.bad_frames == 0
        # keep-alives are sealed too (the sim would drop a frame it cannot open)
        await wait_until(lambda: any(p == codec.KEEP_ALIVE for _, p in sim.requests), 3,
                         "a KeepAlive")
        assert feed.state is FeedState.SYNCED


async def test_plaintext_client_against_encrypted_opend_stops_with_the_reason(key_file):
    async with session(["HK.00700"], sim_key=str(key_file)) as (feed, sim, _):
        await wait_until(lambda: feed.state is FeedState.ERROR, 5, "a fatal error")
        assert "requires an encrypted connection" in feed.status_text
        assert "--rsa-key" in feed.status_text and "OBVIEW_FUTU_RSA_KEY" in feed.status_text
        assert feed.reconnects == 0  # no endless retry
        assert any("unencrypted" in r for r in sim.refusals)


async def test_wrong_key_stops_with_the_reason(key_file, other_key_file):
    async with session(["HK.00700"], sim_key=str(key_file),
                       client_key=other_key_file) as (feed, sim, _):
        await wait_until(lambda: feed.state is FeedState.ERROR, 5, "a fatal error")
        assert "cannot decrypt" in feed.status_text and str(other_key_file) in feed.status_text
        assert feed.reconnects == 0


async def test_encrypting_client_against_plain_opend_retries_and_says_why(key_file):
    async with session(["HK.00700"], client_key=key_file) as (feed, sim, statuses):
        await wait_until(lambda: feed.reconnects >= 2, 5, "retries")
        assert feed.state is FeedState.RECONNECTING
        assert any("RSA-encrypted InitConnect" in t and "rsa_private_key" in t and "retry in" in t
                   for t in statuses), statuses
        assert any("SHA-1 mismatch" in r for r in sim.refusals)
        assert not feed.streams["HK.00700"].synced


@contextlib.asynccontextmanager
async def bare_opend(answer):
    """A TCP peer standing in for an OpenD: `answer(frame) -> bytes | None` for the first
    frame of each connection (None: hang up)."""
    async def serve(reader, writer):
        buffer = codec.FrameBuffer()
        frames = []
        while not frames:
            data = await reader.read(65536)
            if not data:
                break
            with contextlib.suppress(codec.BadFrame):  # a sealed body fails the plain check
                frames = buffer.feed(data)
            if not frames and len(data) >= codec.HEADER_SIZE:
                frames = [(int.from_bytes(data[2:6], "little"),
                           int.from_bytes(data[8:12], "little"), None)]
        reply = answer(frames[0]) if frames else None
        if reply:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def run_against(port: int, key=None):
    options = {"host": "127.0.0.1", "port": port}
    if key is not None:
        options["rsa_key"] = str(key)
    feed = FutuFeed(config("futu", ["HK.00700"], **options))
    feed.backoff.initial = 0.05
    statuses: list[str] = []
    feed.add_listener(lambda e: statuses.append(e.text) if isinstance(e, StatusChanged) else None)
    return feed, statuses, asyncio.create_task(feed.run())


async def test_opend_hanging_up_before_init_connect_answers_is_retried():
    async with bare_opend(lambda frame: None) as port:
        feed, statuses, task = await run_against(port)
        try:
            await wait_until(lambda: feed.reconnects >= 2, 5, "retries")
            assert feed.state is FeedState.RECONNECTING
            assert any("closed the connection before answering InitConnect" in t
                       and "retry in" in t for t in statuses), statuses
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_plain_reply_to_an_encrypted_init_connect_is_fatal(key_file):
    def plain_refusal(frame):
        proto_id, serial, _ = frame
        body = InitConnect_pb2.Response(retType=-1, retMsg="bad packet").SerializeToString()
        return codec.encode_frame(proto_id, serial, body)

    async with bare_opend(plain_refusal) as port:
        feed, _, task = await run_against(port, key_file)
        try:
            await wait_until(lambda: feed.state is FeedState.ERROR, 5, "a fatal error")
            assert "answered InitConnect unencrypted" in feed.status_text
            assert feed.reconnects == 0
        finally:
            feed.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_frames_streamed_instead_of_the_init_reply_are_held_no_more_than_a_frame(key_file):
    """Frames after the InitConnect request are held for the reply's AES key. A peer that
    streams frames and never answers grew that hold without end, each read copying all
    of it (64 MB and 100% CPU in 6 s, until the 12 s request timeout): past one frame's
    worth it is a bad frame, and the connection is replaced."""
    sent = [0]

    async def serve(reader, writer):
        await reader.read(65536)  # the InitConnect request, never answered
        burst = codec.encode_frame(codec.QOT_UPDATE_ORDER_BOOK, 7, bytes(1000)) * 1000
        with contextlib.suppress(ConnectionError):
            while sent[0] < 64 * 2**20:
                writer.write(burst)
                sent[0] += len(burst)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    feed, statuses, task = await run_against(server.sockets[0].getsockname()[1], key_file)
    try:
        await wait_until(lambda: feed.reconnects >= 2, 10, "two connections replaced")
        assert feed.bad_frames >= 2 and sent[0] < 64 * 2**20
        assert any("bytes of frames before the InitConnect reply; retry in" in t
                   for t in statuses), statuses
    finally:
        feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()


async def test_refused_init_connect_is_retried_with_backoff_and_the_reason_shown():
    async with session(["HK.00700"], {"rate": "40", "refuse_init": "3"}) as (feed, sim, statuses):
        await wait_until(lambda: synced(feed, 2), 10, "synced after the refusals")
        assert feed.reconnects == 3
        refused = [t for t in statuses if "refused InitConnect" in t]
        assert len(refused) == 3
        assert all("Too many connections" in t and "retry in" in t for t in refused)
        delays = [float(t.rsplit("retry in ", 1)[1].rstrip("s")) for t in refused]
        assert delays[2] > delays[0]  # the shared backoff grows
        assert feed.backoff.failures == 3 and feed.state is FeedState.SYNCED


async def test_requests_before_init_connect_are_refused():
    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "0"})
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        buffer = codec.FrameBuffer()

        async def ask(proto_id: int, serial: int, body: bytes):
            writer.write(codec.encode_frame(proto_id, serial, body))
            frames = []
            while not frames:
                frames = buffer.feed(await asyncio.wait_for(reader.read(65536), 5))
            return frames[0]

        sub = Qot_Sub_pb2.Request()
        sub.c2s.securityList.add(market=1, code="00700")
        sub.c2s.subTypeList.append(2)
        sub.c2s.isSubOrUnSub = True
        proto_id, serial, body = await ask(codec.QOT_SUB, 11, sub.SerializeToString())
        reply = Qot_Sub_pb2.Response.FromString(body)
        assert (proto_id, serial) == (codec.QOT_SUB, 11)
        assert reply.retType == -1 and "InitConnect" in reply.retMsg
        assert "HK.00700" not in sim.books  # nothing was subscribed
        init = InitConnect_pb2.Request()
        init.c2s.clientVer, init.c2s.clientID = 300, "test"
        _, _, body = await ask(codec.INIT_CONNECT, 12, init.SerializeToString())
        assert InitConnect_pb2.Response.FromString(body).retType == 0
        _, _, body = await ask(codec.QOT_SUB, 13, sub.SerializeToString())
        assert Qot_Sub_pb2.Response.FromString(body).retType == 0
        writer.close()
    finally:
        await sim.close()


# -- the command line ------------------------------------------------------------------------
def test_cli_encrypted_sim_with_the_key_from_the_environment(key_file):
    result = run_obview("futu", "HK.00700", "--sim", "--fault", f"rsa_key={key_file}",
                        "--dump", "json", "--timeout", "20", OBVIEW_FUTU_RSA_KEY=str(key_file))
    assert result.returncode == 0, result.stderr
    assert '"HK.00700"' in result.stdout
    secret = key_file.read_text().splitlines()[1]
    assert secret not in result.stdout + result.stderr


def test_cli_plaintext_against_encrypted_sim_is_one_line_and_quick(key_file):
    result = run_obview("futu", "HK.00700", "--sim", "--fault", f"rsa_key={key_file}",
                        "--dump", "json", "--timeout", "20", timeout=15)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "requires an encrypted connection" in lines[0], result.stderr


@pytest.mark.parametrize("content", [None, b"not a key\n", "2048", "dir"])
def test_cli_unusable_key_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "key.pem"
    if content == "2048":
        write_key(path, 2048)
    elif content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    result = run_obview("futu", "HK.00700", "--sim", "--rsa-key", str(path), "--dump", "json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--rsa-key" in lines[0] and str(path) in lines[0], result.stderr
    result = run_obview("sim", "futu", "--fault", f"rsa_key={path}", timeout=20)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_encrypted_session_is_recorded_decrypted_without_keys_and_replays(key_file,
                                                                             tmp_path):
    """The journal holds the bodies as decrypted (they parse as protobuf), neither the RSA
    key nor the session's AES key, and replays to what was printed live."""
    import zstandard

    from obview.journal import Frame, JournalReader
    from obview.venues.futu.pb import InitConnect_pb2, Qot_UpdateOrderBook_pb2
    from tests.replay.conftest import without_local_stamps

    path = tmp_path / "sealed.ndjson.zst"
    live = run_obview("futu", "HK.00700", "--sim", "--fault", f"rsa_key={key_file}",
                      "--fault", "rate=100", "--stream", "json", "--count", "40",
                      "--record", str(path), OBVIEW_FUTU_RSA_KEY=str(key_file))
    assert live.returncode == 0, live.stderr
    frames = [f for f in JournalReader(path) if type(f) is Frame]
    pushes = [f.b for f in frames if f.pid == codec.QOT_UPDATE_ORDER_BOOK]
    assert len(pushes) >= 39
    for body in pushes:  # plain protobuf: decrypted before the tap
        assert Qot_UpdateOrderBook_pb2.Response.FromString(body).s2c.security.code == "00700"
    (init,) = [f.b for f in frames if f.pid == codec.INIT_CONNECT]
    key = InitConnect_pb2.Response.FromString(init).s2c.connAESKey
    assert key and set(key) == {"*"}, "the session key is masked, the body still parses"
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    pem = key_file.read_text().splitlines()
    assert not any(line.encode() in raw for line in pem[1:-1])
    replayed = run_obview("replay", str(path), "--stream", "json")
    assert replayed.returncode == 0, replayed.stderr
    assert ([without_local_stamps(t) for t in replayed.stdout.splitlines()]
            == [without_local_stamps(t) for t in live.stdout.splitlines()])


def test_the_journal_masks_only_the_session_key_field_whatever_the_reply():
    from obview.venues.futu.client import _without_session_key
    from obview.venues.futu.pb import InitConnect_pb2

    reply = InitConnect_pb2.Response(retType=0, retMsg="a")
    reply.s2c.serverVer, reply.s2c.loginUserID, reply.s2c.connID = 1, 2, 3
    reply.s2c.connAESKey, reply.s2c.keepAliveInterval = "a", 10  # a key also in retMsg
    reply.s2c.aesCBCiv = "0123456789abcdef"
    pid, serial, body = _without_session_key((codec.INIT_CONNECT, 7, reply.SerializeToString()))
    masked = InitConnect_pb2.Response.FromString(body)
    assert (pid, serial, masked.s2c.connAESKey, masked.retMsg) == (codec.INIT_CONNECT, 7, "*", "a")
    assert masked.s2c.aesCBCiv == "0123456789abcdef" and masked.s2c.keepAliveInterval == 10
    for hostile in (b"\xff\xff\xff", b"", InitConnect_pb2.Response(retType=-1).SerializeToString()):
        assert _without_session_key((codec.INIT_CONNECT, 1, hostile)) == (
            codec.INIT_CONNECT, 1, hostile)  # nothing to mask: kept as received
