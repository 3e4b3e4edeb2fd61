"""The committed generated modules are what grpcio-tools makes of proto/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PB_DIR = ROOT / "obview" / "venues" / "futu" / "pb"
PB_REL = Path("obview/venues/futu/pb")


def _serialized_descriptor(source: str) -> bytes:
    """The FileDescriptorProto bytes passed to AddSerializedFile."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            return ast.literal_eval(node.args[0])
    raise AssertionError("no AddSerializedFile call")


def _header_version(source: str) -> str:
    return next(line for line in source.splitlines() if "Protobuf Python Version" in line)


def test_generated_modules_match_proto_sources(tmp_path):
    protos = sorted(PROTO_ROOT.joinpath(PB_REL).glob("*.proto"))
    assert len(protos) == 16  # the SDK's 14 plus obview's two push views
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={tmp_path}",
         *[str(p.relative_to(PROTO_ROOT)) for p in protos]],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    fresh = {p.name: p.read_text() for p in tmp_path.joinpath(PB_REL).glob("*_pb2.py")}
    committed = {p.name: p.read_text() for p in PB_DIR.glob("*_pb2.py")}
    assert sorted(fresh) == sorted(committed)
    for name, text in fresh.items():
        # the schema itself, whatever the protoc version
        assert _serialized_descriptor(text) == _serialized_descriptor(committed[name]), name
        if _header_version(text) == _header_version(committed[name]):
            assert text == committed[name], name
        # imports are package-qualified, never the SDK's top-level module names
        assert "\nimport Common_pb2" not in committed[name]


def test_schema_details_the_wire_depends_on():
    from obview.venues.futu.pb import Qot_Common_pb2, Qot_Sub_pb2, Qot_UpdateOrderBook_pb2

    level = Qot_Common_pb2.OrderBook.DESCRIPTOR
    assert [(f.name, f.number) for f in level.fields] == [
        ("price", 1), ("volume", 2), ("orederCount", 3), ("detailList", 4), ("hpVolume", 5)]
    assert level.fields_by_name["orederCount"].is_required
    assert Qot_UpdateOrderBook_pb2.Response().retType == -400
    sub = Qot_Sub_pb2.C2S.DESCRIPTOR.fields_by_name
    assert sub["isSubOrUnSub"].is_required and sub["isSubOrderBookDetail"].number == 8
    ticker = Qot_Common_pb2.Ticker.DESCRIPTOR
    assert [(f.name, f.number) for f in ticker.fields] == [
        ("time", 1), ("sequence", 2), ("dir", 3), ("price", 4), ("volume", 5), ("turnover", 6),
        ("recvTime", 7), ("type", 8), ("typeSign", 9), ("pushDataType", 10), ("timestamp", 11),
        ("hpVolume", 12)]
    assert all(ticker.fields_by_name[n].is_required
               for n in ("time", "sequence", "dir", "price", "volume", "turnover"))
