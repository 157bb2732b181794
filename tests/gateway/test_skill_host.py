"""The skill host's Channel API routes, auth in anonymous mode, and two gateway processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests._support.server import free_port
from tests.gateway.fake_skill import FakeSkill
from tests.gateway.harness import EXAMPLE_ROOT_PLAY, make_config, running_gateway
from tests.interop.bbrun import wait_port
from voicehook.gateway.channel import LoopbackChannel


@pytest.fixture
def gateway(skill: tuple[FakeSkill, str]) -> Iterator[str]:
    config = make_config({"echo": f"endpoint: {skill[1]}"}, "- prefix: 에코봇에서\n  skill: echo")
    with running_gateway(config) as url:
        yield url


async def test_channel_api_routes(skill: tuple[FakeSkill, str], gateway: str) -> None:
    fake, _ = skill
    base = gateway.replace("/api/messages", "/api/skills") + "/v3/conversations"
    async with LoopbackChannel(gateway) as chat, aiohttp.ClientSession() as http:
        await chat.say("에코봇에서 안녕")
        conv = fake.seen[0]["conversation"]["id"]
        # SendToConversation
        async with http.post(
            f"{base}/{conv}/activities", json={"type": "message", "text": "알림"}
        ) as r:
            assert r.status == 200 and (await r.json())["id"].startswith("chat-")
        # UpdateActivity takes the id from the path (the body has none)
        async with http.put(
            f"{base}/{conv}/activities/msg-7", json={"type": "message", "text": "고침"}
        ) as r:
            assert r.status == 200
        # DeleteActivity
        async with http.delete(f"{base}/{conv}/activities/msg-7") as r:
            assert r.status == 200
        await chat._quiet()
        kinds = [(x.how, x.activity_id) for x in chat.received[-3:]]
        # The SDK re-addresses even a SendToConversation as a reply to the user's activity.
        user_activity = f"{chat.conversation_id}-1"
        assert kinds == [("reply", user_activity), ("update", "msg-7"), ("delete", "msg-7")]
        assert chat.received[-2].activity is not None
        assert chat.received[-2].activity.text == "고침"
        # GetConversationMembers / GetConversationMember
        async with http.get(f"{base}/{conv}/members") as r:
            assert r.status == 200 and [m["id"] for m in await r.json()] == ["user-1"]
        async with http.get(f"{base}/{conv}/members/user-1") as r:
            assert r.status == 200 and (await r.json())["id"] == "user-1"
        async with http.get(f"{base}/{conv}/members/nobody") as r:
            assert r.status == 404
        # Not implemented: 501
        for method, path in [
            ("GET", f"{base}/{conv}/pagedmembers"),
            ("DELETE", f"{base}/{conv}/members/user-1"),
            ("POST", f"{base}/{conv}/attachments"),
            ("GET", f"{base}/{conv}/activities/x/members"),
            ("POST", f"{base}/{conv}/activities/history"),
        ]:
            async with http.request(method, path, json={} if method == "POST" else None) as r:
                assert r.status == 501, (method, path)
        # Unknown conversation ids: 404 on every implemented route.
        for method, path in [
            ("POST", f"{base}/no-such-id/activities"),
            ("POST", f"{base}/no-such-id/activities/a1"),
            ("PUT", f"{base}/no-such-id/activities/a1"),
            ("DELETE", f"{base}/no-such-id/activities/a1"),
            ("GET", f"{base}/no-such-id/members"),
        ]:
            body = {"type": "message", "text": "x"} if method in ("POST", "PUT") else None
            async with http.request(method, path, json=body) as r:
                assert r.status == 404, (method, path)
                assert (await r.json())["error"]["code"] == "unknown_conversation"


async def test_anonymous_mode_refuses_any_authorization_header(
    skill: tuple[FakeSkill, str], gateway: str
) -> None:
    fake, _ = skill
    base = gateway.replace("/api/messages", "/api/skills") + "/v3/conversations"
    bearer = {"Authorization": "Bearer abc.def.ghi"}
    async with LoopbackChannel(gateway) as chat, aiohttp.ClientSession() as http:
        await chat.say("에코봇에서 안녕")
        conv = fake.seen[0]["conversation"]["id"]
        reply = {"type": "message", "text": "가짜"}
        async with http.post(f"{base}/{conv}/activities", json=reply, headers=bearer) as r:
            assert r.status == 401
        message = chat.message("안녕")
        from voicehook.botframework.activity import encode_activity

        async with http.post(
            gateway,
            data=encode_activity(message),
            headers={**bearer, "Content-Type": "application/json"},
        ) as r:
            assert r.status == 401
        # Bad input is a 4xx, never a 500.
        async with http.post(
            gateway, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        async with http.post(gateway, json={"type": "message"}) as r:
            assert r.status == 400
        async with http.post(
            f"{base}/{conv}/activities", data=b"[]", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400


def _start_gateway(config: Path, port: int, store: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voicehook",
            "gateway",
            str(config),
            "--port",
            str(port),
            "--store",
            store,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        env=env,
    )


async def test_two_gateway_processes_share_one_conversation(
    skill: tuple[FakeSkill, str], tmp_path: Path
) -> None:
    fake, endpoint = skill
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"name: twin\nplay: {EXAMPLE_ROOT_PLAY}\nskills:\n  echo:\n    endpoint: {endpoint}\n"
        "routes:\n  - prefix: 에코봇에서\n    skill: echo\n",
        encoding="utf-8",
    )
    store = f"sqlite:///{tmp_path / 'state.db'}"
    ports = [free_port(), free_port()]
    procs = [_start_gateway(config, p, store) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc, timeout=60)
        a, b = (f"http://127.0.0.1:{p}/api/messages" for p in ports)
        async with LoopbackChannel(a) as chat:
            first = await chat.say("에코봇에서 하나")  # process A starts the skill
            assert first.texts == ["스킬: 하나 (1)"]
            chat.bot_url = b
            second = await chat.say("둘")  # process B knows the active skill from the store
            assert second.texts == ["스킬: 둘 (2)"]
            chat.bot_url = a
            third = await chat.say("셋")
            assert third.texts == ["스킬: 셋 (3)"]
            chat.bot_url = b
            end = await chat.say("끝")
            assert end.texts == ["에코봇를 마쳤어요. 또 무엇을 도와드릴까요?"]
        convs = {s["conversation"]["id"] for s in fake.seen}
        assert len(convs) == 1  # one skill conversation across both processes
        hosts = [s["serviceUrl"] for s in fake.seen]
        assert hosts[0] != hosts[1]  # each process named its own skill host
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
