"""Transcripts on the CLOVA channel: the same transcript files, run as signed CEK requests.

``voicehook test FILE --channel clova`` runs each conversation like CLOVA would: every turn
becomes a CEK request sent to the CLOVA endpoint (in process, or ``--backend URL``), and the
answer is checked from the outside.

- ``user: TEXT`` stands for what CLOVA's NLU recognised: voicehook's own NLU turns the text
  into an intent and slots (entity type → value), and NUGU's built-in intents become
  CLOVA's (``NUGU.INTENT.stop`` → ``Clova.StopIntent``, no intent → ``Clova.FallbackIntent``).
  The invocation alone opens the extension with a ``LaunchRequest``.
- ``event: AudioPlayer.PlaybackFinished`` becomes the CEK event ``AudioPlayer.PlayFinished``
  with the simulated device's token and offset (or the turn's ``fields``).
- ``reset`` starts a new session and a new device.
- A turn's ``clova:`` key gives the exact CEK request instead (NUGU runs ignore it):
  ``clova: {intent: Clova.NextIntent}``, ``clova: {intent: ask.weather, slots: {location:
  서울}}``, ``clova: {event: AudioPlayer.PlayFinished}``, ``clova: {launch: true}``,
  ``clova: {end: true}``.

Only what CLOVA users can observe is checked: ``prompt``, ``prompt_contains``,
``prompt_regex`` (the speech), ``type`` and ``session_ended`` (``shouldEndSession``) and
``directives`` (NUGU names map to CEK names: ``AudioPlayer.Stop`` →
``PlaybackController.Stop``). The engine-side keys (``intent``, ``entities``, ``calls``,
``result_code``, ``params``, ...) are skipped on this channel.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from voicehook.clova.channel import ClovaChannel
from voicehook.clova.extension import ClovaApp
from voicehook.clova.playmode import EVENTS, PlayMode
from voicehook.clova.speech import SpeechLimits
from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Reset,
    TurnInput,
    UserText,
)
from voicehook.dialog.nlu import (
    INTENT_NEXT,
    INTENT_OPEN,
    INTENT_PAUSE,
    INTENT_PREVIOUS,
    INTENT_RESUME,
    INTENT_STOP,
    Tokenizer,
)
from voicehook.dialog.recognizer import Recognizer
from voicehook.play import Play
from voicehook.testing.clova import (
    TEST_APPLICATION_ID,
    ClovaClient,
    ClovaSigner,
    ClovaTurn,
    check_clova_spec,
)
from voicehook.testing.transcripts import (
    PROMPT_KEYS,
    ConversationReport,
    ConversationSpec,
    Mismatch,
    Report,
    load_transcripts,
    prompt_mismatch,
    session_scopes,
)

__all__ = [
    "CHECKED_KEYS",
    "ClovaDriver",
    "arun_clova_transcripts",
    "check_clova_spec",
    "check_clova_turn",
    "clova_test_app",
    "seeded_session_ids",
]

#: The expectations a CLOVA turn can be checked against.
CHECKED_KEYS = frozenset(
    {"prompt", "prompt_contains", "prompt_regex", "type", "session_ended", "directives"}
)

_TO_CLOVA = {
    INTENT_STOP: "Clova.StopIntent",
    INTENT_OPEN: "Clova.GuideIntent",
    INTENT_PAUSE: "Clova.PauseIntent",
    INTENT_RESUME: "Clova.ResumeIntent",
    INTENT_NEXT: "Clova.NextIntent",
    INTENT_PREVIOUS: "Clova.PreviousIntent",
}
_FROM_NUGU_EVENT = {nugu: cek for cek, nugu in EVENTS.items()}
_DIRECTIVE_NAMES = {
    "AudioPlayer.Stop": "PlaybackController.Stop",
    "AudioPlayer.Pause": "PlaybackController.Pause",
    "AudioPlayer.Resume": "PlaybackController.Resume",
}


def check_clova_turn(turn: ClovaTurn, expect: Mapping[str, Any]) -> list[Mismatch]:
    """Compare one CEK answer with the observable expectations of a transcript turn."""
    out: list[Mismatch] = []
    if turn.status != 200:
        return [Mismatch("status", 200, f"{turn.status}: {turn.data}")]
    speech = turn.speech
    for key, want in expect.items():
        if key in PROMPT_KEYS:
            miss = prompt_mismatch(key, want, speech)
            if miss is not None:
                out.append(miss)
        elif key == "type":
            end = turn.end
            if (want == "wait" and end is not False) or (want == "end" and end is not True):
                out.append(Mismatch(key, f"{want} (shouldEndSession {want != 'wait'})", end))
        elif key == "session_ended":
            if bool(want) and turn.end is not True:
                out.append(Mismatch(key, "shouldEndSession true", turn.end))
        elif key == "directives":
            expected = [_DIRECTIVE_NAMES.get(str(x), str(x)) for x in want]
            if turn.directives != expected:
                out.append(Mismatch(key, expected, turn.directives))
    return out


class _Device:
    """The simulated CLOVA device's AudioPlayer, moved by the directives it receives."""

    def __init__(self) -> None:
        self.activity = "IDLE"
        self.token: str | None = None
        self.offset = 0

    def context(self) -> dict[str, Any] | None:
        if self.token is None and self.activity == "IDLE":
            return None
        out: dict[str, Any] = {"playerActivity": self.activity, "offsetInMilliseconds": self.offset}
        if self.token is not None:
            out["stream"] = {"token": self.token}
        return out

    def apply(self, turn: ClovaTurn) -> None:
        for d in turn.response.get("directives") or []:
            header = d.get("header") or {}
            name = f"{header.get('namespace')}.{header.get('name')}"
            if name == "AudioPlayer.Play":
                stream = (d.get("payload") or {}).get("audioItem", {}).get("stream", {})
                self.activity = "PLAYING"
                self.token = stream.get("token")
                self.offset = int(stream.get("beginAtInMilliseconds") or 0)
            elif name == "PlaybackController.Pause":
                self.activity = "PAUSED"
            elif name == "PlaybackController.Resume":
                self.activity = "PLAYING"
            elif name == "PlaybackController.Stop":
                self.activity = "STOPPED"


