"""The console's own small ASGI app (Starlette): the page, its static files and a JSON API.

The console has no authentication. It listens on 127.0.0.1 unless told otherwise, answers
only requests whose ``Host`` is the address it serves (no DNS rebinding), and takes a POST
only with ``X-Voicehook-Console: 1`` and a JSON body (a web page on another site cannot send
that header without a CORS preflight, which the console never allows).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from voicehook.console.session import ConsoleError, ConsoleSession

__all__ = ["CONSOLE_HEADER", "create_console_app"]

logger = logging.getLogger("voicehook.console")

#: The header every POST of the page carries.
CONSOLE_HEADER = "x-voicehook-console"
_STATIC = "static"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ConsoleError("the body is not JSON") from None


def create_console_app(session: ConsoleSession, *, hosts: list[str] | None) -> Starlette:
    """The console's ASGI app for ``session``. ``hosts`` are the accepted ``Host`` names
    (``127.0.0.1:8787``, ``localhost:8787``, …); None accepts any (``--allow-remote``)."""
    from importlib.resources import files

    static_dir = files("voicehook.console") / _STATIC
    index = static_dir / "index.html"
    allowed = None if hosts is None else {h.lower() for h in hosts}

    async def page(request: Request) -> Response:
        return FileResponse(str(index), media_type="text/html; charset=utf-8")

    async def info(request: Request) -> Response:
        return JSONResponse(session.info())

    async def status(request: Request) -> Response:
        return JSONResponse(
            {"version": session.version, "reloads": session.reloads, "problems": session.problems}
        )

    async def turn(request: Request) -> Response:
        view = await session.turn(await _json_body(request))
        return JSONResponse({"view": view, "state": session.info()["state"]})

    async def reset(request: Request) -> Response:
        await session.reset()
        return JSONResponse(session.info())

    async def channel(request: Request) -> Response:
        body = await _json_body(request)
        name = body.get("name") if isinstance(body, dict) else None
        await session.select(str(name or ""))
        return JSONResponse(session.info())

    async def replay(request: Request) -> Response:
        body = await _json_body(request)
        text = body.get("yaml") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ConsoleError("send the transcript's YAML text as 'yaml'")
        count = await session.replay(text)
        return JSONResponse({"turns": count, **session.info()})

    async def transcript(request: Request) -> Response:
        if session.loaded is None:
            raise ConsoleError("no play is loaded")
        name = request.query_params.get("name") or "transcript.yaml"
        text = session.transcript(session.loaded.folder / name)
        return PlainTextResponse(text, media_type="application/yaml; charset=utf-8")

    async def save(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ConsoleError("send {name: FILE.yaml}")
        path = session.save(str(body.get("name") or ""), overwrite=bool(body.get("overwrite")))
        return JSONResponse({"path": str(path), "yaml": path.read_text(encoding="utf-8")})

    def guarded(
        fn: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            host = request.headers.get("host", "").lower()
            if allowed is not None and host not in allowed:
                return _error(421, "wrong_host", "this console answers only its own address")
            if request.method == "POST":
                if request.headers.get(CONSOLE_HEADER) != "1":
                    return _error(403, "not_the_console", f"POST needs the {CONSOLE_HEADER} header")
                ctype = request.headers.get("content-type", "").split(";")[0].strip()
                if ctype != "application/json":
                    return _error(415, "unsupported_media_type", "send application/json")
            try:
                return await fn(request)
            except ConsoleError as exc:
                return _error(400, "console_error", str(exc))

        return handler

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await session.start()
        try:
            yield
        finally:
            await session.aclose()

    routes = [
        Route("/", guarded(page)),
        Route("/api/info", guarded(info)),
        Route("/api/status", guarded(status)),
        Route("/api/turn", guarded(turn), methods=["POST"]),
        Route("/api/reset", guarded(reset), methods=["POST"]),
        Route("/api/channel", guarded(channel), methods=["POST"]),
        Route("/api/replay", guarded(replay), methods=["POST"]),
        Route("/api/transcript", guarded(transcript)),
        Route("/api/save", guarded(save), methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("voicehook.console", _STATIC)])),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
