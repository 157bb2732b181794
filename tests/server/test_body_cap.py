"""The body-size cap (``Settings.max_body``) at its exact edge, in each way a body arrives.

A body of exactly ``max_body`` bytes is served; one byte more is 413. This holds for a body in
one ASGI message without Content-Length (what most clients of an in-process app send), for a
body streamed in many messages, and for a declared Content-Length. Each test names the mutant
of ``server/app.py`` it kills (docs/mutation-report.md).
"""

from __future__ import annotations

import json

import pytest

from voicehook import ActionRequest, Play, Settings
from voicehook.play import parse_definition
from voicehook.testing import NuguTestClient

CAP = 1000

PLAY = """
name: cap
actions:
  answer.echo:
    backend: true
    parameters:
      word: {type: WORD}
entities:
  WORD: {values: {사과: []}}
"""


def make_play() -> Play:
    play = Play(parse_definition(PLAY))

    @play.action("answer.echo")
    async def echo(req: ActionRequest) -> None:
        return None

    return play


def body_of(size: int) -> bytes:
    """A valid NUGU request of exactly ``size`` bytes (an unknown padding field is ignored)."""
    base = {
        "version": "2.0",
        "action": {
            "actionName": "answer.echo",
            "parameters": {"word": {"type": "WORD", "value": "사과"}},
        },
        "pad": "",
    }
    empty = len(json.dumps(base, ensure_ascii=False).encode())
    base["pad"] = "x" * (size - empty)
    raw = json.dumps(base, ensure_ascii=False).encode()
    assert len(raw) == size
    return raw


JSON = {"content-type": "application/json"}


@pytest.fixture
async def client() -> NuguTestClient:  # type: ignore[misc]
    async with NuguTestClient(make_play(), Settings(max_body=CAP)) as c:
        yield c


async def test_one_message_at_the_cap_is_served_one_byte_over_is_413(
    client: NuguTestClient,
) -> None:
    """No Content-Length, the whole body in one message. Kills the mutant that removes the
    single-message check (and ``>`` → ``>=``)."""
    ok = await client.request("POST", "/answer.echo", body_of(CAP), JSON)
    assert ok.status == 200, ok.body
    assert ok.json["output"] == {"word": "사과"}
    over = await client.request("POST", "/answer.echo", body_of(CAP + 1), JSON)
    assert over.status == 413
    assert over.json["error"]["code"] == "body_too_large"
    assert f"{CAP}-byte" in over.json["error"]["message"]


@pytest.mark.parametrize("chunk", [1, 64, 999])
async def test_a_streamed_body_at_the_cap_is_served_one_byte_over_is_413(
    client: NuguTestClient, chunk: int
) -> None:
    """The body in many messages. Kills the doubled streamed cap (``cap * 2``): the old test
    sent 213 bytes against a 100-byte cap, which a doubled cap also refuses."""
    ok = await client.request("POST", "/answer.echo", body_of(CAP), JSON, chunk_size=chunk)
    assert ok.status == 200, ok.body
    over = await client.request("POST", "/answer.echo", body_of(CAP + 1), JSON, chunk_size=chunk)
    assert over.status == 413
    assert over.json["error"]["code"] == "body_too_large"


async def test_a_declared_length_over_the_cap_is_413_before_reading(
    client: NuguTestClient,
) -> None:
    """Content-Length alone decides: the small body sent is never looked at."""
    small = body_of(200)
    over = await client.request(
        "POST", "/answer.echo", small, {**JSON, "content-length": str(CAP + 1)}
    )
    assert over.status == 413
    at_cap = body_of(CAP)
    ok = await client.request("POST", "/answer.echo", at_cap, {**JSON, "content-length": str(CAP)})
    assert ok.status == 200


@pytest.mark.parametrize("value", ["abc", "1e3", "１０", "", "-1", "+5", " 5"])
async def test_a_content_length_that_is_not_a_number_is_400(
    client: NuguTestClient, value: str
) -> None:
    answer = await client.request(
        "POST", "/answer.echo", body_of(200), {**JSON, "content-length": value}
    )
    assert answer.status == 400
    assert answer.json["error"]["code"] == "invalid_content_length"
