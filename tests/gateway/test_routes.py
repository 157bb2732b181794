"""The server's tree route, which the skill host needs (its paths have several segments)."""

from __future__ import annotations

from voicehook.http import Answer, HttpRequest
from voicehook.server.routing import Route, RouteTable


class _Channel:
    methods = frozenset({"POST"})

    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, request: HttpRequest) -> Answer:
        return Answer(b"")

    async def startup(self, app: object) -> None: ...

    async def shutdown(self, app: object) -> None: ...


def test_tree_route_takes_nested_paths_and_leaves_the_others_alone() -> None:
    nugu, skills, messages = _Channel("nugu"), _Channel("skills"), _Channel("messages")
    table = RouteTable(
        [
            Route("/api/messages", messages, exact=True),  # type: ignore[arg-type]
            Route("/api/skills", skills, tree=True),  # type: ignore[arg-type]
            Route("", nugu),  # type: ignore[arg-type]
        ]
    )
    found = table.match("/api/skills/v3/conversations/abc/activities/a1")
    assert found is not None and found[0].channel is skills
    assert found[1] == "/v3/conversations/abc/activities/a1"
    found = table.match("/api/skills/v3")
    assert found is not None and found[0].channel is skills and found[1] == "/v3"
    found = table.match("/api/messages")
    assert found is not None and found[0].channel is messages and found[1] == ""
    found = table.match("/answer.weather")
    assert found is not None and found[0].channel is nugu and found[1] == "answer.weather"
    assert table.match("/api/other/x") is None  # a plain prefix route takes one segment only
    assert table.match("/api/skills") is None
    assert Route("/api/skills", skills, tree=True).pattern == "/api/skills/{path...}"  # type: ignore[arg-type]
