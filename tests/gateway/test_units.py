"""Unit tests: the config loader, the conversation-id factory, the activity rewrite."""

from __future__ import annotations

import asyncio

import pytest

from voicehook.botframework.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)
from voicehook.gateway.config import parse_config
from voicehook.gateway.conversations import ActiveSkill, ConversationIdFactory
from voicehook.gateway.skills import rewrite_for_skill
from voicehook.play.errors import DefinitionError
from voicehook.store import MemoryStore, SQLiteStore

GOOD = """\
name: root
play: ./root
skills:
  weather:
    endpoint: http://127.0.0.1:3981/api/messages
  echo:
    endpoint: http://127.0.0.1:3982/api/messages
    delivery: expectReplies
routes:
  - phrase: 날씨
    skill: weather
  - prefix: 에코봇에서
    skill: echo
cancel: [그만]
"""


def test_config_loads() -> None:
    config = parse_config(GOOD, "g.yaml")
    assert set(config.skills) == {"weather", "echo"}
    assert config.skills["echo"].delivery == "expectReplies"
    assert [r.skill for r in config.routes] == ["weather", "echo"]
    assert config.routes[1].prefix == "에코봇에서"
    assert config.host_endpoint() == "http://127.0.0.1:3978/api/skills"
    assert config.cancel == ("그만",)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            GOOD.replace("    delivery: expectReplies", "    delivery: fast"),
            "g.yaml:8:15",
            "delivery",
        ),
        (GOOD.replace("skill: weather", "skill: pizza"), "g.yaml:11:12", "unknown skill 'pizza'"),
        (
            GOOD.replace("  - phrase: 날씨", "  - phrase: 날씨\n    intent: x"),
            "g.yaml:10:5",
            "exactly one",
        ),
        (GOOD.replace("http://127.0.0.1:3981", "ftp://x"), "g.yaml:5:15", "URL"),
        (GOOD + "colour: red\n", "g.yaml:15:1", "unknown key 'colour'"),
        (GOOD + "port: 70000\n", "g.yaml:15:7", "65535"),
        ("name: x\nplay: y\n", "g.yaml:1:1", "skills"),
        ("name: [\n", "g.yaml:", "invalid YAML"),
    ],
)
def test_config_errors_name_file_line_column(text: str, where: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse_config(text, "g.yaml")
    assert any(p.startswith(where) and message in p for p in info.value.problems), (
        info.value.problems
    )


def _ref(activity_id: str = "a1") -> ConversationReference:
    return ConversationReference(
        activity_id=activity_id,
        user=ChannelAccount(id="u1", role="user"),
        bot=ChannelAccount(id="root", role="bot"),
        conversation=ConversationAccount(id="19:abc@thread.skype;messageid=1"),
        channel_id="msteams",
        service_url="https://smba.example/kr/",
    )


async def test_ids_create_get_delete() -> None:
    ids = ConversationIdFactory(MemoryStore(), name="t")
    one = await ids.create("echo", _ref())
    two = await ids.create("echo", _ref())
    assert one != two and len(one) >= 40
    assert all(c.isalnum() or c in "-_" for c in one)  # path-safe
    got = await ids.get(one)
    assert got is not None and got.skill == "echo" and got.reference == _ref()
    assert await ids.refresh(one, "echo", _ref("a2"))
    got = await ids.get(one)
    assert got is not None and got.reference.activity_id == "a2"
    assert not await ids.refresh(one, "weather", _ref("a3"))  # not that skill's id
    assert await ids.delete(one)
    assert await ids.get(one) is None
    assert not await ids.refresh(one, "echo", _ref())
    assert await ids.get("") is None and await ids.get("guess") is None


async def test_ids_expire() -> None:
    ids = ConversationIdFactory(MemoryStore(), name="t", ttl=0.05)
    one = await ids.create("echo", _ref())
    await asyncio.sleep(0.1)
    assert await ids.get(one) is None


async def test_expired_mappings_are_swept(tmp_path: object) -> None:
    store = SQLiteStore(f"{tmp_path}/s.db")
    await store.open()
    try:
        ids = ConversationIdFactory(store, name="t", ttl=0.05)
        for _ in range(3):
            await ids.create("echo", _ref())
        await asyncio.sleep(0.1)
        assert await store.sweep() == 3
    finally:
        await store.aclose()


async def test_active_skill_under_concurrent_turns() -> None:
    ids = ConversationIdFactory(MemoryStore(), name="t")
    await asyncio.gather(
        *(ids.set_active("ch", "c1", ActiveSkill("echo", f"id{i}")) for i in range(20))
    )
    active = await ids.active("ch", "c1")
    assert active is not None and active.skill == "echo"
    # Clearing only the record of another skill conversation leaves it alone.
    assert not await ids.clear_active("ch", "c1", only="not-it")
    assert await ids.clear_active("ch", "c1", only=active.conversation_id)
    assert await ids.active("ch", "c1") is None


def test_rewrite_for_skill() -> None:
    user = Activity(
        type="message",
        id="act-1",
        channel_id="emulator",
        service_url="http://127.0.0.1:3980/",
        from_=ChannelAccount(id="user-1", role="user"),
        recipient=ChannelAccount(id="root-bot", name="Root", role="bot"),
        conversation=ConversationAccount(id="user-conv-1", tenant_id="t1"),
        text="안녕",
        locale="ko-KR",
        caller_id="urn:botframework:azure",
        extra={"x-custom": 1},
    )
    out = rewrite_for_skill(user, "skill-conv", "http://127.0.0.1:3978/api/skills")
    assert out.conversation is not None and out.conversation.id == "skill-conv"
    assert out.conversation.tenant_id == "t1"
    assert out.service_url == "http://127.0.0.1:3978/api/skills"
    assert out.recipient == ChannelAccount(id="root-bot", name="Root", role="skill")
    assert out.relates_to is not None
    assert out.relates_to.activity_id == "act-1"
    assert out.relates_to.service_url == "http://127.0.0.1:3980/"
    assert out.relates_to.conversation is not None
    assert out.relates_to.conversation.id == "user-conv-1"
    assert out.relates_to.bot is None
    assert out.caller_id is None
    assert out.text == "안녕" and out.id == "act-1" and out.extra == {"x-custom": 1}
    # The user's activity is not changed.
    assert user.conversation is not None and user.conversation.id == "user-conv-1"
    bare = rewrite_for_skill(Activity(type="message"), "c", "http://h/api/skills")
    assert bare.recipient == ChannelAccount(role="skill")
