"""Play mode: a play (``play.yaml`` + handlers) answers CLOVA users with the same dialog as
NUGU users.

CLOVA has no Dialog Manager of the NUGU kind, so voicehook runs the dialog itself: every CEK
request becomes one turn of the dialog engine (``voicehook.dialog``), whose state lives in
the configured store under the CEK ``sessionId``. Any worker process (or machine) sharing
the store can serve the next turn.

- ``LaunchRequest`` → the play's welcome.
- ``IntentRequest`` → a recognised :class:`~voicehook.dialog.engine.Intent`: CEK did the
  NLU, so voicehook's NLU is skipped. The intent name and slot names map onto the play's
  intents and parameters by identity, through the built-in table :data:`BUILTIN_INTENTS`,
  and through the renames of the optional ``clova:`` section of ``play.yaml``.
- ``EventRequest`` ``AudioPlayer.*`` → the device event the play listens to
  (``PlayFinished`` → ``AudioPlayer.PlaybackFinished``), with the device's AudioPlayer
  state taken from ``context.AudioPlayer``. Other events get the neutral answer.
- ``EventRequest`` ``AudioPlayer.StreamRequested`` has no NUGU counterpart: it keeps its
  CEK name (``trigger: {event: AudioPlayer.StreamRequested}``), with the requested
  ``audioStream.token`` as the event's ``token``. The play answers with a NUGU-form
  ``AudioPlayer.Play`` of that token; it becomes ``AudioPlayer.StreamDeliver``.
- ``SessionEndedRequest`` → the session's dialog state is deleted; the empty answer.

The play's prompts become speech; a ``wait`` prompt keeps the session open
(``shouldEndSession: false``) with the prompt as reprompt; ``end`` closes it. The play's
NUGU-form AudioPlayer directives become CEK ``AudioPlayer.Play`` /
``PlaybackController.*`` (see :func:`to_cek_directives`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import msgspec

from voicehook.clova import directives as cek
from voicehook.clova import wire
from voicehook.clova.request import ClovaRequest
from voicehook.clova.response import Response, neutral
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Intent,
    TurnInput,
    TurnResult,
)
from voicehook.dialog.nlu import (
    INTENT_NEXT,
    INTENT_OPEN,
    INTENT_PAUSE,
    INTENT_PREVIOUS,
    INTENT_RESUME,
    INTENT_STOP,
    SimpleTokenizer,
)
from voicehook.dialog.runtime import DialogRuntime
from voicehook.dialog.session import AudioPlayerState, DeviceState
from voicehook.play.definition import PlayDefinition
from voicehook.store import ConflictError

if TYPE_CHECKING:
    from voicehook.play.app import Play, RuntimeSettings
    from voicehook.play.context import AppContext

__all__ = [
    "BUILTIN_INTENTS",
    "EVENTS",
    "STREAM_REQUESTED",
    "ClovaMapping",
    "PlayMode",
    "StreamRequest",
    "check_clova_section",
    "to_cek_directives",
]

logger = logging.getLogger("voicehook.clova")

#: CLOVA's built-in intents → the engine's (NUGU's). ``None`` means "not understood": the
#: play's fallback. Yes/No/RequestAlternatives have no NUGU counterpart: they keep their
#: CEK name (a play can trigger on it, or rename it in ``clova: intents:``).
BUILTIN_INTENTS: Mapping[str, str | None] = {
    "Clova.CancelIntent": INTENT_STOP,
    "Clova.StopIntent": INTENT_STOP,
    "Clova.GuideIntent": INTENT_OPEN,
    "Clova.FallbackIntent": None,
    "Clova.PauseIntent": INTENT_PAUSE,
    "Clova.ResumeIntent": INTENT_RESUME,
    "Clova.NextIntent": INTENT_NEXT,
    "Clova.PreviousIntent": INTENT_PREVIOUS,
}

#: CEK AudioPlayer events → the device events of the engine (NUGU's names).
EVENTS: Mapping[str, str] = {
    "AudioPlayer.PlayStarted": "AudioPlayer.PlaybackStarted",
    "AudioPlayer.PlayFinished": "AudioPlayer.PlaybackFinished",
    "AudioPlayer.PlayStopped": "AudioPlayer.PlaybackStopped",
    "AudioPlayer.PlayPaused": "AudioPlayer.PlaybackPaused",
    "AudioPlayer.PlayResumed": "AudioPlayer.PlaybackResumed",
    "AudioPlayer.ProgressReportDelayPassed": "AudioPlayer.ProgressReportDelayElapsed",
    "AudioPlayer.ProgressReportIntervalPassed": "AudioPlayer.ProgressReportIntervalElapsed",
    "AudioPlayer.ProgressReportPositionPassed": "AudioPlayer.ProgressReportPositionPassed",
    "AudioPlayer.StreamRequested": "AudioPlayer.StreamRequested",
}

#: CEK asks for the playable URL of an ``urlPlayable: false`` item. NUGU has no such event,
#: so the play listens to it under its CEK name.
STREAM_REQUESTED = "AudioPlayer.StreamRequested"

_FALLBACK_INTENT = "Clova.FallbackIntent"
_DATE_TYPES = ("BID_DT_YMONTH", "BID_DT_MDAY")
_SECTION_KEYS = ("intents", "slots")


@dataclass(frozen=True, slots=True)
class ClovaMapping:
    """The ``clova:`` section of ``play.yaml``::

    clova:
      intents:              # CEK intent → play intent (or NUGU.INTENT.*)
        WeatherIntent: ask.weather
        Clova.YesIntent: answer.yes
      slots:                # CEK slot → play parameter or entity type
        city: location
    """

    intents: Mapping[str, str] = field(default_factory=dict)
    slots: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_definition(cls, definition: PlayDefinition) -> ClovaMapping:
        problems = check_clova_section(definition)
        if problems:
            raise ValueError("; ".join(problems))
        section = definition.clova
        return cls(dict(section.get("intents") or {}), dict(section.get("slots") or {}))

    def intent(self, name: str) -> str | None:
        """The engine intent for CEK intent ``name`` (None: the play's fallback)."""
        renamed = self.intents.get(name)
        if renamed is not None:
            return renamed
        if name in BUILTIN_INTENTS:
            return BUILTIN_INTENTS[name]
        return name


def check_clova_section(definition: PlayDefinition) -> list[str]:
    """Problems in the ``clova:`` section (``voicehook validate`` prints them)."""
    section = definition.clova
    if not section:
        return []
    problems = []
    where = f"{definition.source}: clova"
    for key in section:
        if key not in _SECTION_KEYS:
            problems.append(f"{where}: unknown key {key!r}; expected one of: intents, slots")
    params = set(definition.parameters)
    for act in definition.actions.values():
        params |= set(act.parameters)
    types = set(definition.entities)
    for key, known, what in (
        ("intents", set(definition.intents), "an intent of the play or NUGU.INTENT.*"),
        ("slots", params | types, "a parameter or an entity type of the play"),
    ):
        table = section.get(key)
        if table is None:
            continue
        if not isinstance(table, dict):
            problems.append(f"{where}.{key}: must be a mapping of CEK name to play name")
            continue
        for cek_name, target in table.items():
            if not isinstance(cek_name, str) or not cek_name:
                problems.append(f"{where}.{key}: names must be non-empty strings")
                continue
            if not isinstance(target, str) or not target:
                problems.append(f"{where}.{key}.{cek_name}: the target must be a string")
                continue
            builtin = target.startswith("NUGU.INTENT.") or target.startswith("BID_")
            if target not in known and not builtin:
                problems.append(f"{where}.{key}.{cek_name}: {target!r} is not {what}")
    return problems


# -- directives ------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """What an ``AudioPlayer.StreamRequested`` event asks for: the item and its token
    (None when CEK did not send them)."""

    audio_item_id: str | None
    token: str | None

    @classmethod
    def of(cls, request: ClovaRequest) -> StreamRequest | None:
        """The stream ``request`` asks for, or None when it is not a StreamRequested."""
        if request.type != "EventRequest" or request.event != STREAM_REQUESTED:
            return None
        payload = request.payload
        stream = payload.get("audioStream")
        token = stream.get("token") if isinstance(stream, dict) else None
        return cls(_text(payload.get("audioItemId")), _text(token))


def _event_fields(event: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of the engine's device event: the CEK payload, and for StreamRequested the
    requested ``token`` and ``offsetInMilliseconds`` (``beginAtInMilliseconds``) on top, as
    in NUGU events."""
    fields = {k: v for k, v in payload.items() if v is not None}
    stream = payload.get("audioStream")
    if event == STREAM_REQUESTED and isinstance(stream, dict):
        token = _text(stream.get("token"))
        if token is not None:
            fields["token"] = token
        begin = stream.get("beginAtInMilliseconds")
        if isinstance(begin, int) and not isinstance(begin, bool):
            fields.setdefault("offsetInMilliseconds", begin)
    return fields


def to_cek_directives(
    directives: list[dict[str, Any]],
    *,
    source: str,
    warnings: list[str],
    deliver: StreamRequest | None = None,
) -> list[wire.Directive]:
    """The play's NUGU-form directives as CEK directives; others are dropped with a warning
    (CEK accepts only AudioPlayer, PlaybackController and TemplateRuntime directives).

    - ``AudioPlayer.Play`` → CEK ``AudioPlayer.Play``; ``stream.urlPlayable: false`` (a
      CLOVA-only key) makes CEK send ``StreamRequested`` before it plays.
    - ``deliver`` (the answer to a ``StreamRequested``): an ``AudioPlayer.Play`` of the
      requested token (or of any token, when CEK sent none) → ``AudioPlayer.StreamDeliver``
      with its ``url``, for the requested ``audioItemId``. A Play of another token stays a
      Play: it replaces the requested item.
    - ``AudioPlayer.Stop`` / ``Pause`` / ``Resume`` → ``PlaybackController.*``.
    - ``AudioPlayer.StreamDeliver`` (CEK form, flattened: ``audioItemId``, ``audioStream``)
      passes through; a missing ``audioItemId`` or token is the requested one.
    """
    out: list[wire.Directive] = []
    for d in directives:
        kind = d.get("type")
        if kind == "AudioPlayer.Play":
            item = d.get("audioItem") or {}
            stream = item.get("stream") or {}
            token = str(stream.get("token") or "")
            if deliver is not None and token and deliver.token in (None, token):
                try:
                    out.append(
                        cek.stream_deliver(
                            deliver.audio_item_id or token, token, str(stream.get("url") or "")
                        )
                    )
                except cek.DirectiveError as exc:
                    warnings.append(f"AudioPlayer.StreamDeliver dropped: {exc}")
                continue
            meta = item.get("metadata") or {}
            template = meta.get("template") or {}
            content = template.get("content") or {}
            title_obj = template.get("title") or {}
            report = stream.get("progressReport") or {}
            offset = stream.get("offsetInMilliseconds")
            try:
                out.append(
                    cek.audio_play(
                        str(stream.get("url") or ""),
                        token,
                        title=_text(content.get("title")) or _text(title_obj.get("text")) or source,
                        subtitle=_text(content.get("subtitle1")) or source,
                        subtitle2=_text(content.get("subtitle2")),
                        art_image_url=_text(content.get("imageUrl")),
                        source=_text(title_obj.get("text")) or source,
                        offset_ms=offset if isinstance(offset, int) else 0,
                        url_playable=stream.get("urlPlayable") is not False,
                        progress_delay_ms=report.get("progressReportDelayInMilliseconds"),
                        progress_interval_ms=report.get("progressReportIntervalInMilliseconds"),
                    )
                )
            except cek.DirectiveError as exc:
                warnings.append(f"AudioPlayer.Play dropped: {exc}")
        elif kind == "AudioPlayer.Stop":
            out.append(cek.stop())
        elif kind == "AudioPlayer.Pause":
            out.append(cek.pause())
        elif kind == "AudioPlayer.Resume":
            out.append(cek.resume())
        elif kind == "AudioPlayer.StreamDeliver":
            stream = d.get("audioStream") or {}
            wanted = deliver or StreamRequest(None, None)
            try:
                out.append(
                    cek.stream_deliver(
                        str(d.get("audioItemId") or wanted.audio_item_id or ""),
                        str(stream.get("token") or wanted.token or ""),
                        str(stream.get("url") or ""),
                    )
                )
            except cek.DirectiveError as exc:
                warnings.append(f"AudioPlayer.StreamDeliver dropped: {exc}")
        else:
            warnings.append(f"directive {kind!r} has no CLOVA form: dropped")
    return out


# -- the app ---------------------------------------------------------------------------------


def _device(context: wire.AudioPlayerContext | None) -> DeviceState | None:
    """The device as CLOVA reports it in ``context.AudioPlayer`` (None: no player)."""
    if context is None:
        return None
    stream = context.stream or {}
    token = context.token or stream.get("token")
    audio = AudioPlayerState(
        player_activity=context.player_activity or "IDLE",
        token=token if isinstance(token, str) and token else None,
        offset_in_milliseconds=context.offset_in_milliseconds or 0,
    )
    return DeviceState(audio=audio)


def _slot_text(value: str | None) -> str | None:
    return value if value else None


class PlayMode:
    """Serves ``play`` to CLOVA (a :class:`~voicehook.clova.extension.ClovaApp`).

    - ``runtime``: the runtime settings of the play's calls (the server's deadline and codes).
    - ``ttl``: seconds a session's dialog state lives after its last turn.
    - ``lang``: the language of the play's prompts (``ko``).
    - ``engine_settings``: dialog engine settings over the play's ``settings:`` (a ``seed``
      makes prompt choices repeatable, as in transcripts).
    """

    def __init__(
        self,
        play: Play,
        *,
        runtime: RuntimeSettings | None = None,
        ttl: float | None = 3600.0,
        lang: str = "ko",
        retries: int = 4,
        engine_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.play = play
        self.name = play.name
        self.lang = lang
        definition = play.definition
        self.failure_speech = definition.failure_prompt
        self.mapping = ClovaMapping.from_definition(definition)
        self.source = definition.invocation or definition.name
        #: Utterance parameters (a CEK slot named like one fills it).
        self._params = {p.name for p in definition.parameters.values() if p.kind == "utterance"}
        self._date_params: dict[str, tuple[str, str]] = {}
        for act in definition.actions.values():
            self._params |= {p.name for p in act.parameters.values() if p.kind == "utterance"}
            if act.trigger is not None and act.trigger.intent:
                declared = definition.action_parameters(act.name).values()
                types = {p.type: p.name for p in declared if p.kind == "utterance"}
                self._date_params.setdefault(
                    act.trigger.intent,
                    (
                        types.get(_DATE_TYPES[0], _DATE_TYPES[0]),
                        types.get(_DATE_TYPES[1], _DATE_TYPES[1]),
                    ),
                )
        self._runtime_settings = runtime
        self._ttl = ttl
        self._retries = retries
        merged = {**definition.settings, **(engine_settings or {})}
        self._engine_settings, _ = EngineSettings.from_mapping(merged)
        self.engine: DialogEngine | None = None
        self.runtime: DialogRuntime | None = None

    async def startup(self, app: AppContext) -> None:
        """Build the engine on the app's store (an in-memory store when there is none)."""
        store = app.store
        if store is None:
            from voicehook.store import MemoryStore

            store = MemoryStore()
            logger.warning(
                "CLOVA play mode without a state store: dialog state is kept in this process "
                "only (use --store to share it between workers)"
            )
        caller = PlayCaller(self.play, app, settings=self._runtime_settings)
        self.engine = DialogEngine(
            self.play.definition,
            caller,
            settings=self._engine_settings,
            tokenizer=SimpleTokenizer(),
        )
        self.runtime = DialogRuntime(
            self.engine, store, ttl=self._ttl, prefix=f"clova:{self.play.name}:"
        )

    async def shutdown(self, app: AppContext) -> None:
        self.engine = None
        self.runtime = None

    def _runtime(self) -> DialogRuntime:
        if self.runtime is None:
            raise RuntimeError("the CLOVA play mode was not started (no ASGI lifespan?)")
        return self.runtime

    def turn_input(self, request: ClovaRequest) -> TurnInput | None:
        """The engine input for ``request`` (None: no turn, the neutral answer)."""
        kind = request.type
        if kind == "LaunchRequest":
            return Intent(INTENT_OPEN)
        if kind == "IntentRequest":
            name = self.mapping.intent(request.intent or _FALLBACK_INTENT)
            slots: dict[str, str] = {}
            for cek_name, slot in request.slots.items():
                value = _slot_text(slot.value)
                if value is None:
                    continue
                target = self.mapping.slots.get(cek_name, cek_name)
                typed = slot.typed if slot.value_type == "DATE" else None
                if isinstance(typed, date) and target not in self._params:
                    # A CLOVA.DATETIME date no utterance parameter takes: the month and
                    # day go to the parameters of NUGU's built-in types (BID_DT_YMONTH,
                    # BID_DT_MDAY), as if the user had said "2월 28일".
                    month, day = self._date_params.get(name or "", _DATE_TYPES)
                    slots.setdefault(month, str(typed.month))
                    slots.setdefault(day, str(typed.day))
                    continue
                slots[target] = value
            # A name no action triggers on is "not understood": the play's fallback.
            return Intent(name or _FALLBACK_INTENT, slots)
        if kind == "EventRequest":
            event = EVENTS.get(request.event or "")
            if event is None:
                return None
            return DeviceEvent(event, _event_fields(event, request.payload))
        return None

    async def answer(self, request: ClovaRequest) -> Response:
        runtime = self._runtime()
        session_id = request.session_id
        if request.type == "SessionEndedRequest":
            if session_id:
                await runtime.forget(session_id)
            return neutral()
        user_input = self.turn_input(request)
        if user_input is None:
            return neutral()
        sid = session_id or f"request-{uuid.uuid4()}"
        result = await self._turn(runtime, sid, user_input, request)
        return self.response(result, request)

    async def _turn(
        self, runtime: DialogRuntime, sid: str, user_input: TurnInput, request: ClovaRequest
    ) -> TurnResult:
        """One engine turn on the stored conversation, with the device's AudioPlayer as
        CLOVA reports it (``context.AudioPlayer``; never stored: the device owns it). Like
        :meth:`DialogRuntime.turn`, but a session that ended is deleted instead of saved,
        and the first turn of a new CEK session (``session.new``) reads nothing."""
        engine = runtime.engine
        store = runtime.store
        key = runtime.key(sid)
        device = _device(request.audio_player)
        attempt = 0
        fresh = request.is_new  # a new CEK session has no dialog state yet
        while True:
            if fresh and attempt == 0:
                state, version = engine.new_state(), None  # no store read
            else:
                state, version = await runtime.load(sid)
                if fresh:  # an old state under a reused id: start over, keep its version
                    state = engine.new_state()
            result = await engine.turn(
                state,
                user_input,
                device=device,
                session_id=sid,
                user_key=request.user_id,
                channel="clova",
            )
            try:
                if result.state.active:
                    await store.put(
                        key, msgspec.to_builtins(result.state), version=version, ttl=runtime.ttl
                    )
                elif version is not None:
                    await store.delete(key, version=version)
            except ConflictError:
                if result.calls or attempt >= self._retries:
                    # What the user hears is this turn; the other request's state stays.
                    logger.warning(
                        "CLOVA session %r changed during a turn; the turn was not saved",
                        sid,
                        extra={"request_id": request.server_request_id},
                    )
                    return result
                attempt += 1
                continue
            return result

    def response(self, result: TurnResult, request: ClovaRequest) -> Response:
        """The CEK answer for one engine turn."""
        warnings: list[str] = []
        directives = to_cek_directives(
            result.directives,
            source=self.source,
            warnings=warnings,
            deliver=StreamRequest.of(request),
        )
        for warning in [*warnings, *result.violations]:
            logger.warning(
                "CLOVA %s: %s",
                request.type,
                warning,
                extra={"request_id": request.server_request_id},
            )
        prompt = result.prompt or None
        keep_open = result.prompt_type == "wait" and not result.session_ended and not directives
        if keep_open and prompt:
            return Response(prompt, reprompt=prompt, end=False)
        return Response(prompt, end=True, directives=directives)
