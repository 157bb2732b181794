"""NUGU Backend proxies as byte movers: any backend proxy URL over HTTP (and the protocol).

``voicehook.server.InProcessBackend`` answers the same protocol with a play's own app, in
process (it lives in the server layer because it runs the server's ASGI app).

A backend only moves bytes: it POSTs a request body to ``{base}/{action}`` and returns the
HTTP status and the raw body (or the transport error). ``voicehook.nugu.caller.NuguCaller``
builds the request and judges the answer, so both backends are judged by the same rules.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp
import msgspec

__all__ = ["Backend", "BackendReply", "HttpBackend"]


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
