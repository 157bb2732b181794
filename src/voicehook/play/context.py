"""Resources shared by every call of a running app: the store, the HTTP client, your own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicehook.play.request import ActionRequest
    from voicehook.store import Store
    from voicehook.upstream import HttpClient


class AppContext:
    """What startup hooks and handlers share while the app runs.

    - ``store``: the state store (None when the app runs without one).
    - ``http``: the upstream HTTP client (opened in the lifespan; None before startup).
    - ``session_ttl`` / ``user_ttl``: how long session and user state live in the store
      (seconds; None keeps it until deleted).
    - ``resources``: a namespace for your own resources, e.g. a database pool opened in a
      ``@play.on_startup`` hook: ``app.resources.db = await connect()``.
    """

    __slots__ = ("http", "play_name", "resources", "session_ttl", "store", "user_ttl")

    def __init__(
        self,
        play_name: str,
        store: Store | None = None,
        http: HttpClient | None = None,
        *,
        session_ttl: float | None = 24 * 3600.0,
        user_ttl: float | None = None,
    ) -> None:
        self.play_name = play_name
        self.store = store
        self.http = http
        self.resources = SimpleNamespace()
        self.session_ttl = session_ttl
        self.user_ttl = user_ttl

    def state_key(self, request: ActionRequest) -> str:
        """The store key of a conversation's session state: ``session:{play}:{session id}``.

        Raises ``ValueError`` when the request has no session id: every such request would
        otherwise share one state.
        """
        sid = request.session.id
        if not sid:
            raise ValueError(
                "session state needs context.session.id, and this request has none "
                "(NUGU always sends one; a hand-made test request may not)"
            )
        return f"session:{self.play_name}:{sid}"

    def user_key(self, user: str) -> str:
        """The store key of a user's state: ``user:{play}:{user key}``."""
        if not user:
            raise ValueError("a user key must not be empty")
        return f"user:{self.play_name}:{user}"
