"""The JSON-safe codec: property tests for round-trips and clear rejections."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.store.codec import CodecError, decode, encode, from_json_safe, to_json_safe
from voicehook.store.conformance import SAMPLE_VALUES, same_value

fixed_offsets = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)
tzinfos = st.none() | fixed_offsets | st.timezones()

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=tzinfos)
    | st.dates()
    | st.times(timezones=st.none() | fixed_offsets)
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.binary(max_size=64)
)
# Keys that look like the codec's own tags must survive too.
keys = st.text(max_size=8) | st.sampled_from(["$dt", "$dec", "$esc", "$tuple", "$", "$x", "a$"])

values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip_gives_back_equal_values_of_the_same_types(value: Any) -> None:
    data = encode(value)
    assert isinstance(data, bytes)
    msgspec.json.decode(data)  # always plain JSON
    assert same_value(decode(data), value)
    assert same_value(decode(data.decode()), value)  # str input works too


@settings(max_examples=200, deadline=None)
@given(values)
def test_to_and_from_json_safe_are_inverse(value: Any) -> None:
    assert same_value(
        from_json_safe(msgspec.json.decode(msgspec.json.encode(to_json_safe(value)))), value
    )


bad_keys = st.integers() | st.floats(allow_nan=False) | st.none() | st.tuples(st.integers())


@settings(max_examples=100, deadline=None)
@given(st.lists(keys, max_size=3), bad_keys)
def test_non_string_keys_are_rejected_with_their_path(path: list[str], bad_key: Any) -> None:
    value: Any = {bad_key: "x"}
    for name in reversed(path):
        value = {name: [value]}
    with pytest.raises(CodecError) as info:
        encode(value)
    assert "dict keys must be str" in str(info.value)
    assert type(bad_key).__name__ in str(info.value)
    expected_path = "$" + "".join(f"[{name!r}][0]" for name in path)
    assert info.value.path == expected_path


@pytest.mark.parametrize("value", SAMPLE_VALUES, ids=lambda v: type(v).__name__)
def test_sample_values_round_trip(value: Any) -> None:
    assert same_value(decode(encode(value)), value)


def test_plain_json_is_stored_without_tags() -> None:
    assert encode({"도시": "서울", "n": [1, 2.5, None, True]}) == (
        '{"도시":"서울","n":[1,2.5,null,true]}'.encode()
    )


def test_tagged_forms_are_readable() -> None:
    kst = dt.timezone(dt.timedelta(hours=9))
    assert encode(dt.datetime(2024, 5, 1, 9, 30, tzinfo=kst)) == (
        b'{"$dt":"2024-05-01T09:30:00+09:00"}'
    )
    assert encode(Decimal("9000.50")) == b'{"$dec":"9000.50"}'
    assert encode((1, 2)) == b'{"$tuple":[1,2]}'
    assert encode({"$dt": "x"}) == b'{"$esc":{"$dt":"x"}}'


def test_zone_becomes_fixed_offset_at_same_instant() -> None:
    from zoneinfo import ZoneInfo

    seoul = dt.datetime(2024, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    back = decode(encode(seoul))
    assert back == seoul
    assert back.tzinfo == dt.timezone(dt.timedelta(hours=9))


def test_decimal_nan_round_trips() -> None:
    for text in ("NaN", "-sNaN", "Infinity", "-0", "1E-40"):
        assert str(decode(encode(Decimal(text)))) == str(Decimal(text))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({1, 2}, "set is not JSON-safe"),
        (frozenset(), "frozenset is not JSON-safe"),
        (float("nan"), "NaN and infinity"),
        (float("-inf"), "NaN and infinity"),
        (object(), "object is not JSON-safe"),
        ({"a": [1, {"b": {3}}]}, "at $['a'][1]['b']"),
        ({"a": (1, 2, {3: 4})}, "at $['a'][2]"),
    ],
)
def test_unsupported_values_are_rejected_clearly(value: Any, words: str) -> None:
    with pytest.raises(CodecError) as info:
        encode(value)
    assert words in str(info.value)
    assert isinstance(info.value, TypeError)


def test_reference_cycles_are_rejected() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(CodecError, match="reference cycle"):
        encode(cycle)


def test_subclasses_of_str_and_int_are_stored_as_plain_values() -> None:
    import enum

    class Color(enum.StrEnum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    back = decode(encode({Color.RED: [Color.RED, Level.HIGH]}))
    assert back == {"red": ["red", 3]}
    assert type(back["red"][0]) is str and type(back["red"][1]) is int


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"$dt": "yesterday"}', b'{"$dec": "12,5"}', b'{"$what": 1}', b'[{"$uuid": 5}]'],
)
def test_corrupt_data_raises_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode(data)


def test_uuid_and_bytes_keep_their_type() -> None:
    u = uuid.uuid4()
    assert decode(encode([u, b"\x00\x01"])) == [u, b"\x00\x01"]


def test_time_with_sub_second_utc_offset_round_trips() -> None:
    # Found by hypothesis: time.fromisoformat (3.11) drops the offset's microseconds.
    for micro in (1, -1, 999_999):
        tz = dt.timezone(dt.timedelta(microseconds=micro))
        assert decode(encode(dt.time(0, 0, tzinfo=tz))).utcoffset() == tz.utcoffset(None)
        assert decode(encode(dt.datetime(2024, 1, 1, tzinfo=tz))).utcoffset() == tz.utcoffset(None)
