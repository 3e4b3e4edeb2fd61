"""Run futu-api's OpenQuoteContext against an OpenD (the simulator); print what it saw as JSON.

Run in its own process only (the SDK registers the same proto names as obview, installs a
SIGINT handler and logs under $HOME): `python sdk_probe.py HOST PORT PUSHES`.
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
    # OpenQuoteContext retries forever when nobody listens: make sure someone does.
    socket.create_connection((host, port), timeout=5).close()

    from futu import (
        RET_OK,
        Market,
        OpenQuoteContext,
        OrderBookHandlerBase,
        SecurityType,
        SubType,
        SysConfig,
    )

    SysConfig.set_all_thread_daemon(True)
    lock = threading.Lock()
    pushes: dict[str, list] = {"HK.00700": [], "US.AAPL": []}

    def plain(book: dict) -> dict:
        def rows(side):
            return [[price, volume, count, [[int(k), v] for k, v in queue.items()]]
                    for price, volume, count, queue in side]
        return {"code": book["code"], "name": book["name"], "Bid": rows(book["Bid"]),
                "Ask": rows(book["Ask"]), "svr_recv_time_bid": book["svr_recv_time_bid"]}

    class Handler(OrderBookHandlerBase):
        def on_recv_rsp(self, rsp_pb):
            ret, data = super().on_recv_rsp(rsp_pb)
            if ret == RET_OK:
                with lock:
                    pushes[data["code"]].append(plain(data))
            return ret, data

    ctx = OpenQuoteContext(host=host, port=port)
    ctx.set_handler(Handler())
    out: dict = {}
    out["sub_hk"] = list(ctx.subscribe(["HK.00700"], [SubType.ORDER_BOOK],
                                       is_detailed_orderbook=True))
    out["sub_us"] = list(ctx.subscribe(["US.AAPL"], [SubType.ORDER_BOOK]))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if all(len(v) >= wanted for v in pushes.values()):
                break
        time.sleep(0.05)
    ret, book = ctx.get_order_book("HK.00700", num=20)
    out["get_order_book"] = [ret, plain(book) if ret == RET_OK else book]
    ret, info = ctx.get_stock_basicinfo(Market.HK, SecurityType.STOCK, ["HK.00700", "US.AAPL"])
    out["names"] = dict(zip(info["code"], info["name"], strict=True)) if ret == RET_OK else info
    out["lot_sizes"] = (dict(zip(info["code"], [int(x) for x in info["lot_size"]], strict=True))
                        if ret == RET_OK else None)
    out["sub_unknown"] = list(ctx.subscribe(["HK.99999"], [SubType.ORDER_BOOK]))
    with lock:
        out["pushes"] = {code: list(books) for code, books in pushes.items()}
    print(json.dumps(out, ensure_ascii=False), flush=True)
    ctx.close()
    os._exit(0)  # SDK threads must not keep the process alive


if __name__ == "__main__":
    main()
