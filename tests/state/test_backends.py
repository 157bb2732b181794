"""State across turns on every built-in store, through the real ASGI path; store outages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.redis_server import RedisServer, require_redis_server
from tests.state.conftest import counter_play
from voicehook.server import Settings
from voicehook.testing import NuguTestClient


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / '상태.db'}"
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        yield f"{server.url}?prefix=test-{uuid.uuid4().hex[:8]}:"


async def test_state_survives_across_turns(store_url: str) -> None:
    settings = Settings(store=store_url)
    async with NuguTestClient(counter_play(), settings) as client:
        for expected in range(1, 6):
            answer = await client.call("bump", session_id="세션-A")
            assert (answer.result_code, answer.output["n"]) == ("OK", str(expected))
        assert (await client.call("peek", session_id="세션-B")).output["n"] == "0"
        profile = {"privatePlay": {"userKey": "u1"}}
        answer = await client.call("visit", session_id="x", profile=profile)
        assert answer.output["visits"] == "1"


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_state_survives_a_new_app_instance(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """What one process wrote, the next process (here: a fresh app) reads."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("redis_server").url + f"?prefix={uuid.uuid4().hex}:"
    for expected in ("1", "2", "3"):
        async with NuguTestClient(counter_play(), Settings(store=url)) as client:
            answer = await client.call("bump", session_id="세션-A")
            assert answer.output["n"] == expected


@pytest.mark.redis
async def test_redis_down_answers_failure_code_and_health_503_then_recovers() -> None:
    require_redis_server()
    with RedisServer() as server:
        url = f"{server.url}?connect_timeout=0.5&timeout=1"
        async with NuguTestClient(counter_play(), Settings(store=url)) as client:
            assert (await client.call("bump", session_id="s")).output["n"] == "1"
            assert (await client.request("GET", "/health")).status == 200

            server.stop()
            down = await client.call("bump", session_id="s")
            assert down.status == 200  # the Dialog Manager speaks the failure prompt
            assert down.result_code == "BACKEND_ERROR"
            health = await client.request("GET", "/health")
            assert health.status == 503
            assert b"store" in health.body
            # A handler that does not touch the state still works.
            assert (await client.call("noop", session_id="s")).result_code == "OK"

            server.start()  # same port, empty data (no persistence)
            assert (await client.request("GET", "/health")).status == 200
            back = await client.call("bump", session_id="s")
            assert (back.result_code, back.output["n"]) == ("OK", "1")


async def test_sqlite_file_gone_answers_failure_code(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    async with NuguTestClient(counter_play(), Settings(store=f"sqlite:///{db}")) as client:
        assert (await client.call("bump", session_id="s")).output["n"] == "1"
        store = client.app.context.store
        assert store is not None
        await store.aclose()  # the next call opens the file again ...
        for path in tmp_path.iterdir():
            path.unlink()
        db.mkdir()  # ... but a directory now stands where the file was (fails even as root)
        answer = await client.call("bump", session_id="s")
        health = await client.request("GET", "/health")
        assert answer.result_code == "BACKEND_ERROR"
        assert health.status == 503
        db.rmdir()  # the file can be created again: the store recovers
        assert (await client.request("GET", "/health")).status == 200
        assert (await client.call("bump", session_id="s")).output["n"] == "1"
