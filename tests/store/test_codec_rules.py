"""The store codec: subclasses of the JSON types, stored data written by hand, and the exact
errors (they name the bad value and where it is)."""

from __future__ import annotations

import collections
import datetime as dt
import enum
import pickle
from typing import Any, NamedTuple

import pytest

from voicehook.store.codec import CodecError, decode, encode


class Point(NamedTuple):
    x: int
    y: int


class Level(enum.IntEnum):
    HIGH = 3


class Sky(enum.StrEnum):
    CLEAR = "맑음"


class Celsius(float):
    pass


class Tags(list[str]):
    pass


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (Point(1, 2), (1, 2)),
        (Level.HIGH, 3),
        (Sky.CLEAR, "맑음"),
        (Celsius(21.5), 21.5),
        (collections.OrderedDict([("b", 1), ("a", 2)]), {"b": 1, "a": 2}),
        (collections.defaultdict(list, {"k": [1]}), {"k": [1]}),
        (Tags(["서울", "부산"]), ["서울", "부산"]),
        (bytearray(b"\x00\xff"), b"\x00\xff"),
        (memoryview(b"ab"), b"ab"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_subclasses_are_stored_as_their_base_type(value: Any, stored: Any) -> None:
    back = decode(encode(value))
    assert back == stored
    assert type(back) is type(stored)


def test_a_float_subclass_must_be_finite_too() -> None:
    with pytest.raises(CodecError) as info:
        encode(Celsius("nan"))
    assert str(info.value) == "nan is not JSON-safe: NaN and infinity cannot be stored"


def test_unsupported_values_are_named_with_what_to_do() -> None:
    with pytest.raises(CodecError) as info:
        encode({"tags": {"a"}})
    assert str(info.value) == (
        "set is not JSON-safe: store a list instead, for example sorted(values) (at $['tags'])"
    )
    with pytest.raises(CodecError) as other:
        encode([object()])
    assert str(other.value) == (
        "object is not JSON-safe: store None, bool, int, float, str, list, dict with str keys, "
        "datetime, date, time, Decimal, UUID, tuple or bytes (convert objects first, for "
        "example with msgspec.to_builtins) (at $[0])"
    )


def test_an_error_without_a_path_is_only_the_reason_and_survives_pickling() -> None:
    err = CodecError("value is nested too deeply")
    assert str(err) == "value is nested too deeply" and err.path == "$"
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 (our own bytes)
    assert str(copy) == "value is nested too deeply"
    assert err.args == ("value is nested too deeply",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"$tuple": 1}', "invalid stored value for tag '$tuple': 1"),
        (b'{"$esc": [1]}', "invalid stored value for tag '$esc': [1]"),
        (b'{"$dt": 5}', "invalid stored value for tag '$dt': 5 (expected a string)"),
        (
            b'{"$dt": "nope"}',
            "invalid stored value for tag '$dt': 'nope' (Invalid isoformat string: 'nope')",
        ),
        (b'{"$what": "x"}', "unknown tag '$what' in stored value"),
    ],
)
def test_bad_stored_data_is_named(data: bytes, message: str) -> None:
    with pytest.raises(CodecError) as info:
        decode(data)
    assert str(info.value) == message


def test_stored_bytes_must_be_strict_base64() -> None:
    with pytest.raises(CodecError, match=r"invalid stored value for tag '\$bytes'"):
        decode(b'{"$bytes": "AA==!!"}')  # not base64: never silently dropped


def test_encode_and_decode_errors_say_what_is_wrong() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CodecError) as nested:
        encode(deep)
    assert str(nested.value) == "value is nested too deeply or contains a reference cycle"
    with pytest.raises(CodecError) as broken:
        decode(b"{not json")
    assert str(broken.value).startswith("stored data is not valid JSON: ")


def test_a_short_sub_second_offset_written_by_hand_is_read_exactly() -> None:
    when = decode(b'{"$dt": "2024-01-01T09:00:00+00:00:00.5"}')
    assert when.utcoffset() == dt.timedelta(microseconds=500_000)
    early = decode(b'{"$time": "07:00:00-00:00:00.25"}')
    assert early.utcoffset() == -dt.timedelta(microseconds=250_000)
