"""Fixtures shared by the gateway tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests._support.server import free_port
from tests.gateway.fake_skill import FakeSkill


@pytest.fixture
async def skill() -> AsyncIterator[tuple[FakeSkill, str]]:
    """A :class:`FakeSkill` serving on 127.0.0.1; yields it and its messaging endpoint URL."""
    fake = FakeSkill()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield fake, f"http://127.0.0.1:{port}/api/messages"
    finally:
        await runner.cleanup()
