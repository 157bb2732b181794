"""The route table: which channel answers which path.

A :class:`Route` maps a path prefix to a channel (``voicehook.http.Channel``). An *exact*
route answers one path (``/clova``); a prefix route answers every path under its prefix
whose tail has no ``/`` (``/{actionName}`` for NUGU). Matching is a dict lookup for exact
routes and ``str.startswith`` for prefix routes, longest prefix first: no regular
expressions on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable

from voicehook.http import Channel

__all__ = ["Route", "RouteConflict", "RouteTable"]


class RouteConflict(ValueError):
    """Two routes claim the same path, or a play action's name is a channel's path."""


class Route:
    """``prefix`` → ``channel``.

    ``exact``: the route answers ``prefix`` itself and nothing under it. Otherwise it
    answers ``{prefix}/{tail}`` for any ``tail`` without a ``/`` (the channel gets ``tail``
    as :attr:`voicehook.http.HttpRequest.path`). ``tree``: the tail may hold ``/`` too
    (the Bot Framework Channel API under ``/api/skills/v3/conversations/...``); the channel
    then gets ``/`` + tail.
    """

    __slots__ = ("channel", "exact", "prefix", "tree")

    def __init__(
        self, prefix: str, channel: Channel, *, exact: bool = False, tree: bool = False
    ) -> None:
        prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        if exact and not prefix:
            raise ValueError("an exact route needs a path")
        self.prefix = prefix
        self.channel = channel
        self.exact = exact
        self.tree = tree and not exact

    @property
    def pattern(self) -> str:
        """The paths it answers, for people (``/clova``, ``/nugu/{tail}``)."""
        if self.tree:
            return f"{self.prefix}/{{path...}}"
        return self.prefix if self.exact else f"{self.prefix}/{{tail}}"

    def __repr__(self) -> str:
        return f"Route({self.pattern!r}, {self.channel.name!r})"


class RouteTable:
    """The routes of one app, checked for conflicts when built."""

    __slots__ = ("_exact", "_prefixed", "routes")

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._exact: dict[str, Route] = {}
        prefixed: dict[str, Route] = {}
        for route in self.routes:
            table = self._exact if route.exact else prefixed
            other = table.get(route.prefix)
            if other is not None:
                raise RouteConflict(
                    f"the {route.channel.name} and {other.channel.name} channels both "
                    f"claim {route.pattern}"
                )
            table[route.prefix] = route
        # Longest prefix first, each with its "prefix/" string and length precomputed.
        self._prefixed = [
            (r.prefix + "/", len(r.prefix) + 1, r)
            for r in sorted(prefixed.values(), key=lambda r: len(r.prefix), reverse=True)
        ]

    def match(self, path: str) -> tuple[Route, str] | None:
        """The route answering ``path`` and the path's tail, or None."""
        route = self._exact.get(path)
        if route is not None:
            return route, ""
        for start, size, route in self._prefixed:
            if path.startswith(start):
                tail = path[size:]
                if "/" not in tail:
                    return route, "/" + tail if route.tree else tail
                if route.tree:
                    return route, "/" + tail
        return None

    def under(self, path: str) -> Route | None:
        """The prefix route whose prefix is ``path`` itself or a parent of it (for 404/405
        answers that name the right channel), or None."""
        for start, _, route in self._prefixed:
            if path.startswith(start) or path == route.prefix:
                return route
        return None

    def check_actions(self, actions: Iterable[str]) -> None:
        """Refuse a play action whose URL (``{prefix}/{action}`` of a prefix route) is an
        exact route's path: the two would answer the same URL."""
        for action in actions:
            for start, _, route in self._prefixed:
                path = start + action
                other = self._exact.get(path)
                if other is not None:
                    raise RouteConflict(
                        f"play action {action!r} ({route.channel.name} at {path}) collides "
                        f"with the {other.channel.name} channel at {other.pattern}; rename the "
                        f"action or move the channel"
                    )
