"""The weather play served on NUGU and as a Bot Framework skill, in one app.

``POST /answer.weather`` is the NUGU Backend proxy call (the baseline); ``POST
/api/messages`` is a skill turn: NLU, the dialog engine, the handler through PlayCaller,
and the dialog state read and written in the store (memory here, to measure voicehook, not
the disk).
"""

from __future__ import annotations

from bench.common import weather_for
from voicehook import ActionRequest, Play
from voicehook.botframework.auth import BotAuthConfig
from voicehook.botframework.skill import BotFrameworkChannel
from voicehook.play.definition import parse_definition
from voicehook.server import Settings, create_app
from voicehook.server.routing import Route
from voicehook.store import MemoryStore

PLAY_YAML = """
name: weather
invocation: 날씨 알리미
entities:
  LOCATION:
    values: {서울: [서울시], 부산: [], 명동: [], 제주: []}
intents:
  ask.weather:
    examples:
      - "[서울](LOCATION) 날씨 알려줘"
      - "[내일](BID_DT_DAY) [부산](LOCATION) 날씨 어때"
      - "날씨 알려줘"
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters:
      location:
        type: LOCATION
        required: true
        prompts: [지역을 몰라서 마칠게요., "어느 지역이요?"]
      day: {type: BID_DT_DAY}
      weather: backend
      temperature: backend
    response:
      type: end
      prompts: ["{{location}} 날씨는 {{weather}}, {{temperature}}도예요."]
"""

play = Play(parse_definition(PLAY_YAML, "bench-weather.yaml"))


@play.action("answer.weather")
async def weather(req: ActionRequest) -> dict[str, str]:
    w, t = weather_for(req.params["location"])
    return {"weather": w, "temperature": t}


app = create_app(
    play,
    Settings(),
    store=MemoryStore(),
    routes=[Route("/api/messages", BotFrameworkChannel(play, BotAuthConfig()), exact=True)],
)