class ClovaDriver:
    """Turns transcript and simulator inputs into CEK requests, like CLOVA and a device.

    ``user`` text goes through ``nlu`` (standing in for CLOVA's NLU); device events carry
    the simulated AudioPlayer's token and offset; ``reset`` starts a new session and device.
    """

    def __init__(self, client: ClovaClient, nlu: Recognizer) -> None:
        self.client = client
        self.nlu = nlu
        self.device = _Device()

    async def turn(self, inp: TurnInput, spec: Mapping[str, Any] | None = None) -> ClovaTurn | None:
        """Send one input (or the exact CEK request ``spec``, a turn's ``clova:``); None for
        a reset (nothing is sent)."""
        client = self.client
        device = self.device
        client.audio_player = device.context()
        if spec is not None:
            return await self._exact(spec)
        if isinstance(inp, Reset):
            client.new_session()
            self.device = _Device()
            return None
        if isinstance(inp, DeviceEvent):
            fields = dict(inp.fields)
            if device.token is not None:
                fields.setdefault("token", device.token)
                fields.setdefault("offsetInMilliseconds", device.offset)
            name = _FROM_NUGU_EVENT.get(inp.full_type, inp.full_type)
            if inp.full_type == "AudioPlayer.PlaybackFinished":
                device.activity = "STOPPED"
            turn = await client.event(name, fields)
        else:
            assert isinstance(inp, UserText)
            parsed = self.nlu.parse(inp.text)
            intent = parsed.intent
            slots = {}
            for e in parsed.entities:
                slots[e.role if e.role and e.role != e.type else e.type] = e.value
            if (intent == INTENT_OPEN or not inp.text.strip()) and client.new:
                turn = await client.launch()
            else:
                name = _TO_CLOVA.get(intent or "", intent) or "Clova.FallbackIntent"
                turn = await client.intent(name, slots)
        device.apply(turn)
        return turn

    async def _exact(self, spec: Mapping[str, Any]) -> ClovaTurn:
        client, device = self.client, self.device
        if "launch" in spec:
            turn = await client.launch()
        elif "end" in spec:
            turn = await client.session_ended()
        elif "event" in spec:
            payload = dict(spec.get("payload") or {})
            if device.token is not None and str(spec["event"]).startswith("AudioPlayer."):
                payload.setdefault("token", device.token)
                payload.setdefault("offsetInMilliseconds", device.offset)
            if spec["event"] == "AudioPlayer.PlayFinished":
                device.activity = "STOPPED"
            turn = await client.event(str(spec["event"]), payload)
        else:
            turn = await client.intent(str(spec["intent"]), dict(spec.get("slots") or {}))
        device.apply(turn)
        return turn


