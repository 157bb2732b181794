"""Transcripts on the Bot Framework channel: each turn is an Activity to the play's skill.

``voicehook test FILE --channel botframework`` runs each conversation as a skill consumer
(a root bot) would: the play's real
:class:`~voicehook.botframework.skill.BotFrameworkChannel` runs in process on the play's
own server app (``/api/messages``), and every turn is one ``message`` activity with
``deliveryMode: expectReplies``, so the reply activities come back in the response body.
The console's Bot Framework channel sends its activities through the same
:class:`BotFrameworkClient`.

- ``user: TEXT`` is a ``message`` activity with that text (the skill's NLU reads it).
- ``event: endOfConversation`` is an ``endOfConversation`` activity (code
  ``userCancelled``): the root bot cancels the skill. Bot Framework has no device events:
  any other ``event:`` turn stops the run with an error.
- ``reset`` starts a new conversation (a new ``conversation.id``); so does a reply with
  ``endOfConversation``, as a root bot starts a new skill conversation each time.
- No ``conversationUpdate`` is sent: a root bot begins a skill with the user's message,
  and the skill channel answers a ``conversationUpdate`` with nothing.

Authentication: the skill runs in anonymous mode (a :class:`BotAuthConfig` without an app
id), which accepts only calls *without* ``Authorization``; no token is sent, so no JWT is
checked. ``voicehook serve --botframework`` keeps its own configuration.

Only what a Bot Framework user observes is checked (the keys of a CLOVA transcript, read
from the activities): ``prompt``, ``prompt_contains``, ``prompt_regex`` (the ``text`` of
the ``message`` replies, joined by spaces; ``speak`` must say the same), ``type`` (``wait``
when the last message's ``inputHint`` is ``expectingInput``, ``end`` otherwise),
``session_ended`` (an ``endOfConversation`` reply came), ``end_code`` (its ``code``) and
``directives`` (an audio card is ``AudioPlayer.Play``; the others are in ``channelData``).
The engine-side keys (``intent``, ``entities``, ``calls``, ``params``, ...) are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from voicehook.botframework.auth import ANONYMOUS_WARNING, BotAuthConfig
from voicehook.botframework.skill import DEFAULT_PATH, BotFrameworkChannel, EngineFactory
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Reset,
    TurnInput,
    UserText,
)
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.recognizer import Recognizer
from voicehook.play import Play
from voicehook.play.context import AppContext
from voicehook.testing.clova_transcripts import seeded_session_ids
from voicehook.testing.transcripts import (
    PROMPT_KEYS,
    ConversationReport,
    ConversationSpec,
    Mismatch,
    Report,
    TranscriptError,
    load_transcripts,
    prompt_mismatch,
    session_scopes,
)

__all__ = [
    "BF_CHECKED_KEYS",
    "END_OF_CONVERSATION",
    "BotFrameworkClient",
    "BotFrameworkTurn",
    "arun_botframework_transcripts",
    "botframework_test_app",
    "check_botframework_turn",
]

#: The expectations a Bot Framework turn can be checked against.
BF_CHECKED_KEYS = frozenset(
    {
        "prompt",
        "prompt_contains",
        "prompt_regex",
        "type",
        "session_ended",
        "end_code",
        "directives",
    }
)
END_OF_CONVERSATION = "endOfConversation"
_AUDIO_CARD = "application/vnd.microsoft.card.audio"
USER = {"id": "voicehook-user", "name": "사용자", "role": "user"}
BOT = {"id": "voicehook-skill", "name": "voicehook", "role": "skill"}


class BotFrameworkTurn:
    """One expectReplies answer as a Bot Framework user sees it.

    ``status`` / ``data``: the HTTP status and JSON body. ``messages``: the ``message``
    replies; ``text`` / ``speak``: their ``text`` / ``speak`` joined by spaces;
    ``input_hint``: the last message's ``inputHint``; ``ended``: an ``endOfConversation``
    came, ``end_code``: its ``code``; ``directives``: what the messages carry.
    """

    __slots__ = ("activity", "data", "status")

    def __init__(self, activity: dict[str, Any], status: int, data: Any) -> None:
        self.activity = activity
        self.status = status
        self.data = data

    @property
    def activities(self) -> list[dict[str, Any]]:
        items = self.data.get("activities") if isinstance(self.data, dict) else None
        return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [a for a in self.activities if a.get("type") == "message"]

    @property
    def text(self) -> str:
        return " ".join(str(m["text"]) for m in self.messages if m.get("text"))

    @property
    def speak(self) -> str:
        return " ".join(str(m["speak"]) for m in self.messages if m.get("speak"))

    @property
    def input_hint(self) -> str | None:
        hint = self.messages[-1].get("inputHint") if self.messages else None
        return hint if isinstance(hint, str) else None

    @property
    def waits(self) -> bool:
        """The skill expects the user's answer (``inputHint: expectingInput``)."""
        return self.input_hint == "expectingInput"

    @property
    def _ends(self) -> list[dict[str, Any]]:
        return [a for a in self.activities if a.get("type") == END_OF_CONVERSATION]

    @property
    def ended(self) -> bool:
        return bool(self._ends)

    @property
    def end_code(self) -> str | None:
        ends = self._ends
        code = ends[-1].get("code") if ends else None
        return code if isinstance(code, str) else None

    @property
    def directives(self) -> list[str]:
        out: list[str] = []
        for m in self.messages:
            for card in m.get("attachments") or []:
                if isinstance(card, dict) and card.get("contentType") == _AUDIO_CARD:
                    out.append("AudioPlayer.Play")
            data = m.get("channelData")
            rest = data.get("directives") if isinstance(data, dict) else None
            for d in rest if isinstance(rest, list) else []:
                if isinstance(d, dict):
                    out.append(str(d.get("type")))
        return out

    def __repr__(self) -> str:
        return f"BotFrameworkTurn({self.status}, hint={self.input_hint}, text={self.text!r})"


