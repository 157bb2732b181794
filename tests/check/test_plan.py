"""The request plan: shapes, null forms, coverage, the cap, determinism."""

from __future__ import annotations

import time

import pytest

from voicehook.check import count_requests, plan_requests
from voicehook.check.cases import EXTRA_FIELD, RequestCase
from voicehook.play import PlayDefinition, parse_definition


def _params(case: RequestCase) -> dict[str, object]:
    params = case.body["action"]["parameters"]
    assert isinstance(params, dict)
    return params


def _has_value(case: RequestCase, name: str) -> bool:
    entry = _params(case).get(name)
    return isinstance(entry, dict) and entry.get("value") is not None


def test_play_builder_shape(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "answer.weather", api_key="KEY")
    builder = [c for c in cases if c.shape == "play_builder"]
    assert builder
    for c in builder:
        ctx = c.body["context"]
        assert "event" not in c.body
        assert "Authorization" not in c.headers
        assert ctx["session"]["isPlayBuilderRequest"] is True
        assert "accessToken" not in ctx["session"]
        assert ctx["device"]["type"] == "speaker"
        assert ctx["supportedInterfaces"] in (None, {})
    assert {c.body["context"]["supportedInterfaces"] is None for c in builder} == {True, False}


def test_device_shape(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "answer.weather", api_key="KEY")
    device = [c for c in cases if c.shape == "device"]
    assert device
    for c in device:
        assert c.headers["Authorization"] == "token KEY"
        ctx = c.body["context"]
        assert "isPlayBuilderRequest" not in ctx["session"]
        assert ctx["device"]["type"].startswith("speaker.")
        player = ctx["supportedInterfaces"]["AudioPlayer"]
        assert player["playerActivity"] in ("IDLE", "PLAYING", "PAUSED", "STOPPED")
        assert isinstance(player["offsetInMilliseconds"], int)
    no_key = plan_requests(definition, "answer.weather")
    assert all("Authorization" not in c.headers for c in no_key)


def test_every_utterance_parameter_present_and_absent_within_five(
    definition: PlayDefinition,
) -> None:
    for action in ("answer.weather", "play.music", "calc.sum"):
        cases = plan_requests(definition, action, max_requests=5)
        assert len(cases) == 5
        utterance = [
            n for n, p in definition.action_parameters(action).items() if p.kind == "utterance"
        ]
        for name in utterance:
            present = [_has_value(c, name) for c in cases]
            assert True in present and False in present, (action, name)
            # Absent both ways: left out, and sent as {type: null, value: null}.
            absent = [name in c.request_keys for c in cases if not _has_value(c, name)]
            required = definition.action_parameters(action)[name].required
            assert False in absent, (action, name)
            assert required or True in absent, (action, name)
        backend = [
            n for n, p in definition.action_parameters(action).items() if p.kind == "backend"
        ]
        for name in backend:
            assert {name in c.request_keys for c in cases} == {True, False}, (action, name)


def test_required_parameter_is_also_sent_absent(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "answer.weather")
    assert sum(not _has_value(c, "location") for c in cases) >= 1
    absent = [c for c in cases if not _has_value(c, "location")]
    assert {"location" in c.request_keys for c in absent} == {True, False}  # both null forms
    assert any("required absent: location" in c.description for c in cases)


def test_both_null_forms_for_backend_parameters(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "answer.weather")
    forms = set()
    for c in cases:
        entry = _params(c).get("weather")
        forms.add("omitted" if entry is None else repr(entry))
    assert "omitted" in forms
    assert repr({"type": None, "value": None}) in forms
    assert repr({"type": None, "value": "check-previous-value"}) in forms


def test_sample_values(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "answer.weather", max_requests=50)
    values: dict[str, set[tuple[object, object]]] = {}
    for c in cases:
        for key, entry in _params(c).items():
            if isinstance(entry, dict) and entry.get("value") is not None:
                values.setdefault(key, set()).add((entry["type"], entry["value"]))
    assert {v for t, v in values["location"]} <= {"서울", "부산"}  # representative values
    assert {t for t, v in values["location"]} == {"LOCATION"}
    assert {v for t, v in values["day"]} <= {"TODAY", "TOMORROW", "A_TOMORROW", "YESTERDAY"}
    assert {t for t, v in values["when"]} == {"BID_DT_YMONTH", "BID_DT_MDAY"}
    assert values["unit"] == {(None, "celsius")}  # configurable parameter with its value


def test_event_action_gets_its_event(definition: PlayDefinition) -> None:
    cases = plan_requests(definition, "music.finished", api_key="KEY")
    assert cases
    for c in cases:
        assert c.shape == "device"  # the Play Builder test chat cannot send device events
        event = c.body["event"]
        assert event["type"] == "AudioPlayer.PlaybackFinished"
        assert isinstance(event["token"], str) and isinstance(event["offsetInMilliseconds"], int)
        player = c.body["context"]["supportedInterfaces"]["AudioPlayer"]
        assert player["playerActivity"] == "FINISHED"


def test_unknown_fields_at_several_levels(definition: PlayDefinition) -> None:
    cases = [c for c in plan_requests(definition, "music.finished") if "extra" in c.description]
    assert len(cases) == 1
    body = cases[0].body
    for level in (
        body,
        body["action"],
        body["context"],
        body["context"]["session"],
        body["context"]["device"],
        body["context"]["supportedInterfaces"]["AudioPlayer"],
        body["event"],
    ):
        assert EXTRA_FIELD in level


def test_cap_and_determinism(definition: PlayDefinition) -> None:
    a = plan_requests(definition, "answer.weather", api_key="K", max_requests=7)
    b = plan_requests(definition, "answer.weather", api_key="K", max_requests=7)
    assert len(a) == 7
    assert [c.body for c in a] == [c.body for c in b]
    full = plan_requests(definition, "answer.weather", max_requests=1000)
    assert len(full) == count_requests(definition, "answer.weather")
    assert [c.description for c in full[:7]] == [
        c.description for c in plan_requests(definition, "answer.weather", max_requests=7)
    ]
    assert len({c.body["context"]["session"]["id"] for c in full}) == len(full)
    with pytest.raises(ValueError):
        plan_requests(definition, "answer.weather", max_requests=0)
    with pytest.raises(KeyError):
        plan_requests(definition, "nope")


def test_many_optional_parameters_stay_bounded() -> None:
    params = "\n".join(f"      p{i}: {{type: BID_QT}}" for i in range(18))
    defn = parse_definition(
        f"name: big\nactions:\n  big:\n    backend: true\n    parameters:\n{params}\n"
    )
    started = time.perf_counter()
    cases = plan_requests(defn, "big", max_requests=24)
    assert len(cases) == 24
    assert count_requests(defn, "big", limit=500) == 500
    assert time.perf_counter() - started < 5
    for i in range(18):
        present = {f"p{i}" in c.request_keys for c in cases}
        assert present == {True, False}


def test_unknown_entity_type_gets_a_korean_word() -> None:
    defn = parse_definition(
        "name: x\nactions:\n  a:\n    backend: true\n    parameters:\n"
        "      thing: {type: BID_SOMETHING_NEW}\n"
    )
    value = _params(plan_requests(defn, "a")[0])["thing"]
    assert isinstance(value, dict)
    assert value["type"] == "BID_SOMETHING_NEW"
    assert all("가" <= ch <= "힣" for ch in value["value"])
