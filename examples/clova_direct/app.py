"""A CLOVA extension in direct mode: hand-written CEK handlers, no play definition.

Serve it with ``voicehook serve examples/clova_direct`` (CLOVA at ``POST /clova``).

Interaction model (register it in the CLOVA developer console):

- ``Weather`` with the slots ``city`` (a custom slot type) and ``when``
  (``CLOVA.DATETIME``): "[부산](city) [내일](when) 날씨 알려줘".
- The built-ins ``Clova.GuideIntent``, ``Clova.CancelIntent``, ``Clova.StopIntent``.

The forecasts are a fixed table, so the example runs without network access.
"""

from __future__ import annotations

from datetime import date

from voicehook.clova import Brief, ClovaRequest, Extension, Response, ask, tell

clova = Extension("clova_direct", lang="ko")

FORECAST = {"서울": "맑고 22도", "부산": "흐리고 20도", "제주": "비가 오고 18도"}
GUIDE = "지역을 말씀해 주세요. 예를 들어 부산 날씨 알려줘 라고 말해 보세요."


@clova.launch
async def welcome(req: ClovaRequest) -> Response:
    return ask("안녕하세요, 날씨 알리미예요. 어느 지역 날씨를 알려드릴까요?", reprompt=GUIDE)


@clova.intent("Weather")
async def weather(req: ClovaRequest) -> Response:
    city = req.slot("city")
    if city is None:
        return ask("어느 지역 날씨를 알려드릴까요?", reprompt=GUIDE)
    forecast = FORECAST.get(city)
    if forecast is None:
        return ask(f"{city} 날씨는 아직 몰라요. 다른 지역을 말씀해 주세요.", reprompt=GUIDE)
    when = req.slots.get("when")
    day = when.typed if when is not None else None
    label = f"{day.month}월 {day.day}일" if isinstance(day, date) else "오늘"
    return tell(
        Brief(f"{city}은 {forecast}예요.", [f"{label} {city} 날씨예요.", f"{forecast}예요."])
    )


@clova.intent("Clova.GuideIntent")
async def guide(req: ClovaRequest) -> Response:
    return ask(GUIDE, reprompt=GUIDE)


@clova.intent("Clova.CancelIntent")
@clova.intent("Clova.StopIntent")
async def goodbye(req: ClovaRequest) -> Response:
    return tell("날씨 알리미를 종료할게요.")