def botframework_test_app(
    play: Play, engine: EngineFactory | None = None, *, store: Any = None
) -> Any:
    """The server app for ``play`` with its Bot Framework skill channel at ``/api/messages``
    in anonymous mode (calls without a token only). ``engine``: builds the dialog engine
    (default: the channel's). ``store``: the dialog state store (default: a new in-memory
    one; a store given here is not closed with the app)."""
    from voicehook.server import Settings, create_app
    from voicehook.server.routing import Route
    from voicehook.store import MemoryStore

    channel = BotFrameworkChannel(play, BotAuthConfig(), engine=engine)
    return create_app(
        play,
        Settings(),
        store=store if store is not None else MemoryStore(),
        routes=[Route(DEFAULT_PATH, channel, exact=True)],
    )


class BotFrameworkClient:
    """Talks to a play's skill in process, as a root bot with ``expectReplies`` does.

    ``target``: a :class:`~voicehook.server.VoicehookApp` with the channel (see
    :func:`botframework_test_app`); its lifespan starts on the first call and stops in
    :meth:`aclose` (only if this client started it). ``conversation_ids`` makes the n-th
    conversation id (n from 1) repeatable; the conversation changes on :meth:`new_conversation`
    and after a reply with ``endOfConversation``.
    """

    def __init__(
        self,
        target: Any,
        *,
        conversation_ids: Callable[[int], str] | None = None,
        channel_id: str = "voicehook-test",
    ) -> None:
        self.target = target
        self._conversation_ids = conversation_ids
        self.channel_id = channel_id
        self.conversations = 0
        self.conversation_id = ""
        self._ids = 0
        self._started = False
        self.new_conversation()

    async def __aenter__(self) -> BotFrameworkClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._started and self.target.started:
            await self.target.shutdown()
        self._started = False

    def new_conversation(self) -> None:
        self.conversations += 1
        make = self._conversation_ids
        n = self.conversations
        self.conversation_id = make(n) if make is not None else f"conversation-{n}"

    def activity(self, user_input: TurnInput) -> dict[str, Any]:
        """The Activity a root bot sends for ``user_input`` (a text or endOfConversation).
        Raises ValueError for what Bot Framework cannot carry (device events, reset)."""
        self._ids += 1
        body: dict[str, Any] = {
            "id": f"activity-{self._ids}",
            "channelId": self.channel_id,
            "from": USER,
            "recipient": BOT,
            "conversation": {"id": self.conversation_id},
            "locale": "ko-KR",
            "deliveryMode": "expectReplies",
        }
        if isinstance(user_input, UserText):
            return {"type": "message", **body, "text": user_input.text}
        if isinstance(user_input, DeviceEvent) and user_input.type == END_OF_CONVERSATION:
            return {"type": END_OF_CONVERSATION, **body, "code": "userCancelled"}
        what = user_input.type if isinstance(user_input, DeviceEvent) else "reset"
        raise ValueError(
            f"Bot Framework has no device events: {what} cannot be sent "
            "(only text and endOfConversation)"
        )

    async def post(self, activity: Mapping[str, Any]) -> BotFrameworkTurn:
        """POST ``activity`` as is; a reply with ``endOfConversation`` ends the conversation."""
        from voicehook.server.inprocess import call_asgi

        if not self.target.started:
            await self.target.startup()
            self._started = True
        body = json.dumps(activity, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        status, _, raw = await call_asgi(self.target, "POST", DEFAULT_PATH, body, headers)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        turn = BotFrameworkTurn(dict(activity), status, data)
        if turn.ended or activity.get("type") == END_OF_CONVERSATION:
            self.new_conversation()
        return turn

    async def turn(self, user_input: TurnInput) -> BotFrameworkTurn | None:
        """Send one input; None for a reset (a new conversation, nothing is sent)."""
        if isinstance(user_input, Reset):
            self.new_conversation()
            return None
        return await self.post(self.activity(user_input))


def check_botframework_turn(turn: BotFrameworkTurn, expect: Mapping[str, Any]) -> list[Mismatch]:
    """Compare one expectReplies answer with the observable expectations of a turn."""
    if turn.status != 200:
        return [Mismatch("status", 200, f"{turn.status}: {turn.data}")]
    out: list[Mismatch] = []
    text = turn.text
    if turn.speak != text:
        out.append(Mismatch("speak", f"the same as text ({text!r})", turn.speak))
    for key, want in expect.items():
        if key in PROMPT_KEYS:
            miss = prompt_mismatch(key, want, text)
            if miss is not None:
                out.append(miss)
        elif key == "type":
            if (want == "wait") != turn.waits:
                hint = "expectingInput" if want == "wait" else "not expectingInput"
                out.append(Mismatch(key, f"{want} (inputHint {hint})", turn.input_hint))
        elif key == "session_ended":
            if bool(want) != turn.ended:
                out.append(Mismatch(key, f"endOfConversation {bool(want)}", turn.ended))
        elif key == "end_code":
            if turn.end_code != want:
                out.append(Mismatch(key, want, turn.end_code))
        elif key == "directives":
            expected = [str(x) for x in want]
            if turn.directives != expected:
                out.append(Mismatch(key, expected, turn.directives))
    return out


async def _conversation(client: BotFrameworkClient, conv: ConversationSpec) -> ConversationReport:
    rep = ConversationReport(conv.name)
    for number, spec in enumerate(conv.turns, 1):
        try:
            turn = await client.turn(spec.input)
        except ValueError as exc:
            raise TranscriptError(
                f"conversation {conv.name!r}, turn {number} ({spec.label}): {exc}"
            ) from None
        rep.turn_count = number
        if turn is None:
            continue
        mismatches = check_botframework_turn(turn, spec.expect)
        if mismatches:
            rep.failed_turn = number
            rep.failed_input = spec.label
            rep.mismatches = mismatches
            break
    return rep


class _Once(logging.Filter):
    """Lets the anonymous-mode warning through once per run (each conversation starts its
    own skill, and each start would say it again)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != ANONYMOUS_WARNING:
            return True
        seen, self.seen = self.seen, True
        return not seen


async def arun_botframework_transcripts(
    path: str | Path,
    *,
    tokenizer: Tokenizer | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Report:
    """Run every conversation of a transcript file on the play's Bot Framework skill, in
    process (see the module doc). ``settings`` override the engine settings."""
    from voicehook.cli.loading import load_play

    transcript = load_transcripts(path)
    if transcript.backend:
        raise TranscriptError(
            f"{path}: names a backend; --channel botframework runs the play in process only"
        )
    play = load_play(str(transcript.play))
    report = Report(Path(path))
    recognisers: dict[tuple[float, bool | None], Recognizer] = {}
    once = _Once()
    logger = logging.getLogger("voicehook.botframework")
    logger.addFilter(once)
    try:
        for conv, scope in zip(
            transcript.conversations, session_scopes(transcript.conversations), strict=True
        ):
            report.conversations.append(
                await _run(play, conv, scope, recognisers, tokenizer, transcript.settings, settings)
            )
    finally:
        logger.removeFilter(once)
    return report


async def _run(
    play: Play,
    conv: ConversationSpec,
    scope: str,
    recognisers: dict[tuple[float, bool | None], Recognizer],
    tokenizer: Tokenizer | None,
    file_settings: Mapping[str, Any],
    settings: Mapping[str, Any] | None,
) -> ConversationReport:
    """One conversation on a skill of its own (its engine settings, a fresh store)."""
    definition = play.definition
    merged = {**definition.settings, **file_settings, **conv.settings}
    merged.update(settings or {})
    eng_settings, _ = EngineSettings.from_mapping(merged)

    key = (eng_settings.nlu_threshold, eng_settings.audio_player)

    def engine(app: AppContext) -> DialogEngine:
        built = DialogEngine(
            definition,
            PlayCaller(play, app),
            settings=eng_settings,
            tokenizer=tokenizer,
            nlu=recognisers.get(key),
        )
        recognisers[key] = built.nlu  # one recogniser per setting combination
        return built

    ids = seeded_session_ids(eng_settings.seed, scope)
    async with BotFrameworkClient(
        botframework_test_app(play, engine), conversation_ids=ids
    ) as client:
        return await _conversation(client, conv)
