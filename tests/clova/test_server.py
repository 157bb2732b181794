"""The CLOVA channel mounted next to NUGU in one real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests._support.server import running_server
from voicehook.clova import ClovaChannel, ClovaRequest, Extension, SignatureVerifier, tell
from voicehook.play import Play, parse_definition
from voicehook.server import create_app
from voicehook.server.routing import Route, RouteConflict
from voicehook.testing import ClovaSigner, cek_request

FIXTURE = json.loads((Path(__file__).parent / "data" / "clova-signed-request.json").read_text())


def make_ext() -> Extension:
    ext = Extension("direct")

    @ext.intent("Clova.GuideIntent")
    async def guide(req: ClovaRequest) -> Any:
        return tell("날씨를 물어보세요.")

    @ext.intent("Weather")
    async def weather(req: ClovaRequest) -> Any:
        return tell(f"{req.slot('city')}은 맑아요.")

    return ext


PLAY = """
name: both
actions:
  answer.hello:
    backend: true
    parameters: {greeting: backend}
"""


def make_play() -> Play:
    play = Play(parse_definition(PLAY))

    @play.action("answer.hello")
    async def hello(req: Any) -> dict[str, str]:
        return {"greeting": "안녕"}

    return play


async def post(
    s: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any], Any]:
    async with s.post(url, data=body, headers=headers) as r:
        return r.status, dict(r.headers), await r.json(content_type=None)


async def test_nugu_and_clova_side_by_side(signer: ClovaSigner, caplog: Any) -> None:
    clova = ClovaChannel(make_ext(), verifier=signer.verifier())
    app = create_app(make_play(), routes=[Route("/clova", clova, exact=True)])
    body = cek_request("IntentRequest", intent="Weather", slots={"city": "부산"})
    ct = "application/json;charset-UTF-8"  # what the CEK documents literally send
    with running_server(app) as base:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            status, headers, data = await post(
                s, base + "/clova", body, {"Content-Type": ct, "SignatureCEK": signer.sign(body)}
            )
            assert status == 200, data
            assert headers["Content-Type"] == "application/json; charset=utf-8"
            assert data["response"]["outputSpeech"]["values"]["value"] == "부산은 맑아요."
            # header names are case-insensitive
            status, _, data = await post(
                s, base + "/clova", body, {"Content-Type": ct, "signaturecek": signer.sign(body)}
            )
            assert status == 200
            status, _, data = await post(
                s, base + "/clova", body, {"Content-Type": ct, "SIGNATURECEK": signer.sign(body)}
            )
            assert status == 200
            # unsigned, tampered: 403 with a JSON error and the request id, never the body
            status, headers, data = await post(
                s, base + "/clova", body, {"Content-Type": ct, "X-Request-Id": "cek-test-1"}
            )
            assert status == 403
            assert data == {
                "error": {
                    "code": "missing_signature",
                    "message": "the SignatureCEK header is missing",
                    "requestId": "cek-test-1",
                }
            }
            tampered = body.replace("부산".encode(), "대구".encode())
            status, _, data = await post(
                s,
                base + "/clova",
                tampered,
                {"Content-Type": ct, "SignatureCEK": signer.sign(body)},
            )
            assert (status, data["error"]["code"]) == (403, "invalid_signature")
            assert "대구" not in json.dumps(data, ensure_ascii=False)
            # NUGU still answers at /{action}
            nugu = json.dumps({"version": "2.0", "action": {"actionName": "answer.hello"}}).encode()
            status, _, data = await post(
                s, base + "/answer.hello", nugu, {"Content-Type": "application/json"}
            )
            assert status == 200
            assert data["output"]["greeting"] == "안녕"
            refusals = [r for r in caplog.records if "missing_signature" in r.getMessage()]
            assert [getattr(r, "request_id", None) for r in refusals] == ["cek-test-1"]
            assert all("부산" not in r.getMessage() for r in caplog.records)
            # GET /clova: 405 naming POST
            async with s.get(base + "/clova") as r:
                assert r.status == 405
                assert r.headers["Allow"] == "POST"


async def test_real_signed_request_over_http() -> None:
    clova = ClovaChannel(make_ext(), verifier=SignatureVerifier.bundled())
    app = create_app(make_play(), routes=[Route("/clova", clova, exact=True)])
    body = base64.b64decode(FIXTURE["body_base64"])
    with running_server(app) as base:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            status, _, data = await post(
                s,
                base + "/clova",
                body,
                {"Content-Type": "application/json", "SignatureCEK": FIXTURE["signature_cek"]},
            )
    assert status == 200
    assert data["version"] == "1.0"
    assert data["response"]["outputSpeech"]["values"]["value"] == "날씨를 물어보세요."


def test_an_action_named_like_the_channel_path_is_a_start_up_error() -> None:
    play = Play(parse_definition("name: x\nactions:\n  clova:\n    backend: true\n"))
    clova = ClovaChannel(make_ext(), verifier=None)
    with pytest.raises(RouteConflict, match="clova"):
        create_app(play, routes=[Route("/clova", clova, exact=True)])
