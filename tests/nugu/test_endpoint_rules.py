"""The NUGU channel's rules with their exact values (found by mutation testing): parameter
values as handlers get them, each 4xx's message, auth and the logs of odd calls."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from voicehook import ActionRequest, Play, Settings
from voicehook.errors import HttpError
from voicehook.http import HttpRequest
from voicehook.nugu.endpoint import NuguChannel
from voicehook.play import parse_definition
from voicehook.play.context import AppContext
from voicehook.testing import NuguTestClient

PLAY_YAML = """
name: values
actions:
  answer.values:
    backend: true
    parameters:
      word: {type: WORD}
      declared: {type: WORD}
entities:
  WORD: {values: {사과: []}}
"""


def make_play(seen: list[ActionRequest]) -> Play:
    play = Play(parse_definition(PLAY_YAML))

    @play.action("answer.values")
    async def values(req: ActionRequest) -> None:
        seen.append(req)

    return play


def nugu(action: str, parameters: Any) -> dict[str, Any]:
    return {"version": "2.0", "action": {"actionName": action, "parameters": parameters}}


async def test_parameter_values_reach_handlers_as_nugu_text() -> None:
    """docs/backend-proxy.md, "Parameter values": numbers and booleans as their text, arrays
    and objects as compact JSON, null as None."""
    sent = {
        "word": {"type": "WORD", "value": "사과"},
        "int": {"type": "NUMBER", "value": 3},
        "float": {"type": "NUMBER", "value": 2.5},
        "whole": {"type": "NUMBER", "value": 2.0},
        "negative": {"type": "NUMBER", "value": -7.0},
        "almost_big": {"type": "NUMBER", "value": 999999999999999.0},
        "big": {"type": "NUMBER", "value": 1e15},
        "bigger": {"type": "NUMBER", "value": -1e16},
        "yes": {"type": "BOOL", "value": True},
        "no": {"type": "BOOL", "value": False},
        "list": {"type": "LIST", "value": ["서울", 1, None]},
        "object": {"type": "OBJ", "value": {"city": "서울"}},
        "nothing": {"type": "WORD", "value": None},
        "null_param": None,
    }
    seen: list[ActionRequest] = []
    async with NuguTestClient(make_play(seen)) as client:
        answer = await client.post("/answer.values", nugu("answer.values", sent))
    assert answer.status == 200
    [req] = seen
    assert req.params == {
        "word": "사과",
        "declared": None,
        "int": "3",
        "float": "2.5",
        "whole": "2",
        "negative": "-7",
        "almost_big": "999999999999999",
        "big": "1000000000000000.0",
        "bigger": "-1e+16",
        "yes": "true",
        "no": "false",
        "list": '["서울",1,null]',
        "object": '{"city":"서울"}',
        "nothing": None,
        "null_param": None,
    }
    assert req.param_types["int"] == "NUMBER"
    assert req.param_types["word"] == "WORD"
    assert "null_param" not in req.param_types
    assert "declared" not in req.param_types


async def test_unknown_action_gets_the_parameter_values_too() -> None:
    """An action the play does not declare still answers (UNKNOWN_ACTION) without failing on
    odd parameter forms."""
    seen: list[ActionRequest] = []
    async with NuguTestClient(make_play(seen)) as client:
        answer = await client.post(
            "/answer.other",
            nugu("answer.other", {"a": {"value": 1}, "b": None, "c": {"value": "x"}}),
        )
    assert answer.status == 200 and answer.result_code == "UNKNOWN_ACTION"
    assert answer.json["output"] == {"a": "1", "b": None, "c": "x"}
    assert seen == []


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"a": "\xff"}', "invalid_utf8", "the request body is not valid UTF-8"),
        (b"[1]", "invalid_request", "invalid NUGU request: Expected `object`, got `array`"),
        (b"{", "invalid_json", "the request body is not valid JSON: Input data was truncated"),
        (b'{"action": {}}', "missing_field", "missing field: action.actionName"),
        (b'{"action": {"actionName": ""}}', "missing_field", "missing field: action.actionName"),
    ],
)
async def test_bad_bodies_get_a_precise_message(body: bytes, code: str, message: str) -> None:
    async with NuguTestClient(make_play([])) as client:
        answer = await client.request(
            "POST", "/answer.values", body, {"content-type": "application/json"}
        )
    assert answer.status == 400
    assert answer.json["error"]["code"] == code
    assert answer.json["error"]["message"] == message


def channel(**kw: Any) -> NuguChannel:
    play = make_play([])
    return NuguChannel(play, AppContext(play.name), **kw)


def handle(ch: NuguChannel, path: str, body: bytes, headers: Any = ()) -> Any:
    return asyncio.run(ch.handle(HttpRequest("POST", path, list(headers), body, "rid-7")))


def test_a_channel_used_directly_refuses_deep_json() -> None:
    """Without the server's depth cap in front, the channel still answers 400 too_deep."""
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(HttpError) as err:
        handle(channel(), "answer.values", deep)
    assert (err.value.status, err.value.code, err.value.message) == (
        400,
        "too_deep",
        "the JSON body nests too deep",
    )


