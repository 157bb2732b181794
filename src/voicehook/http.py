"""The ASGI types, named once, and the seam between the server and its channels.

A *channel* (``voicehook.nugu``, ``voicehook.clova``, ``voicehook.botframework``,
``voicehook.gateway``) owns one platform's wire format and authentication. The server
(``voicehook.server``) owns framing: it matches a path prefix in its route table, checks the
method, the content type and the body size, reads the body, gives every call a request id,
and then hands the channel one :class:`HttpRequest`. The channel answers with an
:class:`Answer` (or raises :class:`~voicehook.errors.HttpError` for a 4xx).

This module is a leaf: it imports nothing from voicehook but ``errors``, so every channel
can import it without an arrow up the layers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from voicehook.errors import HttpError

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = [
    "JSON",
    "ASGIApp",
    "Answer",
    "Channel",
    "Headers",
    "HttpRequest",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Raw ASGI headers: lower-case names, as bytes.
Headers = Sequence[tuple[bytes, bytes]]

JSON = b"application/json"


class HttpRequest(msgspec.Struct, gc=False):
    """One HTTP call as a channel sees it, after the server's framing checks.

    - ``method``: ``"POST"``, ``"GET"``, ...
    - ``path``: the part of the path after the route's prefix (``"answer.weather"`` for
      ``POST /answer.weather`` on the NUGU route; ``""`` for an exact route).
    - ``headers``: every header, raw. Read one with :meth:`header`.
    - ``body``: the whole body (under the size cap), not decoded.
    - ``request_id``: the id every log line about this call carries.

    A msgspec Struct because it is built for every call: construction runs in C.
    """

    method: str
    path: str
    headers: Headers
    body: bytes
    request_id: str

    def header(self, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower-case bytes), or None when absent.

        A header that must appear once (a credential, a signature) and appears twice is
        ambiguous: that is a 400 ``duplicate_header``, never "the last one wins".
        """
        found: bytes | None = None
        for key, value in self.headers:
            if key == name:
                if found is not None:
                    raise HttpError(
                        400, "duplicate_header", f"the {name.decode()} header appears twice"
                    )
                found = value
        return found


class Answer(msgspec.Struct, gc=False):
    """What a channel answers. The server sends it and counts it in the metrics.

    - ``body`` / ``status`` / ``content_type``: the HTTP answer.
    - ``headers``: extra response headers (``content-type`` and ``content-length`` are
      added by the server).
    - ``label``: the metrics label of the call (an action name, a request type); keep the
      set of labels bounded.
    - ``result_code``: the outcome for metrics and logs (``"OK"``, an exception code).
    - ``error``: why the call failed, for the log only (never sent).

    A msgspec Struct because it is built for every call: construction runs in C.
    """

    body: bytes
    status: int = 200
    label: str = ""
    result_code: str = ""
    error: str | None = None
    content_type: bytes = JSON
    headers: Headers = ()


class Channel(Protocol):
    """A platform's endpoint, mounted by the server under a path prefix.

    ``name`` names the channel in logs and ``voicehook routes``. ``methods`` are the HTTP
    methods it takes (others get a 405 from the server). ``startup`` / ``shutdown`` run in
    the ASGI lifespan, after the store and the HTTP client are open and before they are
    closed.
    """

    name: str
    methods: frozenset[str]

    async def handle(self, request: HttpRequest) -> Answer:
        """Answer one call. Raise :class:`~voicehook.errors.HttpError` for a 4xx."""
        ...

    async def startup(self, app: AppContext) -> None: ...

    async def shutdown(self, app: AppContext) -> None: ...
