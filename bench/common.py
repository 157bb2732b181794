"""Shared data for the benchmark: the request body, fake weather, and the expected answer.

Every app under test must answer the request in the same way. The harness checks this
before it measures anything.
"""

from __future__ import annotations

import json
import os
from typing import Any

ACTION = "answer.weather"
PATH = "/" + ACTION
AUTH_HEADER = "token bench-token-1a2b3c"
UPSTREAM_ENV = "VOICEHOOK_BENCH_UPSTREAM"
UPSTREAM_DELAY_S = 0.05

# Utterance parameter KEY -> NUGU entity type. Backend parameters follow.
UTTERANCE_KEYS = {
    "location": "LOCATION",
    "day": "BID_DT_DAY",
    "month": "BID_DT_YMONTH",
    "date": "BID_DT_MDAY",
}
BACKEND_KEYS = ("weather", "temperature")
OUTPUT_KEYS = (*UTTERANCE_KEYS, *BACKEND_KEYS)

# location -> (weather, temperature). Unknown places get UNKNOWN_WEATHER.
FAKE_WEATHER: dict[str, tuple[str, str]] = {
    "서울": ("맑음", "23"),
    "명동": ("구름 조금", "22"),
    "부산": ("비", "19"),
    "제주": ("흐림", "21"),
}
UNKNOWN_WEATHER = ("알 수 없음", "")


def make_body(location: str | None = "서울", day: str | None = "TODAY") -> dict[str, Any]:
    """Build a request like spec §4 E1. A None value leaves the parameter out."""
    params: dict[str, Any] = {}
    if location is not None:
        params["location"] = {"type": "LOCATION", "value": location}
    if day is not None:
        params["day"] = {"type": "BID_DT_DAY", "value": day}
    return {
        "version": "2.0",
        "action": {"actionName": ACTION, "parameters": params},
        "event": {"type": "Text.TextInput"},
        "context": {
            "session": {
                "id": "85964e40-cf9c-4eae-841b-d736d5ef9060",
                "isNew": True,
                "accessToken": "EiIvr59Q02vBi2CJRJOLRxGopq0U",
            },
            "device": {"type": "speaker.nugu.nu200", "state": {}},
            "supportedInterfaces": {
                "AudioPlayer": {"playerActivity": "IDLE", "offsetInMilliseconds": 0},
            },
        },
    }


BODY = make_body()
BODY_BYTES = json.dumps(BODY, ensure_ascii=False, separators=(",", ":")).encode()

# Extra bodies used only for the correctness check.
CHECK_BODIES = [BODY, make_body("명동", None), make_body("평양", "TOMORROW"), make_body(None, None)]


def weather_for(location: str | None) -> tuple[str, str]:
    """The fake weather lookup that every handler does."""
    if location is None:
        return UNKNOWN_WEATHER
    return FAKE_WEATHER.get(location, UNKNOWN_WEATHER)


def expected_response(body: dict[str, Any]) -> dict[str, Any]:
    """The correct NUGU response for `body`. Absent utterance values are null."""
    params = body["action"]["parameters"]
    output: dict[str, Any] = {k: (params.get(k) or {}).get("value") for k in UTTERANCE_KEYS}
    output["weather"], output["temperature"] = weather_for(output["location"])
    return {"version": body["version"], "resultCode": "OK", "output": output, "directives": []}


def upstream_base() -> str:
    """Base URL of the fake upstream, from the environment (set by bench/run.py)."""
    return os.environ.get(UPSTREAM_ENV, "http://127.0.0.1:18090")
