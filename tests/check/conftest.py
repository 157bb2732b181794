"""Fixtures for the checker tests: a correct voicehook backend and a broken one, both real
HTTP servers on 127.0.0.1 (one per test session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.check import broken_backend, fixture_app
from tests.check.servers import aiohttp_server, uvicorn_server
from voicehook.check import plan_requests
from voicehook.check.cases import RequestCase
from voicehook.play import PlayDefinition
from voicehook.server import Settings, create_app

API_KEY = "check-secret"


@pytest.fixture(scope="session")
def definition() -> PlayDefinition:
    return fixture_app.create_play().definition


@pytest.fixture
def case(definition: PlayDefinition) -> RequestCase:
    """A device request to answer.weather that sends location, day and when."""
    return plan_requests(definition, "answer.weather", api_key="K", max_requests=1)[0]


@pytest.fixture
def builder_case(definition: PlayDefinition) -> RequestCase:
    """The same action in the Play Builder test shape (no Authorization header)."""
    cases = plan_requests(definition, "answer.weather", max_requests=2)
    assert cases[1].shape == "play_builder"
    return cases[1]


@pytest.fixture(scope="session")
def good_url() -> Iterator[str]:
    """voicehook with an API key; Play Builder calls without a key are denied (the default)."""
    app = create_app(fixture_app.create_play(), Settings(api_keys=(API_KEY,)))
    with uvicorn_server(app) as url:
        yield url


@pytest.fixture(scope="session")
def open_prefixed_url() -> Iterator[str]:
    """voicehook under the prefix /nugu, no API key."""
    app = create_app(fixture_app.create_play(), Settings(prefix="/nugu"))
    with uvicorn_server(app) as url:
        yield url


@pytest.fixture(scope="session")
def broken_url() -> Iterator[str]:
    with aiohttp_server(broken_backend.create_app()) as url:
        yield url
