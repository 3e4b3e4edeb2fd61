"""futu-api with protocol encryption against an OpenD (the simulator), in its own process.

    python sdk_crypto_probe.py book HOST PORT PUSHES KEYFILE
        SysConfig.enable_proto_encrypt(True) + set_init_rsa_file(KEYFILE), then what
        sdk_probe.py does (books, names, ...), printed as one JSON line.
    python sdk_crypto_probe.py connect HOST PORT SECONDS [KEYFILE]
        only OpenQuoteContext (encrypted when KEYFILE is given); prints
        {"connected": bool} after SECONDS at most (the SDK retries every 6 s forever).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading


def main() -> None:
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    key = sys.argv[5] if len(sys.argv) > 5 else None
    socket.create_connection((host, port), timeout=5).close()  # someone must listen

    from futu import SysConfig

    SysConfig.set_all_thread_daemon(True)
    if key:
        SysConfig.enable_proto_encrypt(True)
        SysConfig.set_init_rsa_file(key)
    if mode == "book":
        import sdk_probe

        sys.argv = [sys.argv[0], host, str(port), sys.argv[4]]
        sdk_probe.main()
        return

    from futu import OpenQuoteContext

    ready = threading.Event()

    def connect() -> None:
        OpenQuoteContext(host=host, port=port)  # returns only once InitConnect succeeded
        ready.set()

    threading.Thread(target=connect, daemon=True).start()
    connected = ready.wait(float(sys.argv[4]))
    print(json.dumps({"connected": connected}), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
