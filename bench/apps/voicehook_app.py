"""The weather action written with voicehook.

`app` is the plain version. `upstream_app` calls the fake upstream.
TODO(core): the upstream version uses aiohttp directly for now. Switch it to the upstream
client that voicehook provides once that API is final (in progress: `req.app.http.get_json`).
Startup and shutdown hooks get the app context as their only argument.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from bench.common import upstream_base, weather_for
from voicehook import ActionRequest, Play
from voicehook.server import create_app

UTTERANCE = {
    "location": "LOCATION",
    "day": "BID_DT_DAY",
    "month": "BID_DT_YMONTH",
    "date": "BID_DT_MDAY",
}
BACKEND = ["weather", "temperature"]

play = Play("weather")


@play.action("answer.weather", utterance=UTTERANCE, backend=BACKEND)
async def weather(req: ActionRequest) -> dict[str, str]:
    w, t = weather_for(req.params["location"])
    return {"weather": w, "temperature": t}


app = create_app(play)


upstream_play = Play("weather-upstream")
_sessions: list[aiohttp.ClientSession] = []
_weather_url = upstream_base() + "/weather"


@upstream_play.on_startup
async def _open_session(app: Any) -> None:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    _sessions.append(aiohttp.ClientSession(connector=connector))


@upstream_play.on_shutdown
async def _close_session(app: Any) -> None:
    while _sessions:
        await _sessions.pop().close()


@upstream_play.action("answer.weather", utterance=UTTERANCE, backend=BACKEND)
async def weather_upstream(req: ActionRequest) -> dict[str, str]:
    loc = req.params["location"]
    url = _weather_url if loc is None else _weather_url + "?location=" + quote(loc)
    async with _sessions[0].get(url) as resp:
        data = orjson.loads(await resp.read())
    return {"weather": data["weather"], "temperature": data["temperature"]}


upstream_app = create_app(upstream_play)
