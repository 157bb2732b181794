"""Asynchronous recognisers: the engine awaits ``recognize``; tested with a real HTTP NLU
service on 127.0.0.1 (the built-in NLU behind an aiohttp server) and a client recogniser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import asdict
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import DialogEngine, EngineSettings, UserText
from voicehook.dialog.nlu import EntityMatch, NluResult, SimpleTokenizer
from voicehook.dialog.recognizer import (
    AsyncOnly,
    AsyncRecognizer,
    Recognizer,
    build_recognizer,
    load_recognizer,
)

from .test_nlu_dialog import DEFINITION, Recorder

TIMEOUT = 10.0


class NluService:
    """A tiny external NLU service: POST /parse {text, expect_types} → the result JSON.

    It runs the built-in NLU of the play, and holds a request whose text contains
    ``느긋`` until ``release`` is set (to show that waiting does not block the engine).
    """

    def __init__(self) -> None:
        self.nlu = build_recognizer(DEFINITION, audio_player=False, tokenizer=SimpleTokenizer())
        self.seen: list[tuple[str, list[str] | None]] = []
        self.release = asyncio.Event()

    async def parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        text, expect = body["text"], body.get("expect_types")
        self.seen.append((text, expect))
        if "느긋" in text:
            await asyncio.wait_for(self.release.wait(), TIMEOUT)
            text = text.replace("느긋", "  ")
        result = self.nlu.parse(text, expect_types=expect)
        return web.json_response(
            {
                "intent": result.intent,
                "score": result.score,
                "entities": [asdict(e) for e in result.entities],
                "unresolved": result.unresolved,
            }
        )


class HttpRecognizer:
    """A client of the service: an :class:`AsyncRecognizer` (``recognize`` only)."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.calls = 0

    async def recognize(
        self, text: str, *, expect_types: Collection[str] | None = None
    ) -> NluResult:
        self.calls += 1
        payload = {"text": text, "expect_types": None if expect_types is None else [*expect_types]}
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with self.session.post(self.url, json=payload, timeout=timeout) as resp:
            resp.raise_for_status()
            data: dict[str, Any] = await resp.json()
        entities = [EntityMatch(**e) for e in data["entities"]]
        return NluResult(data["intent"], data["score"], entities, [], data["unresolved"])


@pytest.fixture
async def service() -> AsyncIterator[tuple[NluService, HttpRecognizer]]:
    svc = NluService()
    app = web.Application()
    app.router.add_post("/parse", svc.parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as session:
            yield svc, HttpRecognizer(f"http://{host}:{port}/parse", session)
    finally:
        await runner.cleanup()


def _engine(recognizer: Any) -> tuple[DialogEngine, Recorder]:
    rec = Recorder()
    engine = DialogEngine(
        DEFINITION,
        PlayCaller(rec.play()),
        settings=EngineSettings(seed=1),
        recognizer=recognizer,
        tokenizer=SimpleTokenizer(),
    )
    return engine, rec


async def test_an_async_recognizer_over_http_runs_the_dialog(
    service: tuple[NluService, HttpRecognizer],
) -> None:
    svc, client = service
    assert isinstance(client, AsyncRecognizer) and not isinstance(client, Recognizer)
    engine, rec = _engine(client)
    ask = await engine.turn(engine.new_state(), UserText("날씨 알려줘"))
    assert ask.prompt_source == "slot"  # the location is missing: asked for
    done = await engine.turn(ask.state, UserText("부산"))
    assert done.session_ended and rec.calls[-1]["location"] == "부산"
    # the slot turn sent what the engine waits for
    assert svc.seen == [("날씨 알려줘", None), ("부산", ["LOCATION:LOCATION"])]


async def test_doubts_of_an_async_recognizer_are_confirmed(
    service: tuple[NluService, HttpRecognizer],
) -> None:
    _, client = service
    engine, rec = _engine(client)
    ask = await engine.turn(engine.new_state(), UserText("부선 날씨 알려줘"))
    assert ask.prompt_source == "confirm" and ask.corrections == []
    done = await engine.turn(ask.state, UserText("네"))
    assert rec.calls[-1]["location"] == "부산" and done.session_ended


async def test_waiting_for_the_service_does_not_block_other_turns(
    service: tuple[NluService, HttpRecognizer],
) -> None:
    """A turn waiting for the service lets another session's turn finish first."""
    svc, client = service
    engine, _ = _engine(client)
    slow = asyncio.create_task(engine.turn(engine.new_state(), UserText("느긋 서울 날씨 알려줘")))
    fast = await asyncio.wait_for(
        engine.turn(engine.new_state(), UserText("대구 날씨 알려줘")), TIMEOUT
    )
    assert fast.session_ended and not slow.done()
    svc.release.set()
    slowed = await asyncio.wait_for(slow, TIMEOUT)
    assert slowed.session_ended and slowed.intent == "ask.weather"


async def test_engine_recognize_and_the_sync_face(
    service: tuple[NluService, HttpRecognizer],
) -> None:
    _, client = service
    engine, _ = _engine(client)
    result = await engine.recognize("서울 날씨 알려줘")
    assert result.intent == "ask.weather" and result.entity("LOCATION") is not None
    assert isinstance(engine.nlu, AsyncOnly)
    with pytest.raises(TypeError, match="asynchronous"):
        engine.nlu.parse("서울 날씨")


class Both:
    """A recogniser with both faces: turns await ``recognize``, ``parse`` stays usable."""

    def __init__(self) -> None:
        self.inner = build_recognizer(DEFINITION, audio_player=False, tokenizer=SimpleTokenizer())
        self.awaited: list[str] = []

    def parse(self, text: str, *, expect_types: Collection[str] | None = None) -> NluResult:
        return self.inner.parse(text, expect_types=expect_types)

    async def recognize(
        self, text: str, *, expect_types: Collection[str] | None = None
    ) -> NluResult:
        await asyncio.sleep(0)
        self.awaited.append(text)
        return self.inner.parse(text, expect_types=expect_types)


def make_both(definition: Any) -> Both:
    return Both()


async def test_a_recognizer_with_both_faces_is_awaited_for_turns() -> None:
    both = Both()
    engine, rec = _engine(both)
    assert engine.nlu is both
    done = await engine.turn(engine.new_state(), UserText("서울 날씨 알려줘"))
    assert both.awaited == ["서울 날씨 알려줘"] and rec.calls[-1]["location"] == "서울"
    assert engine.nlu.parse("부산 날씨 알려줘").intent == "ask.weather"
    assert done.session_ended


async def test_the_builtin_nlu_is_called_directly() -> None:
    engine, _ = _engine(None)
    assert engine._recognize is None  # no await, no extra call on the default path
    assert (await engine.recognize("서울 날씨 알려줘")).intent == "ask.weather"


def test_the_recognizer_setting_accepts_an_async_factory() -> None:
    got = load_recognizer(f"{__name__}:make_both", DEFINITION)
    assert isinstance(got, Both)
    engine = DialogEngine(DEFINITION, settings=EngineSettings(recognizer=f"{__name__}:make_both"))
    assert engine._recognize is not None
