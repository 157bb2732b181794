"""The Connector client against a recording Channel API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests._support.server import free_port
from voicehook.botframework.activity import Activity, ChannelAccount, ConversationAccount
from voicehook.botframework.auth import AnonymousCredentials
from voicehook.botframework.connector import ConnectorClient, ConnectorError, activities_url
from voicehook.upstream import HttpClient

from .keys import serving


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ChannelApi:
    """Answers each call with the next scripted (status, body, headers, delay); then 200."""

    script: list[tuple[int, bytes, dict[str, str], float]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""


@pytest.fixture
async def api() -> AsyncIterator[ChannelApi]:
    state = ChannelApi()

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        state.seen.append(
            Seen(
                request.method,
                request.raw_path,
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        if state.script:
            status, body, headers, delay = state.script.pop(0)
        else:
            status, body, headers, delay = 200, b'{"id": "ch-1"}', {}, 0.0
        await asyncio.sleep(delay)
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as base:
        state.base = base
        yield state


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(timeout=5) as client:
        yield client


class FixedToken:
    def __init__(self) -> None:
        self.audiences: list[str | None] = []

    async def token(self, audience: str | None = None) -> str | None:
        self.audiences.append(audience)
        return "tok"


def client(http: HttpClient, **kw: Any) -> ConnectorClient:
    kw.setdefault("backoff", 0.01)
    return ConnectorClient(http, kw.pop("creds", AnonymousCredentials()), **kw)


def reply(api: ChannelApi, **kw: Any) -> Activity:
    return Activity(
        type="message",
        text="내일은 맑아요",
        service_url=api.base + "/api/skills/",
        conversation=ConversationAccount(id="19:abc@thread.skype;messageid=1"),
        from_=ChannelAccount(id="skill"),
        **kw,
    )


def script(
    api: ChannelApi, *answers: tuple[int, bytes] | tuple[int, bytes, dict[str, str]]
) -> None:
    for a in answers:
        headers = a[2] if len(a) == 3 else {}
        api.script.append((a[0], a[1], headers, 0.0))


async def test_reply_encodes_ids_and_sends_anonymous(api: ChannelApi, http: HttpClient) -> None:
    res = await client(http).send(reply(api, reply_to_id="act/1"))
    assert res.id == "ch-1"
    (call,) = api.seen
    assert call.method == "POST"
    assert call.path == (
        "/api/skills/v3/conversations/19%3Aabc%40thread.skype%3Bmessageid%3D1/activities/act%2F1"
    )
    assert "Authorization" not in call.headers
    assert call.headers["x-ms-conversation-id"] == "19:abc@thread.skype;messageid=1"
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.body["text"] == "내일은 맑아요" and call.body["from"] == {"id": "skill"}


async def test_send_to_conversation_with_token(api: ChannelApi, http: HttpClient) -> None:
    creds = FixedToken()
    script(api, (201, b""))
    res = await client(http, creds=creds).send(reply(api), audience="root-app")
    assert res.id is None  # an empty 201 is success
    assert api.seen[0].path.endswith("/activities")
    assert api.seen[0].headers["Authorization"] == "Bearer tok"
    assert creds.audiences == ["root-app"]


async def test_update_and_delete(api: ChannelApi, http: HttpClient) -> None:
    c = client(http)
    await c.update_activity(api.base, "c1", "a1", Activity(type="message", text="고침"))
    await c.delete_activity(api.base, "c1", "a1")
    put, delete = api.seen
    assert (put.method, put.path, put.body["id"]) == (
        "PUT",
        "/v3/conversations/c1/activities/a1",
        "a1",
    )
    assert (delete.method, delete.path, delete.body) == (
        "DELETE",
        "/v3/conversations/c1/activities/a1",
        None,
    )


async def test_post_retried_after_429_and_503(api: ChannelApi, http: HttpClient) -> None:
    script(api, (429, b"", {"Retry-After": "0"}), (503, b""))
    res = await client(http).send(reply(api))
    assert res.id == "ch-1"
    assert len(api.seen) == 3
    assert api.seen[0].body == api.seen[2].body


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_never_retried_after_an_ambiguous_5xx(
    api: ChannelApi, http: HttpClient, status: int
) -> None:
    script(api, (status, b"{}"))
    with pytest.raises(ConnectorError) as info:
        await client(http).send(reply(api))
    assert info.value.status == status and info.value.maybe_delivered
    assert len(api.seen) == 1, "a POST that may have been delivered is not sent again"


async def test_post_timeout_not_retried(api: ChannelApi, http: HttpClient) -> None:
    api.script.append((200, b"{}", {}, 1.0))
    with pytest.raises(ConnectorError) as info:
        await client(http, timeout=0.2).send(reply(api))
    assert info.value.maybe_delivered
    assert len(api.seen) == 1


async def test_put_and_delete_retried_after_5xx_and_timeout(
    api: ChannelApi, http: HttpClient
) -> None:
    script(api, (500, b""), (502, b""))
    await client(http).update_activity(api.base, "c", "a", Activity(type="message"))
    assert len(api.seen) == 3
    api.script.append((200, b"", {}, 1.0))
    await client(http, timeout=0.2).delete_activity(api.base, "c", "a")
    assert len(api.seen) == 5


async def test_4xx_not_retried(api: ChannelApi, http: HttpClient) -> None:
    script(api, (404, b'{"error": {}}'))
    with pytest.raises(ConnectorError) as info:
        await client(http).send(reply(api))
    assert info.value.status == 404 and not info.value.maybe_delivered
    assert len(api.seen) == 1


async def test_retries_are_bounded(api: ChannelApi, http: HttpClient) -> None:
    script(api, *[(503, b"")] * 5)
    with pytest.raises(ConnectorError) as info:
        await client(http, retries=2).send(reply(api))
    assert info.value.status == 503 and not info.value.maybe_delivered
    assert len(api.seen) == 3


async def test_long_retry_after_is_not_waited_out(api: ChannelApi, http: HttpClient) -> None:
    script(api, (429, b"", {"Retry-After": "120"}))
    with pytest.raises(ConnectorError):
        await client(http, max_backoff=1).send(reply(api))
    assert len(api.seen) == 1


async def test_connection_refused_is_retried_then_fails(http: HttpClient) -> None:
    port = free_port()  # nothing listens there
    act = Activity(
        type="message",
        service_url=f"http://127.0.0.1:{port}",
        conversation=ConversationAccount(id="c"),
    )
    with pytest.raises(ConnectorError) as info:
        await client(http, retries=2).send(act)
    assert not info.value.maybe_delivered


def test_activities_url_checks_its_input() -> None:
    assert activities_url("https://x/y/", "a b") == "https://x/y/v3/conversations/a%20b/activities"
    for args in (("ftp://x", "c"), ("http://x", "")):
        with pytest.raises(ValueError):
            activities_url(*args)
