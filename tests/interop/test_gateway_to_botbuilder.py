"""voicehook's gateway calls a skill written with botbuilder-python 4.17.1 (anonymous, loopback).

Normal delivery (the skill's replies arrive as callbacks while the POST is open), the
expectReplies fallback (the stock 4.17 skill answers 500 to it), expectReplies that works
(the skill's ``process_activity`` handler), and the skill's endOfConversation with a value
reaching the root's play.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.harness import make_config, running_gateway
from tests.interop.bbrun import run_bot
from voicehook.gateway.channel import LoopbackChannel

ROUTES = """
- prefix: 에코봇에서
  skill: echo
- intent: start.echo
  skill: echo
"""


@pytest.fixture(scope="module")
def stock_skill() -> Iterator[str]:
    with run_bot("bb_echo_skill.py") as url:
        yield url


@pytest.fixture(scope="module")
def buffered_skill() -> Iterator[str]:
    with run_bot("bb_echo_skill.py", "--handler", "process_activity") as url:
        yield url


async def _echo_session(gateway: str, *, expect_replies: bool = False) -> None:
    async with LoopbackChannel(gateway, expect_replies=expect_replies) as chat:
        first = await chat.say("에코봇에서 안녕")
        assert first.status == 200
        assert first.texts == ["에코: 안녕", '"끝"이라고 하면 에코 스킬을 마쳐요.']
        # Relayed to the user's conversation, as replies to the user's activity.
        for act in first.activities:
            assert act.conversation is not None
            assert act.conversation.id == chat.conversation_id
            assert act.recipient is not None and act.recipient.id == "user-1"
        assert all(r.activity_id == f"{chat.conversation_id}-1" for r in first.received) or (
            expect_replies
        )
        second = await chat.say("반가워")
        assert second.texts[0] == "에코: 반가워"
        end = await chat.say("끝")
        assert end.texts == [
            "에코 스킬을 마칠게요.",
            "에코봇이 2번 따라 말했어요. 또 무엇을 도와드릴까요?",
        ]
        # Back with the root: its own play answers.
        help_turn = await chat.say("도움말")
        assert len(help_turn.texts) == 1
        assert "에코봇에서 안녕" in help_turn.texts[0]


async def test_normal_delivery(stock_skill: str) -> None:
    config = make_config({"echo": f"endpoint: {stock_skill}"}, ROUTES)
    with running_gateway(config) as gateway:
        await _echo_session(gateway)


async def test_expect_replies_falls_back_to_normal_delivery(stock_skill: str) -> None:
    config = make_config({"echo": f"endpoint: {stock_skill}\ndelivery: expectReplies"}, ROUTES)
    with running_gateway(config) as gateway:
        async with LoopbackChannel(gateway) as chat:
            first = await chat.say("에코봇에서 하나")
            # The skill ran the turn twice (once for the failed expectReplies POST, once in
            # normal delivery); the user hears the normal-delivery replies once.
            assert first.texts == ["에코: 하나", '"끝"이라고 하면 에코 스킬을 마쳐요.']
            end = await chat.say("끝")
            assert end.texts[0] == "에코 스킬을 마칠게요."
            assert end.texts[1].startswith("에코봇이 ")


async def test_expect_replies(buffered_skill: str) -> None:
    config = make_config({"echo": f"endpoint: {buffered_skill}\ndelivery: expectReplies"}, ROUTES)
    with running_gateway(config) as gateway:
        await _echo_session(gateway)


async def test_user_channel_expect_replies(buffered_skill: str) -> None:
    config = make_config({"echo": f"endpoint: {buffered_skill}"}, ROUTES)
    with running_gateway(config) as gateway:
        await _echo_session(gateway, expect_replies=True)


async def test_intent_of_the_root_play_starts_the_skill(stock_skill: str) -> None:
    config = make_config({"echo": f"endpoint: {stock_skill}"}, ROUTES)
    with running_gateway(config) as gateway:
        async with LoopbackChannel(gateway) as chat:
            turn = await chat.say("따라 말하기 하자")
            assert turn.texts[0] == "에코: 따라 말하기 하자"
            cancel = await chat.say("그만")
            assert cancel.texts == ["에코봇를 멈췄어요. 또 무엇을 도와드릴까요?"]
            after = await chat.say("반가워")
            assert all(not t.startswith("에코:") for t in after.texts)
