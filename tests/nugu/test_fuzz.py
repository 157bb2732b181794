"""Property tests: random and mutated bodies never produce a 5xx, and 200s keep the contract."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook import ActionRequest, Play
from voicehook.play import parse_definition
from voicehook.testing import NuguAnswer, NuguTestClient

from .test_endpoint import DEVICE_REQUEST, EVENT_REQUEST, PLAY_BUILDER_REQUEST

PLAY = """
name: fuzz
actions:
  answer.weather:
    backend: true
    parameters: {location: {type: LOC}, day: {type: BID_DT_DAY}, status: backend}
entities: {LOC: {values: {서울: []}}}
"""


def make_client() -> NuguTestClient:
    play = Play(parse_definition(PLAY))

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, object]:
        return {"status": len(req.params)}

    return NuguTestClient(play)


CLIENT = make_client()


def send(body: bytes, path: str = "/answer.weather") -> NuguAnswer:
    return asyncio.run(CLIENT.request("POST", path, body, {"content-type": "application/json"}))


def check(answer: NuguAnswer) -> None:
    assert answer.status < 500, answer
    data = answer.json
    if answer.status == 200:
        assert isinstance(data["resultCode"], str)
        out = data["output"]
        assert {"location", "day", "status"} <= set(out)
        assert all(v is None or isinstance(v, str) for v in out.values())
        assert isinstance(data["directives"], list)
    else:
        assert set(data) == {"error"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_5xx(body: bytes) -> None:
    check(send(body))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json_never_5xx(value: Any) -> None:
    check(send(json.dumps(value).encode()))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([DEVICE_REQUEST, PLAY_BUILDER_REQUEST, EVENT_REQUEST]),
    st.data(),
    json_values,
)
def test_mutated_real_requests_never_5xx(base: dict[str, Any], data: Any, value: Any) -> None:
    body = json.loads(json.dumps(base))
    body["action"]["actionName"] = "answer.weather"
    path = data.draw(st.sampled_from(_paths(body)[1:]))
    target = body
    for key in path[:-1]:
        target = target[key]
    if data.draw(st.booleans()):
        target[path[-1]] = value
    elif isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None
    check(send(json.dumps(body).encode()))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=400))
def test_byte_level_corruption_never_5xx(junk: bytes, at: int) -> None:
    raw = json.dumps(DEVICE_REQUEST, ensure_ascii=False).encode()
    at = min(at, len(raw))
    check(send(raw[:at] + junk + raw[at:]))
