"""An app mounted without its lifespan says so clearly (it used to answer BACKEND_ERROR)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from starlette.applications import Starlette
from starlette.routing import Mount

from tests._support.server import running_server
from voicehook import create_app
from voicehook.cli.loading import load_play
from voicehook.nugu.wire import build_request

ROOT = Path(__file__).resolve().parents[2]


def weather_request() -> dict[str, object]:
    return build_request(
        "answer.weather", {"location": "서울"}, param_types={"location": "LOCATION"}
    )


async def test_mounted_without_the_lifespan_answers_503_not_started() -> None:
    vh = create_app(load_play(str(ROOT / "examples" / "weather")))
    host = Starlette(routes=[Mount("/nugu", app=vh)])  # the lifespan is not forwarded
    with running_server(host) as url:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + "/nugu/answer.weather", json=weather_request()) as r,
        ):
            assert r.status == 503
            err = (await r.json())["error"]
    assert err["code"] == "not_started"
    assert "lifespan" in err["message"] and "await app.startup()" in err["message"]


async def test_mounted_with_the_lifespan_forwarded_answers() -> None:
    vh = create_app(load_play(str(ROOT / "examples" / "weather")))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await vh.startup()
        try:
            yield
        finally:
            await vh.shutdown()

    host = Starlette(routes=[Mount("/nugu", app=vh)], lifespan=lifespan)
    with running_server(host) as url:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + "/nugu/answer.weather", json=weather_request()) as r,
        ):
            assert r.status == 200
            assert (await r.json())["resultCode"] == "OK"
