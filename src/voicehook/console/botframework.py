"""The console on Bot Framework: each turn is an Activity POSTed to the play as a skill.

It drives the play's real :class:`~voicehook.botframework.skill.BotFrameworkChannel` on
the play's own server app, in process (``/api/messages``), as a skill consumer (a root bot)
would: a ``message`` activity per utterance, ``deliveryMode: expectReplies`` so the reply
activities come back in the response body. The activities go through the same
:class:`~voicehook.testing.botframework.BotFrameworkClient` as ``voicehook test --channel
botframework``, with the same conversation ids, so a saved conversation runs there as is.

Authentication: the skill runs in anonymous mode (a :class:`BotAuthConfig` without an app
id, the mode the Bot Framework Emulator uses locally), which accepts only calls *without*
``Authorization``: the console sends no token, so no JWT is checked. That is a setting of
this in-process skill only; ``voicehook serve --botframework`` keeps its own configuration
(an app id and allowed callers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from voicehook.botframework.skill import DEFAULT_PATH
from voicehook.console.adapters import (
    ChannelAdapter,
    ChannelChoice,
    ConsoleError,
    LoadedPlay,
    RecordingEngine,
    empty_view,
    engine_settings,
    make_engine,
    state_problem,
    turn_view,
)
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import DialogEngine, Reset, TurnInput
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.session import DialogState
from voicehook.play.context import AppContext
from voicehook.store import MemoryStore
from voicehook.testing.botframework import (
    END_OF_CONVERSATION,
    BotFrameworkClient,
    botframework_test_app,
)
from voicehook.testing.clova_transcripts import seeded_session_ids

__all__ = ["BF_EVENTS", "BotFrameworkAdapter", "botframework_choice"]

#: The consumer may end the conversation: an ``endOfConversation`` activity.
BF_EVENTS: tuple[dict[str, str], ...] = (
    {"name": END_OF_CONVERSATION, "label": "endOfConversation"},
)


class BotFrameworkAdapter:
    """The play as a Bot Framework skill, in process (see the module doc)."""

    name = "botframework"
    label = "Bot Framework skill (in process, anonymous)"
    transcripts = True
    test_channel = "botframework"
    note = (
        "Each turn is an Activity POSTed to the play's Bot Framework skill with "
        "expectReplies. The skill runs in anonymous mode (no app id): it accepts only calls "
        "without a token, so no JWT is checked here. A saved transcript runs with "
        "voicehook test --channel botframework."
    )
    events = BF_EVENTS

    def __init__(self, loaded: LoadedPlay, *, seed: int, tokenizer: Tokenizer | None) -> None:
        self.play = loaded.play
        self.definition = loaded.definition
        self.settings = engine_settings(self.definition, seed)
        self.seed = self.settings.seed
        self.tokenizer = tokenizer
        self.store = MemoryStore()  # handed on to the next play on a reload
        self.engine: RecordingEngine | None = None
        self._app: Any = None
        self.scope = ""
        self.client = self._client("")
        self.dialog: DialogState | None = None

    def _engine(self, app: AppContext) -> DialogEngine:
        engine = make_engine(
            self.definition,
            PlayCaller(self.play, app),
            settings=self.settings,
            tokenizer=self.tokenizer,
            engine_class=RecordingEngine,
        )
        assert isinstance(engine, RecordingEngine)
        self.engine = engine
        return engine

    def _client(self, scope: str) -> BotFrameworkClient:
        # The conversation ids `voicehook test --channel botframework` gives this scope.
        return BotFrameworkClient(
            self._app,
            conversation_ids=seeded_session_ids(self.seed, scope),
            channel_id="voicehook-console",
        )

    async def _target(self) -> Any:
        if self._app is None:
            self._app = botframework_test_app(self.play, self._engine, store=self.store)
        if not self._app.started:
            await self._app.startup()
        return self._app

    def reset(self, scope: str) -> None:
        self.scope = scope
        self.client = self._client(scope)
        self.dialog = None

    def state(self) -> dict[str, Any]:
        dialog = self.dialog if self.dialog is not None else DialogState()
        return {
            "conversation": msgspec.to_builtins(dialog),
            "botframework": {"conversation": {"id": self.client.conversation_id}},
        }

    async def turn(self, user_input: TurnInput) -> dict[str, Any]:
        if isinstance(user_input, Reset):  # a new conversation of the consumer
            await self.client.turn(user_input)  # nothing is sent
            self.dialog = None
            view = empty_view("reset")
            view["state"] = self.state()
            return view
        try:
            activity = self.client.activity(user_input)
        except ValueError as exc:
            raise ConsoleError(str(exc)) from None
        self.client.target = await self._target()
        if self.engine is not None:
            self.engine.last = None
        sent = await self.client.post(activity)
        status, data = sent.status, sent.data
        result = self.engine.last if self.engine is not None else None
        if result is not None:
            self.dialog = result.state
            view = turn_view(result)
        else:
            if activity["type"] == END_OF_CONVERSATION:
                self.dialog = None
            kind = activity["type"]
            view = empty_view("user") if kind == "message" else empty_view("event", kind)
        text = sent.text
        view["prompt"] = text if sent.messages else None
        view["prompt_type"] = "wait" if sent.waits else "end"
        view["session_ended"] = sent.ended
        view["directives"] = []
        view["state"] = self.state()
        view["channel"] = {
            "name": self.name,
            "status": status,
            "recognised": {"type": activity["type"], "text": activity.get("text")},
            "speech": text,
            "input_hint": sent.input_hint,
            "end": sent.end_code,
            "ended": sent.ended,
            "directives": sent.directives,
            "exchanges": [
                {"title": f"Activity in (POST {DEFAULT_PATH})", "json": activity},
                {"title": f"activities out (HTTP {status}, expectReplies)", "json": data},
            ],
        }
        return view

    def expectations(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """Only what a Bot Framework user observes (what ``voicehook test --channel
        botframework`` checks): the reply text, wait or end, the endOfConversation."""
        channel = view.get("channel")
        if not isinstance(channel, Mapping):
            return {}  # a reset: nothing is sent
        out: dict[str, Any] = {"prompt": channel["speech"]}
        out["type"] = "wait" if channel["input_hint"] == "expectingInput" else "end"
        out["session_ended"] = bool(channel["ended"])
        if channel["end"] is not None:
            out["end_code"] = channel["end"]
        if channel["directives"]:
            out["directives"] = list(channel["directives"])
        return out

    async def adopt(self, old: ChannelAdapter) -> str | None:
        if not isinstance(old, BotFrameworkAdapter):
            return "the channel changed"
        if old.play.name != self.play.name:
            return f"the play's name changed ({old.play.name} → {self.play.name})"
        problem = state_problem(old.dialog, self.definition)
        if problem is not None:
            return problem
        # The same conversation id; its dialog state stays in the store.
        self.store, self.client = old.store, old.client
        self.scope, self.dialog = old.scope, old.dialog
        return None

    async def aclose(self) -> None:
        if self._app is not None and self._app.started:
            await self._app.shutdown()


def botframework_choice(*, seed: int, tokenizer: Tokenizer | None = None) -> ChannelChoice:
    """The Bot Framework entry of the channel menu."""

    def build(loaded: LoadedPlay) -> ChannelAdapter:
        return BotFrameworkAdapter(loaded, seed=seed, tokenizer=tokenizer)

    return ChannelChoice(BotFrameworkAdapter.name, BotFrameworkAdapter.label, build)
