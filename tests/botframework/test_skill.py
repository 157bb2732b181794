"""A play served as a Bot Framework skill: real servers on 127.0.0.1, real HTTP.

The "consumer" here is a recording Channel API server (what a root bot's skill host is);
the skill is voicehook's server with the BotFrameworkChannel mounted at /api/messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests._support.server import running_server
from voicehook import Settings, create_app
from voicehook.botframework.auth import BotAuthConfig
from voicehook.botframework.skill import BotFrameworkChannel
from voicehook.dialog import DialogEngine
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.play.context import AppContext
from voicehook.server.routing import Route
from voicehook.store import MemoryStore

from ._play import make_play
from .keys import ROOT_APP_ID, SKILL_APP_ID, key_server, serving, token

PATH = "/api/messages"


def channel_for(play: Any, auth: BotAuthConfig | None = None) -> BotFrameworkChannel:
    def engine(app: AppContext) -> DialogEngine:
        # SimpleTokenizer: no Kiwi model load per test; enough for this small play.
        return DialogEngine(play.definition, PlayCaller(play, app), tokenizer=SimpleTokenizer())

    return BotFrameworkChannel(play, auth or BotAuthConfig(), engine=engine)


@contextmanager
def skill_server(
    seen: list[dict[str, Any]] | None = None,
    auth: BotAuthConfig | None = None,
    store: Any = None,
    deadline: float = 3.0,
) -> Iterator[tuple[str, Any]]:
    play = make_play(seen)
    store = store if store is not None else MemoryStore()
    app = create_app(
        play,
        Settings(deadline=deadline),
        store=store,
        routes=[Route(PATH, channel_for(play, auth), exact=True)],
    )
    with running_server(app) as base:
        yield base + PATH, store


@dataclass
class Consumer:
    """A root bot's skill host: records the skill's Channel API calls."""

    calls: list[tuple[str, str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    base: str = ""
    status: int = 200

    @property
    def service_url(self) -> str:
        return self.base + "/api/skills"

    def activities(self) -> list[dict[str, Any]]:
        return [c[3] for c in self.calls]


@asynccontextmanager
async def consumer() -> AsyncIterator[Consumer]:
    state = Consumer()

    async def callback(request: web.Request) -> web.Response:
        body = await request.json()
        state.calls.append((request.method, request.raw_path, dict(request.headers), body))
        return web.json_response({"id": f"ch-{len(state.calls)}"}, status=state.status)

    app = web.Application()
    app.router.add_route("*", "/api/skills/{tail:.*}", callback)
    async with serving(app) as base:
        state.base = base
        yield state


def activity(
    text: str | None = "", *, conv: str = "conv-1", n: int = 1, **more: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message",
        "id": f"act-{n}",
        "channelId": "emulator",
        "serviceUrl": "http://127.0.0.1:9/api/skills",
        "from": {"id": "user-1", "name": "민지", "role": "user"},
        "recipient": {"id": "root-bot", "name": "Root", "role": "skill"},
        "conversation": {"id": conv},
        "locale": "ko-KR",
        "text": text,
        "deliveryMode": "expectReplies",
        "callerId": "urn:botframework:aadappid:forged",
    }
    if text is None:
        del body["text"]
    body.update(more)
    return body


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url,
            data=data,
            headers={"content-type": "application/json; charset=utf-8", **(headers or {})},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as r,
    ):
        return r.status, await r.read()


async def replies(
    url: str, body: Any, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    status, raw = await post(url, body, headers)
    assert status == 200, raw
    data = json.loads(raw)
    assert set(data) == {"activities"}
    acts: list[dict[str, Any]] = data["activities"]
    return acts


async def test_expect_replies_dialog_to_completion() -> None:
    seen: list[dict[str, Any]] = []
    with skill_server(seen) as (url, store):
        first = await replies(url, activity("피자 가게에서 불고기 피자 주문해 줘"))
        assert [a["type"] for a in first] == ["message"]
        msg = first[0]
        assert msg["text"] == msg["speak"] == "크기는 라지와 미디엄 중에 골라 주세요."
        assert msg["inputHint"] == "expectingInput"
        assert msg["replyToId"] == "act-1"
        assert msg["from"] == {"id": "root-bot", "name": "Root", "role": "skill"}
        assert msg["recipient"] == {"id": "user-1", "name": "민지", "role": "user"}
        assert msg["conversation"] == {"id": "conv-1"} and msg["locale"] == "ko-KR"
        assert seen == []

        second = await replies(url, activity("라지", n=2))
        assert [a["type"] for a in second] == ["message", "endOfConversation"]
        assert second[0]["text"] == "불고기 피자 라지, 주문 번호 101번으로 주문했어요."
        assert second[0]["inputHint"] == "acceptingInput"
        eoc = second[1]
        assert eoc["code"] == "completedSuccessfully"
        assert eoc["replyToId"] == "act-2"
        assert eoc["value"]["params"] == {"menu": "불고기", "size": "라지", "order_no": "101"}
        assert seen == [
            {
                "channel": "botframework",
                "user_key": "user-1",
                "session": "AnonymousSkill:conv-1",
                "params": {"menu": "불고기", "size": "라지", "order_no": None},
            }
        ]
        # The conversation's dialog state is in the configured store.
        entry = await store.get("botframework:pizza:AnonymousSkill:conv-1")
        assert entry is not None and entry.value["active"] is False


async def test_normal_delivery_calls_back_before_answering() -> None:
    async with consumer() as root:
        with skill_server() as (url, _):
            body = activity("피자 가게에서 고구마 피자 주문해 줘", serviceUrl=root.service_url)
            del body["deliveryMode"]
            status, raw = await post(url, body)
            assert (status, raw) == (201, b"")
            # The callback had arrived before the POST was answered.
            (call,) = root.calls
            method, path, headers, act = call
            assert (method, path) == (
                "POST",
                "/api/skills/v3/conversations/conv-1/activities/act-1",
            )
            assert "Authorization" not in headers  # anonymous mode sends no token
            assert headers["x-ms-conversation-id"] == "conv-1"
            assert act["text"] == "크기는 라지와 미디엄 중에 골라 주세요."
            assert act["serviceUrl"] == root.service_url

            body = activity("미디엄", n=2, serviceUrl=root.service_url, deliveryMode="normal")
            assert (await post(url, body))[0] == 201
            assert [a["type"] for a in root.activities()] == [
                "message",
                "message",
                "endOfConversation",
            ]
            assert root.activities()[2]["code"] == "completedSuccessfully"


async def test_delivery_failure_is_logged_not_a_5xx(caplog: pytest.LogCaptureFixture) -> None:
    async with consumer() as root:
        root.status = 404  # the consumer forgot the conversation
        with skill_server() as (url, _):
            body = activity("피자 주문할래", serviceUrl=root.service_url)
            del body["deliveryMode"]
            assert (await post(url, body))[0] == 201
            assert len(root.calls) == 1
    assert "could not be delivered" in caplog.text


async def test_end_of_conversation_from_consumer_cancels() -> None:
    with skill_server() as (url, store):
        await replies(url, activity("피자 가게에서 불고기 피자 주문해 줘"))
        assert await store.get("botframework:pizza:AnonymousSkill:conv-1") is not None
        eoc = activity(None, n=2, type="endOfConversation", code="userCancelled")
        assert await replies(url, eoc) == []
        assert await store.get("botframework:pizza:AnonymousSkill:conv-1") is None
        # "라지" no longer answers the cancelled order's question.
        after = await replies(url, activity("라지", n=3))
        assert "주문 번호" not in (after[0].get("text") or "")


async def test_values_on_the_first_activity_reach_the_handlers() -> None:
    seen: list[dict[str, Any]] = []
    with skill_server(seen) as (url, _):
        first = await replies(
            url, activity("피자 주문할래", value={"menu": "고구마", "size": "미디엄", "x": [1]})
        )
        assert first[0]["text"] == "고구마 피자 미디엄, 주문 번호 101번으로 주문했어요."
        assert first[1]["type"] == "endOfConversation"
        # An event naming an intent, with values: the SDK's "begin skill action" pattern.
        event = activity(
            None,
            conv="conv-2",
            type="event",
            name="order.pizza",
            value={"menu": "불고기", "size": "라지"},
        )
        got = await replies(url, event)
        assert got[0]["text"] == "불고기 피자 라지, 주문 번호 102번으로 주문했어요."
        assert [(s["params"]["menu"], s["params"]["size"]) for s in seen] == [
            ("고구마", "미디엄"),
            ("불고기", "라지"),
        ]
        # Values with text that names no intent: the text alone is the turn.
        other = await replies(url, activity("음", conv="c4", value={"menu": "불고기"}))
        assert other and "주문 번호" not in (other[0].get("text") or "")
        # Values sent later in an open session are not slots: only the text counts.
        await replies(url, activity("피자 주문할래", conv="c5"))
        later = await replies(url, activity("라지", conv="c5", n=2, value={"menu": "고구마"}))
        assert later[0]["text"] == "메뉴를 몰라서 주문을 마칠게요."  # no 고구마 order
        # An event the play does not know is ignored.
        assert await replies(url, activity(None, conv="c3", type="event", name="Unknown")) == []
        assert await replies(url, activity(None, conv="c3", type="typing")) == []


async def test_user_stop_ends_with_user_cancelled() -> None:
    with skill_server() as (url, _):
        await replies(url, activity("피자 가게에서 불고기 피자 주문해 줘"))
        got = await replies(url, activity("그만", n=2))
        assert got[-1]["type"] == "endOfConversation"
        assert got[-1]["code"] == "userCancelled"


async def test_failures_end_with_an_error_code() -> None:
    with skill_server(deadline=0.3) as (url, _):
        crashed = await replies(
            url, activity("피자 주문할래", value={"menu": "폭탄", "size": "라지"})
        )
        assert crashed[0]["text"] == "죄송해요, 주문을 받을 수 없어요."
        assert crashed[1]["type"] == "endOfConversation" and crashed[1]["code"] == "SkillError"
        slow = await replies(
            url, activity("피자 주문할래", conv="c2", value={"menu": "거북이", "size": "라지"})
        )
        assert slow[1]["code"] == "botTimedOut"


async def test_store_down_gives_an_apology_and_skill_error() -> None:
    class BrokenStore(MemoryStore):
        async def get(self, key: str) -> Any:
            raise ConnectionError("store is down")

    with skill_server(store=BrokenStore()) as (url, _):
        got = await replies(url, activity("피자 주문할래"))
        assert [a["type"] for a in got] == ["message", "endOfConversation"]
        assert got[1]["code"] == "SkillError"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[]", 400, "invalid_activity"),
        (json.dumps({"type": "message", "text": "hi"}).encode(), 400, "invalid_activity"),
        (
            json.dumps(activity("x", deliveryMode="normal", serviceUrl=None)).encode(),
            400,
            "invalid_activity",
        ),
        (json.dumps(activity("x", **{"from": "me"})).encode(), 400, "invalid_activity"),
    ],
)
async def test_bad_input_is_a_4xx(body: bytes, status: int, code: str) -> None:
    with skill_server() as (url, _):
        got_status, raw = await post(url, body)
        assert got_status == status
        assert json.loads(raw)["error"]["code"] == code


async def test_invoke_is_not_implemented_and_get_is_405() -> None:
    with skill_server() as (url, _):
        invoke = activity(None, type="invoke", name="application/test", deliveryMode=None)
        status, raw = await post(url, invoke)
        assert (status, raw) == (501, b"null")
        # With expectReplies the invoke response is an activity in the list.
        got = await replies(url, activity(None, type="invoke", name="application/test"))
        assert [(a["type"], a["value"]) for a in got] == [
            ("invokeResponse", {"status": 501, "body": None})
        ]
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 405


async def test_two_servers_on_one_store_serve_one_conversation() -> None:
    store = MemoryStore()
    with skill_server(store=store) as (a, _), skill_server(store=store) as (b, _):
        await replies(a, activity("피자 가게에서 불고기 피자 주문해 줘"))
        got = await replies(b, activity("라지", n=2))
        assert got[0]["text"].startswith("불고기 피자 라지")


async def test_anonymous_mode_refuses_a_token() -> None:
    with skill_server() as (url, _):
        status, raw = await post(url, activity("피자"), {"Authorization": "Bearer abc.def.ghi"})
        assert status == 401
        assert json.loads(raw)["error"]["code"] == "unexpected_authorization"


# -- with an app id: tokens in, tokens out ---------------------------------------------


@dataclass
class TokenEndpoint:
    forms: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@asynccontextmanager
async def token_endpoint() -> AsyncIterator[TokenEndpoint]:
    state = TokenEndpoint()

    async def issue(request: web.Request) -> web.Response:
        state.forms.append({k: str(v) for k, v in (await request.post()).items()})
        return web.json_response({"access_token": "skill-to-root", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", issue)
    async with serving(app) as base:
        state.url = base + "/token"
        yield state


async def test_authenticated_skill() -> None:
    async with key_server() as keys, token_endpoint() as tokens, consumer() as root:
        auth = BotAuthConfig(
            app_id=SKILL_APP_ID,
            app_password="pw",
            allowed_callers=(ROOT_APP_ID,),
            openid_metadata_url=keys.metadata_url,
            token_endpoint=tokens.url,
        )
        seen: list[dict[str, Any]] = []
        with skill_server(seen, auth=auth) as (url, _):
            ok = {"Authorization": f"Bearer {token()}"}
            got = await replies(url, activity("피자 가게에서 불고기 피자 주문해 줘"), ok)
            assert got[0]["inputHint"] == "expectingInput"
            # Normal delivery: the callback carries a token for the root's app id.
            body = activity("라지", n=2, serviceUrl=root.service_url)
            del body["deliveryMode"]
            assert (await post(url, body, ok))[0] == 201
            assert all(c[2]["Authorization"] == "Bearer skill-to-root" for c in root.calls)
            assert tokens.forms[0]["scope"] == f"{ROOT_APP_ID}/.default"
            assert seen[0]["session"] == f"{ROOT_APP_ID}:conv-1"

            for headers, status, code in [
                ({}, 401, "missing_authorization"),
                ({"Authorization": f"Bearer {token(aud='other')}"}, 401, "wrong_audience"),
                ({"Authorization": f"Bearer {token(exp=-900)}"}, 401, "token_expired"),
                (
                    {"Authorization": f"Bearer {token(caller='intruder')}"},
                    403,
                    "caller_not_allowed",
                ),
                ({"Authorization": "Bearer abc.def.ghi"}, 401, "malformed_token"),
            ]:
                got_status, raw = await post(url, activity("피자"), headers)
                assert (got_status, json.loads(raw)["error"]["code"]) == (status, code)


async def test_concurrent_conversations() -> None:
    with skill_server() as (url, _):
        results = await asyncio.gather(
            *(
                replies(url, activity("피자 가게에서 불고기 피자 주문해 줘", conv=f"c{i}"))
                for i in range(8)
            )
        )
        assert all(r[0]["inputHint"] == "expectingInput" for r in results)


async def test_start_up_warns_when_kiwi_is_missing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typed chat makes voicehook's NLU the production NLU: without Kiwi, say so."""
    import importlib.util

    real = importlib.util.find_spec

    def no_kiwi(name: str, *args: Any) -> Any:
        return None if name == "kiwipiepy" else real(name, *args)

    store = MemoryStore()
    app = AppContext("skill", store=store)
    app.http = object()  # type: ignore[assignment]
    monkeypatch.setattr(importlib.util, "find_spec", no_kiwi)
    with caplog.at_level("WARNING", logger="voicehook.botframework"):
        await channel_for(make_play()).startup(app)
    assert any("kiwipiepy is not installed" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(importlib.util, "find_spec", real)
    caplog.clear()
    with caplog.at_level("WARNING", logger="voicehook.botframework"):
        await channel_for(make_play()).startup(app)
    assert not any("kiwipiepy" in r.getMessage() for r in caplog.records)
