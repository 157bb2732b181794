"""The Activity codec: tolerant input (unknown fields kept), strict output, 400 on bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.botframework.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ExpectedReplies,
    decode_activity,
    decode_expected_replies,
    decode_resource_response,
    encode_activity,
    encode_expected_replies,
)
from voicehook.errors import HttpError

# The request of the spec's captured exchange (§7.2), as a real root sends it.
CAPTURED = {
    "type": "message",
    "id": "act-0001",
    "timestamp": "2025-01-01T12:00:00.000Z",
    "channelId": "emulator",
    "serviceUrl": "http://127.0.0.1:3979/api/skills",
    "from": {"id": "user-1", "name": "User", "role": "user"},
    "conversation": {"id": "user-conv-1-EchoSkillBot-emulator-skillconvo"},
    "recipient": {"id": "root-bot", "name": "Root", "role": "skill"},
    "text": "hello skill",
    "locale": "en-US",
    "deliveryMode": "expectReplies",
    "relatesTo": {
        "activityId": "act-0001",
        "channelId": "emulator",
        "serviceUrl": "http://127.0.0.1:3980/",
        "conversation": {"id": "user-conv-1"},
    },
}


def test_captured_request_round_trips_exactly() -> None:
    a = decode_activity(json.dumps(CAPTURED).encode())
    assert a.from_ == ChannelAccount(id="user-1", name="User", role="user")
    assert a.delivery_mode == "expectReplies"
    assert a.relates_to is not None and a.relates_to.service_url == "http://127.0.0.1:3980/"
    assert a.extra == {}
    assert json.loads(encode_activity(a)) == CAPTURED


def test_unknown_fields_are_kept_for_relaying() -> None:
    raw = {**CAPTURED, "teamsThing": {"x": [1, 2]}, "extra": "a field named extra", "$extra": 1}
    a = decode_activity(json.dumps(raw).encode())
    assert a.extra == {"teamsThing": {"x": [1, 2]}, "extra": "a field named extra", "$extra": 1}
    assert json.loads(encode_activity(a)) == raw


def test_nulls_accepted_and_omitted_on_output() -> None:
    a = decode_activity(b'{"type":"message","text":null,"from":null,"entities":null,"id":"1"}')
    assert a.text is None
    assert encode_activity(a) == b'{"type":"message","id":"1"}'


def test_extra_never_overrides_a_known_field() -> None:
    a = Activity(type="message", text="진짜", extra={"text": "가짜", "x": 1})
    assert json.loads(encode_activity(a)) == {"type": "message", "text": "진짜", "x": 1}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"{", "invalid_json"),
        (b"[]", "invalid_activity"),
        (b"null", "invalid_activity"),
        (b'"message"', "invalid_activity"),
        (b"{}", "invalid_activity"),
        (b'{"type": 5}', "invalid_activity"),
        (b'{"type": "message", "from": "me"}', "invalid_activity"),
        (b'{"type": "message", "conversation": {"id": 3}}', "invalid_activity"),
        (b'{"type": "message", "entities": {}}', "invalid_activity"),
        (b'{"type": "message", "text": "\xff"}', "invalid_json"),
    ],
)
def test_bad_input_is_a_400(body: bytes, code: str) -> None:
    with pytest.raises(HttpError) as info:
        decode_activity(body)
    assert (info.value.status, info.value.code) == (400, code)
    assert "secret" not in info.value.message


def test_reply_addresses_the_sender() -> None:
    a = decode_activity(json.dumps(CAPTURED).encode())
    r = a.reply(text="안녕하세요", input_hint="expectingInput")
    assert r.from_ == ChannelAccount(id="root-bot", name="Root", role="skill")
    assert r.recipient == ChannelAccount(id="user-1", name="User", role="user")
    assert r.reply_to_id == "act-0001"
    assert r.conversation == ConversationAccount(id="user-conv-1-EchoSkillBot-emulator-skillconvo")
    assert r.service_url == CAPTURED["serviceUrl"] and r.locale == "en-US"
    ref = a.conversation_reference()
    assert ref.activity_id == "act-0001" and ref.user == a.from_ and ref.bot == a.recipient


def test_expected_replies_round_trip() -> None:
    body = encode_expected_replies(
        [Activity(type="message", text="하나", extra={"k": 1}), Activity(type="endOfConversation")]
    )
    assert json.loads(body) == {
        "activities": [{"type": "message", "text": "하나", "k": 1}, {"type": "endOfConversation"}]
    }
    back = decode_expected_replies(body)
    assert [a.type for a in back.activities] == ["message", "endOfConversation"]
    assert back.activities[0].extra == {"k": 1}
    assert decode_expected_replies(b"{}") == ExpectedReplies()
    for bad in (b"[]", b'{"activities": 1}', b'{"activities": [1]}', b"x"):
        with pytest.raises(HttpError):
            decode_expected_replies(bad)


def test_resource_response_is_tolerant() -> None:
    assert decode_resource_response(b'{"id": "abc"}').id == "abc"
    for body in (b"", b"  ", b"null", b"[]", b'{"id": 5}', b"not json"):
        assert decode_resource_response(body).id is None


# -- property tests --------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "type",
        "id",
        "from",
        "recipient",
        "conversation",
        "text",
        "value",
        "relatesTo",
        "entities",
        "attachments",
        "membersAdded",
        "historyDisclosed",
        "code",
        "$extra",
    ]
) | st.text(max_size=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(field_names, json_values, max_size=8))
def test_random_objects_decode_or_400(raw: dict[str, Any]) -> None:
    body = json.dumps(raw).encode()
    try:
        a = decode_activity(body)
    except HttpError as exc:
        assert exc.status == 400
        return
    # Whatever decodes encodes, and decodes again to the same activity.
    again = decode_activity(encode_activity(a))
    assert again == a


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_400(body: bytes) -> None:
    try:
        decode_activity(body)
    except HttpError as exc:
        assert exc.status == 400


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(),
    extra=st.dictionaries(st.text(max_size=8).map("x-".__add__), json_values, max_size=4),
)
def test_unknown_fields_survive_round_trip(text: str, extra: dict[str, Any]) -> None:
    raw = {"type": "message", "text": text, **extra}
    a = decode_activity(json.dumps(raw).encode())
    out = json.loads(encode_activity(a))
    for key, value in raw.items():
        if value is not None:
            assert out[key] == value


@pytest.mark.parametrize("depth", [3000, 200_000])
def test_deep_nesting_is_a_400_not_a_crash(depth: int) -> None:
    body = b'{"type":"message","value":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(HttpError) as info:
        decode_activity(body)
    assert info.value.status == 400


def test_unknown_fields_of_accounts_are_kept_for_relaying() -> None:
    raw = {
        "type": "message",
        "from": {"id": "u1", "name": "민수", "userPrincipalName": "minsu@example.com", "$extra": 2},
        "recipient": {"id": "b1", "role": "bot", "x-channel": {"a": [1]}},
        "conversation": {"id": "c1", "tenantId": "t", "tenant": {"id": "t"}},
    }
    a = decode_activity(json.dumps(raw).encode())
    assert a.from_ is not None and a.from_.extra == {
        "userPrincipalName": "minsu@example.com",
        "$extra": 2,
    }
    assert a.from_.name == "민수"
    assert a.recipient is not None and a.recipient.extra == {"x-channel": {"a": [1]}}
    assert a.conversation is not None and a.conversation.extra == {"tenant": {"id": "t"}}
    assert a.conversation.tenant_id == "t"
    assert json.loads(encode_activity(a)) == raw


def test_account_extra_never_overrides_a_known_field_and_deeper_extras_are_not_written() -> None:
    from voicehook.botframework.activity import ChannelAccount, ConversationReference

    a = Activity(
        type="message",
        from_=ChannelAccount(id="진짜", extra={"id": "가짜", "upn": "x"}),
        members_added=[ChannelAccount(id="m", extra={"y": 1})],
        relates_to=ConversationReference(user=ChannelAccount(id="u", extra={"z": 1})),
    )
    assert json.loads(encode_activity(a)) == {
        "type": "message",
        "from": {"id": "진짜", "upn": "x"},
        "membersAdded": [{"id": "m"}],
        "relatesTo": {"user": {"id": "u"}},
    }


@settings(max_examples=100, deadline=None)
@given(
    extra=st.dictionaries(st.text(max_size=8).map("x-".__add__), json_values, max_size=4),
    where=st.sampled_from(["from", "recipient", "conversation"]),
)
def test_unknown_account_fields_survive_round_trip(extra: dict[str, Any], where: str) -> None:
    raw = {"type": "message", where: {"id": "1", **extra}}
    out = json.loads(encode_activity(decode_activity(json.dumps(raw).encode())))
    for key, value in extra.items():
        if value is not None:
            assert out[where][key] == value
