"""Issue 9, items 1, 2 and 7: deep JSON, list/dict values, session ids, bounded sizes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook import ActionRequest, Play, Settings
from voicehook.errors import HttpError
from voicehook.jsonlimits import DEFAULT_MAX_DEPTH, check_json_depth, json_depth_over
from voicehook.play import to_output_value
from voicehook.play.app import OutputTypeError
from voicehook.play.context import AppContext
from voicehook.play.request import Session
from voicehook.store import MemoryStore
from voicehook.testing import NuguTestClient


def nested(depth: int, leaf: Any = 1, *, kinds: str = "[") -> Any:
    """A value ``depth`` containers deep, built without recursion."""
    value = leaf
    for i in range(depth):
        value = [value] if kinds[i % len(kinds)] == "[" else {"k": value}
    return value


def deep_text(depth: int, kinds: str = "[{") -> bytes:
    """JSON text ``depth`` containers deep (json.dumps would recurse)."""
    opens, closes = [], []
    for i in range(depth):
        if kinds[i % len(kinds)] == "[":
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"k":')
            closes.append("}")
    return ("".join(opens) + '"x"' + "".join(reversed(closes))).encode()


def true_depth(text: bytes) -> int:
    """The nesting depth of JSON text, by a plain character walk (the reference)."""
    depth = best = 0
    in_string = escaped = False
    for ch in text.decode():
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


#: Nesting from shallow to 10,000 levels, mixed arrays and objects, with brackets in strings.
DEPTHS = st.one_of(
    st.integers(0, 80), st.integers(60, 70), st.integers(80, 2000), st.integers(2000, 10_000)
)


@given(depth=DEPTHS, kinds=st.sampled_from(["[", "{", "[{", "{[{"]), limit=st.integers(1, 100))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_depth_check_matches_the_true_depth(depth: int, kinds: str, limit: int) -> None:
    text = deep_text(depth, kinds)
    assert json_depth_over(text, limit) == (depth > limit)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text('[]{}"\\ab가', max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


@given(value=JSON_VALUES, limit=st.integers(1, 8), wrap=st.integers(0, 12))
@settings(max_examples=300, deadline=None)
def test_depth_check_on_any_json(value: Any, limit: int, wrap: int) -> None:
    text = json.dumps(nested(wrap, value), ensure_ascii=False).encode()
    assert json_depth_over(text, limit) == (true_depth(text) > limit)


def test_check_raises_too_deep() -> None:
    check_json_depth(deep_text(DEFAULT_MAX_DEPTH))
    with pytest.raises(HttpError) as err:
        check_json_depth(deep_text(DEFAULT_MAX_DEPTH + 1))
    assert (err.value.status, err.value.code) == (400, "too_deep")


def test_deep_output_values_raise_the_output_error_not_recursion() -> None:
    # Was: json.dumps in to_output_value raised RecursionError outside the error handling.
    with pytest.raises(OutputTypeError):
        to_output_value(nested(5000))
    assert to_output_value(nested(3)) == "[[[1]]]"


def make_play() -> Play:
    play = Play("input")

    @play.action("echo", utterance={"location": "LOCATION"}, backend=["out"])
    async def echo(req: ActionRequest) -> dict[str, str]:
        location = req.params["location"]
        return {"out": (location or "").upper()}  # a str method: crashed on a list

    @play.action("count", backend=["n"])
    async def count(req: ActionRequest) -> dict[str, str]:
        state = await req.session_state()
        state["n"] = state.get("n", 0) + 1
        return {"n": str(state["n"])}

    @play.action("deep", backend=["out"])
    async def deep(req: ActionRequest) -> dict[str, object]:
        return {"out": nested(5000)}

    return play


def body(action: str, params: dict[str, Any], session: str | None = "s1") -> bytes:
    context: dict[str, Any] = {"device": {"type": "speaker"}}
    if session is not None:
        context["session"] = {"id": session}
    return json.dumps(
        {
            "version": "2.0",
            "action": {"actionName": action, "parameters": params},
            "context": context,
        }
    ).encode()


@pytest.mark.parametrize("policy", ["deny", "allow"])
async def test_deep_json_is_a_400_on_every_path(policy: str) -> None:
    # Was: 500 from depth ~980, and with play_builder=allow before any auth check.
    app_settings = Settings(api_keys=("k",), play_builder=policy)  # type: ignore[arg-type]
    async with NuguTestClient(make_play(), app_settings) as client:
        for depth in (65, 1000, 10_000):
            deep_value = deep_text(depth).decode()
            raw = (
                '{"version":"2.0","action":{"actionName":"echo","parameters":{"location":'
                '{"type":"LOCATION","value":' + deep_value + "}}}}"
            ).encode()
            answer = await client.post("/echo", raw)
            assert answer.status == 400, answer
            assert answer.json["error"]["code"] == "too_deep"


@pytest.mark.parametrize(
    "value, expected",
    [
        (["서울", "부산"], '["서울","부산"]'),
        ({"city": "서울"}, '{"city":"서울"}'),
        ([[1, [2]], {"a": None}], '[[1,[2]],{"a":null}]'),
        (3, "3"),
        (True, "true"),
    ],
)
async def test_list_and_object_values_reach_handlers_as_json_text(
    value: Any, expected: str
) -> None:
    # Was: the handler got a list and crashed (BACKEND_ERROR with a traceback).
    async with NuguTestClient(make_play()) as client:
        answer = await client.post("/echo", body("echo", {"location": {"value": value}}))
        assert answer.status == 200
        assert answer.result_code == "OK"
        assert answer.output["location"] == expected
        assert answer.output["out"] == expected.upper()


async def test_a_deep_value_returned_by_a_handler_is_a_failure_code_not_a_500() -> None:
    async with NuguTestClient(make_play()) as client:
        answer = await client.post("/deep", body("deep", {}))
        assert answer.status == 200 and answer.result_code == "BACKEND_ERROR"


async def test_a_stateful_action_without_a_session_id_is_a_400() -> None:
    async with NuguTestClient(make_play(), store=MemoryStore()) as client:
        ok = await client.post("/count", body("count", {}, session="s1"))
        assert ok.status == 200 and ok.output["n"] == "1"
        for session in (None, ""):
            answer = await client.post("/count", body("count", {}, session=session))
            assert answer.status == 400
            assert answer.json["error"]["code"] == "missing_session_id"


def test_long_session_ids_and_user_keys_are_hashed_in_store_keys() -> None:
    app = AppContext("p", max_key_length=64)
    long_id = "가" * 1_000_000
    key = app.state_key(ActionRequest("a", {}, session=Session(id=long_id)))
    assert len(key) < 100 and key.startswith("session:p:sha256-")
    assert app.state_key(ActionRequest("a", {}, session=Session(id="short"))) == ("session:p:short")
    assert len(app.user_key("u" * 10_000)) < 100
    other = app.state_key(ActionRequest("a", {}, session=Session(id=long_id + "x")))
    assert other != key


def test_user_state_expires_by_default() -> None:
    assert AppContext("p").user_ttl == 30 * 24 * 3600
    assert Settings().user_ttl == 30 * 24 * 3600


async def test_client_strings_in_logs_are_clipped_and_repeats_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Was: a 1 MB actionName made a 1 MB log line; 100k bad requests made 46.5 MB of logs.
    async with NuguTestClient(make_play()) as client:
        huge = "x" * 1_000_000
        with caplog.at_level(logging.INFO):
            answer = await client.post("/" + huge, body(huge, {}))
            assert answer.status == 200 and answer.result_code == "UNKNOWN_ACTION"
            for i in range(200):
                await client.post(f"/nope{i}", body(f"nope{i}", {}))
                await client.post("/echo", b"{not json")
        lines = [r.getMessage() for r in caplog.records]
        assert max(len(line) for line in lines) < 2000
        assert sum("invalid_json" in line for line in lines) <= 2
        assert sum("unknown action" in line for line in lines) <= 3
        metrics = (await client.request("GET", "/metrics")).body.decode()
        assert 'voicehook_rejected_total{code="invalid_json",status="400"} 200' in metrics
        assert "voicehook_logs_suppressed_total" in metrics


async def test_metrics_are_not_under_the_prefix_unless_asked() -> None:
    # Was: {prefix}/metrics was reachable through the nginx example, which blocks /metrics.
    async with NuguTestClient(make_play(), Settings(prefix="/nugu")) as client:
        assert (await client.request("GET", "/metrics")).status == 200
        assert (await client.request("GET", "/nugu/metrics")).status != 200
        assert (await client.request("GET", "/nugu/health")).status == 200
    opt_in = Settings(prefix="/nugu", metrics_under_prefix=True)
    async with NuguTestClient(make_play(), opt_in) as client:
        assert (await client.request("GET", "/nugu/metrics")).status == 200
