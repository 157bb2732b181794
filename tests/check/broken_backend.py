"""A deliberately broken backend proxy for tests/check/play.yaml, on raw aiohttp.web.

Each action breaks one rule, so each kind of finding can be asserted on its own:

- answer.weather: drops the backend key ``weather``; ``unit`` is an int.
- play.music: answers an undeclared resultCode.
- music.finished: ``directives`` is an object.
- calc.sum: HTTP 500.
- quiz.ask: a body that is not JSON.
- slow.lookup: device-shaped calls are slow (SLOW_S); Play Builder ones hang past the timeout.
- GET /health: 503.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

SLOW_S = 0.25
HANG_S = 3.0


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    params = body.get("action", {}).get("parameters") or {}
    return {k: (v or {}).get("value") for k, v in params.items()}


def _answer(body: dict[str, Any], output: dict[str, Any], **extra: Any) -> web.Response:
    data = {"version": body.get("version"), "resultCode": "OK", "output": output}
    data.update(extra)
    return web.json_response(data)


async def action(request: web.Request) -> web.StreamResponse:
    name = request.match_info["action"]
    body = json.loads(await request.read())
    output = _echo(body)
    if name == "answer.weather":
        output.pop("weather", None)
        output["unit"] = 21
        return _answer(body, output)
    if name == "play.music":
        output.update({"playlist": output.get("playlist"), "track": "t1"})
        return _answer(body, output, resultCode="NOT_DECLARED")
    if name == "music.finished":
        return _answer(body, {}, directives={"type": "AudioPlayer.Stop"})
    if name == "calc.sum":
        return web.Response(status=500, text="Internal Server Error")
    if name == "quiz.ask":
        return web.Response(text="{resultCode: OK", content_type="application/json")
    if name == "slow.lookup":
        builder = (body.get("context") or {}).get("session", {}).get("isPlayBuilderRequest")
        await asyncio.sleep(HANG_S if builder else SLOW_S)
        output["answer"] = "2"
        return _answer(body, output)
    return web.Response(status=404)


async def health(request: web.Request) -> web.Response:
    return web.Response(status=503, text="down")


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/{action}", action)
    return app
