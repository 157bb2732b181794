"""The practical ceiling: a raw ASGI callable with orjson and no framework.

It still does the whole job correctly. It reads the whole body, checks the path, decodes
the JSON, builds an output with every KEY, and encodes the answer.
`upstream_app` also calls the fake upstream with one shared aiohttp ClientSession.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from bench.common import FAKE_WEATHER, UNKNOWN_WEATHER, upstream_base

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_TEXT_HEADERS = [(b"content-type", b"text/plain")]
_KEYS = ("location", "day", "month", "date")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    msg = await receive()
    body: bytes = msg.get("body", b"")
    if not msg.get("more_body", False):
        return body
    chunks = [body]
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            return b"".join(chunks)


def _utterance(req: dict[str, Any]) -> dict[str, Any]:
    params = req["action"].get("parameters") or {}
    out: dict[str, Any] = {}
    for key in _KEYS:
        p = params.get(key)
        out[key] = p.get("value") if p else None
    return out


def _answer(req: dict[str, Any], output: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "version": req.get("version", "2.0"),
            "resultCode": "OK",
            "output": output,
            "directives": [],
        }
    )


async def _lifespan(receive: Receive, send: Send, state: dict[str, Any] | None = None) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            if state is not None:
                connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
                state["session"] = aiohttp.ClientSession(connector=connector)
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            if state is not None and "session" in state:
                await state["session"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _preamble(scope: Scope, receive: Receive, send: Send) -> bytes | None:
    """Handle health and wrong paths. Return the body for a valid action call."""
    path = scope["path"]
    if path == "/health":
        await _send(send, 200, b"OK", _TEXT_HEADERS)
        return None
    if scope["method"] != "POST" or path != "/answer.weather":
        await _send(send, 404, b'{"error":"not found"}', _JSON_HEADERS)
        return None
    return await _read_body(receive)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await _preamble(scope, receive, send)
    if body is None:
        return
    try:
        req = orjson.loads(body)
        output = _utterance(req)
    except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
        await _send(send, 400, b'{"error":"bad request"}', _JSON_HEADERS)
        return
    loc = output["location"]
    output["weather"], output["temperature"] = (
        FAKE_WEATHER.get(loc, UNKNOWN_WEATHER) if loc is not None else UNKNOWN_WEATHER
    )
    await _send(send, 200, _answer(req, output), _JSON_HEADERS)


_state: dict[str, Any] = {}
_weather_url = upstream_base() + "/weather"


async def upstream_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _state)
        return
    if scope["type"] != "http":
        return
    body = await _preamble(scope, receive, send)
    if body is None:
        return
    try:
        req = orjson.loads(body)
        output = _utterance(req)
    except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError):
        await _send(send, 400, b'{"error":"bad request"}', _JSON_HEADERS)
        return
    loc = output["location"]
    url = _weather_url if loc is None else _weather_url + "?location=" + quote(loc)
    session: aiohttp.ClientSession = _state["session"]
    async with session.get(url) as resp:
        data = orjson.loads(await resp.read())
    output["weather"] = data["weather"]
    output["temperature"] = data["temperature"]
    await _send(send, 200, _answer(req, output), _JSON_HEADERS)
