"""The weather example: ``answer.weather`` and ``ask.weekday``.

Run it: ``voicehook serve examples/weather``. Try it in Korean:
``voicehook simulate examples/weather``.

The forecast comes from an upstream HTTP service at ``WEATHER_UPSTREAM_URL``. When that is
not set, the example starts its own fake service (``upstream.py``) on 127.0.0.1 at startup,
so the demo always speaks real HTTP.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from voicehook import ActionRequest, AppContext, Play, PlayError
from voicehook.upstream import UpstreamError

HERE = Path(__file__).parent
KST = dt.timezone(dt.timedelta(hours=9), "KST")

#: BID_DT_DAY values → days from today.
DAY_OFFSETS = {
    "TODAY": 0,
    "TOMORROW": 1,
    "A_TOMORROW": 2,
    "AA_TOMORROW": 3,
    "AAA_TOMORROW": 4,
    "YESTERDAY": -1,
    "B_YESTERDAY": -2,
    "BB_YESTERDAY": -3,
}
DAY_WORDS = {0: "오늘", 1: "내일", 2: "모레", 3: "글피", -1: "어제", -2: "그저께", -3: "그끄저께"}
WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
FORECAST_DAYS = 3  # 오늘부터 글피까지
UPSTREAM_TIMEOUT = 1.5  # seconds; well inside the 3 s action deadline

play = Play.from_file(HERE / "play.yaml")


def today() -> dt.date:
    """Today in Korea (``WEATHER_TODAY=2026-11-22`` pins it, for tests)."""
    pinned = os.environ.get("WEATHER_TODAY")
    if pinned:
        return dt.date.fromisoformat(pinned)
    return dt.datetime.now(KST).date()


def _number(value: str | None) -> int:
    if value is None or not value.strip().isdigit():
        raise PlayError("INVALID_DATE")
    return int(value)


def resolve_date(
    now: dt.date, day: str | None, month: str | None, date: str | None, *, past_ok: bool
) -> tuple[dt.date, str]:
    """The date the user means, and how to say it ("내일", "2월 28일").

    Raises PlayError INVALID_DATE for impossible dates (2월 31일) and UNSUPPORTED_DAY for a
    relative day outside what the play answers.
    """
    if month is not None or date is not None:
        if date is None:
            raise PlayError("INVALID_DATE")  # "3월 날씨": which day?
        m = _number(month) if month is not None else now.month
        d = _number(date)
        try:
            dt.date(2024, m, d)  # a leap year: only truly impossible dates fail here
        except ValueError:
            raise PlayError("INVALID_DATE") from None
        year = now.year
        if not past_ok and (m, d) < (now.month, now.day):
            year += 1  # "2월 28일" in November means next February
        try:
            target = dt.date(year, m, d)
        except ValueError:  # 2월 29일 in a common year
            raise PlayError("INVALID_DATE") from None
        return target, f"{m}월 {d}일"
    if day is not None:
        offset = DAY_OFFSETS.get(day)
        if offset is None or (not past_ok and not 0 <= offset <= FORECAST_DAYS):
            raise PlayError("UNSUPPORTED_DAY")
        return now + dt.timedelta(days=offset), DAY_WORDS.get(offset, day)
    return now, "오늘"


@play.on_startup
async def start_upstream(app: AppContext) -> None:
    url = os.environ.get("WEATHER_UPSTREAM_URL")
    if url:
        app.resources.weather_url = url.rstrip("/")
        app.resources.fake_upstream = None
        return
    upstream = _load_fake_upstream()
    runner, base = await upstream.start("127.0.0.1", 0)
    app.resources.weather_url = base
    app.resources.fake_upstream = runner


@play.on_shutdown
async def stop_upstream(app: AppContext) -> None:
    runner = getattr(app.resources, "fake_upstream", None)
    if runner is not None:
        await runner.cleanup()


@play.health_check("weather-upstream")
async def upstream_configured(app: AppContext) -> bool:
    return bool(getattr(app.resources, "weather_url", None))


@play.action("answer.weather")
async def weather(req: ActionRequest) -> dict[str, Any]:
    location = req.params["location"]
    if not location:
        raise PlayError("UNSUPPORTED_LOCATION")
    target, when = resolve_date(
        today(), req.params["day"], req.params["month"], req.params["date"], past_ok=False
    )
    assert req.app is not None and req.app.http is not None
    try:
        data = await req.app.http.get_json(
            f"{req.app.resources.weather_url}/weather",
            params={"city": location, "date": target.isoformat()},
            timeout=UPSTREAM_TIMEOUT,
        )
    except UpstreamError as exc:
        if exc.status == 404:
            raise PlayError("UNSUPPORTED_LOCATION") from None
        raise PlayError("WEATHER_UNAVAILABLE") from None
    if not isinstance(data, dict) or "sky" not in data or "temperature" not in data:
        raise PlayError("WEATHER_UNAVAILABLE")
    return {"when": when, "weather": data["sky"], "temperature": data["temperature"]}


@play.action("ask.weekday")
async def weekday(req: ActionRequest) -> dict[str, str]:
    target, when = resolve_date(
        today(), req.params["day"], req.params["month"], req.params["date"], past_ok=True
    )
    return {"when": when, "weekday": WEEKDAYS[target.weekday()]}


def _load_fake_upstream() -> Any:
    name = "voicehook_example_weather_upstream"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "upstream.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
