"""Run futu-api's TickerHandlerBase and get_rt_ticker against an OpenD (the simulator);
print what they saw as JSON.

Run in its own process only (see sdk_probe.py): `python sdk_ticker_probe.py HOST PORT PRINTS`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time


def main() -> None:
    host, port, wanted = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socket.create_connection((host, port), timeout=5).close()

    from futu import RET_OK, OpenQuoteContext, SubType, SysConfig, TickerHandlerBase

    SysConfig.set_all_thread_daemon(True)
    lock = threading.Lock()
    pushes: dict[str, list] = {"HK.00700": [], "US.AAPL": []}
    columns = ("code", "sequence", "price", "volume", "turnover", "ticker_direction", "type",
               "time", "push_data_type")

    def rows(frame) -> list[dict]:
        out = []
        for record in frame.to_dict("records"):
            row = {key: record[key] for key in columns if key in record}
            row["sequence"] = int(row["sequence"])
            row["volume"] = float(row["volume"])
            out.append(row)
        return out

    class Handler(TickerHandlerBase):
        def on_recv_rsp(self, rsp_pb):
            ret, data = super().on_recv_rsp(rsp_pb)
            if ret == RET_OK:
                with lock:
                    for row in rows(data):
                        pushes[row["code"]].append(row)
            return ret, data

    ctx = OpenQuoteContext(host=host, port=port)
    ctx.set_handler(Handler())
    out: dict = {}
    out["rt_before_sub"] = list(ctx.get_rt_ticker("HK.00700", 10))[:1]
    out["sub"] = list(ctx.subscribe(["HK.00700", "US.AAPL"], [SubType.TICKER]))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if all(len(v) >= wanted for v in pushes.values()):
                break
        time.sleep(0.05)
    ret, frame = ctx.get_rt_ticker("HK.00700", 50)
    out["rt_ticker"] = [ret, rows(frame) if ret == RET_OK else frame]
    with lock:
        out["pushes"] = {code: list(items) for code, items in pushes.items()}
    print(json.dumps(out, ensure_ascii=False), flush=True)
    ctx.close()
    os._exit(0)  # SDK threads must not keep the process alive


if __name__ == "__main__":
    main()
