"""The weather action written with voicehook.

`app` is the plain version. `upstream_app` calls the fake upstream with the upstream client
that voicehook provides (`req.app.http`, aiohttp underneath, opened in the lifespan).
"""

from __future__ import annotations

from urllib.parse import quote

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
_weather_url = upstream_base() + "/weather"


@upstream_play.action("answer.weather", utterance=UTTERANCE, backend=BACKEND)
async def weather_upstream(req: ActionRequest) -> dict[str, str]:
    assert req.app is not None and req.app.http is not None
    loc = req.params["location"]
    url = _weather_url if loc is None else _weather_url + "?location=" + quote(loc)
    data = await req.app.http.get_json(url)
    return {"weather": data["weather"], "temperature": data["temperature"]}


upstream_app = create_app(upstream_play)
