"""How the dialog engine calls a play's actions: the :class:`ActionCaller` interface.

The engine decides *which* action to call and with which parameter values; an action caller
carries the call out and says what came back. Two kinds exist:

- :class:`PlayCaller` calls :meth:`voicehook.play.Play.call` in process: no JSON, no NUGU
  authentication, no result-code wrapping. It is what the CLOVA and Bot Framework channels
  use, since on those platforms voicehook itself runs the dialog.
- ``voicehook.nugu.caller.NuguCaller`` speaks the NUGU Backend proxy protocol to any backend
  proxy (over HTTP, or to a play's own app in process) and judges the answer with the NUGU
  answer rules (``voicehook.nugu.answer``). The simulator and ``voicehook test`` use it for
  NUGU, so they see exactly what NUGU would.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from voicehook.play.request import ActionRequest, AudioPlayer, Event, Session

if TYPE_CHECKING:
    from voicehook.play.app import Play, RuntimeSettings
    from voicehook.play.context import AppContext

__all__ = ["ActionCall", "ActionCaller", "CallAnswer", "PlayCaller"]


class ActionCall(msgspec.Struct, frozen=True, kw_only=True):
    """One action call the engine wants made.

    - ``params``: every declared parameter of the action, a string or None.
    - ``param_types``: the entity type of each utterance parameter (None for others).
    - ``session_id`` / ``is_new``: the conversation, as the channel names it.
    - ``event``: the device event that triggered the call (``{"type": ..., ...}``), or None.
    - ``audio_player``: the device's AudioPlayer context (``playerActivity``, ``token``,
      ``offsetInMilliseconds``), or None when the device has none.
    - ``user_key``: the platform's stable user key (CLOVA ``userId``, Bot Framework
      ``from.id``), for ``req.user_state()``.
    - ``channel``: who is asking (``"nugu"``, ``"clova"``, ``"botframework"``); handlers
      read it as ``req.channel``.
    - ``device_type``, ``play_builder``, ``null_form``: how the simulated NUGU platform
      shapes its request (``EngineSettings``); callers that send no NUGU JSON ignore them.
    """

    action: str
    params: dict[str, str | None]
    param_types: dict[str, str | None] = msgspec.field(default_factory=dict)
    session_id: str = ""
    is_new: bool = False
    event: dict[str, Any] | None = None
    audio_player: dict[str, Any] | None = None
    user_key: str | None = None
    channel: str = "nugu"
    device_type: str = "speaker"
    play_builder: bool = False
    null_form: bool = False


class CallAnswer(msgspec.Struct, kw_only=True):
    """What came back from one action call.

    - ``error``: set when nothing usable came back (transport failure, timeout, a broken
      answer): the engine speaks the failure prompt.
    - ``result_code``: ``"OK"`` or an exception code (the engine decides whether the play
      declares it). ``output``: parameter values as strings or None. ``directives``: valid
      directives only (NUGU form: ``{"type": "AudioPlayer.Play", ...}``).
    - ``violations`` / ``warnings``: contract problems found in the answer.
    - ``status``, ``request``, ``response``, ``body``: what went over the wire, for people
      (the simulator's ``-v``, the console); ``request`` is the JSON-ready request.
    """

    result_code: str | None = None
    output: dict[str, str | None] = msgspec.field(default_factory=dict)
    directives: list[dict[str, Any]] = msgspec.field(default_factory=list)
    error: str | None = None
    violations: list[str] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    status: int | None = None
    request: Any = None
    response: Any = None
    body: str | None = None
    elapsed_ms: float = 0.0


class ActionCaller(Protocol):
    """Makes the engine's action calls."""

    async def call(self, call: ActionCall, *, timeout: float) -> CallAnswer:
        """Make one call; never raises for the action's own failures (they are answers).

        The caller keeps the deadline: it answers within about ``timeout`` seconds, with
        ``error`` set when the action did not answer in time.
        """
        ...

    async def aclose(self) -> None:
        """Release what the caller holds (connections, a started app)."""
        ...


class PlayCaller:
    """Calls a :class:`~voicehook.play.Play`'s handlers in process.

    ``app`` is the running app's context (store, HTTP client) that handlers see as
    ``req.app``; ``settings`` the runtime settings of the calls (the play's own by default).
    The deadline is the smaller of the engine's ``timeout`` and the settings' deadline.
    """

    def __init__(
        self,
        play: Play,
        app: AppContext | None = None,
        *,
        settings: RuntimeSettings | None = None,
    ) -> None:
        self.play = play
        self.app = app
        self.settings = settings

    async def call(self, call: ActionCall, *, timeout: float) -> CallAnswer:
        play = self.play
        settings = self.settings if self.settings is not None else play.settings
        if timeout < settings.deadline:
            settings = dataclasses.replace(settings, deadline=timeout)
        spec = play.spec(call.action)
        params: dict[str, Any] = spec.new_params() if spec is not None else {}
        params.update(call.params)
        audio = call.audio_player
        event = call.event
        request = ActionRequest(
            call.action,
            params,
            dict(call.param_types),
            Session(call.session_id, call.is_new),
            None,
            Event(str(event.get("type")), event) if event else None,
            _audio_player(audio) if audio is not None else None,
            None,
            None,
            "2.0",
            b"",
            "",
            self.app,
        )
        request.channel = call.channel
        request.user = call.user_key
        started = time.perf_counter()
        result = await play.call(request, spec, settings)
        return CallAnswer(  # ``request`` stays None: the engine shows the ActionCall itself
            result_code=result.result_code,
            output=result.output,
            directives=result.directives,
            error=result.error,
            response={
                "resultCode": result.result_code,
                "output": result.output,
                "directives": result.directives,
            },
            elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def aclose(self) -> None:
        """Nothing to release: the play's resources belong to the app that runs it."""


def _audio_player(context: dict[str, Any]) -> AudioPlayer:
    offset = context.get("offsetInMilliseconds")
    token = context.get("token")
    return AudioPlayer(
        str(context.get("playerActivity") or "IDLE"),
        token if isinstance(token, str) else None,
        offset if isinstance(offset, int) and not isinstance(offset, bool) else 0,
    )
