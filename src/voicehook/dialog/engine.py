"""The dialog engine: runs a play definition the way the NUGU Dialog Manager does.

The engine is stateless. :meth:`DialogEngine.turn` takes a :class:`DialogState` and one input
(an utterance, a device event or a reset) and returns a :class:`TurnResult` whose ``state``
is the state for the next turn. The turn algorithm follows the spec's §7.3; every rule and
every choice on a spec conflict is described in ``docs/dialog.md``.

The engine knows no platform: it calls actions through an
:class:`~voicehook.dialog.caller.ActionCaller` (in process with ``PlayCaller``, or as NUGU
JSON with ``voicehook.nugu.caller.NuguCaller``), and channels hand it recognised input.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeAlias

import msgspec

from voicehook.dialog.caller import ActionCall, ActionCaller
from voicehook.dialog.nlu import (
    AUDIO_PLAYER_INTENTS,
    INTENT_OPEN,
    INTENT_REWIND,
    INTENT_STOP,
    EntityMatch,
    NluResult,
    Tokenizer,
)
from voicehook.dialog.prompts import (
    Filters,
    PromptStack,
    Template,
    TemplateError,
    parse_template,
)
from voicehook.dialog.recognizer import (
    AnyRecognizer,
    AsyncOnly,
    AsyncRecognizer,
    Recognizer,
    build_recognizer,
    confirm_prompt,
    load_recognizer,
    read_yes_no,
    reask_prompt,
    uncertain_entities,
)
from voicehook.dialog.session import (
    AudioPlayerState,
    ConfirmWait,
    DeviceState,
    DialogState,
    ExceptionWait,
    ListenWait,
    PendingEntity,
    SlotWait,
    copy_state,
)
from voicehook.play.definition import (
    Action,
    AllOf,
    AnyOf,
    Condition,
    EntityMapping,
    Equals,
    ExceptionCode,
    Exists,
    IntentIs,
    Parameter,
    PlayDefinition,
    Response,
)

__all__ = [
    "DEFAULT_FALLBACK_PROMPT",
    "NPK_PREFIX",
    "BackendCall",
    "DeviceEvent",
    "DialogEngine",
    "EngineSettings",
    "EntityInfo",
    "Intent",
    "Reset",
    "TurnInput",
    "TurnResult",
    "UserText",
]

#: Spoken on fallback when the play declares no fallback prompts (an end prompt).
DEFAULT_FALLBACK_PROMPT = "죄송해요, 잘 이해하지 못했어요."
#: Branch conditions see the AudioPlayer context as parameters with this prefix.
NPK_PREFIX = "[NPK]context_supportedInterfaces_AudioPlayer_"
_MAX_DEPTH = 64
_log = logging.getLogger("voicehook.dialog")
_PARAM_REF = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")

PromptSource: TypeAlias = Literal[
    "response",
    "welcome",
    "exit",
    "fallback",
    "slot",
    "exception",
    "failure",
    "reprompt",
    "rewind",
    "confirm",
]


# =========================================================================== settings


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine resolves what the spec leaves open. See ``docs/dialog.md``.

    Set them in play.yaml's ``settings:`` or pass them in code; code wins.

    - ``timeout``: seconds to wait for a backend answer; later is a communication failure.
    - ``null_form``: send null parameters as ``{"type": null, "value": null}`` instead of
      leaving them out.
    - ``play_builder``: behave like Play Builder's test chat (no built-in intents, no
      ``event``, ``isPlayBuilderRequest: true``, directives not executed).
    - ``seed``: makes random prompt choice and session ids repeatable.
    - ``allow_wait_with_directives``: keep the session open when a wait prompt comes with
      directives (Play Builder 1.9.0); by default a directive ends the session (§5.1).
    - ``custom_stop_action``: ``auto`` runs an action triggered by ``NUGU.INTENT.stop`` only
      in AudioPlayer plays; ``always`` / ``never``.
    - ``audio_player``: send ``supportedInterfaces.AudioPlayer``; None infers it from the play.
    - ``welcome_type``: ``continuation`` prefixes the welcome prompt to the first response when
      the session starts with an intent; ``wait`` (default) says welcome only on open.
    - ``max_failures``: end the session after this many consecutive failed turns (None: only
      the prompt stacks decide).
    - ``device_type``: ``context.device.type``.
    - ``nlu_threshold``: minimum intent score.
    - ``nlu_uncertain``: what to do when a typed entity that fills a parameter was corrected
      (``모래`` → 모레) or read from part of a form, or part of the utterance looks like a
      value but was not understood (``13/45``): ``confirm`` (default) asks "맞아요?" and runs
      the intent on yes; ``reask`` asks the user to say it again; ``accept`` uses the
      corrected values without asking. Parts not understood are always asked again unless
      ``accept``. See docs/nlu.md.
    - ``recognizer``: ``"package.module:factory"``, a callable taking the PlayDefinition and
      returning a :class:`~voicehook.dialog.recognizer.Recognizer` (None: the built-in NLU).
    """

    timeout: float = 3.0
    null_form: bool = False
    play_builder: bool = False
    seed: int | None = None
    allow_wait_with_directives: bool = False
    custom_stop_action: Literal["auto", "always", "never"] = "auto"
    audio_player: bool | None = None
    welcome_type: Literal["wait", "continuation"] = "wait"
    max_failures: int | None = None
    device_type: str = "speaker"
    nlu_threshold: float = 0.4
    nlu_uncertain: Literal["confirm", "reask", "accept"] = "confirm"
    recognizer: str | None = None

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        if self.custom_stop_action not in ("auto", "always", "never"):
            raise ValueError("custom_stop_action must be auto, always or never")
        if self.welcome_type not in ("wait", "continuation"):
            raise ValueError("welcome_type must be wait or continuation")
        if self.nlu_uncertain not in ("confirm", "reask", "accept"):
            raise ValueError("nlu_uncertain must be confirm, reask or accept")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], **overrides: Any
    ) -> tuple[EngineSettings, list[str]]:
        """Settings from play.yaml's ``settings:`` plus ``overrides`` (None = keep).

        Returns the settings and the keys it did not know (other parts of voicehook may use
        them, so they are reported, not rejected).
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        unknown = [k for k in data if k not in known]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values), unknown


# =========================================================================== inputs


class UserText(msgspec.Struct, tag="user", tag_field="input", frozen=True):
    """A user utterance (as ASR text). An empty text is the invocation name alone."""

    text: str


class DeviceEvent(msgspec.Struct, tag="event", tag_field="input", frozen=True):
    """A device event such as ``AudioPlayer.PlaybackFinished``.

    ``type`` may be short (``PlaybackFinished`` means ``AudioPlayer.PlaybackFinished``).
    ``fields`` are sent in ``event`` next to ``type``; ``token`` and
    ``offsetInMilliseconds`` default to the simulated AudioPlayer's.
    """

    type: str
    fields: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def full_type(self) -> str:
        return self.type if "." in self.type else f"AudioPlayer.{self.type}"


class Intent(msgspec.Struct, tag="intent", tag_field="input", frozen=True):
    """An intent the platform already recognised (CLOVA's NLU): voicehook's NLU is skipped.

    ``name`` is one of the play's intents or an engine built-in (``NUGU.INTENT.stop``; a
    channel maps its platform's built-ins onto these). ``slots`` maps a slot to its value:
    a slot named like a parameter of the intent's action fills that parameter (through its
    first entity mapping); a slot named like an entity type is an entity of that type.
    """

    name: str
    slots: dict[str, str] = msgspec.field(default_factory=dict)
    score: float = 1.0


class Reset(msgspec.Struct, tag="reset", tag_field="input", frozen=True):
    """Forget the session and the device state."""


TurnInput: TypeAlias = UserText | Intent | DeviceEvent | Reset


# =========================================================================== results


class EntityInfo(msgspec.Struct, frozen=True):
    """A recognised entity. ``source``: ``exact``, ``alias``, ``fuzzy`` (a typo corrected:
    ``text`` as typed, ``value`` as read), ``partial`` or ``confirmed`` (by the user)."""

    type: str
    role: str
    text: str
    value: str
    confidence: float = 1.0
    source: str = "exact"


class BackendCall(msgspec.Struct):
    """One backend call of a turn, as it happened.

    ``outcome`` is ``ok`` (resultCode OK), ``exception`` (a declared code) or ``failure``
    (the failure prompt is spoken); ``error`` says why a failure happened.
    """

    action: str
    request: dict[str, Any]
    status: int | None = None
    response: Any = None
    body: str | None = None
    error: str | None = None
    elapsed_ms: float = 0.0
    result_code: str | None = None
    outcome: Literal["ok", "exception", "failure"] = "failure"


class TurnResult(msgspec.Struct):
    """Everything one turn did. ``state`` is the conversation for the next turn; ``device``
    the device after the turn (its AudioPlayer)."""

    turn: int
    kind: Literal["user", "event", "reset"]
    state: DialogState
    device: DeviceState = msgspec.field(default_factory=DeviceState)
    text: str | None = None
    event: dict[str, Any] | None = None
    intent: str | None = None
    score: float = 0.0
    entities: list[EntityInfo] = msgspec.field(default_factory=list)
    actions: list[str] = msgspec.field(default_factory=list)
    calls: list[BackendCall] = msgspec.field(default_factory=list)
    violations: list[str] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    prompt: str | None = None
    prompt_type: Literal["wait", "end"] | None = None
    prompt_source: PromptSource | None = None
    directives: list[dict[str, Any]] = msgspec.field(default_factory=list)
    session_ended: bool = False
    #: Typed words the NLU read as others ("모래→모레") and parts it did not understand.
    corrections: list[str] = msgspec.field(default_factory=list)
    unresolved: list[str] = msgspec.field(default_factory=list)

    @property
    def result_codes(self) -> list[str | None]:
        """The resultCode of each backend call, in order."""
        return [c.result_code for c in self.calls]

    @property
    def directive_types(self) -> list[str]:
        return [str(d.get("type")) for d in self.directives]


# =========================================================================== the engine


@dataclass(slots=True)
class _Turn:
    """The mutable scratchpad of one turn (never stored)."""

    state: DialogState
    device: DeviceState
    result: TurnResult
    rng: random.Random
    intent: str | None = None
    event: dict[str, Any] | None = None
    prefix: str | None = None
    visited: list[str] = field(default_factory=list)
    directives: list[dict[str, Any]] = field(default_factory=list)
    session_id: str | None = None
    user_key: str | None = None
    channel: str = "nugu"


class DialogEngine:
    """Runs one play. Build it once; call :meth:`turn` for every input of every session.

    ``caller`` makes the play's action calls (:class:`~voicehook.dialog.caller.PlayCaller`
    in process, ``voicehook.nugu.caller.NuguCaller`` for NUGU JSON); it may be None for a
    play whose actions never call the backend.
    ``nlu`` (or ``recognizer``, any :class:`~voicehook.dialog.recognizer.Recognizer`, e.g. an
    external NLU service) defaults to the built-in :class:`Nlu` built from the play (or the
    ``recognizer`` setting's factory); pass ``tokenizer`` to share the Kiwi model between
    engines. ``session_scope`` goes into the seeded session ids (setting
    ``seed``): engines with the same seed and different scopes give different, still
    repeatable ids (one scope per independent conversation).
    """

    def __init__(
        self,
        definition: PlayDefinition,
        caller: ActionCaller | None = None,
        *,
        settings: EngineSettings | None = None,
        nlu: Recognizer | None = None,
        tokenizer: Tokenizer | None = None,
        session_scope: str | None = None,
        recognizer: AnyRecognizer | None = None,
    ) -> None:
        self.definition = definition
        self.session_scope = session_scope
        self.caller = caller
        if settings is None:
            settings, _ = EngineSettings.from_mapping(definition.settings)
        self.settings = settings
        self.filters = Filters.from_definitions(definition.filters)
        self.uses_audio_player = (
            settings.audio_player if settings.audio_player is not None else _uses_audio(definition)
        )
        if recognizer is None and nlu is None and settings.recognizer:
            recognizer = load_recognizer(settings.recognizer, definition)
        chosen = (
            recognizer
            or nlu
            or build_recognizer(
                definition,
                audio_player=self.uses_audio_player,
                tokenizer=tokenizer,
                threshold=settings.nlu_threshold,
            )
        )
        #: An asynchronous recogniser's ``recognize`` (awaited for text turns), else None:
        #: decided once here, so a synchronous one costs nothing more per turn.
        self._recognize = chosen.recognize if isinstance(chosen, AsyncRecognizer) else None
        #: The synchronous face of the recogniser, for callers that cannot await.
        self.nlu: Recognizer = chosen if isinstance(chosen, Recognizer) else AsyncOnly(chosen)
        #: Prompt choice when no seed is set: one generator, not one seeded per turn
        #: (seeding from the OS costs more than the rest of a simple turn).
        self._rng = random.Random()
        #: Parsed prompt templates by text: a play has a fixed set of prompts.
        self._templates: dict[str, Template | TemplateError] = {}
        #: Each action's parameters and exception codes (with the global ones), computed
        #: once: the definition does not change under a running engine. Read-only.
        self._parameters: dict[str, dict[str, Parameter]] = {}
        self._codes: dict[str, dict[str, ExceptionCode]] = {}
        self._by_intent: dict[str, str] = {}
        self._by_event: dict[str, str] = {}
        for act in definition.actions.values():
            if act.trigger is None:
                continue
            if act.trigger.intent:
                self._by_intent.setdefault(act.trigger.intent, act.name)
            if act.trigger.event:
                self._by_event.setdefault(act.trigger.event, act.name)

    def _action_parameters(self, action: str) -> dict[str, Parameter]:
        found = self._parameters.get(action)
        if found is None:
            found = self._parameters[action] = self.definition.action_parameters(action)
        return found

    def _exception_codes(self, action: str) -> dict[str, ExceptionCode]:
        found = self._codes.get(action)
        if found is None:
            found = self._codes[action] = self.definition.exception_codes(action)
        return found

    # ------------------------------------------------------------------ public API

    def new_state(self) -> DialogState:
        """The state before the first turn: no session, an idle AudioPlayer."""
        return DialogState()

    async def recognize(self, text: str, *, expect_types: Sequence[str] | None = None) -> NluResult:
        """The recogniser's result for ``text``: awaited for an asynchronous recogniser,
        called for a synchronous one (channels use it outside a turn)."""
        if self._recognize is None:
            return self.nlu.parse(text, expect_types=expect_types)
        return await self._recognize(text, expect_types=expect_types)

    async def turn(
        self,
        state: DialogState,
        user_input: TurnInput | str,
        *,
        device: DeviceState | None = None,
        session_id: str | None = None,
        user_key: str | None = None,
        channel: str = "nugu",
    ) -> TurnResult:
        """Run one turn. ``state`` is not changed; the result holds the new state.

        ``device`` is the device's state before the turn (a new, idle one when None); the
        result's ``device`` is the state after it. Neither given object is changed.

        A channel that has its own conversation ids passes ``session_id`` (used when the
        turn opens a session; otherwise the engine makes one up, as NUGU does), the
        platform's stable ``user_key`` and its name as ``channel``; handlers see the last
        two as ``req.user_key`` and ``req.channel``.
        """
        if isinstance(user_input, str):
            user_input = UserText(user_input)
        if isinstance(user_input, Reset):
            fresh = DialogState(sessions=state.sessions, turns=state.turns + 1)
            return TurnResult(turn=fresh.turns, kind="reset", state=fresh, session_ended=True)
        st = copy_state(state)
        dev = device.copy() if device is not None else DeviceState()
        st.turns += 1
        if self.settings.seed is not None:
            rng = random.Random(f"{self.settings.seed}:{st.sessions}:{st.turns}")
        else:
            rng = self._rng
        kind: Literal["user", "event"] = "event" if isinstance(user_input, DeviceEvent) else "user"
        result = TurnResult(turn=st.turns, kind=kind, state=st, device=dev)
        ctx = _Turn(
            state=st,
            device=dev,
            result=result,
            rng=rng,
            session_id=session_id,
            user_key=user_key,
            channel=channel,
        )
        if isinstance(user_input, DeviceEvent) and user_input.full_type not in self._by_event:
            # No action listens to this event: only the device changes; no session opens.
            result.event = self._event_body(dev, user_input)
            _apply_event(dev.audio, result.event)
            result.warnings.append(
                f"no action has the trigger event {user_input.full_type}; nothing happens"
            )
            return result
        if not st.active:
            self._open_session(ctx)
        if isinstance(user_input, DeviceEvent):
            await self._on_event(ctx, user_input)
        elif isinstance(user_input, Intent):
            await self._on_intent(ctx, user_input)
        else:
            result.text = user_input.text
            await self._on_text(ctx, user_input.text)
        self._finish(ctx)
        return result

    async def aclose(self) -> None:
        """Close the action caller."""
        if self.caller is not None:
            await self.caller.aclose()

    # ------------------------------------------------------------------ session

    def _open_session(self, ctx: _Turn) -> None:
        st = ctx.state
        st.sessions += 1
        if ctx.session_id:
            st.session_id = ctx.session_id
        elif self.settings.seed is not None:
            scope = "" if self.session_scope is None else f"{self.session_scope}:"
            key = f"{self.settings.seed}:session:{scope}{st.sessions}"
            bits = random.Random(key).getrandbits(128)
            st.session_id = str(uuid.UUID(int=bits, version=4))
        else:
            st.session_id = str(uuid.uuid4())
        st.is_new = True
        st.active = True
        st.params = {
            p.name: p.value for p in self.definition.parameters.values() if p.kind == "configurable"
        }
        st.param_types = {}
        st.waiting = None
        st.fallback_spoken = 0
        st.failures = 0

    def _end(self, ctx: _Turn) -> None:
        ctx.state.active = False
        ctx.state.waiting = None
        ctx.result.session_ended = True

    def _finish(self, ctx: _Turn) -> None:
        st, res = ctx.state, ctx.result
        res.directives = list(ctx.directives)
        if res.directives and not self.settings.play_builder:
            _apply_directives(ctx.device.audio, res.directives)
        if res.prompt is not None or res.directives:
            st.last_prompt = res.prompt
            st.last_prompt_type = res.prompt_type
            st.last_directives = [dict(d) for d in res.directives]
        if not st.active:
            res.session_ended = True
        st.is_new = False

    # ------------------------------------------------------------------ speaking

    def _speak(
        self, ctx: _Turn, text: str, ptype: Literal["wait", "end"], source: PromptSource
    ) -> None:
        if ctx.prefix is not None:  # a continuation prompt is said only before another one
            text = f"{ctx.prefix} {text}" if text else text
            ctx.prefix = None
        res = ctx.result
        res.prompt, res.prompt_type, res.prompt_source = text, ptype, source
        if ptype == "end":
            self._end(ctx)
        else:
            ctx.state.active = True

    def _render(self, ctx: _Turn, template: str) -> str:
        parsed = self._templates.get(template)
        if parsed is None:
            try:
                parsed = parse_template(template, self.filters)
            except TemplateError as exc:
                parsed = exc
            self._templates[template] = parsed
        try:
            if isinstance(parsed, TemplateError):
                raise parsed
            return parsed.render(self._lookup_params(ctx.state, ctx.device))
        except TemplateError as exc:
            ctx.result.violations.append(f"prompt {template!r}: {exc}")
            return template

    @staticmethod
    def _lookup_params(st: DialogState, device: DeviceState) -> dict[str, object | None]:
        params: dict[str, object | None] = dict(st.params)
        audio = device.audio
        params[NPK_PREFIX + "playerActivity"] = audio.player_activity
        params[NPK_PREFIX + "token"] = audio.token
        params[NPK_PREFIX + "offsetInMilliseconds"] = str(audio.offset_in_milliseconds)
        return params

    def _stack(
        self,
        ctx: _Turn,
        prompts: Sequence[str],
        spoken: int,
        source: PromptSource,
    ) -> int:
        """Speak the next prompt of a LIFO stack; return the new position (0 when it ended)."""
        stack = PromptStack(prompts, min(spoken, len(prompts) - 1))
        limit = self.settings.max_failures
        if limit is not None and ctx.state.failures >= limit:
            stack = PromptStack(prompts, len(prompts) - 1)
        text, is_end = stack.next()
        self._speak(ctx, self._render(ctx, text), "end" if is_end else "wait", source)
        return 0 if is_end else stack.spoken

    def _failure(self, ctx: _Turn) -> None:
        ctx.directives.clear()
        ctx.prefix = None
        self._speak(ctx, self._render(ctx, self.definition.failure_prompt), "end", "failure")

    # ------------------------------------------------------------------ inputs

    async def _on_text(self, ctx: _Turn, text: str) -> None:
        st = ctx.state
        waiting = st.waiting
        expect: list[str] | None = None
        if isinstance(waiting, SlotWait):
            expect = [str(m) for m in self._param(waiting.action, waiting.param).mappings]
        elif isinstance(waiting, ExceptionWait):
            expect = [
                str(m)
                for p in self._action_parameters(waiting.action).values()
                if p.kind == "utterance"
                for m in p.mappings
            ]
        if isinstance(waiting, ConfirmWait):
            await self._confirm_turn(ctx, waiting, text)
            return
        if not text.strip():
            parsed_intent: str | None = INTENT_OPEN
            score, entities = 1.0, []
        else:
            if self._recognize is None:
                nlu = self.nlu.parse(text, expect_types=expect)
            else:
                nlu = await self._recognize(text, expect_types=expect)
            parsed_intent, score, entities = nlu.intent, nlu.score, nlu.entities
            if await self._doubt(ctx, nlu):
                return
        await self._understood(ctx, parsed_intent, score, entities)

    # -- typed chat: ask before using corrected or partly understood entities (docs/nlu.md)

    async def _doubt(self, ctx: _Turn, nlu: NluResult) -> bool:
        """Ask to confirm or to say it again when the result is uncertain; True if asked."""
        st, res = ctx.state, ctx.result
        res.corrections = [f"{c.typed}→{c.corrected}" for c in nlu.corrections]
        res.unresolved = list(nlu.unresolved)
        mode = self.settings.nlu_uncertain
        waiting = st.waiting
        if nlu.intent == INTENT_STOP:
            return False
        action = waiting.action if waiting is not None else self._by_intent.get(nlu.intent or "")
        if action is None or (waiting is None and self.settings.play_builder):
            return False
        names = [action]
        if isinstance(waiting, ListenWait):
            names += [b.action for b in self.definition.actions[action].branches]
        params = [p for n in names for p in self._action_parameters(n).values()]
        doubts = uncertain_entities(nlu, params)
        if not doubts:
            return False
        if mode == "accept":
            _log.info("nlu: used without asking: %s %s", res.corrections, res.unresolved)
            return False
        res.intent, res.score = nlu.intent, nlu.score
        res.entities = [_info(e) for e in nlu.entities]
        st.failures += 1
        if mode == "confirm" and all(d.read_as is not None for d in doubts):
            pending = tuple(PendingEntity(e.type, e.role, e.text, e.value) for e in nlu.entities)
            resume = waiting if not isinstance(waiting, ConfirmWait) else waiting.resume
            st.waiting = ConfirmWait(action, nlu.intent, nlu.score, pending, resume)
            self._speak(ctx, confirm_prompt(doubts), "wait", "confirm")
        else:
            self._speak(ctx, reask_prompt(doubts), "wait", "confirm")
        _log.info(
            "nlu: asked the user (%s) about %s; intent %s (%.2f)",
            mode,
            ", ".join(f"{d.typed}→{d.read_as}" for d in doubts),
            nlu.intent,
            nlu.score,
        )
        return True

    async def _confirm_turn(self, ctx: _Turn, wait: ConfirmWait, text: str) -> None:
        """The answer to a confirm question: yes runs what was understood, no asks again,
        anything else is a new utterance."""
        st = ctx.state
        st.waiting = wait.resume
        answer = read_yes_no(text)
        if answer is None:
            await self._on_text(ctx, text)
            return
        if answer is False:
            ctx.result.intent = None
            self._speak(ctx, "알겠어요. 다시 말씀해 주세요.", "wait", "confirm")
            return
        entities = [
            EntityMatch(e.type, e.role, e.text, e.value, 0, 0, 1.0, "confirmed")
            for e in wait.entities
        ]
        await self._understood(ctx, wait.intent, wait.score, entities)

    async def _on_intent(self, ctx: _Turn, given: Intent) -> None:
        """A recognised intent: its slots become entities, then the same rules as text."""
        entities: list[EntityMatch] = []
        action = self._by_intent.get(given.name)
        waiting = ctx.state.waiting
        if action is None and waiting is not None:
            action = waiting.action
        declared = self._action_parameters(action) if action is not None else {}
        types = {e for e in self.definition.entities}
        for slot, value in given.slots.items():
            param = declared.get(slot)
            if param is not None and param.mappings:
                m = param.mappings[0]
                entities.append(EntityMatch(m.type, m.role, value, value, 0, 0))
            elif slot in types or slot.startswith("BID_"):
                entities.append(EntityMatch(slot, slot, value, value, 0, 0))
            else:
                ctx.result.warnings.append(
                    f"slot {slot!r} is neither a parameter of {action!r} nor an entity type: "
                    "ignored"
                )
        await self._understood(ctx, given.name, given.score, entities)

    async def _understood(
        self,
        ctx: _Turn,
        parsed_intent: str | None,
        score: float,
        entities: Sequence[EntityMatch],
    ) -> None:
        """Act on what the user meant: the turn rules of spec §7.3."""
        st, res = ctx.state, ctx.result
        waiting = st.waiting
        intent = parsed_intent
        if self.settings.play_builder and intent is not None and intent.startswith("NUGU.INTENT."):
            res.warnings.append(f"Play Builder test chat does not recognise {intent}: fallback")
            intent = None
        ctx.intent = intent
        res.intent, res.score = intent, score
        res.entities = [_info(e) for e in entities]
        if isinstance(waiting, ConfirmWait):  # a recognised Intent input replaces the question
            st.waiting = waiting = waiting.resume

        if intent == INTENT_STOP:
            await self._stop(ctx)
            return
        if isinstance(waiting, SlotWait):
            await self._slot_turn(ctx, waiting, entities)
            return
        if isinstance(waiting, ExceptionWait):
            await self._exception_turn(ctx, waiting, entities)
            return
        if isinstance(waiting, ListenWait):
            await self._listen_turn(ctx, waiting, entities)
            return
        if intent == INTENT_OPEN and INTENT_OPEN not in self._by_intent:
            await self._welcome(ctx)
            return
        if intent == INTENT_REWIND and INTENT_REWIND not in self._by_intent:
            if self.uses_audio_player:
                # §5.6: with AudioPlayer on, rewind only triggers a custom action.
                await self._fallback(ctx)
            else:
                self._rewind(ctx)
            return
        name = self._by_intent.get(intent) if intent is not None else None
        if name is None:
            await self._fallback(ctx)
            return
        st.fallback_spoken = 0
        st.failures = 0
        if st.is_new and self.settings.welcome_type == "continuation" and self.definition.welcome:
            ctx.prefix = self._render(ctx, ctx.rng.choice(self.definition.welcome))
        await self._start_action(ctx, name, entities)

    @staticmethod
    def _event_body(device: DeviceState, ev: DeviceEvent) -> dict[str, Any]:
        etype = ev.full_type
        event: dict[str, Any] = {"type": etype}
        if etype.startswith("AudioPlayer."):
            event["token"] = device.audio.token
            event["offsetInMilliseconds"] = device.audio.offset_in_milliseconds
        event.update(ev.fields)
        if event.get("token") is None:
            event.pop("token", None)
        return event

    async def _on_event(self, ctx: _Turn, ev: DeviceEvent) -> None:
        st, res = ctx.state, ctx.result
        event = self._event_body(ctx.device, ev)
        res.event = event
        _apply_event(ctx.device.audio, event)
        ctx.event = event
        await self._walk(ctx, self._by_event[ev.full_type])
        if res.prompt is None and st.active and st.waiting is None:
            self._end(ctx)

    # ------------------------------------------------------------------ built-in actions

    async def _welcome(self, ctx: _Turn) -> None:
        ctx.state.fallback_spoken = 0
        if "NUGU.ACTION.welcome" in self.definition.actions:
            await self._walk(ctx, "NUGU.ACTION.welcome")
            return
        text = (
            self._render(ctx, ctx.rng.choice(self.definition.welcome))
            if self.definition.welcome
            else ""
        )
        self._speak(ctx, text, "wait", "welcome")

    async def _stop(self, ctx: _Turn) -> None:
        custom = self._by_intent.get(INTENT_STOP)
        mode = self.settings.custom_stop_action
        run_custom = custom is not None and (
            mode == "always" or (mode == "auto" and self.uses_audio_player)
        )
        if custom is not None and run_custom:
            await self._start_action(ctx, custom, [])
            self._end(ctx)
            return
        if custom is not None:
            ctx.result.warnings.append(
                f"action {custom!r} is triggered by {INTENT_STOP}, but NUGU.INTENT.stop always "
                "runs NUGU.ACTION.exit (set custom_stop_action: always to run it)"
            )
        if "NUGU.ACTION.exit" in self.definition.actions:
            await self._walk(ctx, "NUGU.ACTION.exit")
            self._end(ctx)
            return
        exits = self.definition.exit
        text = self._render(ctx, ctx.rng.choice(exits)) if exits else ""
        self._speak(ctx, text, "end", "exit")

    async def _fallback(self, ctx: _Turn) -> None:
        st = ctx.state
        st.failures += 1
        if "NUGU.ACTION.fallback" in self.definition.actions:
            await self._walk(ctx, "NUGU.ACTION.fallback")
            return
        prompts = self.definition.fallback or (DEFAULT_FALLBACK_PROMPT,)
        st.fallback_spoken = self._stack(ctx, prompts, st.fallback_spoken, "fallback")

    def _rewind(self, ctx: _Turn) -> None:
        st = ctx.state
        if st.last_prompt is None:
            self._speak(ctx, "", "wait", "rewind")
            return
        ptype = st.last_prompt_type or "end"
        self._speak(ctx, st.last_prompt, ptype, "rewind")

    # ------------------------------------------------------------------ actions

    def _param(self, action: str, name: str) -> Parameter:
        return self._action_parameters(action)[name]

    async def _start_action(self, ctx: _Turn, name: str, entities: Sequence[EntityMatch]) -> None:
        """Enter a root action: fill its utterance parameters, slot-fill, then walk."""
        st = ctx.state
        uparams = [p for p in self._action_parameters(name).values() if p.kind == "utterance"]
        for p in uparams:
            st.params.pop(p.name, None)
            st.param_types.pop(p.name, None)
        _fill(st, uparams, entities, slot_only=False, replace=True)
        await self._continue_slots(ctx, name)

    async def _continue_slots(self, ctx: _Turn, name: str) -> None:
        st = ctx.state
        for p in self._action_parameters(name).values():
            if p.kind == "utterance" and p.required and not st.params.get(p.name):
                if not p.prompts:
                    ctx.result.violations.append(f"required parameter {p.name!r} has no prompts")
                    continue
                ctx.result.actions.append(name)
                spoken = self._stack(ctx, p.prompts, 0, "slot")
                st.waiting = SlotWait(action=name, param=p.name, spoken=spoken) if spoken else None
                return
        await self._walk(ctx, name)

    async def _slot_turn(self, ctx: _Turn, wait: SlotWait, entities: Sequence[EntityMatch]) -> None:
        st = ctx.state
        p = self._param(wait.action, wait.param)
        if _fill(st, [p], entities, slot_only=True, replace=True, any_role=True):
            st.failures = 0
            st.waiting = None
            await self._continue_slots(ctx, wait.action)
            return
        st.failures += 1
        ctx.result.actions.append(wait.action)
        spoken = self._stack(ctx, p.prompts, wait.spoken, "slot")
        st.waiting = SlotWait(wait.action, wait.param, spoken) if spoken else None

    async def _exception_turn(
        self, ctx: _Turn, wait: ExceptionWait, entities: Sequence[EntityMatch]
    ) -> None:
        st = ctx.state
        uparams = [
            p for p in self._action_parameters(wait.action).values() if p.kind == "utterance"
        ]
        if _fill(
            st, uparams, entities, slot_only=False, replace=True, same_type=True, any_role=True
        ):
            st.failures = 0
            st.waiting = None
            await self._walk(ctx, wait.action, resume=wait)
            return
        st.failures += 1
        ctx.result.actions.append(wait.action)
        prompts = self._exception_prompts(wait.action, wait.code)
        spoken = self._stack(ctx, prompts, wait.spoken, "exception")
        st.waiting = ExceptionWait(wait.action, wait.code, spoken) if spoken else None

    async def _listen_turn(
        self, ctx: _Turn, wait: ListenWait, entities: Sequence[EntityMatch]
    ) -> None:
        st = ctx.state
        act = self.definition.actions[wait.action]
        trial = copy_state(st)
        names = [wait.action, *(b.action for b in act.branches)]
        uparams: dict[str, Parameter] = {}
        for n in names:
            for p in self._action_parameters(n).values():
                if p.kind == "utterance":
                    uparams.setdefault(p.name, p)
        _fill(trial, list(uparams.values()), entities, slot_only=False, replace=True)
        for br in act.branches:
            if br.condition is None or self._holds(ctx, br.condition, trial):
                st.params, st.param_types = trial.params, trial.param_types
                st.waiting = None
                st.failures = 0
                await self._walk(ctx, br.action)
                return
        st.failures += 1
        ctx.result.actions.append(wait.action)
        prompts = act.reprompts or self.definition.fallback or (DEFAULT_FALLBACK_PROMPT,)
        spoken = self._stack(ctx, prompts, wait.reprompts, "reprompt")
        st.waiting = ListenWait(wait.action, spoken) if spoken else None

    async def _walk(self, ctx: _Turn, name: str, *, resume: ExceptionWait | None = None) -> None:
        act = self.definition.actions.get(name)
        res, st = ctx.result, ctx.state
        if act is None:
            res.violations.append(f"action {name!r} is not defined")
            self._failure(ctx)
            return
        if name in ctx.visited or len(ctx.visited) >= _MAX_DEPTH:
            path = " -> ".join([*ctx.visited, name])
            res.violations.append(f"circular reference between actions ({path}): the play stops")
            ctx.directives.clear()
            self._end(ctx)
            return
        ctx.visited.append(name)
        res.actions.append(name)
        for p in act.parameters.values():
            if p.kind == "configurable" and p.value is not None:
                st.params[p.name] = p.value
        if act.backend:
            outcome = await self._call(ctx, act)
            if outcome is None:
                self._failure(ctx)
                return
            if outcome != "OK":
                self._exception(ctx, act, outcome, resume)
                return
        response = act.response
        if act.branches and response is not None and response.type == "wait":
            self._respond(ctx, response)
            if st.active:
                st.waiting = ListenWait(action=name)
            return
        if act.branches:
            for br in act.branches:
                if br.condition is None or self._holds(ctx, br.condition, st):
                    await self._walk(ctx, br.action)
                    return
            res.violations.append(f"action {name!r}: no branch holds and there is no default")
            self._failure(ctx)
            return
        if act.common:
            await self._walk(ctx, act.common)
            return
        if response is not None:
            self._respond(ctx, response)
            return
        # A leaf without a response (an event action answering directives): nothing to say.
        self._end(ctx)

    def _respond(self, ctx: _Turn, response: Response) -> None:
        ptype: Literal["wait", "end"] = "end" if response.type == "end" else "wait"
        if response.silent or not response.prompts:
            text = ""
        else:
            text = self._render(ctx, ctx.rng.choice(response.prompts))
        ctx.directives.extend(dict(d) for d in response.directives)
        if ctx.directives and ptype == "wait":
            if self.settings.allow_wait_with_directives:
                ctx.result.warnings.append(
                    "a wait prompt with directives kept the session open "
                    "(allow_wait_with_directives; NUGU docs §5.1 say directives end it)"
                )
            else:
                ctx.result.warnings.append(
                    "a wait prompt came with directives: the session ends (§5.1); set "
                    "allow_wait_with_directives: true for Play Builder 1.9.0 behaviour"
                )
                ptype = "end"
        self._speak(ctx, text, ptype, "response")

    def _exception_prompts(self, action: str, code: str) -> tuple[str, ...]:
        exc = self._exception_codes(action).get(code)
        if exc is None or not exc.prompts:
            return (self.definition.failure_prompt,)
        return exc.prompts

    def _exception(self, ctx: _Turn, act: Action, code: str, resume: ExceptionWait | None) -> None:
        ctx.directives.clear()
        prompts = self._exception_prompts(act.name, code)
        exc = self._exception_codes(act.name).get(code)
        if exc is None or not exc.prompts:
            ctx.result.warnings.append(f"exception code {code!r} has no prompts: failure prompt")
        spoken = 0
        if resume is not None and resume.action == act.name and resume.code == code:
            spoken = resume.spoken
        spoken = self._stack(ctx, prompts, spoken, "exception")
        ctx.state.waiting = ExceptionWait(act.name, code, spoken) if spoken else None

    # ------------------------------------------------------------------ conditions

    def _holds(self, ctx: _Turn, cond: Condition, st: DialogState) -> bool:
        params = self._lookup_params(st, ctx.device)
        if isinstance(cond, Equals):
            left = params.get(cond.param)
            ref = _PARAM_REF.fullmatch(cond.value.strip())
            right = params.get(ref.group(1)) if ref else cond.value
            return left is not None and right is not None and str(left) == str(right)
        if isinstance(cond, Exists):
            value = params.get(cond.param)
            return value is not None and value != ""
        if isinstance(cond, IntentIs):
            return ctx.intent == cond.intent
        if isinstance(cond, AllOf):
            return all(self._holds(ctx, c, st) for c in cond.items)
        if isinstance(cond, AnyOf):
            return any(self._holds(ctx, c, st) for c in cond.items)
        return False  # pragma: no cover - exhaustive

    # ------------------------------------------------------------------ backend

    def _action_call(self, ctx: _Turn, act: Action) -> ActionCall:
        st = ctx.state
        declared = self._action_parameters(act.name)
        values: dict[str, str | None] = {}
        types: dict[str, str | None] = {}
        for key, p in declared.items():
            values[key] = st.params.get(key)
            types[key] = (st.param_types.get(key) or p.type) if p.kind == "utterance" else None
        audio = None
        device_audio = ctx.device.audio
        if self.uses_audio_player or device_audio.player_activity != "IDLE":
            audio = device_audio.as_context()
        return ActionCall(
            action=act.name,
            params=values,
            param_types=types,
            session_id=st.session_id,
            is_new=st.is_new,
            event=ctx.event,
            audio_player=audio,
            user_key=ctx.user_key,
            channel=ctx.channel,
            device_type=self.settings.device_type,
            play_builder=self.settings.play_builder,
            null_form=self.settings.null_form,
        )

    async def _call(self, ctx: _Turn, act: Action) -> str | None:
        """Call ``act``. Returns ``"OK"``, a declared code, or None (failure)."""
        res, st = ctx.result, ctx.state
        action_call = self._action_call(ctx, act)
        call = BackendCall(action=act.name, request=msgspec.to_builtins(action_call))
        res.calls.append(call)
        if self.caller is None:
            call.error = "no backend is configured"
            return None
        timeout = self.settings.timeout
        started = time.perf_counter()
        # The caller keeps the deadline (Play.call's deadline watch, NuguCaller's timeout):
        # a guard here would cost a timer per call for nothing.
        answer = await self.caller.call(action_call, timeout=timeout)
        call.elapsed_ms = answer.elapsed_ms or round((time.perf_counter() - started) * 1000, 2)
        if answer.request is not None:
            call.request = answer.request
        call.status = answer.status
        call.response = answer.response
        call.body = answer.body
        call.result_code = answer.result_code
        res.violations.extend(answer.violations)
        res.warnings.extend(answer.warnings)
        if answer.error is not None:
            call.error = answer.error
            return None
        code = answer.result_code
        if code == "OK":
            call.outcome = "ok"
            declared = self._action_parameters(act.name)
            for key, value in answer.output.items():
                if key not in declared:
                    continue
                st.params[key] = value
                if declared[key].kind != "utterance" or value is None:
                    st.param_types.pop(key, None)
            ctx.directives.extend(answer.directives)
            return "OK"
        if code is not None and code in self._exception_codes(act.name):
            call.outcome = "exception"
            return code
        call.error = (
            "resultCode is empty"
            if code == ""
            else f"resultCode {code!r} is neither OK nor a declared exception code"
        )
        return None


# =========================================================================== helpers


def _info(e: EntityMatch) -> EntityInfo:
    return EntityInfo(e.type, e.role, e.text, e.value, e.confidence, e.source)


def _fill(
    st: DialogState,
    params: Sequence[Parameter],
    entities: Sequence[EntityMatch],
    *,
    slot_only: bool,
    replace: bool,
    same_type: bool = False,
    any_role: bool = False,
) -> bool:
    """Fill utterance parameters from entities; True when any was filled or replaced.

    Each entity fills at most one parameter. Entities are matched to mappings in rounds over
    all ``params``: first a mapping ``TYPE:ROLE`` takes an entity with that type and role,
    then one of that type whose role is the bare type. With ``any_role`` (slot filling and
    the exception wait) a last round lets a parameter take any entity of a mapped type: the
    NLU guesses roles from the position in the utterance ("5" alone is the first number),
    and roles only tell entities of one utterance apart. ``slot_only`` also uses
    slot-filling-only mappings. ``same_type`` (exception wait) only replaces a filled
    parameter with an entity of the type that filled it.
    """
    rounds: list[Callable[[EntityMatch, EntityMapping], bool]] = [
        lambda e, m: e.role == m.role,
        lambda e, m: e.role == e.type,
    ]
    if any_role:
        rounds.append(lambda e, m: True)
    picks: dict[int, EntityMatch] = {}
    used: set[int] = set()
    for role_ok in rounds:
        for k, p in enumerate(params):
            if k in picks:
                continue
            for m in p.mappings:
                if m.slot_filling_only and not slot_only:
                    continue
                found = next(
                    (
                        i
                        for i, e in enumerate(entities)
                        if i not in used and e.type == m.type and role_ok(e, m)
                    ),
                    None,
                )
                if found is not None:
                    picks[k] = entities[found]
                    used.add(found)
                    break
    changed = False
    for k, p in enumerate(params):
        pick = picks.get(k)
        if pick is None:
            continue
        current = st.params.get(p.name)
        if current and not replace:
            continue
        if current and same_type and st.param_types.get(p.name, pick.type) != pick.type:
            continue
        st.params[p.name] = pick.value
        st.param_types[p.name] = pick.type
        changed = True
    return changed


def _uses_audio(defn: PlayDefinition) -> bool:
    for act in defn.actions.values():
        trig = act.trigger
        if trig and trig.event and trig.event.startswith("AudioPlayer."):
            return True
        if trig and trig.intent in AUDIO_PLAYER_INTENTS:
            return True
        if act.response and any(
            str(d.get("type", "")).startswith("AudioPlayer.") for d in act.response.directives
        ):
            return True
    return bool(defn.settings.get("audio_player"))


_EVENT_ACTIVITY = {
    "AudioPlayer.PlaybackStarted": "PLAYING",
    "AudioPlayer.PlaybackResumed": "PLAYING",
    "AudioPlayer.PlaybackFinished": "FINISHED",
    "AudioPlayer.PlaybackStopped": "STOPPED",
    "AudioPlayer.PlaybackPaused": "PAUSED",
    "AudioPlayer.PlaybackFailed": "STOPPED",
}


def _apply_event(audio: AudioPlayerState, event: Mapping[str, Any]) -> None:
    if not str(event.get("type")).startswith("AudioPlayer."):
        return  # another interface's token (a Display card's) is not the player's
    activity = _EVENT_ACTIVITY.get(str(event.get("type")))
    if activity is not None:
        audio.player_activity = activity
    token = event.get("token")
    if isinstance(token, str):
        audio.token = token
    offset = event.get("offsetInMilliseconds")
    if isinstance(offset, int) and not isinstance(offset, bool):
        audio.offset_in_milliseconds = offset


def _apply_directives(audio: AudioPlayerState, directives: Sequence[Mapping[str, Any]]) -> None:
    for d in directives:
        dtype = d.get("type")
        if dtype == "AudioPlayer.Play":
            item = d.get("audioItem")
            stream = item.get("stream") if isinstance(item, dict) else None
            stream = stream if isinstance(stream, dict) else {}
            audio.player_activity = "PLAYING"
            token = stream.get("token")
            audio.token = token if isinstance(token, str) else audio.token
            offset = stream.get("offsetInMilliseconds", 0)
            audio.offset_in_milliseconds = offset if isinstance(offset, int) else 0
        elif dtype == "AudioPlayer.Stop":
            audio.player_activity = "STOPPED"
        elif dtype == "AudioPlayer.Pause":
            audio.player_activity = "PAUSED"
