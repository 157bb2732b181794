"""The targets of the CLOVA benchmark (bench/clova_bench.py). Every one answers the same
signed CEK IntentRequest (``ask.weather`` with the slot ``location``) with the same speech,
from the same fake weather table (bench/common.py), and checks ``SignatureCEK`` with the
bench's own key (``VOICEHOOK_BENCH_CLOVA_KEY``, a PEM file written by the harness).

- ``ceiling``: a raw ASGI callable: RSA verify with ``cryptography``, orjson in and out.
- ``direct_app()``: voicehook direct mode (an :class:`~voicehook.clova.Extension`) served
  by ``voicehook serve``'s app (CLOVA channel, NUGU routes next to it).
- ``play_app()``: voicehook play mode: a weather play (intent, slot, backend action,
  response prompt) run by the dialog engine, state store in memory.

The clova-cek-sdk + Flask peer is in bench/clova_peer.py (it runs in its own venv).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from bench.common import weather_for

KEY_ENV = "VOICEHOOK_BENCH_CLOVA_KEY"
APP_ID = "com.example.bench"

PLAY_YAML = """
name: weather
intents:
  ask.weather:
    examples: ["[서울](LOCATION) 날씨 알려줘"]
entities:
  LOCATION: {values: {서울: [], 명동: [], 부산: [], 제주: []}}
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters:
      location: {type: LOCATION}
      weather: backend
      temperature: backend
    response:
      type: end
      prompts: ["{{location}} 오늘 날씨는 {{weather}}, 기온은 {{temperature}}도예요."]
"""


def speech_for(location: str | None) -> str:
    """The one answer every target gives."""
    w, t = weather_for(location)
    return f"{location} 오늘 날씨는 {w}, 기온은 {t}도예요."


def _key_pem() -> bytes:
    return Path(os.environ[KEY_ENV]).read_bytes()


# -- the ceiling -----------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_JSON = [(b"content-type", b"application/json; charset=utf-8")]


class _Ceiling:
    def __init__(self) -> None:
        self.key: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    self.key = serialization.load_pem_public_key(_key_pem())
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            await _send(send, 200, b"OK")
            return
        msg = await receive()
        body: bytes = msg.get("body", b"")
        while msg.get("more_body"):
            msg = await receive()
            body += msg.get("body", b"")
        signature = None
        for name, value in scope["headers"]:
            if name == b"signaturecek":
                signature = value
        try:
            import base64

            self.key.verify(
                base64.b64decode(signature or b"", validate=True),
                body,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            await _send(send, 403, b'{"error":"signature"}')
            return
        req = orjson.loads(body)
        slots = (req["request"].get("intent") or {}).get("slots") or {}
        location = (slots.get("location") or {}).get("value")
        answer = {
            "version": req.get("version") or "1.0",
            "sessionAttributes": {},
            "response": {
                "outputSpeech": {
                    "type": "SimpleSpeech",
                    "values": {"type": "PlainText", "lang": "ko", "value": speech_for(location)},
                },
                "card": {},
                "directives": [],
                "shouldEndSession": True,
            },
        }
        await _send(send, 200, orjson.dumps(answer))


async def _send(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


ceiling = _Ceiling()


# -- voicehook -------------------------------------------------------------------------------


def _settings() -> Any:
    from voicehook.server import Settings

    return Settings(
        clova_public_key=os.environ[KEY_ENV],
        clova_app_ids=(APP_ID,),
        store="memory://",
        log_level="warning",
    )


def direct_app() -> Any:
    """voicehook direct mode, served as ``voicehook serve`` serves it."""
    from voicehook.cli.serve import build_app
    from voicehook.clova import ClovaRequest, Extension, tell
    from voicehook.play import Play, parse_definition

    ext = Extension("weather")

    @ext.intent("ask.weather")
    async def weather(req: ClovaRequest) -> Any:
        return tell(speech_for(req.slot("location")))

    return build_app(Play(parse_definition("name: weather\n")), _settings(), ext)


def play_app() -> Any:
    """voicehook play mode: the dialog engine runs the weather play for CLOVA."""
    from voicehook import ActionRequest, Play
    from voicehook.cli.serve import build_app
    from voicehook.play import parse_definition

    play = Play(parse_definition(PLAY_YAML))

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, str]:
        w, t = weather_for(req.params["location"])
        return {"weather": w, "temperature": t}

    return build_app(play, _settings())
