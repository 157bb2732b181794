"""``voicehook check --channel clova``: the CEK conformance checker against real servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests._support.server import running_server
from tests.deploy.conftest import ROOT, serve
from voicehook.check.clova import check_answer, run_clova_checks
from voicehook.cli import main
from voicehook.testing import ClovaSigner, ClovaTurn


def test_voicehook_serve_passes(
    tmp_path: Path, signer: ClovaSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    public = signer.write_public_key(tmp_path / "public.pem")
    private = signer.write_private_key(tmp_path / "private.pem")
    weather = ROOT / "examples" / "weather"
    served = serve(tmp_path, "memory://", "--clova-public-key", str(public), play=weather)
    try:
        code = main(
            [
                "check",
                str(weather),
                "--channel",
                "clova",
                "--backend",
                served.url,
                "--clova-private-key",
                str(private),
            ]
        )
    finally:
        served.stop()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert "an unsigned request is refused" in out
    assert "IntentRequest ask.weather (no slots)" in out


async def _broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A CEK extension with the classic bugs: no signature check, a fixed version, a
    reprompt on an ended session, a 250-character sentence, no card."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    speech = {
        "type": "SimpleSpeech",
        "values": {"type": "PlainText", "lang": "ko", "value": "가" * 250},
    }
    body = json.dumps(
        {
            "version": "0.1.0",
            "sessionAttributes": {},
            "response": {
                "outputSpeech": speech,
                "directives": [],
                "shouldEndSession": True,
                "reprompt": {"outputSpeech": speech},
            },
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def test_a_broken_extension_fails(signer: ClovaSigner) -> None:
    with running_server(_broken) as url:
        checks = await run_clova_checks(url, signer)
    problems = " | ".join(p for c in checks for p in c.problems)
    assert not any(c.passed for c in checks if c.name != "LaunchRequest, version 0.1.0 echoed")
    assert "does not echo the request's '1.0'" in problems
    assert "missing response.card" in problems
    assert "a sentence of 250 characters" in problems
    assert "a reprompt with shouldEndSession true" in problems
    assert "answered 200 without SignatureCEK" in problems
    assert "answered 200 to a body its signature does not match" in problems


def test_check_answer_shapes() -> None:
    good = {
        "version": "1.0",
        "sessionAttributes": {},
        "response": {
            "outputSpeech": {
                "type": "SpeechList",
                "values": [
                    {"type": "PlainText", "lang": "ko", "value": "안녕"},
                    {"type": "URL", "lang": "", "value": "https://x.example/a.mp3"},
                ],
            },
            "card": {},
            "directives": [
                {
                    "header": {"namespace": "PlaybackController", "name": "Stop", "messageId": "m"},
                    "payload": {},
                }
            ],
            "shouldEndSession": True,
        },
    }
    assert check_answer(ClovaTurn(200, good), "1.0") == []
    bad = json.loads(json.dumps(good))
    bad["response"]["outputSpeech"]["values"][1]["lang"] = "ko"
    bad["response"]["directives"][0]["header"].pop("messageId")
    problems = check_answer(ClovaTurn(200, bad), "1.0")
    assert any('lang ""' in p for p in problems)
    assert any("messageId" in p for p in problems)
    assert check_answer(ClovaTurn(500, "boom"), "1.0")[0].startswith("HTTP 500")