async def _conversation(
    client: ClovaClient, nlu: Recognizer, conv: ConversationSpec
) -> ConversationReport:
    rep = ConversationReport(conv.name)
    driver = ClovaDriver(client, nlu)
    for number, spec in enumerate(conv.turns, 1):
        turn = await driver.turn(spec.input, spec.clova)
        rep.turn_count = number
        if turn is None:
            continue
        mismatches = check_clova_turn(turn, spec.expect)
        if mismatches:
            rep.failed_turn = number
            rep.failed_input = spec.label
            rep.mismatches = mismatches
            break
    return rep


def seeded_session_ids(seed: object, scope: str) -> Callable[[int], str] | None:
    """The session ids the NUGU simulator gives the same conversation (with a ``seed``), so
    a backend that seeds by session id (the quiz's question order) behaves the same."""
    if seed is None:
        return None

    def make(n: int) -> str:
        bits = random.Random(f"{seed}:session:{scope}:{n}").getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    return make


def clova_test_app(
    play: Play, app: ClovaApp, signer: ClovaSigner, clova_path: str, *, store: Any = None
) -> Any:
    """The server app for ``play`` with ``app`` behind a CLOVA channel at ``clova_path``:
    it verifies ``signer``'s signatures, accepts the test application id, and treats speech
    over CLOVA's limits as an error. ``store``: the dialog state store (default: a new
    in-memory one; a store given here is not closed with the app)."""
    from voicehook.server import Settings, create_app
    from voicehook.server.routing import Route
    from voicehook.store import MemoryStore

    channel = ClovaChannel(
        app,
        verifier=signer.verifier(),
        app_ids=[TEST_APPLICATION_ID],
        limits=SpeechLimits(mode="error"),
    )
    return create_app(
        play,
        Settings(),
        store=store if store is not None else MemoryStore(),
        routes=[Route(clova_path, channel, exact=True)],
    )


async def arun_clova_transcripts(
    path: str | Path,
    backend: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    settings: Mapping[str, Any] | None = None,
    signer: ClovaSigner | None = None,
    clova_path: str = "/clova",
) -> Report:
    """Run every conversation of a transcript file on the CLOVA channel.

    Without ``backend`` the play runs in process behind a real CLOVA channel (signature
    checked with ``signer``'s key, speech limits as errors). With ``backend`` (a server
    URL) the requests are signed with ``signer``: start that server with
    ``--clova-public-key`` set to the signer's public key.
    """
    from voicehook.cli.loading import load_play

    transcript = load_transcripts(path)
    play = load_play(str(transcript.play))
    definition = play.definition
    signer = signer or ClovaSigner()
    report = Report(Path(path))
    merged_base = {**definition.settings, **transcript.settings, **(settings or {})}
    eng_settings, _ = EngineSettings.from_mapping(merged_base)
    nlu = DialogEngine(definition, None, settings=eng_settings, tokenizer=tokenizer).nlu
    scopes = session_scopes(transcript.conversations)
    for conv, scope in zip(transcript.conversations, scopes, strict=True):
        engine_settings = {**transcript.settings, **conv.settings, **(settings or {})}
        seed = EngineSettings.from_mapping({**merged_base, **conv.settings})[0].seed
        target: Any
        if backend:
            target = backend
        else:
            mode = PlayMode(play, engine_settings=engine_settings)
            target = clova_test_app(play, mode, signer, clova_path)
        async with ClovaClient(
            target, signer, path=clova_path, session_ids=seeded_session_ids(seed, scope)
        ) as client:
            report.conversations.append(await _conversation(client, nlu, conv))
    return report
