"""The console on Bot Framework: each turn is an Activity POSTed to the play as a skill.

It drives the play's real :class:`~voicehook.botframework.skill.BotFrameworkChannel` on
the play's own server app, in process (``/api/messages``), as a skill consumer (a root bot)
would: a ``message`` activity per utterance, ``deliveryMode: expectReplies`` so the reply
activities come back in the response body.

Authentication: the skill runs in anonymous mode (a :class:`BotAuthConfig` without an app
id, the mode the Bot Framework Emulator uses locally), which accepts only calls *without*
``Authorization``: the console sends no token, so no JWT is checked. That is a setting of
this in-process skill only; ``voicehook serve --botframework`` keeps its own configuration
(an app id and allowed callers).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import msgspec

from voicehook.botframework.auth import BotAuthConfig
from voicehook.botframework.skill import DEFAULT_PATH, BotFrameworkChannel
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
from voicehook.dialog.engine import DeviceEvent, DialogEngine, Reset, TurnInput, UserText
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.session import DialogState
from voicehook.play.context import AppContext
from voicehook.server import Settings, create_app
from voicehook.server.inprocess import call_asgi
from voicehook.server.routing import Route
from voicehook.store import MemoryStore

__all__ = ["BF_EVENTS", "BotFrameworkAdapter", "botframework_choice"]

#: The consumer may end the conversation: an ``endOfConversation`` activity.
END_OF_CONVERSATION = "endOfConversation"
BF_EVENTS: tuple[dict[str, str], ...] = (
    {"name": END_OF_CONVERSATION, "label": "endOfConversation"},
)
_USER = {"id": "console-user", "name": "사용자", "role": "user"}
_BOT = {"id": "voicehook-skill", "name": "voicehook", "role": "skill"}


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class BotFrameworkAdapter:
    """The play as a Bot Framework skill, in process (see the module doc)."""

    name = "botframework"
    label = "Bot Framework skill (in process, anonymous)"
    transcripts = False
    test_channel = "botframework"
    note = (
        "Each turn is an Activity POSTed to the play's Bot Framework skill with "
        "expectReplies. The skill runs in anonymous mode (no app id): it accepts only calls "
        "without a token, so no JWT is checked here. Save as transcript is not offered: "
        "voicehook test runs transcripts on NUGU and CLOVA only (no --channel botframework)."
    )
    events = BF_EVENTS

    def __init__(self, loaded: LoadedPlay, *, seed: int, tokenizer: Tokenizer | None) -> None:
        self.play = loaded.play
        self.definition = loaded.definition
        self.settings = engine_settings(self.definition, seed)
        self.tokenizer = tokenizer
        self.store = MemoryStore()  # handed on to the next play on a reload
        self.engine: RecordingEngine | None = None
        self._app: Any = None
        self._ids = itertools.count(1)
        self.scope = ""
        self.resets = 0
        self.conversation_id = ""
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

    async def _target(self) -> Any:
        if self._app is None:
            channel = BotFrameworkChannel(self.play, BotAuthConfig(), engine=self._engine)
            self._app = create_app(
                self.play,
                Settings(),
                store=self.store,
                routes=[Route(DEFAULT_PATH, channel, exact=True)],
            )
        if not self._app.started:
            await self._app.startup()
        return self._app

    def reset(self, scope: str) -> None:
        self.scope, self.resets = scope, 0
        self.conversation_id = f"console:{scope}"
        self.dialog = None

    def state(self) -> dict[str, Any]:
        dialog = self.dialog if self.dialog is not None else DialogState()
        return {
            "conversation": msgspec.to_builtins(dialog),
            "botframework": {"conversation": {"id": self.conversation_id}},
        }

    def activity(self, user_input: TurnInput) -> dict[str, Any]:
        """The Activity a skill consumer sends for ``user_input``."""
        body: dict[str, Any] = {
            "id": f"console-{next(self._ids)}",
            "channelId": "voicehook-console",
            "from": _USER,
            "recipient": _BOT,
            "conversation": {"id": self.conversation_id},
            "locale": "ko-KR",
            "deliveryMode": "expectReplies",
        }
        if isinstance(user_input, UserText):
            return {"type": "message", **body, "text": user_input.text}
        if isinstance(user_input, DeviceEvent) and user_input.type == END_OF_CONVERSATION:
            return {"type": END_OF_CONVERSATION, **body, "code": "userCancelled"}
        what = user_input.type if isinstance(user_input, DeviceEvent) else "this input"
        raise ConsoleError(f"Bot Framework has no device events: {what} cannot be sent")

    async def turn(self, user_input: TurnInput) -> dict[str, Any]:
        if isinstance(user_input, Reset):  # a new conversation of the consumer
            self.resets += 1
            self.conversation_id = f"console:{self.scope}:{self.resets}"
            self.dialog = None
            view = empty_view("reset")
            view["state"] = self.state()
            return view
        activity = self.activity(user_input)
        app = await self._target()
        if self.engine is not None:
            self.engine.last = None
        body = json.dumps(activity, ensure_ascii=False).encode()
        status, _, raw = await call_asgi(
            app, "POST", DEFAULT_PATH, body, {"Content-Type": "application/json; charset=utf-8"}
        )
        data = _json(raw)
        result = self.engine.last if self.engine is not None else None
        if result is not None:
            self.dialog = result.state
            view = turn_view(result)
        else:
            if activity["type"] == END_OF_CONVERSATION:
                self.dialog = None
            kind = activity["type"]
            view = empty_view("user") if kind == "message" else empty_view("event", kind)
        replies = data.get("activities") if isinstance(data, dict) else None
        replies = replies if isinstance(replies, list) else []
        messages = [a for a in replies if isinstance(a, dict) and a.get("type") == "message"]
        ended = [a for a in replies if isinstance(a, dict) and a.get("type") == END_OF_CONVERSATION]
        text = " ".join(str(m.get("text") or "") for m in messages).strip()
        hint = messages[-1].get("inputHint") if messages else None
        view["prompt"] = text if messages else None
        view["prompt_type"] = "wait" if hint == "expectingInput" else "end"
        view["session_ended"] = bool(ended)
        view["directives"] = []
        view["state"] = self.state()
        view["channel"] = {
            "name": self.name,
            "status": status,
            "recognised": {"type": activity["type"], "text": activity.get("text")},
            "speech": text,
            "input_hint": hint,
            "end": ended[-1].get("code") if ended else None,
            "directives": [],
            "exchanges": [
                {"title": f"Activity in (POST {DEFAULT_PATH})", "json": activity},
                {"title": f"activities out (HTTP {status}, expectReplies)", "json": data},
            ],
        }
        return view

    def expectations(self, view: Mapping[str, Any]) -> dict[str, Any]:
        return {}  # not saved as transcripts (see ``note``)

    async def adopt(self, old: ChannelAdapter) -> str | None:
        if not isinstance(old, BotFrameworkAdapter):
            return "the channel changed"
        if old.play.name != self.play.name:
            return f"the play's name changed ({old.play.name} → {self.play.name})"
        problem = state_problem(old.dialog, self.definition)
        if problem is not None:
            return problem
        # The same conversation id; its dialog state stays in the store.
        self.store, self._ids = old.store, old._ids
        self.scope, self.resets = old.scope, old.resets
        self.conversation_id, self.dialog = old.conversation_id, old.dialog
        return None

    async def aclose(self) -> None:
        if self._app is not None and self._app.started:
            await self._app.shutdown()


def botframework_choice(*, seed: int, tokenizer: Tokenizer | None = None) -> ChannelChoice:
    """The Bot Framework entry of the channel menu."""

    def build(loaded: LoadedPlay) -> ChannelAdapter:
        return BotFrameworkAdapter(loaded, seed=seed, tokenizer=tokenizer)

    return ChannelChoice(BotFrameworkAdapter.name, BotFrameworkAdapter.label, build)
