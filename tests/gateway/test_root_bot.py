"""RootBot without the HTTP server in front: the root play's StartSkill directive, values
on the first activity, and invoke activities."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.fake_skill import FakeSkill
from tests.gateway.harness import make_config
from voicehook.botframework.activity import Activity, encode_activity
from voicehook.botframework.auth import AnonymousCredentials
from voicehook.botframework.connector import ConnectorClient
from voicehook.errors import HttpError
from voicehook.gateway.channel import LoopbackChannel
from voicehook.gateway.channels import AnonymousAuthenticator, MessagingChannel, SkillHostChannel
from voicehook.gateway.conversations import ConversationIdFactory
from voicehook.gateway.root import PlayTurn, RootBot
from voicehook.http import HttpRequest
from voicehook.store import MemoryStore, StoreUnavailable
from voicehook.upstream import HttpClient


class ScriptedPlay:
    """A root play that answers every text with a StartSkill directive."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def handles(self, event: str) -> bool:
        return True

    def intent(self, text: str) -> str | None:
        return None

    async def text(self, session: str, text: str, *, user_key: str | None) -> PlayTurn:
        return PlayTurn(
            prompt="에코봇을 불러 올게요.",
            directives=[
                {"type": "Gateway.StartSkill", "skill": "echo", "text": "시작", "value": {"n": 3}}
            ],
        )

    async def event(
        self, session: str, event: str, fields: dict[str, Any], *, user_key: str | None
    ) -> PlayTurn:
        self.events.append((event, fields))
        return PlayTurn(prompt=f"{event} 받았어요.")


async def test_start_skill_directive_and_invoke(skill: tuple[FakeSkill, str]) -> None:
    fake, endpoint = skill
    config = make_config({"echo": f"endpoint: {endpoint}\ndelivery: expectReplies"}, "[]")
    play = ScriptedPlay()
    async with HttpClient() as http, LoopbackChannel("http://127.0.0.1:1/") as chat:
        connector = ConnectorClient(http, AnonymousCredentials())
        bot = RootBot(config, play, ConversationIdFactory(MemoryStore()), http.session, connector)
        status, _ = await bot.on_user_activity(chat.message("뭐든지"))
        assert status == 200
        await chat._quiet()
        assert [r.activity.text for r in chat.received if r.activity] == [
            "에코봇을 불러 올게요.",
            "스킬: 시작 (1)",
        ]
        first = fake.seen[0]
        assert first["text"] == "시작" and first["value"] == {"n": 3}
        # An invoke goes to the active skill; its status and body come back as they are.
        base = chat.message("")
        invoke = Activity(
            type="invoke",
            name="application/search",
            id="inv-1",
            channel_id=base.channel_id,
            service_url=base.service_url,
            from_=base.from_,
            recipient=base.recipient,
            conversation=base.conversation,
        )
        status, body = await bot.on_user_activity(invoke)
        assert status == 202 and json.loads(body) == {"answer": "application/search"}
        assert fake.seen[-1]["type"] == "invoke" and "deliveryMode" not in fake.seen[-1]
        # The skill ends: the root play gets Skill.Ended with the skill's value.
        await bot.on_user_activity(chat.message("끝"))
        assert play.events[-1] == (
            "Skill.Ended",
            {"skill": "echo", "code": "completedSuccessfully", "value": {"turns": 2}, "text": None},
        )
        # No skill is active: an invoke gets 501.
        status, _ = await bot.on_user_activity(invoke)
        assert status == 501


class _DownStore(MemoryStore):
    async def get(self, key: str) -> Any:
        raise StoreUnavailable("down for the test")


async def test_store_down_is_a_503_not_a_crash() -> None:
    config = make_config({"echo": "endpoint: http://127.0.0.1:9/api/messages"}, "[]")
    async with HttpClient() as http, LoopbackChannel("http://127.0.0.1:1/") as chat:
        connector = ConnectorClient(http, AnonymousCredentials())
        bot = RootBot(
            config, ScriptedPlay(), ConversationIdFactory(_DownStore()), http.session, connector
        )

        class Parts:
            auth = channel_auth = AnonymousAuthenticator()

        Parts.bot = bot  # type: ignore[attr-defined]
        body = encode_activity(chat.message("안녕"))
        for channel, path in (
            (MessagingChannel(Parts()), ""),  # type: ignore[arg-type]
            (SkillHostChannel(Parts()), "/v3/conversations/x/activities"),
        ):  # type: ignore[arg-type]
            with pytest.raises(HttpError) as info:
                await channel.handle(HttpRequest("POST", path, [], body, "r"))
            assert info.value.status == 503 and info.value.code == "store_unavailable"
