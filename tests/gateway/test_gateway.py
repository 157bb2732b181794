"""The gateway end to end on loopback: channel → gateway → skill → gateway → channel.

The skill is :class:`FakeSkill` (a real HTTP server); the user's channel is
:class:`LoopbackChannel`. The root play is the example's (examples/gateway/root).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import aiohttp
import pytest

from tests._support.server import free_port
from tests.gateway.fake_skill import FakeSkill
from tests.gateway.harness import make_config, running_gateway
from voicehook.botframework.activity import Activity
from voicehook.gateway.channel import LoopbackChannel

ROUTES = """
- prefix: 에코봇에서
  skill: echo
- phrase: 날씨
  skill: weather
- event: openEcho
  skill: echo
"""
APOLOGY = "죄송해요, 지금은 에코봇에 연결할 수 없어요. 잠시 후 다시 말씀해 주세요."


def _config(endpoint: str, *, delivery: str = "normal", timeout: float = 3.0) -> object:
    return make_config(
        {
            "echo": f"endpoint: {endpoint}\ndelivery: {delivery}\ntimeout: {timeout}",
            "weather": f"endpoint: {endpoint}",
        },
        ROUTES,
    )


@pytest.fixture
def gateway(skill: tuple[FakeSkill, str]) -> Iterator[str]:
    with running_gateway(_config(skill[1])) as url:  # type: ignore[arg-type]
        yield url


async def test_forward_rewrites_the_activity_per_the_spec(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        turn = await chat.say("에코봇에서 안녕")
        assert turn.texts == ["스킬: 안녕 (1)"]
        sent = fake.seen[0]
        headers = fake.headers[0]
        skill_conv = sent["conversation"]["id"]
        assert skill_conv != chat.conversation_id and len(skill_conv) >= 40
        assert headers["x-ms-conversation-id"] == skill_conv
        assert "Authorization" not in headers  # anonymous mode
        assert sent["serviceUrl"].endswith("/api/skills")
        assert sent["recipient"]["role"] == "skill"
        assert sent["relatesTo"]["conversation"]["id"] == chat.conversation_id
        assert sent["relatesTo"]["activityId"] == f"{chat.conversation_id}-1"
        assert sent["relatesTo"]["serviceUrl"] == chat.service_url
        assert "callerId" not in sent
        assert sent["text"] == "안녕"  # the routing prefix is not forwarded
        # The reply reached the user as a reply to the user's activity.
        assert turn.received[0].how == "reply"
        assert turn.received[0].activity_id == f"{chat.conversation_id}-1"
        # The callback got the channel's id back.
        assert fake.callbacks[0][0] == 200 and fake.callbacks[0][1]["id"].startswith("chat-")
        # The next turn goes to the same skill conversation, replying to the new activity.
        again = await chat.say("또")
        assert again.texts == ["스킬: 또 (2)"]
        assert fake.seen[1]["conversation"]["id"] == skill_conv
        assert again.received[0].activity_id == f"{chat.conversation_id}-2"


async def test_end_of_conversation_goes_to_the_root_play(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        await chat.say("에코봇에서 하나")
        end = await chat.say("끝")
        assert end.texts == ["에코봇를 마쳤어요. 또 무엇을 도와드릴까요?"]
        skill_conv = fake.seen[0]["conversation"]["id"]
        # The mapping is gone: a replayed callback gets 404.
        async with aiohttp.ClientSession() as http:
            base = gateway.replace("/api/messages", "/api/skills")
            url = f"{base}/v3/conversations/{skill_conv}/activities"
            async with http.post(url, json={"type": "message", "text": "늦은 답"}) as resp:
                assert resp.status == 404
        # The next turn stays with the root.
        after = await chat.say("도움말")
        assert len(fake.seen) == 2
        assert "에코봇에서 안녕" in after.texts[0]


async def test_skill_event_reaches_the_play_not_the_user(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    async with LoopbackChannel(gateway) as chat:
        turn = await chat.say("에코봇에서 이벤트")
        # The example play has no Skill.Event action: nothing is said, no error.
        assert turn.status == 200
        assert turn.texts == []


async def test_event_route_starts_the_skill(skill: tuple[FakeSkill, str], gateway: str) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        event = chat.message("")
        event = Activity(
            type="event",
            name="openEcho",
            id="ev-1",
            channel_id=event.channel_id,
            service_url=event.service_url,
            from_=event.from_,
            recipient=event.recipient,
            conversation=event.conversation,
            value={"start": True},
        )
        await chat.send(event)
        assert fake.seen[0]["type"] == "event" and fake.seen[0]["name"] == "openEcho"
        turn = await chat.say("안녕")  # the skill is active: everything goes to it
        assert turn.texts == ["스킬: 안녕 (1)"]


async def test_cancel_sends_end_of_conversation_to_the_skill(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        await chat.say("에코봇에서 안녕")
        cancel = await chat.say("그만")
        assert cancel.texts == ["에코봇를 멈췄어요. 또 무엇을 도와드릴까요?"]
        eoc = fake.seen[-1]
        assert eoc["type"] == "endOfConversation" and eoc["code"] == "userCancelled"
        assert eoc["conversation"]["id"] == fake.seen[0]["conversation"]["id"]
        after = await chat.say("도움말")
        assert len(fake.seen) == 2 and "에코봇에서 안녕" in after.texts[0]


async def test_switching_skills_cancels_the_active_one(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        await chat.say("에코봇에서 안녕")
        turn = await chat.say("서울 날씨 알려줘")
        assert turn.texts == ["스킬: 서울 날씨 알려줘 (1)"]
        kinds = [a["type"] for a in fake.seen]
        assert kinds == ["message", "endOfConversation", "message"]
        assert fake.seen[2]["conversation"]["id"] != fake.seen[0]["conversation"]["id"]


async def test_expect_replies_from_the_skill(skill: tuple[FakeSkill, str]) -> None:
    fake, endpoint = skill
    with running_gateway(_config(endpoint, delivery="expectReplies")) as gateway:  # type: ignore[arg-type]
        async with LoopbackChannel(gateway) as chat:
            turn = await chat.say("에코봇에서 안녕")
            assert turn.texts == ["스킬: 안녕 (1)"]
            assert fake.seen[0]["deliveryMode"] == "expectReplies"
            assert fake.callbacks == []  # nothing came back out of band
            end = await chat.say("끝")
            assert end.texts == ["에코봇를 마쳤어요. 또 무엇을 도와드릴까요?"]


@pytest.mark.parametrize("text", ["500", "느려"])
async def test_skill_failure_gives_an_apology(skill: tuple[FakeSkill, str], text: str) -> None:
    _, endpoint = skill
    with running_gateway(_config(endpoint, timeout=1.0)) as gateway:  # type: ignore[arg-type]
        async with LoopbackChannel(gateway) as chat:
            started = time.monotonic()
            turn = await chat.say(f"에코봇에서 {text}")
            assert turn.status == 200
            assert turn.texts == [APOLOGY]
            assert time.monotonic() - started < 10
            # The failed skill is not active any more.
            after = await chat.say("도움말")
            assert "에코봇에서 안녕" in after.texts[0]


async def test_invalid_json_from_the_skill_gives_an_apology(skill: tuple[FakeSkill, str]) -> None:
    _, endpoint = skill
    with running_gateway(_config(endpoint, delivery="expectReplies")) as gateway:  # type: ignore[arg-type]
        async with LoopbackChannel(gateway) as chat:
            turn = await chat.say("에코봇에서 깨진")
            assert turn.status == 200 and turn.texts == [APOLOGY]


async def test_skill_down_gives_an_apology() -> None:
    down = f"http://127.0.0.1:{free_port()}/api/messages"
    with running_gateway(_config(down)) as gateway:  # type: ignore[arg-type]
        async with LoopbackChannel(gateway, expect_replies=True) as chat:
            turn = await chat.say("에코봇에서 안녕")
            assert turn.status == 200 and turn.texts == [APOLOGY]


async def test_the_root_play_greets_a_user_who_joins(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    async with LoopbackChannel(gateway) as chat:
        hello = await chat.join()
        assert hello.texts == [
            '안녕하세요, 도우미예요. 날씨를 물어보거나 "에코봇에서 안녕"이라고 말해 보세요.'
        ]
        await chat.say("에코봇에서 안녕")
        again = await chat.join()  # a skill is active: no greeting, nothing forwarded
        assert again.texts == [] and len(fake.seen) == 1
