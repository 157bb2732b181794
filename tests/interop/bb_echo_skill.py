"""An echo skill written with botbuilder-python 4.17.1 (runs in the botbuilder environment).

It follows the SDK's skill pattern: a ``CloudAdapter`` with configuration-based
authentication (anonymous: no app id), an ``ActivityHandler`` bot, and ``/api/messages``.

- A message is echoed: ``에코: <text>``, then a hint line.
- ``end``, ``stop``, ``끝`` or ``그만`` ends the skill: a goodbye message, then an
  ``endOfConversation`` with ``code: completedSuccessfully`` and ``value: {"echoed": N}``
  (how many messages this conversation echoed).
- An ``endOfConversation`` from the root (a cancel) forgets the conversation and says nothing.
- An ``event`` named ``hello`` answers with an ``event`` named ``hello.back`` whose value is
  the received value.

``--handler process`` (the default) answers through ``CloudAdapter.process``, as the stock
samples do. In 4.17.x that answers **500** to ``expectReplies`` (see the spec, §7.1), which is
what a consumer must survive. ``--handler process_activity`` calls ``process_activity`` and
returns the body as is, which answers ``expectReplies`` correctly.

Usage: ``python bb_echo_skill.py --port 39783 [--handler process_activity]``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import Activity, ActivityTypes, EndOfConversationCodes, InputHints

ENDINGS = {"end", "stop", "끝", "그만"}


class Config:
    """The SDK reads its settings as attributes of an object (anonymous: empty app id)."""

    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class EchoSkill(ActivityHandler):
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        conv = turn_context.activity.conversation.id
        text = (turn_context.activity.text or "").strip()
        if text.lower() in ENDINGS:
            echoed = self.counts.pop(conv, 0)
            await turn_context.send_activity(
                MessageFactory.text("에코 스킬을 마칠게요.", input_hint=InputHints.ignoring_input)
            )
            end = Activity(
                type=ActivityTypes.end_of_conversation,
                code=EndOfConversationCodes.completed_successfully,
                value={"echoed": echoed},
            )
            await turn_context.send_activity(end)
            return
        self.counts[conv] = self.counts.get(conv, 0) + 1
        await turn_context.send_activity(MessageFactory.text(f"에코: {text}"))
        await turn_context.send_activity(
            MessageFactory.text(
                '"끝"이라고 하면 에코 스킬을 마쳐요.', input_hint=InputHints.expecting_input
            )
        )

    async def on_end_of_conversation_activity(self, turn_context: TurnContext) -> None:
        self.counts.pop(turn_context.activity.conversation.id, None)

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        if turn_context.activity.name == "hello":
            await turn_context.send_activity(
                Activity(
                    type=ActivityTypes.event, name="hello.back", value=turn_context.activity.value
                )
            )


def make_app(handler: str) -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = EchoSkill()

    async def on_error(context: TurnContext, error: Exception) -> None:
        logging.getLogger("bb_echo_skill").error("turn failed: %r", error)

    adapter.on_turn_error = on_error

    async def messages(request: web.Request) -> web.StreamResponse:
        if handler == "process":
            response = await adapter.process(request, bot)
            return response if response is not None else web.Response(status=201)
        body = await request.json()
        activity = Activity().deserialize(body)
        auth = request.headers.get("Authorization", "")
        invoke = await adapter.process_activity(auth, activity, bot.on_turn)
        if invoke is None:
            return web.Response(status=201)
        return web.Response(
            status=invoke.status,
            body=json.dumps(invoke.body),
            content_type="application/json",
        )

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--handler", choices=["process", "process_activity"], default="process")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(f"echo skill on http://127.0.0.1:{args.port}/api/messages", flush=True)
    web.run_app(make_app(args.handler), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
