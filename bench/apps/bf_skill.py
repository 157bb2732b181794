"""A minimal Bot Framework skill for the gateway benchmark (raw ASGI, run with uvicorn).

It does as little as a skill can, so that a root bot's own cost shows: for
``expectReplies`` it answers ``{"activities": [one message]}``; otherwise it makes one
ReplyToActivity callback to the activity's ``serviceUrl`` and answers 201.

Run: ``uvicorn bench.apps.bf_skill:app --port 3990``
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

_session: aiohttp.ClientSession | None = None


def _reply(activity: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "text": "스킬: " + str(activity.get("text") or ""),
        "from": activity.get("recipient"),
        "recipient": activity.get("from"),
        "conversation": activity.get("conversation"),
        "replyToId": activity.get("id"),
        "inputHint": "expectingInput",
    }


async def _read(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Any, receive: Any, send: Any) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    activity = json.loads(await _read(receive))
    if activity.get("type") != "message":
        await _answer(send, 201)
        return
    reply = _reply(activity)
    if activity.get("deliveryMode") == "expectReplies":
        await _answer(send, 200, json.dumps({"activities": [reply]}).encode())
        return
    if _session is None:
        _session = aiohttp.ClientSession()
    conv = activity["conversation"]["id"]
    url = (
        f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{conv}/activities/{activity['id']}"
    )
    async with _session.post(url, json=reply) as resp:
        await resp.read()
    await _answer(send, 201)
