"""The official SDK with protocol encryption (SysConfig.enable_proto_encrypt(True) +
set_init_rsa_file) against the simulator started with the same key, and what the SDK sees
when the two ends disagree. The SDK runs in its own process (sdk_crypto_probe.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from obview.venues.futu.sim import start_sim
from tests.conftest import ROOT, obview_env
from tests.futu.test_futu_crypto import write_key
from tests.futu.test_futu_sdk import LEVELS, PUSHES, SEED, expected, positions

pytestmark = pytest.mark.skipif(importlib.util.find_spec("futu") is None,
                                reason="futu-api is a test dependency")
PROBE = Path(__file__).with_name("sdk_crypto_probe.py")


def sdk_env(home: Path) -> dict[str, str]:
    env = obview_env(HOME=str(home))
    env["PYTHONPATH"] = ""  # the SDK process must not see obview's generated modules
    return env


@pytest.mark.parametrize("mode", ["cbc", "ecb"])
def test_encrypted_sdk_gets_the_books_from_the_encrypted_simulator(tmp_path: Path, mode):
    key = write_key(tmp_path / "conn_key.pem")
    faults = ["--fault", "rate=30", "--fault", f"levels={LEVELS}", "--fault", f"rsa_key={key}"]
    if mode == "ecb":
        faults += ["--fault", "aes_ecb"]
    sim = subprocess.Popen(
        [sys.executable, "-m", "obview", "sim", "futu", "--port", "0", "--seed", str(SEED),
         *faults],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=obview_env(), cwd=ROOT,
    )
    try:
        line = sim.stdout.readline()
        assert "serving" in line, sim.stderr.read()
        host, port = line.split()[-1].rsplit(":", 1)
        probe = subprocess.run(
            [sys.executable, str(PROBE), "book", host, port, str(PUSHES), str(key)],
            capture_output=True, text=True, timeout=60, env=sdk_env(tmp_path), cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
    finally:
        sim.terminate()
        sim.wait(10)
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["sub_hk"][0] == 0 and seen["sub_us"][0] == 0
    assert seen["names"] == {"HK.00700": "腾讯控股", "US.AAPL": "苹果"}
    hk, us = seen["pushes"]["HK.00700"], seen["pushes"]["US.AAPL"]
    assert len(hk) >= PUSHES and len(us) >= PUSHES
    assert positions(hk, expected("HK.00700", True))[0] == 0
    assert positions(us, expected("US.AAPL", False))[0] == 0
    ret, book = seen["get_order_book"]
    assert ret == 0
    positions([book], expected("HK.00700", True))
    assert seen["sub_unknown"][0] != 0 and "Unknown stock HK.99999" in seen["sub_unknown"][1]


async def _sdk_connect(tmp_path: Path, port: int, key: Path | None, seconds: float):
    args = [sys.executable, str(PROBE), "connect", "127.0.0.1", str(port), str(seconds)]
    if key is not None:
        args.append(str(key))
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL, env=sdk_env(tmp_path), cwd=tmp_path)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1]), out.decode() + err.decode()


@pytest.mark.parametrize("side", ["plain sdk, encrypted sim", "encrypted sdk, plain sim"])
async def test_sdk_cannot_connect_when_the_ends_disagree(tmp_path: Path, side):
    key = write_key(tmp_path / "conn_key.pem")
    sim_key, sdk_key = (key, None) if side.startswith("plain") else (None, key)
    sim = await start_sim("127.0.0.1", 0, 1, {"rate": "0"},
                          rsa_key=str(sim_key) if sim_key else None)
    try:
        seen, output = await _sdk_connect(tmp_path, sim.port, sdk_key, 3)
        assert seen == {"connected": False}
        if sim_key:  # the sim answered with a refusal sealed by its key; the SDK cannot read it
            assert any("unencrypted" in r for r in sim.refusals)
            # as users of a real encrypted OpenD report it (FutunnOpen/py-futu-api#4; docs/futu.md "Encryption")
            assert "1001" in output and "check sha error" in output, output[-2000:]
        else:  # the plain sim could not check the sealed InitConnect and hung up
            assert any("SHA-1 mismatch (proto 1001" in r for r in sim.refusals)
            assert "init connect fail" in output and "Disconnect" in output, output[-2000:]
        assert not any(conn.ready for conn in sim.connections)
    finally:
        await sim.close()
