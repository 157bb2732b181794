"""Backends the dialog engine calls: a play's ASGI app in process, or any URL over HTTP.

A backend only moves bytes: it POSTs a request body to ``{base}/{action}`` and returns the
HTTP status and the raw body (or the transport error). The engine interprets the answer, so
both backends are judged by exactly the same rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any, Protocol

import aiohttp
import msgspec

from voicehook.play.app import Play

__all__ = ["Backend", "BackendReply", "HttpBackend", "InProcessBackend"]


class BackendReply(msgspec.Struct, frozen=True):
    """What came back: ``status`` and ``body``, or ``error`` when nothing usable came back."""

    status: int | None = None
    body: bytes = b""
    error: str | None = None


class Backend(Protocol):
    """Something that answers NUGU Backend proxy calls."""

    async def call(self, action: str, body: bytes, *, timeout: float) -> BackendReply:
        """POST ``body`` to the action's URL; never raises for transport problems."""
        ...

    async def aclose(self) -> None:
        """Release connections and stop anything the backend started."""
        ...


class InProcessBackend:
    """Runs the play's real ASGI app (``create_app(play)``) inside this process.

    Each call goes through the whole NUGU path (routing, decoding, the handler, the echo
    rule, encoding) by calling the ASGI app with a synthetic HTTP scope. The app's lifespan
    (startup hooks, store, HTTP client) starts on the first call and stops in :meth:`aclose`.
    """

    def __init__(self, play: Play, *, settings: Any = None, api_key: str | None = None) -> None:
        from voicehook.server.app import create_app

        self.app = create_app(play, settings)
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
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"application/json, */*"),
        ]
        if self._api_key:
            headers.append((b"authorization", f"token {self._api_key}".encode()))
        path = f"{self._prefix}/{action}"
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 80),
        }
        sent = False

        async def receive() -> MutableMapping[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            return {"type": "http.disconnect"}

        status: int | None = None
        chunks: list[bytes] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        try:
            await asyncio.wait_for(self.app(scope, receive, send), timeout)
        except TimeoutError:
            return BackendReply(error=f"timeout after {timeout:g} s")
        except Exception as exc:  # the app crashed: the DM would see a broken connection
            return BackendReply(error=f"the app raised {type(exc).__name__}: {exc}")
        if status is None:
            return BackendReply(error="the app sent no response")
        return BackendReply(status=status, body=b"".join(chunks))

    async def aclose(self) -> None:
        async with self._lock:
            if self.app.started:
                await self.app.shutdown()


class HttpBackend:
    """Calls any Backend proxy over HTTP: ``POST {base_url}/{action}``.

    ``base_url`` is the play's Web URL and may carry a path prefix
    (``http://127.0.0.1:8080/nugu``). ``api_key`` sends ``Authorization: token KEY``, as a
    real device does; leave it out to look like Play Builder's test chat.
    """

    def __init__(self, base_url: str, *, timeout: float = 3.0, api_key: str | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the backend URL needs http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._session: aiohttp.ClientSession | None = None

    def url(self, action: str) -> str:
        """The URL of one action."""
        return f"{self.base_url}/{action}"

    async def call(self, action: str, body: bytes, *, timeout: float | None = None) -> BackendReply:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json", "Accept": "application/json, */*"}
        if self._api_key:
            headers["Authorization"] = f"token {self._api_key}"
        limit = self.timeout if timeout is None else timeout
        try:
            async with self._session.post(
                self.url(action),
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as resp:
                data = await resp.read()
                return BackendReply(status=resp.status, body=data)
        except TimeoutError:
            return BackendReply(error=f"timeout after {limit:g} s")
        except aiohttp.ClientError as exc:
            return BackendReply(error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return BackendReply(error=f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
