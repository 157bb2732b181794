"""The gateway with an app id: bot-to-bot JWTs on the skill host, tokens on every call out.

Keys, tokens and the OpenID server are local (tests/botframework/keys.py); the token
endpoint is a local server too. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.botframework.keys import KeyServer, key_server, serving, token
from tests.gateway.fake_skill import FakeSkill
from tests.gateway.harness import make_config, running_gateway
from voicehook.gateway.channel import LoopbackChannel

ROOT_ID = "22222222-aaaa-4bbb-8ccc-000000000002"
SKILL_ID = "11111111-aaaa-4bbb-8ccc-000000000001"
OTHER_ID = "33333333-aaaa-4bbb-8ccc-000000000003"


@pytest.fixture
async def keys() -> AsyncIterator[KeyServer]:
    async with key_server(["key-1"]) as server:
        yield server


@pytest.fixture
async def token_endpoint() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    asked: list[dict[str, str]] = []

    async def issue(request: web.Request) -> web.Response:
        form = dict(await request.post())
        asked.append({k: str(v) for k, v in form.items()})
        scope = str(form.get("scope", ""))
        return web.json_response({"access_token": f"tok:{scope}", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", issue)
    async with serving(app) as base:
        yield f"{base}/token", asked


async def test_tokens_in_and_out(
    keys: KeyServer,
    token_endpoint: tuple[str, list[dict[str, str]]],
    skill: tuple[FakeSkill, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", "s3cret")
    fake, endpoint = skill
    url, asked = token_endpoint
    fake.callback_token = token(aud=ROOT_ID, caller=SKILL_ID)
    config = make_config(
        {"echo": f"endpoint: {endpoint}\napp_id: {SKILL_ID}"},
        "- prefix: 에코봇에서\n  skill: echo",
        extra=(
            f"app_id: {ROOT_ID}\nallowed_callers: [{SKILL_ID}]\n"
            f"token_endpoint: {url}\nopenid_metadata_url: {keys.metadata_url}\n"
            f"channel_openid_metadata_url: {keys.metadata_url}\n"
        ),
    )
    with running_gateway(config) as gateway:
        # The Bot Connector's token: its own issuer, our app id as audience, no caller.
        connector = token(aud=ROOT_ID, iss="https://api.botframework.com", caller="")
        async with LoopbackChannel(gateway, accept_tokens=True, token=connector) as chat:
            turn = await chat.say("에코봇에서 안녕")
            assert turn.texts == ["스킬: 안녕 (1)"]
            # Out to the skill: a token for the skill's app id.
            assert fake.headers[0]["Authorization"] == f"Bearer tok:{SKILL_ID}/.default"
            # Out to the user's channel: a token for the channel audience.
            assert chat.authorizations == ["Bearer tok:https://api.botframework.com/.default"]
            assert {a["client_id"] for a in asked} == {ROOT_ID}
            assert fake.callbacks[0][0] == 200  # the skill's JWT was accepted

            conv = fake.seen[0]["conversation"]["id"]
            base = gateway.replace("/api/messages", "/api/skills")
            send = f"{base}/v3/conversations/{conv}/activities"
            body = {"type": "message", "text": "x"}
            cases = {
                "missing": None,
                "malformed": "Bearer abc.def.ghi",
                "expired": "Bearer " + token(aud=ROOT_ID, caller=SKILL_ID, exp=-3600, nbf=-7200),
                "not yet valid": "Bearer " + token(aud=ROOT_ID, caller=SKILL_ID, nbf=3600),
                "wrong audience": "Bearer " + token(aud=OTHER_ID, caller=SKILL_ID),
                "wrong issuer": "Bearer "
                + token(aud=ROOT_ID, caller=SKILL_ID, iss="https://sts.windows.net/evil/"),
                "unknown caller": "Bearer " + token(aud=ROOT_ID, caller=OTHER_ID),
                "bad signature": "Bearer " + token(aud=ROOT_ID, caller=SKILL_ID, signer="other"),
                "basic": "Basic dXNlcjpwYXNz",
            }
            async with aiohttp.ClientSession() as http:
                for name, header in cases.items():
                    headers = {"Authorization": header} if header else {}
                    async with http.post(send, json=body, headers=headers) as resp:
                        assert resp.status in (401, 403), name
                # The messaging endpoint takes only the channel's tokens.
                for header in (None, cases["expired"], f"Bearer {fake.callback_token}"):
                    headers = {"Authorization": header} if header else {}
                    async with http.post(
                        gateway, json={"type": "message"}, headers=headers
                    ) as resp:
                        assert resp.status in (401, 403), header
                # A valid token for an unknown conversation: 404, not 401.
                good = "Bearer " + token(aud=ROOT_ID, caller=SKILL_ID, ver="2.0")
                async with http.post(
                    f"{base}/v3/conversations/nope/activities",
                    json=body,
                    headers={"Authorization": good},
                ) as resp:
                    assert resp.status == 404
