"""Resources shared by every call of a running app: the store, the HTTP client, your own."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import TYPE_CHECKING

from voicehook.errors import HttpError

if TYPE_CHECKING:
    from voicehook.play.request import ActionRequest
    from voicehook.store import Store
    from voicehook.upstream import HttpClient

#: The default lifetime of user state: 30 days after its last write.
USER_TTL = 30 * 24 * 3600.0


class AppContext:
    """What startup hooks and handlers share while the app runs.

    - ``store``: the state store (None when the app runs without one).
    - ``http``: the upstream HTTP client (opened in the lifespan; None before startup).
    - ``session_ttl`` / ``user_ttl``: how long session and user state live in the store
      (seconds; None keeps it until deleted). User state expires after 30 days without a
      write by default, so that users who never come back do not fill the store.
    - ``max_key_length``: a session id or user key longer than this (characters) is
      replaced by its SHA-256 in the store key, so that a client cannot make huge keys.
    - ``resources``: a namespace for your own resources, e.g. a database pool opened in a
      ``@play.on_startup`` hook: ``app.resources.db = await connect()``.
    """

    __slots__ = (
        "http",
        "max_key_length",
        "play_name",
        "resources",
        "session_ttl",
        "store",
        "user_ttl",
    )

    def __init__(
        self,
        play_name: str,
        store: Store | None = None,
        http: HttpClient | None = None,
        *,
        session_ttl: float | None = 24 * 3600.0,
        user_ttl: float | None = USER_TTL,
        max_key_length: int = 256,
    ) -> None:
        self.play_name = play_name
        self.store = store
        self.http = http
        self.resources = SimpleNamespace()
        self.session_ttl = session_ttl
        self.user_ttl = user_ttl
        self.max_key_length = max_key_length

    def state_key(self, request: ActionRequest) -> str:
        """The store key of a conversation's session state: ``session:{play}:{session id}``.

        Raises :class:`MissingSessionId` (a 400 ``missing_session_id`` for the caller) when
        the request has no session id: every such request would otherwise share one state.
        """
        sid = request.session.id
        if not sid:
            raise MissingSessionId(
                400,
                "missing_session_id",
                "this action keeps session state and needs context.session.id, which the "
                "request does not have (NUGU always sends one; a hand-made request may not)",
            )
        return f"session:{self.play_name}:{self._bounded(sid)}"

    def user_key(self, user: str) -> str:
        """The store key of a user's state: ``user:{play}:{user key}``."""
        if not user:
            raise ValueError("a user key must not be empty")
        return f"user:{self.play_name}:{self._bounded(user)}"

    def _bounded(self, ident: str) -> str:
        if len(ident) <= self.max_key_length:
            return ident
        return "sha256-" + hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()


class MissingSessionId(HttpError, ValueError):
    """A stateful call without a session id: answered 400, not a handler failure."""
