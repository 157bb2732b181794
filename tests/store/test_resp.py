"""The built-in RESP2 client: reply parsing (property tests), ordering, errors, URLs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.store._resp import (
    RedisAddress,
    RespClient,
    RespConnectionError,
    RespReplyError,
    _Connection,
    encode_command,
    parse_reply,
)

# A reply model: (kind, value) with kind in bulk, int, simple, error, array.
simple_text = st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b)
replies = st.recursive(
    st.one_of(
        st.tuples(st.just("bulk"), st.none() | st.binary(max_size=300)),
        st.tuples(st.just("int"), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        st.tuples(st.just("simple"), simple_text),
        st.tuples(st.just("error"), st.text(alphabet="ABCDEFGHIJ xyz:", min_size=1, max_size=30)),
    ),
    lambda children: st.tuples(st.just("array"), st.none() | st.lists(children, max_size=4)),
    max_leaves=12,
)


def to_wire(reply: tuple[str, Any]) -> bytes:
    kind, value = reply
    if kind == "bulk":
        return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
    if kind == "int":
        return b":%d\r\n" % value
    if kind == "simple":
        return b"+%s\r\n" % value
    if kind == "error":
        return b"-%s\r\n" % value.encode()
    if value is None:
        return b"*-1\r\n"
    return b"*%d\r\n" % len(value) + b"".join(to_wire(v) for v in value)


def expected(reply: tuple[str, Any]) -> Any:
    kind, value = reply
    if kind == "error":
        return ("error", value)
    if kind == "array" and value is not None:
        return [expected(v) for v in value]
    return value


def normalise(value: Any) -> Any:
    if isinstance(value, RespReplyError):
        return ("error", str(value))
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


@settings(max_examples=200, deadline=None)
@given(replies)
def test_parse_reply_reads_exactly_one_reply(reply: tuple[str, Any]) -> None:
    wire = to_wire(reply) + b"+NEXT\r\n"
    value, pos = parse_reply(wire, 0)
    assert normalise(value) == expected(reply)
    assert wire[pos:] == b"+NEXT\r\n"


@settings(max_examples=100, deadline=None)
@given(st.lists(replies, min_size=1, max_size=6), st.data())
async def test_replies_in_any_chunks_reach_callers_in_order(
    batch: list[tuple[str, Any]], data: st.DataObject
) -> None:
    conn = _Connection("test")
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    futures = [conn.request(b"PING\r\n", 0.0) for _ in batch]
    wire = b"".join(to_wire(r) for r in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    start = 0
    for cut in [*cuts, len(wire)]:
        conn.data_received(wire[start:cut])
        start = cut
    assert not transport.aborted
    for fut, reply in zip(futures, batch, strict=True):
        assert fut.done()
        if reply[0] == "error":
            with pytest.raises(RespReplyError, match=reply[1].strip() or None):
                fut.result()
        else:
            assert normalise(fut.result()) == expected(reply)
    assert conn.buf == bytearray()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=50) | st.text(max_size=20) | st.integers(), min_size=1))
def test_encoded_commands_parse_as_arrays_of_bulk_strings(args: list[Any]) -> None:
    value, _ = parse_reply(encode_command(tuple(args)), 0)
    want = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    assert value == want


async def test_cancelled_caller_does_not_shift_replies() -> None:
    conn = _Connection("test")
    conn.connection_made(FakeTransport())  # type: ignore[arg-type]
    first = conn.request(b"x", 0.0)
    second = conn.request(b"y", 0.0)
    first.cancel()
    conn.data_received(b"$5\r\nfirst\r\n$6\r\nsecond\r\n")
    assert second.result() == b"second"


async def test_unexpected_reply_aborts_and_lost_connection_fails_waiters() -> None:
    conn = _Connection("127.0.0.1:1")
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(b"+surprise\r\n")
    assert transport.aborted
    conn2 = _Connection("127.0.0.1:2")
    conn2.connection_made(FakeTransport())  # type: ignore[arg-type]
    waiting = conn2.request(b"x", 0.0)
    conn2.connection_lost(ConnectionResetError("reset"))
    with pytest.raises(RespConnectionError, match=r"127\.0\.0\.1:2"):
        waiting.result()
    with pytest.raises(RespConnectionError):
        conn2.request(b"y", 0.0)


async def test_server_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # read until the client goes away; never answer
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(RedisAddress(port=port), timeout=0.1)
    try:
        with pytest.raises(RespConnectionError, match=r"did not answer within 0\.1 s"):
            await client.execute("PING")
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("redis://localhost", RedisAddress(host="localhost")),
        ("redis://:pw@h:7000/3", RedisAddress(host="h", port=7000, password="pw", db=3)),
        ("redis://me:p%40ss@h/0", RedisAddress(host="h", username="me", password="p@ss")),
        (
            "rediss://h:6380?ssl_cert_reqs=none",
            RedisAddress(host="h", port=6380, tls=True, tls_verify=False),
        ),
        ("unix:///run/r.sock?db=2", RedisAddress(path="/run/r.sock", db=2)),
    ],
)
def test_addresses(url: str, want: RedisAddress) -> None:
    assert RedisAddress.from_url(url) == want


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://h", "not a Redis URL"),
        ("redis://h/abc", "bad database number"),
        ("redis://h?pool=3", "unknown Redis URL option"),
        ("rediss://h?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
    ],
)
def test_bad_addresses(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RedisAddress.from_url(url)
