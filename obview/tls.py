"""TLS contexts and HTTP clients, built off the event loop.

Building a verifying TLS context loads the CA bundle: 35-40 ms of CPU, measured here,
which httpx spends on every new `AsyncClient` and websockets on every `wss:` connect
that is not handed a context. On the event loop that is a stall the screen shows (the
demo's first ladder painted 50-80 ms late while Loopring and bthub opened). So each
context is built once, in a thread, and shared; the first `AsyncClient` is made in a
thread too, with the imports httpx would otherwise make on the loop: its transport on the
first client (20-30 ms) and anyio's asyncio backend on the first request (about 50 ms).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Literal

import anyio
import httpx

_contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
_imported = False


def _build(kind: str, insecure: bool) -> ssl.SSLContext:
    if kind == "http":  # httpx's own trust: certifi's bundle, or SSL_CERT_FILE / _DIR
        return httpx.create_ssl_context(verify=not insecure)
    context = ssl.create_default_context()  # what websockets builds for itself
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def tls_context(kind: Literal["http", "ws"], insecure: bool = False) -> ssl.SSLContext:
    """The shared context for HTTPS (`http`, as httpx trusts) or `wss:` (`ws`, as
    websockets trusts); `insecure` verifies nothing (a hub's self-signed certificate)."""
    key = (kind, insecure)
    context = _contexts.get(key)
    if context is None:
        context = _contexts[key] = await asyncio.to_thread(_build, kind, insecure)
    return context


async def http_client(*, insecure: bool = False, **settings: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` with the shared context, made without holding the loop."""
    context = await tls_context("http", insecure)
    return await asyncio.to_thread(_new_client, verify=context, **settings)


class LazyHttpClient:
    """A feed's one `httpx.AsyncClient`: made on first use by `http_client` (off the
    loop), shared by every request, those that wait for it meanwhile included, and
    closed with the feed (a closed one is made anew on the next use)."""

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._making = asyncio.Lock()

    async def get(self) -> httpx.AsyncClient:
        if self._client is None:
            async with self._making:  # one client, however many requests ask at once
                if self._client is None:
                    self._client = await http_client(**self._settings)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _new_client(**settings: Any) -> httpx.AsyncClient:
    global _imported
    client = httpx.AsyncClient(**settings)
    if not _imported:
        anyio.run(anyio.sleep, 0)  # a loop of this thread's own: the backend is imported
        _imported = True
    return client
