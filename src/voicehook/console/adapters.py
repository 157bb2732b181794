"""Channel adapters: how the console talks to a play on one channel.

An adapter is small. It takes one turn input (an utterance, a device event) and returns the
turn as the page shows it (:func:`turn_view`, plus a ``channel`` part with the exact JSON
the channel exchanged). It owns the conversation state of its channel. Add a channel by
writing one class with this interface and one :class:`ChannelChoice` that builds it::

    class ChannelAdapter(Protocol):
        name: str                    # "nugu", "clova", "botframework"
        label: str                   # the page's channel menu
        transcripts: bool            # can "save as transcript" write its conversations?
        test_channel: str            # the `voicehook test --channel` that runs them
        note: str                    # one line the page shows under the menu
        events: list[dict]           # device-event buttons: {name, label}
        async def turn(self, user_input) -> dict   # see turn_view()
        def reset(self, scope: str) -> None        # a new conversation
        def state(self) -> dict                    # the conversation state (JSON)
        def expectations(self, view) -> dict       # what a transcript expects of a turn
        async def adopt(self, old) -> str | None   # keep old's conversation after a reload
        async def aclose(self) -> None

The NUGU adapters run voicehook's simulated Dialog Manager (:class:`DialogEngine`); the
CLOVA adapter (:mod:`voicehook.console.clova`) and the Bot Framework adapter
(:mod:`voicehook.console.botframework`) drive those channels in process. The engine is
built in one place, :func:`make_engine`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msgspec

from voicehook.dialog.caller import ActionCaller
from voicehook.dialog.engine import DialogEngine, EngineSettings, TurnInput, TurnResult
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.recognizer import Recognizer
from voicehook.dialog.session import (
    ConfirmWait,
    DeviceState,
    DialogState,
    ExceptionWait,
    ListenWait,
    SlotWait,
)
from voicehook.nugu.backend import Backend, HttpBackend
from voicehook.nugu.caller import NuguCaller
from voicehook.play import Play, PlayDefinition
from voicehook.server.inprocess import InProcessBackend

__all__ = [
    "NUGU_EVENTS",
    "ChannelAdapter",
    "ChannelChoice",
    "ConsoleError",
    "LoadedPlay",
    "NuguAdapter",
    "RecordingEngine",
    "empty_view",
    "make_engine",
    "nugu_choices",
    "state_problem",
    "turn_view",
]

#: The device events the page offers on NUGU: {name sent, button label}.
NUGU_EVENTS: tuple[dict[str, str], ...] = tuple(
    {"name": f"Playback{n}", "label": n}
    for n in ("Started", "Paused", "Resumed", "Stopped", "Finished", "NearlyFinished", "Failed")
)


class ConsoleError(Exception):
    """A request the console cannot do (the message says why; the page shows it)."""


@dataclass(frozen=True, slots=True)
class LoadedPlay:
    """A play as loaded (or reloaded) by the console."""

    play: Play
    folder: Path
    target: Path  # what the user named on the command line (a folder, app.py, play.yaml)

    @property
    def definition(self) -> PlayDefinition:
        return self.play.definition


class ChannelAdapter(Protocol):
    """One channel as the console drives it (see the module doc)."""

    name: str
    label: str
    #: Can a conversation on this channel be saved as a transcript (``voicehook test``)?
    transcripts: bool
    #: The ``voicehook test --channel`` that runs a transcript saved on this channel.
    test_channel: str
    #: One line about the channel for the page (how it authenticates, what it cannot do).
    note: str
    #: The device-event buttons of the page: ``{"name": sent as the event, "label": shown}``.
    events: tuple[dict[str, str], ...]

    async def turn(self, user_input: TurnInput) -> dict[str, Any]:
        """Run one turn; the result as :func:`turn_view` shapes it."""
        ...

    def reset(self, scope: str) -> None:
        """Forget the conversation and the device; ``scope`` names the next conversation."""
        ...

    def state(self) -> dict[str, Any]:
        """The conversation and device state, as JSON."""
        ...

    def expectations(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """What a transcript turn expects, from the turn as it ran (its ``expect:``)."""
        ...

    async def adopt(self, old: ChannelAdapter) -> str | None:
        """After a reload, go on with ``old``'s conversation (same channel, the previous
        play). Returns None when it did, else why it could not (the page says so and a new
        conversation starts). Called before ``old`` is closed."""
        ...

    async def aclose(self) -> None:
        """Stop what the adapter started (the play's lifespan, HTTP connections)."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """An entry of the page's channel menu and how to build its adapter for a play."""

    name: str
    label: str
    build: Callable[[LoadedPlay], ChannelAdapter]


# --------------------------------------------------------------------------- the engine


def make_engine(
    definition: PlayDefinition,
    caller: ActionCaller | None,
    *,
    settings: EngineSettings,
    nlu: Recognizer | None = None,
    tokenizer: Tokenizer | None = None,
    session_scope: str | None = None,
    engine_class: type[DialogEngine] = DialogEngine,
) -> DialogEngine:
    """The one place the console builds a :class:`DialogEngine` (``engine_class``:
    :class:`RecordingEngine` where a channel runs the engine out of the console's sight)."""
    return engine_class(
        definition,
        caller,
        settings=settings,
        nlu=nlu,
        tokenizer=tokenizer,
        session_scope=session_scope,
    )


class RecordingEngine(DialogEngine):
    """A :class:`DialogEngine` that keeps its last turn's result, so the console can show
    what the engine did inside a channel (Bot Framework), next to the channel's JSON."""

    last: TurnResult | None = None

    async def turn(self, *args: Any, **kwargs: Any) -> TurnResult:
        result = await super().turn(*args, **kwargs)
        self.last = result
        return result


def state_problem(state: DialogState | None, definition: PlayDefinition) -> str | None:
    """Why a conversation in ``state`` cannot go on with ``definition`` (a reloaded play),
    or None when it can: the action, parameter or exception code it waits on must still
    exist."""
    if state is None or not state.active:
        return None
    wait: SlotWait | ExceptionWait | ListenWait | ConfirmWait | None = state.waiting
    while wait is not None:
        action = wait.action
        if action not in definition.actions:
            return f"the action {action!r} the conversation was in is gone"
        if isinstance(wait, SlotWait) and wait.param not in definition.action_parameters(action):
            return f"the parameter {wait.param!r} of {action!r} it was asking for is gone"
        if isinstance(wait, ExceptionWait) and wait.code not in definition.exception_codes(action):
            return f"the exception {wait.code!r} of {action!r} it was waiting in is gone"
        if isinstance(wait, ListenWait) and not definition.actions[action].branches:
            return f"the action {action!r} no longer listens (it has no branches)"
        wait = wait.resume if isinstance(wait, ConfirmWait) else None
    return None


def engine_settings(definition: PlayDefinition, seed: int) -> EngineSettings:
    """The play's engine settings with the console's seed (prompts repeat in transcripts)."""
    settings, _ = EngineSettings.from_mapping(definition.settings)
    if settings.seed is None:
        settings, _ = EngineSettings.from_mapping(definition.settings, seed=seed)
    return settings


# --------------------------------------------------------------------------- NUGU


class NuguAdapter:
    """NUGU through voicehook's simulated Dialog Manager.

    The backend is the play's own app in process, or any Backend proxy URL. Each
    conversation gets its own engine with ``session_scope`` = the conversation's scope, so
    the session ids (and, with the seed, the prompts) are the ones ``voicehook test`` makes
    for a transcript conversation of the same name.
    """

    transcripts = True
    test_channel = "nugu"
    events = NUGU_EVENTS

    def __init__(
        self,
        definition: PlayDefinition,
        backend: Backend,
        *,
        name: str,
        label: str,
        seed: int,
        tokenizer: Tokenizer | None = None,
        backend_url: str | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.note = (
            f"The simulated NUGU Dialog Manager calls the Backend proxy at {backend_url}."
            if backend_url
            else "The simulated NUGU Dialog Manager calls the play's own app in process."
        )
        self.definition = definition
        self.backend_url = backend_url
        self.scope: str | None = None
        self.settings = engine_settings(definition, seed)
        self.caller = NuguCaller(backend)
        self._engine = make_engine(
            definition, self.caller, settings=self.settings, tokenizer=tokenizer
        )
        self._state = self._engine.new_state()
        self._device = DeviceState()

    @property
    def engine(self) -> DialogEngine:
        return self._engine

    def reset(self, scope: str) -> None:
        self.scope = scope
        self._engine = make_engine(
            self.definition,
            self.caller,
            settings=self.settings,
            nlu=self._engine.nlu,
            session_scope=scope,
        )
        self._state = self._engine.new_state()
        self._device = DeviceState()

    def state(self) -> dict[str, Any]:
        return state_view(self._state, self._device)

    async def turn(self, user_input: TurnInput) -> dict[str, Any]:
        result = await self._engine.turn(self._state, user_input, device=self._device)
        self._state, self._device = result.state, result.device
        return turn_view(result)

    def expectations(self, view: Mapping[str, Any]) -> dict[str, Any]:
        return expectations(view)

    async def adopt(self, old: ChannelAdapter) -> str | None:
        if not isinstance(old, NuguAdapter) or old.name != self.name:
            return "the channel changed"
        problem = state_problem(old._state, self.definition)
        if problem is not None:
            return problem
        if old.scope is not None:
            self.reset(old.scope)  # the same session ids as before the reload
        self._state, self._device = old._state, old._device
        return None

    async def aclose(self) -> None:
        await self.caller.aclose()


def nugu_choices(
    *,
    seed: int,
    backend_url: str | None = None,
    api_key: str | None = None,
    tokenizer: Tokenizer | None = None,
) -> list[ChannelChoice]:
    """The NUGU entries of the channel menu: in process, and the ``--backend`` URL if given."""

    def in_process(loaded: LoadedPlay) -> ChannelAdapter:
        return NuguAdapter(
            loaded.definition,
            InProcessBackend(loaded.play, api_key=api_key),
            name="nugu",
            label="NUGU (in process)",
            seed=seed,
            tokenizer=tokenizer,
        )

    out = [ChannelChoice("nugu", "NUGU (in process)", in_process)]
    if backend_url:
        url = backend_url
        label = f"NUGU → {url}"

        def over_http(loaded: LoadedPlay) -> ChannelAdapter:
            settings = engine_settings(loaded.definition, seed)
            return NuguAdapter(
                loaded.definition,
                HttpBackend(url, timeout=settings.timeout, api_key=api_key),
                name="nugu-http",
                label=label,
                seed=seed,
                tokenizer=tokenizer,
                backend_url=url,
            )

        out.insert(0, ChannelChoice("nugu-http", label, over_http))
    return out


# --------------------------------------------------------------------------- views


def state_view(state: DialogState, device: DeviceState) -> dict[str, Any]:
    """The conversation and the device as plain JSON."""
    return {"conversation": msgspec.to_builtins(state), "device": msgspec.to_builtins(device)}


def turn_view(result: TurnResult) -> dict[str, Any]:
    """A turn as the page shows it (plain JSON)."""
    calls = [
        {
            "action": c.action,
            "status": c.status,
            "result_code": c.result_code,
            "outcome": c.outcome,
            "error": c.error,
            "elapsed_ms": round(c.elapsed_ms, 1),
            "request": c.request,
            "response": c.response if c.response is not None else c.body,
        }
        for c in result.calls
    ]
    return {
        "turn": result.turn,
        "kind": result.kind,
        "text": result.text,
        "event": result.event,
        "intent": result.intent,
        "score": round(result.score, 3),
        "entities": [
            {"type": e.type, "role": e.role, "text": e.text, "value": e.value}
            for e in result.entities
        ],
        "actions": list(result.actions),
        "calls": calls,
        "violations": list(result.violations),
        "warnings": list(result.warnings),
        "prompt": result.prompt,
        "prompt_type": result.prompt_type,
        "prompt_source": result.prompt_source,
        "directives": list(result.directives),
        "session_ended": result.session_ended,
        "state": state_view(result.state, result.device),
    }


def empty_view(kind: str, event: str | None = None) -> dict[str, Any]:
    """A turn in which the dialog engine did not run (a reset, a channel's neutral answer),
    in :func:`turn_view`'s shape; the channel adapter fills in what happened."""
    return {
        "turn": None,
        "kind": kind,
        "text": None,
        "event": None if event is None else {"type": event},
        "intent": None,
        "score": None,
        "entities": [],
        "actions": [],
        "calls": [],
        "violations": [],
        "warnings": [],
        "prompt": None,
        "prompt_type": None,
        "prompt_source": None,
        "directives": [],
        "session_ended": False,
        "state": None,
    }


def expectations(view: Mapping[str, Any]) -> dict[str, Any]:
    """What a transcript should expect of a turn, from the turn as it ran."""
    out: dict[str, Any] = {}
    if view["kind"] == "user" and view["intent"] is not None:
        out["intent"] = view["intent"]
    entities = view["entities"]
    by_type = {e["type"]: e["value"] for e in entities}
    if entities and len(by_type) == len(entities):
        out["entities"] = by_type
    calls = view["calls"]
    out["calls"] = [c["action"] for c in calls]
    if calls:
        out["result_codes"] = [c["result_code"] for c in calls]
    out["prompt"] = view["prompt"]
    if view["prompt_type"] is not None:
        out["type"] = view["prompt_type"]
    if view["directives"]:
        out["directives"] = [str(d.get("type")) for d in view["directives"]]
    out["session_ended"] = view["session_ended"]
    out["violations"] = len(view["violations"])
    return out
