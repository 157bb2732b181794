"""The console on CLOVA: each turn is a signed CEK request to the play's CLOVA channel.

It drives the same in-process channel as ``voicehook simulate --channel clova`` and
``voicehook test --channel clova``: the play in play mode behind a real
:class:`~voicehook.clova.ClovaChannel` on the play's own server app (signature checked,
application id allow-list, speech limits as errors). Requests are signed with a test key
made for this console (:class:`~voicehook.testing.clova.ClovaSigner`); the channel verifies
them with its public key. Nothing here turns verification off.

voicehook's NLU stands in for CLOVA's: ``user`` text becomes an ``IntentRequest`` with the
intent and slots it recognised (the invocation alone is a ``LaunchRequest``). The page
shows the CEK request and response exactly as they were sent, the speech, whether the
session stays open, the dialog state and the device's AudioPlayer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from voicehook.clova.playmode import EVENTS, PlayMode
from voicehook.clova.request import ClovaRequest
from voicehook.clova.response import Response
from voicehook.console.adapters import (
    ChannelAdapter,
    ChannelChoice,
    LoadedPlay,
    empty_view,
    engine_settings,
    make_engine,
    state_problem,
    turn_view,
)
from voicehook.dialog.engine import DeviceEvent, Reset, TurnInput, TurnResult
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.session import DialogState
from voicehook.store import MemoryStore
from voicehook.testing.clova import ClovaClient, ClovaSigner, ClovaTurn
from voicehook.testing.clova_transcripts import (
    ClovaDriver,
    clova_test_app,
    seeded_session_ids,
)

__all__ = ["CLOVA_EVENTS", "ClovaAdapter", "clova_choice"]

#: The AudioPlayer events a CLOVA device sends: the engine's (NUGU) name the page sends,
#: and CEK's name on the button. StreamRequested needs an item CEK chose: not a button.
CLOVA_EVENTS: tuple[dict[str, str], ...] = tuple(
    {"name": nugu.removeprefix("AudioPlayer."), "label": cek.removeprefix("AudioPlayer.")}
    for cek, nugu in EVENTS.items()
    if nugu != "AudioPlayer.StreamRequested"
)
CLOVA_PATH = "/clova"


class _RecordingPlayMode(PlayMode):
    """Play mode that keeps the last engine turn, for the page (intent, path, state)."""

    last: TurnResult | None = None

    def response(self, result: TurnResult, request: ClovaRequest) -> Response:
        self.last = result
        return super().response(result, request)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class ClovaAdapter:
    """CLOVA through the play's in-process CLOVA channel (see the module doc)."""

    name = "clova"
    label = "CLOVA (in process, signed CEK)"
    transcripts = True
    test_channel = "clova"
    note = (
        "Each turn is a CEK request signed with a test key made for this console; the "
        "CLOVA channel checks the signature as in production. voicehook's NLU stands in "
        "for CLOVA's."
    )
    events = CLOVA_EVENTS

    def __init__(self, loaded: LoadedPlay, *, seed: int, tokenizer: Tokenizer | None) -> None:
        self.play = loaded.play
        self.definition = loaded.definition
        settings = engine_settings(self.definition, seed)
        self.seed = settings.seed
        self.nlu = make_engine(self.definition, None, settings=settings, tokenizer=tokenizer).nlu
        self.signer = ClovaSigner()
        self.store = MemoryStore()  # handed on to the next play on a reload
        self.mode = _RecordingPlayMode(self.play, engine_settings={"seed": self.seed})
        self._app: Any = None
        self.scope = ""
        self.client = self._client("")
        self.driver = ClovaDriver(self.client, self.nlu)
        self.dialog: DialogState | None = None  # the conversation after the last turn

    def _client(self, scope: str) -> ClovaClient:
        # The session ids `voicehook test --channel clova` gives a conversation of this scope.
        return ClovaClient(
            None, self.signer, path=CLOVA_PATH, session_ids=seeded_session_ids(self.seed, scope)
        )

    async def _target(self) -> Any:
        """The play's server app with the CLOVA channel, started on first use."""
        if self._app is None:
            self._app = clova_test_app(
                self.play, self.mode, self.signer, CLOVA_PATH, store=self.store
            )
        if not self._app.started:
            await self._app.startup()
        return self._app

    def reset(self, scope: str) -> None:
        self.scope = scope
        self.client = self._client(scope)
        self.driver = ClovaDriver(self.client, self.nlu)
        self.dialog = None

    def state(self) -> dict[str, Any]:
        device = self.driver.device
        dialog = self.dialog if self.dialog is not None else DialogState()
        return {
            "conversation": msgspec.to_builtins(dialog),
            "device": {
                "audio": {
                    "playerActivity": device.activity,
                    "token": device.token,
                    "offsetInMilliseconds": device.offset,
                }
            },
            "clova": {"sessionId": self.client.session_id, "new": self.client.new},
        }

    async def turn(self, user_input: TurnInput) -> dict[str, Any]:
        self.client.target = await self._target()
        self.mode.last = None
        if isinstance(user_input, Reset):
            await self.driver.turn(user_input)  # a new session and device; nothing is sent
            self.dialog = None
            view = empty_view("reset")
            view["state"] = self.state()
            return view
        turn = await self.driver.turn(user_input)
        assert turn is not None
        result = self.mode.last
        if result is not None:
            self.dialog = result.state
        elif turn.end is not False:
            self.dialog = None  # SessionEnded, a neutral answer: no conversation goes on
        return self.view(user_input, turn, result)

    def view(
        self, user_input: TurnInput, turn: ClovaTurn, result: TurnResult | None
    ) -> dict[str, Any]:
        """The turn for the page: the engine's part (when the play ran) and CLOVA's."""
        request = _json(self.client.last_body)
        body = request.get("request", {}) if isinstance(request, dict) else {}
        if result is not None:
            view = turn_view(result)
        elif isinstance(user_input, DeviceEvent):
            view = empty_view("event", user_input.full_type)
        else:
            view = empty_view("user")
        view["state"] = self.state()
        # What CLOVA says is the truth on this channel: the speech and shouldEndSession.
        view["prompt"] = turn.speech or (None if turn.status != 200 else "")
        view["prompt_type"] = "wait" if turn.end is False else "end"
        view["session_ended"] = turn.end is not False
        view["directives"] = []
        intent = body.get("intent") if isinstance(body, dict) else None
        slots = (intent or {}).get("slots") or {}
        event = body.get("event") if isinstance(body, dict) else None
        recognised: dict[str, Any] = {"type": body.get("type") if isinstance(body, dict) else None}
        if intent:
            recognised["intent"] = intent.get("name")
            recognised["slots"] = {k: (v or {}).get("value") for k, v in slots.items()}
        if event:
            recognised["event"] = f"{event.get('namespace')}.{event.get('name')}"
        view["channel"] = {
            "name": self.name,
            "status": turn.status,
            "recognised": recognised,
            "speech": turn.speech,
            "reprompt": turn.reprompt,
            "end": turn.end,
            "directives": turn.directives,
            "exchanges": [
                {"title": f"CEK request ({recognised['type']})", "json": request},
                {"title": f"CEK response (HTTP {turn.status})", "json": turn.data},
            ],
        }
        return view

    def expectations(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """Only what a CLOVA user observes (what ``voicehook test --channel clova`` checks)."""
        channel = view.get("channel")
        if not isinstance(channel, Mapping):
            return {}  # a reset: nothing is sent
        out: dict[str, Any] = {"prompt": channel["speech"]}
        out["type"] = "wait" if channel["end"] is False else "end"
        out["session_ended"] = channel["end"] is not False
        if channel["directives"]:
            out["directives"] = list(channel["directives"])
        return out

    async def adopt(self, old: ChannelAdapter) -> str | None:
        if not isinstance(old, ClovaAdapter):
            return "the channel changed"
        if old.play.name != self.play.name:
            return f"the play's name changed ({old.play.name} → {self.play.name})"
        problem = state_problem(old.dialog, self.definition)
        if problem is not None:
            return problem
        # The same CEK session, device and signer; the dialog state stays in the store.
        self.store, self.signer = old.store, old.signer
        self.scope, self.client, self.dialog = old.scope, old.client, old.dialog
        self.driver = ClovaDriver(self.client, self.nlu)
        self.driver.device = old.driver.device
        return None

    async def aclose(self) -> None:
        if self._app is not None and self._app.started:
            await self._app.shutdown()


def clova_choice(*, seed: int, tokenizer: Tokenizer | None = None) -> ChannelChoice:
    """The CLOVA entry of the channel menu."""

    def build(loaded: LoadedPlay) -> ChannelAdapter:
        return ClovaAdapter(loaded, seed=seed, tokenizer=tokenizer)

    return ChannelChoice(ClovaAdapter.name, ClovaAdapter.label, build)
