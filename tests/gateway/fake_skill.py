"""A skill for the gateway's tests: a real HTTP server on 127.0.0.1 that misbehaves on cue.

It answers what the user's text asks for:

- anything else: normal delivery, a ReplyToActivity callback ``스킬: <text> (<n>)`` made
  *while the gateway's POST is open*, then ``201`` with an empty body; or, for
  ``expectReplies``, the same reply in ``{"activities": [...]}``;
- ``끝``: an ``endOfConversation`` (``completedSuccessfully``, value ``{"turns": n}``);
- ``이벤트``: an ``event`` named ``progress`` back to the root;
- an ``invoke``: 202 with ``{"answer": <its name>}``;
- ``500``: HTTP 500; ``느려``: no answer for 30 s; ``깨진``: 200 with a body that is not
  JSON (for expectReplies).

``turns`` counts the turns per skill conversation id; ``seen`` keeps every activity received.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web


class FakeSkill:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.turns: dict[str, int] = {}
        self.callbacks: list[tuple[int, Any]] = []
        #: Sent as ``Authorization: Bearer ...`` on callbacks when set.
        self.callback_token: str | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", self.messages)
        return app

    async def _callback(self, activity: dict[str, Any], reply: dict[str, Any]) -> None:
        conv = activity["conversation"]["id"]
        url = f"{activity['serviceUrl']}/v3/conversations/{conv}/activities/{activity['id']}"
        headers = {"Authorization": f"Bearer {self.callback_token}"} if self.callback_token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=reply, headers=headers) as resp,
        ):
            body = await resp.text()
            self.callbacks.append((resp.status, json.loads(body) if body else None))

    async def messages(self, request: web.Request) -> web.StreamResponse:
        activity = await request.json()
        self.seen.append(activity)
        self.headers.append(dict(request.headers))
        kind = activity.get("type")
        conv = activity["conversation"]["id"]
        if kind == "invoke":
            return web.json_response({"answer": activity.get("name")}, status=202)
        if kind != "message":
            return web.Response(status=201)
        text = activity.get("text") or ""
        if text == "500":
            return web.Response(status=500, text="boom")
        if text == "느려":
            await asyncio.sleep(30)
            return web.Response(status=201)
        buffered = activity.get("deliveryMode") == "expectReplies"
        if text == "깨진" and buffered:
            return web.Response(status=200, body=b"{not json", content_type="application/json")
        n = self.turns[conv] = self.turns.get(conv, 0) + 1
        if text == "끝":
            reply: dict[str, Any] = {
                "type": "endOfConversation",
                "code": "completedSuccessfully",
                "value": {"turns": n},
            }
        elif text == "이벤트":
            reply = {"type": "event", "name": "progress", "value": {"step": n}}
        else:
            reply = {
                "type": "message",
                "text": f"스킬: {text} ({n})",
                "inputHint": "expectingInput",
            }
        if buffered:
            return web.json_response({"activities": [reply]})
        await self._callback(activity, reply)
        return web.Response(status=201)
