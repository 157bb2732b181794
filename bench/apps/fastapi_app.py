"""The same weather action, written the usual way in FastAPI with pydantic models.

This is a fair, idiomatic version: typed request and response models, a normal route,
and FastAPI's default JSON response. `upstream_app` calls the fake upstream with one
aiohttp ClientSession that is opened in the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from bench.common import upstream_base, weather_for


class Parameter(BaseModel):
    type: str | None = None
    value: str | None = None


class Action(BaseModel):
    actionName: str
    parameters: dict[str, Parameter] = Field(default_factory=dict)


class Session(BaseModel):
    id: str
    isNew: bool = False
    accessToken: str | None = None
    isPlayBuilderRequest: bool = False


class Device(BaseModel):
    type: str | None = None
    state: dict[str, Any] | None = None


class Context(BaseModel):
    session: Session
    device: Device | None = None
    supportedInterfaces: dict[str, Any] | None = None


class Event(BaseModel):
    type: str | None = None


class NuguRequest(BaseModel):
    version: str
    action: Action
    event: Event | None = None
    context: Context

    def value(self, key: str) -> str | None:
        param = self.action.parameters.get(key)
        return param.value if param is not None else None


class WeatherOutput(BaseModel):
    location: str | None
    day: str | None
    month: str | None
    date: str | None
    weather: str | None
    temperature: str | None


class WeatherResponse(BaseModel):
    version: str
    resultCode: str = "OK"
    output: WeatherOutput
    directives: list[dict[str, Any]] = Field(default_factory=list)


def _response(req: NuguRequest, weather: str, temperature: str) -> WeatherResponse:
    return WeatherResponse(
        version=req.version,
        output=WeatherOutput(
            location=req.value("location"),
            day=req.value("day"),
            month=req.value("month"),
            date=req.value("date"),
            weather=weather,
            temperature=temperature,
        ),
    )


app = FastAPI()


@app.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    return "OK"


@app.post("/answer.weather", response_model=WeatherResponse)
async def answer_weather(req: NuguRequest) -> WeatherResponse:
    weather, temperature = weather_for(req.value("location"))
    return _response(req, weather, temperature)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector) as session:
        app.state.session = session
        yield


upstream_app = FastAPI(lifespan=_lifespan)
upstream_app.get("/health", response_class=PlainTextResponse)(health)


class UpstreamWeather(BaseModel):
    weather: str
    temperature: str


@upstream_app.post("/answer.weather", response_model=WeatherResponse)
async def answer_weather_upstream(req: NuguRequest, request: Request) -> WeatherResponse:
    session: aiohttp.ClientSession = request.app.state.session
    location = req.value("location")
    params = {"location": location} if location is not None else None
    async with session.get(upstream_base() + "/weather", params=params) as resp:
        data = UpstreamWeather.model_validate_json(await resp.read())
    return _response(req, data.weather, data.temperature)
