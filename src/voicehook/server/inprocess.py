"""Calling a voicehook app in process, through its real ASGI path (no socket).

:func:`call_asgi` is the one in-process HTTP caller; :class:`InProcessBackend` uses it to let
the dialog engine call a play's own app, and ``voicehook.testing.NuguTestClient`` uses it
for tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any

from voicehook.nugu.backend import BackendReply
from voicehook.play.app import Play
from voicehook.server.app import VoicehookApp, create_app
from voicehook.server.config import Settings

__all__ = ["InProcessBackend", "call_asgi"]


async def call_asgi(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    chunk_size: int | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP request to an ASGI app; returns (status, headers, body).

    ``chunk_size`` delivers the body in several ``http.request`` messages. After the body
    the client never disconnects, so an app that waits for more input waits (use a timeout).
    Raises RuntimeError when the app sends no response.
    """
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    size = chunk_size or max(len(body), 1)
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages: list[MutableMapping[str, Any]] = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
        for i, p in enumerate(pieces)
    ]

    async def receive() -> MutableMapping[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    status: int | None = None
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for k, v in message.get("headers", []):
                out_headers[bytes(k).decode().lower()] = bytes(v).decode()
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    if status is None:
        raise RuntimeError("the app sent no response")
    return status, out_headers, b"".join(chunks)


class InProcessBackend:
    """Runs the play's real ASGI app (``create_app(play)``) inside this process.

    Each call goes through the whole NUGU path (routing, decoding, the handler, the echo
    rule, encoding) by calling the ASGI app with a synthetic HTTP scope. The app's lifespan
    (startup hooks, store, HTTP client) starts on the first call and stops in :meth:`aclose`.
    """

    def __init__(
        self,
        play: Play | VoicehookApp,
        *,
        settings: Settings | None = None,
        api_key: str | None = None,
    ) -> None:
        self.app = play if isinstance(play, VoicehookApp) else create_app(play, settings)
        self._prefix = self.app.settings.prefix
        self._api_key = api_key
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Run the app's startup (done automatically on the first call)."""
        async with self._lock:
            if not self.app.started:
                await self.app.startup()

    async def call(self, action: str, body: bytes, *, timeout: float) -> BackendReply:
        if not self.app.started:
            await self.start()
        headers = {"content-type": "application/json", "accept": "application/json, */*"}
        if self._api_key:
            headers["authorization"] = f"token {self._api_key}"
        try:
            status, _, data = await asyncio.wait_for(
                call_asgi(self.app, "POST", f"{self._prefix}/{action}", body, headers), timeout
            )
        except TimeoutError:
            return BackendReply(error=f"timeout after {timeout:g} s")
        except Exception as exc:  # the app crashed: the DM would see a broken connection
            return BackendReply(error=f"the app raised {type(exc).__name__}: {exc}")
        return BackendReply(status=status, body=data)

    async def aclose(self) -> None:
        async with self._lock:
            if self.app.started:
                await self.app.shutdown()
