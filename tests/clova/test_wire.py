"""The CEK wire format: the tolerant cases of spec §2.1 and typed slots (spec §3.2)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicehook.clova import wire
from voicehook.clova.request import ClovaRequest
from voicehook.clova.slots import Slot, parse_duration, parse_typed

#: A copy of ../shared/fixtures/clova-signed-request.json (a real 2018 capture).
FIXTURE = Path(__file__).parent / "data" / "clova-signed-request.json"


def req(data: object) -> ClovaRequest:
    return ClovaRequest(wire.decode_request(json.dumps(data).encode()))


def test_real_signed_request_decodes_with_its_gaps() -> None:
    body = base64.b64decode(json.loads(FIXTURE.read_text())["body_base64"])
    r = ClovaRequest(wire.decode_request(body))
    assert r.type == "IntentRequest"
    assert r.intent == "Clova.GuideIntent"
    assert r.slots == {}  # slots: null
    assert r.application_id is None  # no context.System.application
    assert r.attributes == {}  # no sessionAttributes
    assert r.session_id == "73ed88b7-5219-4ca0-9467-e44f852cafc1"
    assert r.user_id == "as-CA80nSomiFI-LAg2u6w"
    assert r.is_new is True
    assert r.version == "1.0"


def test_skill_store_event_with_null_session_and_empty_context() -> None:
    r = req(
        {
            "version": "1.0",
            "session": None,
            "context": {},
            "request": {
                "type": "EventRequest",
                "requestId": "f0",
                "timestamp": "2018-06-11T09:19:23Z",
                "locale": "ja-JP",
                "extensionId": "com.example.ext",
                "intent": {"intent": "", "name": "", "slots": None},
                "event": {"namespace": "ClovaSkill", "name": "SkillEnabled", "payload": None},
            },
        }
    )
    assert r.session_id is None
    assert r.user_id is None
    assert r.attributes == {}
    assert r.event == "ClovaSkill.SkillEnabled"
    assert r.payload == {}
    assert r.intent is None  # the stub intent of a non-intent request is not an intent
    assert r.application_id == "com.example.ext"  # from request.extensionId
    assert r.locale == "ja-JP"


def test_missing_pieces_and_extra_keys() -> None:
    r = req(
        {
            "version": "0.1.0",
            "surprise": [1, 2],
            "session": {"sessionId": "s", "user": {"userId": "u"}, "new": False, "x": 1},
            "context": {"System": {"user": {"userId": "owner"}, "device": {}}},
            "request": {
                "type": "IntentRequest",
                "intent": {
                    "name": "Order",
                    "intent": "Order",
                    "slots": {
                        "count": {"name": "count", "value": 2, "unit": "개"},
                        "ratio": {"name": "ratio", "value": 1.5},
                        "gone": None,
                        "blank": {"name": "blank", "value": None},
                    },
                },
            },
        }
    )
    assert r.version == "0.1.0"
    assert r.access_token is None
    assert r.user_id == "u"
    assert r.slot("count") == "2"
    assert r.slots["count"].unit == "개"
    assert r.slots["count"].number == Decimal(2)
    assert r.slot("ratio") == "1.5"
    assert "gone" not in r.slots
    assert r.slot("blank", "기본") == "기본"
    assert r.device_id is None


def test_device_owner_is_the_user_when_session_has_none() -> None:
    r = req(
        {
            "session": {"sessionId": "s"},
            "context": {"System": {"user": {"userId": "owner"}}},
            "request": {"type": "LaunchRequest"},
        }
    )
    assert r.user_id == "owner"
    assert r.version == "1.0"  # no version: answer with 1.0


def test_wrong_types_are_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError):
        wire.decode_request(b'{"session": "nope", "request": {"type": "LaunchRequest"}}')
    with pytest.raises(msgspec.DecodeError):
        wire.decode_request(b"{not json")


KST = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("value_type", "text", "expected"),
    [
        ("DATE", "2018-08-10", date(2018, 8, 10)),
        ("TIME", "03:00:00", time(3)),
        ("DATETIME", "2018-08-10T03:00:00+09:00", datetime(2018, 8, 10, 3, tzinfo=KST)),
        ("TIME.INTERVAL", "06:00:00/09:00:00", (time(6), time(9))),
        ("DATE.INTERVAL", "2018-09-01/2018-11-30", (date(2018, 9, 1), date(2018, 11, 30))),
        (
            "DATETIME.INTERVAL",
            "2018-08-10T03:00:00+09:00/2018-08-10T05:00:00+09:00",
            (datetime(2018, 8, 10, 3, tzinfo=KST), datetime(2018, 8, 10, 5, tzinfo=KST)),
        ),
        ("DURATION", "PT2H5M25S", timedelta(hours=2, minutes=5, seconds=25)),
        ("DATE", "2월 31일", None),
        ("DATE", "2018-02-31", None),
        ("TIME.INTERVAL", "06:00:00", None),
        ("COLOR", "red", None),
    ],
)
def test_typed_slot_values(value_type: str, text: str, expected: object) -> None:
    assert parse_typed(value_type, text) == expected
    assert Slot.of("x", text, value_type).typed == expected


def test_durations() -> None:
    assert parse_duration("P1DT30M") == timedelta(days=1, minutes=30)
    assert parse_duration("P2W") == timedelta(weeks=2)
    assert parse_duration("P1Y") is None  # a year has no fixed length
    assert parse_duration("PT") is None
    assert parse_duration("30분") is None
    assert Slot.of("d", "PT30M").typed == timedelta(minutes=30)
    assert Slot.of("n", "삼십").number is None


def test_response_envelope_is_complete() -> None:
    env = wire.Envelope(
        "0.1.0",
        {},
        wire.ResponseBody(wire.NO_SPEECH, {}, [], True),
    )
    assert json.loads(wire.encode_envelope(env)) == {
        "version": "0.1.0",
        "sessionAttributes": {},
        "response": {"outputSpeech": {}, "card": {}, "directives": [], "shouldEndSession": True},
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "version",
        "session",
        "context",
        "request",
        "type",
        "intent",
        "slots",
        "value",
        "event",
        "payload",
        "sessionId",
        "user",
        "userId",
        "System",
        "AudioPlayer",
        "name",
        "valueType",
    ]
)
shapes = st.recursive(
    json_values,
    lambda inner: st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(shapes)
def test_decoding_never_raises_anything_but_msgspec_errors(data: object) -> None:
    body = json.dumps(data).encode()
    try:
        raw = wire.decode_request(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return
    r = ClovaRequest(raw)
    # every accessor works on whatever decoded
    for name in (
        "session_id",
        "is_new",
        "attributes",
        "user_id",
        "access_token",
        "application_id",
        "device_id",
        "intent",
        "slots",
        "event",
        "payload",
        "audio_player",
        "timestamp",
        "locale",
    ):
        getattr(r, name)
    for slot in r.slots.values():
        _ = slot.typed, slot.number
