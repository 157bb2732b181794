"""Direct mode: a CLOVA extension written by hand, without a play definition.

::

    from voicehook.clova import Extension, ask, tell

    ext = Extension("weather", lang="ko")

    @ext.launch
    async def welcome(req):
        return ask("어느 지역 날씨를 알려 드릴까요?", reprompt="지역을 말씀해 주세요.")

    @ext.intent("Weather")
    async def weather(req):
        city = req.slot("city", "서울")
        return tell(f"{city}은 맑아요.")

Handlers take a :class:`~voicehook.clova.request.ClovaRequest` and return a
:class:`~voicehook.clova.response.Response`, a ``str`` (said, then the session ends) or None
(the neutral answer of spec §11.12). Plain ``def`` handlers run in a thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

from voicehook.clova.request import ClovaRequest
from voicehook.clova.response import Response, neutral, tell
from voicehook.clova.speech import LANGS

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = ["DEFAULT_FAILURE_SPEECH", "ClovaApp", "Extension", "HandlerResult"]

logger = logging.getLogger("voicehook.clova")

HandlerResult: TypeAlias = Response | str | None
Handler: TypeAlias = Callable[[ClovaRequest], Awaitable[HandlerResult] | HandlerResult]
H = TypeVar("H", bound=Handler)

DEFAULT_FAILURE_SPEECH = "죄송해요, 지금은 답을 드릴 수 없어요. 잠시 후에 다시 말씀해 주세요."


class ClovaApp(Protocol):
    """What :class:`~voicehook.clova.channel.ClovaChannel` serves: a direct-mode
    :class:`Extension` or a play (:class:`~voicehook.clova.playmode.PlayMode`)."""

    name: str
    lang: str
    failure_speech: str

    async def answer(self, request: ClovaRequest) -> Response:
        """The answer to one request. Exceptions become the failure speech."""
        ...

    async def startup(self, app: AppContext) -> None: ...

    async def shutdown(self, app: AppContext) -> None: ...


async def _run(handler: Handler, request: ClovaRequest, is_async: bool) -> HandlerResult:
    if is_async:
        result: HandlerResult = await handler(request)  # type: ignore[misc]
        return result
    value = await asyncio.to_thread(handler, request)
    if inspect.isawaitable(value):
        return await value
    return value


def _as_response(value: object, where: str) -> Response:
    if value is None:
        return neutral()
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return tell(value)
    raise TypeError(f"{where} returned {type(value).__name__}; return a Response, a str or None")


def _registrar(table: dict[str, Handler], kind: str, name: str) -> Callable[[H], H]:
    """A decorator that puts its function in ``table`` under ``name`` (once only)."""

    def register(fn: H) -> H:
        if name in table:
            raise ValueError(f"{kind} {name!r} already has a handler")
        table[name] = fn
        return fn

    return register


class Extension:
    """A hand-written CLOVA extension: handlers registered with decorators.

    - ``@ext.launch``: ``LaunchRequest``.
    - ``@ext.intent("Name")``: an ``IntentRequest`` for that intent (built-ins too:
      ``"Clova.GuideIntent"``).
    - ``@ext.session_ended``: ``SessionEndedRequest`` (CLOVA ignores the answer; the channel
      always sends the empty one).
    - ``@ext.event("AudioPlayer.PlayFinished")``: an ``EventRequest`` by ``namespace.name``.
    - ``@ext.default``: anything else. Without it, an unknown intent gets
      ``fallback_speech`` and an unhandled event or launch the neutral answer.

    ``lang`` is the language of plain ``str`` speech; ``failure_speech`` is said (and the
    session ended) when a handler fails or runs past the deadline.
    """

    def __init__(
        self,
        name: str = "clova",
        *,
        lang: str = "ko",
        failure_speech: str = DEFAULT_FAILURE_SPEECH,
        fallback_speech: str = "죄송해요, 잘 이해하지 못했어요.",
    ) -> None:
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(sorted(LANGS))}, not {lang!r}")
        self.name = name
        self.lang = lang
        self.failure_speech = failure_speech
        self.fallback_speech = fallback_speech
        self._launch: Handler | None = None
        self._session_ended: Handler | None = None
        self._default: Handler | None = None
        self._intents: dict[str, Handler] = {}
        self._events: dict[str, Handler] = {}
        self._async: dict[Handler, bool] = {}
        self._startup: list[Callable[[AppContext], Awaitable[None]]] = []
        self._shutdown: list[Callable[[AppContext], Awaitable[None]]] = []

    # -- registration ---------------------------------------------------------------------

    def launch(self, fn: H) -> H:
        self._launch = fn
        return fn

    def session_ended(self, fn: H) -> H:
        self._session_ended = fn
        return fn

    def default(self, fn: H) -> H:
        self._default = fn
        return fn

    def intent(self, name: str) -> Callable[[H], H]:
        if not name:
            raise ValueError("an intent name must not be empty")
        return _registrar(self._intents, "intent", name)

    def event(self, name: str) -> Callable[[H], H]:
        """Register a handler for the event ``namespace.name`` (``"AudioPlayer.PlayStarted"``)."""
        if name.count(".") != 1 or name.startswith(".") or name.endswith("."):
            raise ValueError(f"an event name is 'Namespace.Name', not {name!r}")
        return _registrar(self._events, "event", name)

    def on_startup(self, fn: Callable[[AppContext], Awaitable[None]]) -> Any:
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[AppContext], Awaitable[None]]) -> Any:
        self._shutdown.append(fn)
        return fn

    @property
    def intents(self) -> list[str]:
        return sorted(self._intents)

    @property
    def events(self) -> list[str]:
        return sorted(self._events)

    # -- ClovaApp -------------------------------------------------------------------------

    def handler_for(self, request: ClovaRequest) -> tuple[Handler | None, str]:
        """The handler for ``request`` and a name for it (for logs and metrics)."""
        kind = request.type
        if kind == "LaunchRequest":
            return self._launch or self._default, "launch"
        if kind == "IntentRequest":
            name = request.intent or ""
            found = self._intents.get(name)
            if found is not None:
                return found, name
            return self._default, "default"
        if kind == "EventRequest":
            name = request.event or ""
            found = self._events.get(name)
            if found is not None:
                return found, name
            return self._default, "default"
        if kind == "SessionEndedRequest":
            return self._session_ended, "session_ended"
        return None, kind

    async def answer(self, request: ClovaRequest) -> Response:
        handler, name = self.handler_for(request)
        if handler is None:
            if request.type == "IntentRequest":
                logger.warning(
                    "no handler for intent %r and no @default: said the fallback speech",
                    request.intent,
                    extra={"request_id": request.server_request_id},
                )
                return tell(self.fallback_speech)
            return neutral()
        is_async = self._async.get(handler)
        if is_async is None:
            is_async = self._async[handler] = inspect.iscoroutinefunction(handler)
        result = _as_response(await _run(handler, request, is_async), f"handler {name!r}")
        if request.type == "SessionEndedRequest":
            return neutral()
        return result

    async def startup(self, app: AppContext) -> None:
        for hook in self._startup:
            await hook(app)

    async def shutdown(self, app: AppContext) -> None:
        for hook in self._shutdown:
            await hook(app)
