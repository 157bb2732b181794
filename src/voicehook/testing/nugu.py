"""A NUGU test client that calls a voicehook app in process, through the real ASGI path.

No network, no server: the request goes through routing, limits, auth, decoding, the
handler, the echo rule and encoding exactly as in production::

    async with NuguTestClient(play) as client:
        answer = await client.call("answer.weather", {"location": "서울", "day": "TODAY"})
        assert answer.result_code == "OK"
        assert answer.output["weather"] == "맑음"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from voicehook.nugu.wire import build_request
from voicehook.play.app import Play
from voicehook.server.app import VoicehookApp, create_app
from voicehook.server.config import Settings
from voicehook.server.inprocess import call_asgi


class NuguAnswer:
    """One HTTP answer: status, headers, raw body and the decoded JSON."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def result_code(self) -> str:
        value = self.json["resultCode"]
        assert isinstance(value, str)
        return value

    @property
    def output(self) -> dict[str, str | None]:
        value = self.json["output"]
        assert isinstance(value, dict)
        return value

    @property
    def directives(self) -> list[dict[str, Any]]:
        value = self.json["directives"]
        assert isinstance(value, list)
        return value

    def __repr__(self) -> str:
        return f"NuguAnswer(status={self.status}, body={self.body[:300]!r})"


class NuguTestClient:
    """Calls an app in process. Use ``async with`` to run its startup and shutdown.

    Without ``async with``, the first call runs the startup (a test needs no more), and
    nothing runs the shutdown.
    """

    def __init__(
        self,
        target: Play | VoicehookApp,
        settings: Settings | None = None,
        *,
        store: Any = None,
    ) -> None:
        self.app = (
            target
            if isinstance(target, VoicehookApp)
            else create_app(target, settings, store=store)
        )

    async def __aenter__(self) -> NuguTestClient:
        await self.app.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        chunk_size: int | None = None,
    ) -> NuguAnswer:
        """Send one raw HTTP request. ``chunk_size`` streams the body in pieces."""
        if not self.app.started:
            await self.app.startup()
        status, hdrs, out = await call_asgi(
            self.app, method, path, body, headers, chunk_size=chunk_size
        )
        return NuguAnswer(status, hdrs, out)

    async def post(
        self, path: str, body: Any, headers: Mapping[str, str] | None = None
    ) -> NuguAnswer:
        """POST a JSON body (a dict is encoded; bytes are sent as they are)."""
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        hdrs = {"content-type": "application/json", **(headers or {})}
        return await self.request("POST", path, data, hdrs)

    async def call(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        api_key: str | None = None,
        prefix: str = "",
        headers: Mapping[str, str] | None = None,
        **request: Any,
    ) -> NuguAnswer:
        """Call ``action`` with parameter values, as the NUGU platform would.

        Extra keyword arguments go to :func:`voicehook.nugu.wire.build_request`
        (``event=``, ``session_id=``, ``play_builder=True``, ``null_form=True``, ...).
        """
        types: dict[str, str | None] = {}
        spec = self.app.play.spec(action)
        if spec is not None:
            types = {name: p.type for name, p in spec.parameters.items()}
        body = build_request(action, dict(params or {}), param_types=types, **request)
        hdrs = dict(headers or {})
        if api_key is not None:
            hdrs["authorization"] = f"token {api_key}"
        return await self.post(f"{prefix}/{action}", body, hdrs)
