"""A root bot (skill consumer) written with botbuilder-python 4.17.1.

It follows the SDK's skill-consumer pattern: a ``CloudAdapter`` for ``/api/messages``, a
``SkillHttpClient`` with a ``SkillConversationIdFactory`` on ``MemoryStorage``, a
``CloudSkillHandler`` mounted under ``/api/skills`` with ``aiohttp_channel_service_routes``,
and the active skill kept in ``ConversationState`` (saved before the skill is called, because
the skill's callbacks are separate turns).

- A message that contains ``--phrase`` (default ``스킬``), or any message while the skill is
  active, goes to the skill. Other messages get ``루트: <text>``.
- With ``--expect-replies`` the root sends ``deliveryMode: expectReplies`` and relays the
  activities of the response body to the user itself.
- The skill's ``endOfConversation`` ends the skill: the root says
  ``루트로 돌아왔어요 (code=..., value=...)``.

Used by the interop tests (a botbuilder root calling a voicehook play served as a skill) and
by ``bench/gateway_bench.py`` as the baseline.

Usage: ``python bb_root_bot.py --port 3978 --skill-endpoint http://127.0.0.1:8081/api/messages``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from aiohttp import web
from botbuilder.core import (
    ActivityHandler,
    ConversationState,
    MemoryStorage,
    MessageFactory,
    TurnContext,
)
from botbuilder.core.skills import BotFrameworkSkill, SkillConversationIdFactory
from botbuilder.core.skills.cloud_skill_handler import CloudSkillHandler
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    aiohttp_channel_service_routes,
    aiohttp_error_middleware,
)
from botbuilder.integration.aiohttp.skills import SkillHttpClient
from botbuilder.schema import Activity, ActivityTypes, DeliveryModes
from botframework.connector.auth import SimpleCredentialProvider


class Config:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


class RootBot(ActivityHandler):
    def __init__(
        self,
        state: ConversationState,
        client: SkillHttpClient,
        skill: BotFrameworkSkill,
        host_endpoint: str,
        phrase: str,
        expect_replies: bool,
    ) -> None:
        self.state = state
        self.active = state.create_property("activeSkill")
        self.client = client
        self.skill = skill
        self.host_endpoint = host_endpoint
        self.phrase = phrase
        self.expect_replies = expect_replies

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type != ActivityTypes.end_of_conversation and (
            await self.active.get(turn_context)
        ):
            await self._forward(turn_context)
        else:
            await super().on_turn(turn_context)
        await self.state.save_changes(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = turn_context.activity.text or ""
        if self.phrase in text:
            await self.active.set(turn_context, self.skill.id)
            await self._forward(turn_context)
            return
        await turn_context.send_activity(MessageFactory.text(f"루트: {text}"))

    async def on_end_of_conversation_activity(self, turn_context: TurnContext) -> None:
        await self.active.delete(turn_context)
        activity = turn_context.activity
        value = json.dumps(activity.value, ensure_ascii=False)
        await turn_context.send_activity(
            MessageFactory.text(f"루트로 돌아왔어요 (code={activity.code}, value={value})")
        )

    async def _forward(self, turn_context: TurnContext) -> None:
        # The skill's callbacks are separate turns that reload the state: save it first.
        await self.state.save_changes(turn_context, force=True)
        activity = turn_context.activity
        if self.expect_replies:
            # A copy: expectReplies on the turn's own activity would make the SDK answer the
            # user's channel with a buffered body too (and 4.17's CloudAdapter.process 500s).
            activity = Activity().deserialize(activity.serialize())
            activity.delivery_mode = DeliveryModes.expect_replies
        response = await self.client.post_activity_to_skill(
            "", self.skill, self.host_endpoint, activity
        )
        if not 200 <= response.status <= 299:
            await self.active.delete(turn_context)
            await turn_context.send_activity(
                MessageFactory.text(f"스킬 호출 실패 (HTTP {response.status})")
            )
            return
        if self.expect_replies and isinstance(response.body, dict):
            for raw in response.body.get("activities") or []:
                reply = Activity().deserialize(raw)
                if reply.type == ActivityTypes.end_of_conversation:
                    await self.active.delete(turn_context)
                    value = json.dumps(reply.value, ensure_ascii=False)
                    await turn_context.send_activity(
                        MessageFactory.text(f"루트로 돌아왔어요 (code={reply.code}, value={value})")
                    )
                    break
                reply.reply_to_id = None
                await turn_context.send_activity(reply)


def make_app(args: argparse.Namespace) -> web.Application:
    auth = ConfigurationBotFrameworkAuthentication(Config())
    adapter = CloudAdapter(auth)
    storage = MemoryStorage()
    state = ConversationState(storage)
    ids = SkillConversationIdFactory(storage)
    client = SkillHttpClient(SimpleCredentialProvider("", ""), ids)
    skill = BotFrameworkSkill(id=args.skill_id, app_id="", skill_endpoint=args.skill_endpoint)
    host_endpoint = args.host_endpoint or f"http://127.0.0.1:{args.port}/api/skills"
    bot = RootBot(state, client, skill, host_endpoint, args.phrase, args.expect_replies)

    async def on_error(context: TurnContext, error: Exception) -> None:
        logging.getLogger("bb_root_bot").error("turn failed: %r", error)

    adapter.on_turn_error = on_error
    handler = CloudSkillHandler(adapter, bot, ids, auth)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    app.router.add_routes(aiohttp_channel_service_routes(handler, "/api/skills"))
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--skill-endpoint", required=True)
    parser.add_argument("--skill-id", default="skill")
    parser.add_argument("--host-endpoint", help="default http://127.0.0.1:PORT/api/skills")
    parser.add_argument("--phrase", default="스킬")
    parser.add_argument("--expect-replies", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(f"root bot on http://127.0.0.1:{args.port}/api/messages", flush=True)
    web.run_app(make_app(args), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
