"""TLS contexts and HTTP clients: built off the event loop, once, and shared."""

from __future__ import annotations

import asyncio

from obview import tls


async def test_tls_contexts_and_http_clients_are_built_off_the_loop_and_shared(monkeypatch):
    """A verifying TLS context loads the CA bundle (35-40 ms): never on the event loop,
    and once, whatever the number of clients and reconnects."""
    import threading

    built = []
    monkeypatch.setattr(tls, "_contexts", {})
    build = tls._build
    monkeypatch.setattr(tls, "_build", lambda *a: built.append(threading.current_thread())
                        or build(*a))
    made = []
    new_client = tls._new_client
    monkeypatch.setattr(tls, "_new_client", lambda **kw: made.append(
        threading.current_thread()) or new_client(**kw))
    loop_thread = threading.current_thread()
    clients = [await tls.http_client(timeout=1.0) for _ in range(3)]
    ws = [await tls.tls_context("ws") for _ in range(3)]
    insecure = await tls.tls_context("ws", insecure=True)
    assert len(built) == 3 and loop_thread not in built  # http, ws, ws insecure: once each
    assert len(made) == 3 and loop_thread not in made
    assert ws[0] is ws[1] is ws[2] and insecure is not ws[0]
    assert insecure.verify_mode.name == "CERT_NONE" and ws[0].verify_mode.name == "CERT_REQUIRED"
    for client in clients:
        await client.aclose()


async def test_a_feed_s_lazy_client_is_one_for_concurrent_requests_and_anew_after_close():
    lazy = tls.LazyHttpClient(timeout=1.0)
    first = await asyncio.gather(*(lazy.get() for _ in range(5)))
    assert len({id(client) for client in first}) == 1  # one client, however many asked
    await lazy.aclose()
    assert first[0].is_closed
    again = await lazy.get()
    assert again is not first[0] and not again.is_closed
    await lazy.aclose()
    await lazy.aclose()  # closing twice is harmless (a feed closed after a failed start)
