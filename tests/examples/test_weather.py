"""The weather example: its handlers, its fake upstream, and upstream failure."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from voicehook.cli.loading import load_play
from voicehook.testing import NuguTestClient

WEATHER = Path(__file__).resolve().parents[2] / "examples" / "weather"


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setenv("WEATHER_TODAY", "2026-11-22")
    monkeypatch.delenv("WEATHER_UPSTREAM_URL", raising=False)
    return dt.date(2026, 11, 22)


@pytest.fixture
async def client(today: dt.date) -> AsyncIterator[NuguTestClient]:
    async with NuguTestClient(load_play(str(WEATHER))) as c:
        yield c


async def test_known_city_answers_ok_with_every_key(client: NuguTestClient) -> None:
    answer = await client.call("answer.weather", {"location": "서울", "day": "TOMORROW"})
    assert answer.result_code == "OK"
    out = answer.output
    assert set(out) == {
        "location",
        "day",
        "month",
        "date",
        "weekday",
        "when",
        "weather",
        "temperature",
    }
    assert out["when"] == "내일"
    assert out["weather"] and out["temperature"] and out["temperature"].lstrip("-").isdigit()


@pytest.mark.parametrize("city", ["서울", "부산", "제주", "명동"])
async def test_known_cities(client: NuguTestClient, city: str) -> None:
    assert (await client.call("answer.weather", {"location": city})).result_code == "OK"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"location": "뉴욕"}, "UNSUPPORTED_LOCATION"),
        ({"location": "서울", "month": "2", "date": "31"}, "INVALID_DATE"),
        ({"location": "서울", "month": "2", "date": "30"}, "INVALID_DATE"),
        ({"location": "서울", "month": "13", "date": "1"}, "INVALID_DATE"),
        ({"location": "서울", "month": "3"}, "INVALID_DATE"),
        ({"location": "서울", "day": "YESTERDAY"}, "UNSUPPORTED_DAY"),
        ({"location": "서울", "day": "AAA_TOMORROW"}, "UNSUPPORTED_DAY"),
        ({"location": "서울", "month": "2", "date": "28"}, "OK"),
        ({"location": "서울", "day": "AA_TOMORROW"}, "OK"),
    ],
)
async def test_result_codes(client: NuguTestClient, params: dict[str, str], code: str) -> None:
    assert (await client.call("answer.weather", params)).result_code == code


async def test_next_february_is_meant_in_november(client: NuguTestClient) -> None:
    answer = await client.call("answer.weather", {"location": "부산", "month": "2", "date": "28"})
    assert answer.output["when"] == "2월 28일"


@pytest.mark.parametrize(
    ("params", "when", "weekday"),
    [
        ({"month": "2", "date": "14"}, "2월 14일", "토요일"),  # 2026-02-14
        ({"day": "TOMORROW"}, "내일", "월요일"),  # 2026-11-23
        ({}, "오늘", "일요일"),
    ],
)
async def test_weekday(
    client: NuguTestClient, params: dict[str, str], when: str, weekday: str
) -> None:
    answer = await client.call("ask.weekday", params)
    assert answer.result_code == "OK"
    assert (answer.output["when"], answer.output["weekday"]) == (when, weekday)


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/weather", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_upstream_error_gives_weather_unavailable(
    today: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    runner, url = await _serve(broken)
    monkeypatch.setenv("WEATHER_UPSTREAM_URL", url)
    try:
        async with NuguTestClient(load_play(str(WEATHER))) as c:
            answer = await c.call("answer.weather", {"location": "서울"})
    finally:
        await runner.cleanup()
    assert answer.result_code == "WEATHER_UNAVAILABLE"


async def test_slow_upstream_gives_weather_unavailable_within_the_deadline(
    today: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"sky": "맑음", "temperature": 1})

    runner, url = await _serve(slow)
    monkeypatch.setenv("WEATHER_UPSTREAM_URL", url)
    try:
        async with NuguTestClient(load_play(str(WEATHER))) as c:
            loop = asyncio.get_running_loop()
            started = loop.time()
            answer = await c.call("answer.weather", {"location": "서울"})
            took = loop.time() - started
    finally:
        await runner.cleanup()
    assert answer.result_code == "WEATHER_UNAVAILABLE"
    assert took < 3.0  # the 3 s action deadline; the upstream timeout is 1.5 s


async def test_unreachable_upstream(today: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests._support.server import free_port

    monkeypatch.setenv("WEATHER_UPSTREAM_URL", f"http://127.0.0.1:{free_port()}")
    async with NuguTestClient(load_play(str(WEATHER))) as c:
        answer = await c.call("answer.weather", {"location": "서울"})
    assert answer.result_code == "WEATHER_UNAVAILABLE"