def test_an_empty_action_path_is_404() -> None:
    with pytest.raises(HttpError) as err:
        handle(channel(), "", json.dumps(nugu("answer.values", {})).encode())
    assert (err.value.status, err.value.code, err.value.message) == (
        404,
        "not_found",
        "the URL must be {prefix}/{actionName}",
    )


def test_channel_defaults() -> None:
    play = make_play([])
    ch = NuguChannel(play, AppContext(play.name))
    assert ch.settings is play.settings
    assert ch.auth is None
    assert (ch.name, ch.methods) == ("nugu", frozenset({"POST"}))


@pytest.mark.parametrize(
    ("settings", "headers", "body", "message"),
    [
        (
            Settings(api_keys=("k",)),
            {"authorization": "token nope"},
            nugu("answer.values", {}),
            "the API key in Authorization is not valid",
        ),
        (
            Settings(api_keys=("k",)),
            {},
            nugu("answer.values", {}),
            "missing Authorization header (token <API key>)",
        ),
        (
            Settings(api_keys=("k",), play_builder="allow"),  # type: ignore[arg-type]
            {},
            nugu("answer.values", {}),
            "missing Authorization header (token <API key>)",
        ),
        (
            Settings(api_keys=("k",), play_builder="allow"),  # type: ignore[arg-type]
            {},
            {
                **nugu("answer.values", {}),
                "context": {"session": {"id": "s", "isPlayBuilderRequest": False}},
            },
            "missing Authorization header (token <API key>)",
        ),
    ],
)
async def test_auth_refusals(
    settings: Settings, headers: dict[str, str], body: dict[str, Any], message: str
) -> None:
    async with NuguTestClient(make_play([]), settings) as client:
        answer = await client.post("/answer.values", body, headers)
    assert answer.status == 401
    assert answer.json["error"] == {
        "code": "unauthorized",
        "message": message,
        "requestId": answer.headers["x-request-id"],
    }


async def test_url_and_body_action_differ(caplog: pytest.LogCaptureFixture) -> None:
    """The URL's action is served; the mismatch is logged once per 10 s."""
    seen: list[ActionRequest] = []
    async with NuguTestClient(make_play(seen)) as client:
        with caplog.at_level(logging.WARNING, "voicehook.nugu"):
            for _ in range(3):
                answer = await client.post(
                    "/answer.values", nugu("answer.elsewhere", {}), {"x-request-id": "rid-u"}
                )
                assert answer.status == 200 and answer.result_code == "OK"
    assert [r.action for r in seen] == ["answer.values"] * 3
    lines = [r for r in caplog.records if r.name == "voicehook.nugu"]
    assert [r.getMessage() for r in lines] == [
        "URL action 'answer.values' differs from action.actionName 'answer.elsewhere'; "
        "using the URL's"
    ]
    assert lines[0].levelno == logging.WARNING
    assert lines[0].request_id == "rid-u"  # type: ignore[attr-defined]


async def test_unknown_action_log_names_the_nearest_actions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with NuguTestClient(make_play([])) as client:
        with caplog.at_level(logging.WARNING, "voicehook.nugu"):
            for name in ("answer.valuez", "zzz"):
                answer = await client.post(f"/{name}", nugu(name, {}), {"x-request-id": name})
                assert answer.result_code == "UNKNOWN_ACTION"
    lines = [r for r in caplog.records if r.name == "voicehook.nugu"]
    assert [r.getMessage() for r in lines] == [
        "unknown action 'answer.valuez': answered UNKNOWN_ACTION so the Dialog Manager plays "
        "the failure prompt; known actions nearest to it: answer.values",
    ]
    assert lines[0].levelno == logging.ERROR
    assert lines[0].action == "answer.valuez"  # type: ignore[attr-defined]
    assert lines[0].request_id == "answer.valuez"  # type: ignore[attr-defined]
