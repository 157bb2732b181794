"""Property tests: the config parser and the skill host never fail with anything but a
precise error, whatever they are given."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook.botframework.auth import AnonymousCredentials
from voicehook.botframework.connector import ConnectorClient
from voicehook.errors import HttpError
from voicehook.gateway.channels import AnonymousAuthenticator, SkillHostChannel
from voicehook.gateway.config import parse_config
from voicehook.gateway.conversations import ConversationIdFactory
from voicehook.gateway.root import PlayTurn, RootBot
from voicehook.http import HttpRequest
from voicehook.play.errors import DefinitionError
from voicehook.store import MemoryStore
from voicehook.upstream import HttpClient

KEYS = ["name", "play", "skills", "routes", "port", "cancel", "skill", "endpoint", "phrase"]
yaml_ish = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(yaml_ish)
def test_config_parser_gives_a_config_or_a_definition_error(value: Any) -> None:
    import yaml

    text = yaml.safe_dump(value, allow_unicode=True)
    try:
        parse_config(text, "f.yaml")
    except DefinitionError as exc:
        assert exc.problems and all(p.startswith("f.yaml") for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_config_parser_on_any_text(text: str) -> None:
    with contextlib.suppress(DefinitionError):
        parse_config(text, "f.yaml")


class _Play:
    def handles(self, event: str) -> bool:
        return False

    def intent(self, text: str) -> str | None:
        return None

    async def text(self, session: str, text: str, *, user_key: str | None) -> PlayTurn:
        return PlayTurn()

    async def event(
        self, session: str, event: str, fields: dict[str, Any], *, user_key: str | None
    ) -> PlayTurn:
        return PlayTurn()


class _Parts:
    def __init__(self, bot: RootBot) -> None:
        self.bot = bot
        self.auth = AnonymousAuthenticator()
        self.channel_auth = self.auth


segment = st.sampled_from(
    [
        "v3",
        "conversations",
        "activities",
        "members",
        "pagedmembers",
        "attachments",
        "history",
        "abc",
        "",
        "%2F",
        "한글",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    parts=st.lists(segment, max_size=6),
    body=st.one_of(st.binary(max_size=40), st.sampled_from([b"{}", b'{"type":"message"}', b"[]"])),
)
def test_skill_host_answers_4xx_or_501_never_crashes(
    method: str, parts: list[str], body: bytes
) -> None:
    async def run() -> None:
        config = parse_config(
            "name: f\nplay: p\nskills:\n  s:\n    endpoint: http://127.0.0.1:9/api/messages\n"
        )
        async with HttpClient() as http:
            bot = RootBot(
                config,
                _Play(),
                ConversationIdFactory(MemoryStore()),
                http.session,
                ConnectorClient(http, AnonymousCredentials()),
            )
            channel = SkillHostChannel(_Parts(bot))  # type: ignore[arg-type]
            request = HttpRequest(method, "/" + "/".join(parts), [], body, "r1")
            try:
                answer = await channel.handle(request)
            except HttpError as exc:
                assert 400 <= exc.status < 500
            else:
                assert answer.status in (200, 501)

    asyncio.run(run())


def test_a_scalar_with_a_tag_yaml_cannot_build_is_a_definition_error() -> None:
    """``=`` resolves to YAML 1.1's ``value`` tag, which PyYAML cannot construct: it is a
    DefinitionError naming the place, not a ConstructorError (found by the fuzz test)."""
    with pytest.raises(DefinitionError, match=r"<string>:1:1.*'='"):
        parse_config("=")
