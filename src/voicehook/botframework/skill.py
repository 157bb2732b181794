"""A play served as a Bot Framework skill: the ``BotFrameworkChannel``.

One ``POST`` (by default at ``/api/messages``) carries one activity from a skill consumer
(a root bot). The channel:

1. checks the caller (:class:`~voicehook.botframework.auth.JwtValidator`; anonymous mode
   accepts only calls without ``Authorization``) and overwrites ``callerId`` from the
   verified token (a ``callerId`` on the wire is never trusted);
2. turns the activity into a dialog turn, with the conversation's state in the store
   (:class:`~voicehook.dialog.runtime.DialogRuntime`, keyed by the caller's app id and the
   conversation id, so it works across workers and machines):

   - ``message``: its ``text`` goes through the play's NLU;
   - ``event`` whose ``name`` is an intent of the play: that intent, with the ``value``
     object's entries as slots (the SDK's "begin a skill action" pattern);
   - the activity that opens a session may carry a ``value`` object: its entries reach the
     handlers as parameter values (slots of the recognised intent);
   - ``endOfConversation``: the consumer cancels; the dialog state is deleted;
   - ``invoke``: not supported, ``501`` (what an SDK bot answers to an unknown invoke);
     with ``expectReplies``, an ``invokeResponse`` activity with status 501 in the list;
   - anything else (``typing``, ``conversationUpdate``, unknown ``event`` names): ignored;

3. answers with activities addressed back to the caller: a ``message`` with the prompt
   (``inputHint`` ``expectingInput`` when the play waits, ``acceptingInput`` when it ends),
   and an ``endOfConversation`` when the play's session ends: ``completedSuccessfully``,
   ``userCancelled`` (the user said stop), ``botTimedOut`` / ``SkillError`` when the play
   failed. Its ``value`` holds the session's parameters (the skill's return value);
4. delivers them: ``deliveryMode: expectReplies`` returns them in the body
   (``200 {"activities": [...]}``); otherwise they are sent to the caller's ``serviceUrl``
   while its POST is still open (ReplyToActivity), then the POST gets ``201`` with an empty
   body, as a botbuilder CloudAdapter skill answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from voicehook.botframework.activity import (
    Activity,
    ActivityTypes,
    DeliveryModes,
    EndOfConversationCodes,
    InputHints,
    decode_activity,
    encode_expected_replies,
)
from voicehook.botframework.auth import (
    ANONYMOUS_WARNING,
    BotAuthConfig,
    Claims,
    JwtValidator,
    credentials_for,
)
from voicehook.botframework.connector import ConnectorClient, ConnectorError
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import DialogEngine, Intent, TurnInput, TurnResult, UserText
from voicehook.dialog.nlu import DEFAULT_BUILTIN_INTENTS
from voicehook.dialog.recognizer import warn_if_no_kiwi
from voicehook.dialog.runtime import DialogConflict, DialogRuntime
from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.upstream import UpstreamError

if TYPE_CHECKING:
    from voicehook.play.app import Play, RuntimeSettings
    from voicehook.play.context import AppContext

__all__ = ["DEFAULT_PATH", "SKILL_ERROR", "BotFrameworkChannel", "EngineFactory"]

logger = logging.getLogger("voicehook.botframework")

#: Where the skill listens unless told otherwise (the SDK's convention).
DEFAULT_PATH: Final = "/api/messages"
#: The ``endOfConversation`` code of a failed turn (the SDK samples' convention).
SKILL_ERROR: Final = "SkillError"
_STOP_INTENT: Final = "NUGU.INTENT.stop"
_LABELS: Final = frozenset(
    {
        ActivityTypes.MESSAGE,
        ActivityTypes.EVENT,
        ActivityTypes.END_OF_CONVERSATION,
        ActivityTypes.INVOKE,
        ActivityTypes.CONVERSATION_UPDATE,
        ActivityTypes.TYPING,
    }
)

#: Builds the play's dialog engine once the app's resources are open.
EngineFactory = Callable[["AppContext"], DialogEngine]


class BotFrameworkChannel:
    """Serves ``play`` as a Bot Framework skill (see the module doc).

    - ``auth``: the app id, allowed callers, ... (:class:`BotAuthConfig`; no app id is
      anonymous mode).
    - ``settings``: the runtime settings of the play's calls (deadline, codes; the server
      passes its own).
    - ``engine``: builds the play's :class:`DialogEngine` at startup; by default the engine
      calls the play's handlers in process (:class:`~voicehook.dialog.caller.PlayCaller`).
    - ``ttl``: seconds a conversation's state lives after its last turn (default: the
      app's ``session_ttl``).
    - ``reply_timeout``: seconds per Connector call when replies go to ``serviceUrl``.
    """

    name = "botframework"
    methods = frozenset({"POST"})

    def __init__(
        self,
        play: Play,
        auth: BotAuthConfig,
        *,
        settings: RuntimeSettings | None = None,
        engine: EngineFactory | None = None,
        ttl: float | None = None,
        reply_timeout: float = 5.0,
    ) -> None:
        self.play = play
        self.auth = auth
        self._settings = settings
        self._engine_factory = engine or self._default_engine
        self._ttl = ttl
        self._reply_timeout = reply_timeout
        self._runtime: DialogRuntime | None = None
        self._validator: JwtValidator | None = None
        self._connector: ConnectorClient | None = None
        self._intents: frozenset[str] = frozenset()

    def _default_engine(self, app: AppContext) -> DialogEngine:
        caller = PlayCaller(self.play, app, settings=self._settings)
        return DialogEngine(self.play.definition, caller)

    # -- lifespan ------------------------------------------------------------------------

    async def startup(self, app: AppContext) -> None:
        if app.store is None:
            raise RuntimeError(
                "the Bot Framework channel keeps each conversation's dialog state in the "
                "store; start the server with a store (--store)"
            )
        if app.http is None:
            raise RuntimeError("the app's HTTP client is not open")
        if self.auth.anonymous:
            logger.warning(ANONYMOUS_WARNING)
        elif not self.auth.allowed_callers:
            logger.warning(
                "Bot Framework: no allowed callers are configured, so every caller is refused"
            )
        # Users type here: voicehook's NLU is the production NLU, and it is weaker without
        # Kiwi (docs/nlu.md). Say so once, at start-up.
        warn_if_no_kiwi(logger, channel="Bot Framework")
        engine = self._engine_factory(app)
        ttl = self._ttl if self._ttl is not None else app.session_ttl
        self._runtime = DialogRuntime(
            engine, app.store, ttl=ttl, prefix=f"botframework:{self.play.name}:"
        )
        # The intents an event may name: the play's, its triggers', the engine's built-ins.
        definition = engine.definition
        self._intents = (
            frozenset(definition.intents)
            | DEFAULT_BUILTIN_INTENTS
            | frozenset(getattr(engine.nlu, "intents", ()))
            | frozenset(
                act.trigger.intent
                for act in definition.actions.values()
                if act.trigger is not None and act.trigger.intent
            )
        )
        self._validator = JwtValidator(self.auth, app.http)
        self._connector = ConnectorClient(
            app.http, credentials_for(self.auth, app.http), timeout=self._reply_timeout
        )

    async def shutdown(self, app: AppContext) -> None:
        self._runtime = None
        self._validator = None
        self._connector = None

    # -- one call ------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> Answer:
        runtime, validator = self._runtime, self._validator
        if runtime is None or validator is None:
            raise HttpError(503, "not_started", "the Bot Framework channel is not started")
        claims = await validator.validate(request.header(b"authorization"))
        activity = decode_activity(request.body)
        activity.caller_id = claims.caller_id
        conversation = activity.conversation.id if activity.conversation else None
        if not conversation:
            raise HttpError(400, "invalid_activity", "the activity has no conversation.id")
        expect = activity.delivery_mode == DeliveryModes.EXPECT_REPLIES
        label = f"botframework.{activity.type if activity.type in _LABELS else 'other'}"
        if activity.type == ActivityTypes.INVOKE:
            # No invoke is supported. With expectReplies the invoke response travels inside
            # the list as an invokeResponse activity (what the SDK's SkillDialog reads).
            if expect:
                response = activity.reply(
                    ActivityTypes.INVOKE_RESPONSE, value={"status": 501, "body": None}
                )
                body = encode_expected_replies([response])
                return Answer(body, label=label, result_code="NOT_IMPLEMENTED")
            return Answer(b"null", status=501, label=label, result_code="NOT_IMPLEMENTED")
        if not expect and not activity.service_url:
            raise HttpError(
                400,
                "invalid_activity",
                "the activity has no serviceUrl to send replies to (or use expectReplies)",
            )
        session = f"{claims.app_id}:{conversation}"
        replies, outcome, error = await self._turn(runtime, session, activity)
        if expect:
            return Answer(
                encode_expected_replies(replies),
                label=label,
                result_code=outcome,
                error=error,
            )
        delivery_error = await self._deliver(replies, claims, request.request_id)
        if delivery_error is not None:
            outcome, error = "DELIVERY_FAILED", delivery_error
        return Answer(b"", status=201, label=label, result_code=outcome, error=error)

    async def _turn(
        self, runtime: DialogRuntime, session: str, activity: Activity
    ) -> tuple[list[Activity], str, str | None]:
        """The reply activities, the outcome for metrics, and an error for the log."""
        kind = activity.type
        try:
            if kind == ActivityTypes.END_OF_CONVERSATION:
                await runtime.forget(session)
                return [], "CANCELLED", None
            user_input = await self._input(runtime, session, activity)
            if user_input is None:
                return [], "IGNORED", None
            user_key = activity.from_.id if activity.from_ is not None else None
            try:
                result = await runtime.turn(
                    session, user_input, user_key=user_key, channel="botframework"
                )
            except DialogConflict as conflict:
                # Another process answered this conversation meanwhile; this turn's state
                # was not saved, but the user still gets its answer.
                logger.warning("%s", conflict)
                result = conflict.result
        except HttpError:
            raise
        except Exception as exc:
            logger.exception("Bot Framework turn failed (conversation %s)", session)
            return self._failed(activity), SKILL_ERROR, f"{type(exc).__name__}: {exc}"
        return self._replies(activity, result)

    async def _input(
        self, runtime: DialogRuntime, session: str, activity: Activity
    ) -> TurnInput | None:
        values = _slots(activity.value)
        if activity.type == ActivityTypes.MESSAGE:
            text = activity.text or ""
            if values and not (await runtime.state(session)).active:
                return await _intent_input(runtime.engine, text, values)
            return UserText(text)
        if activity.type == ActivityTypes.EVENT and activity.name in self._intents:
            return Intent(activity.name, values or {})
        return None

    def _replies(
        self, incoming: Activity, result: TurnResult
    ) -> tuple[list[Activity], str, str | None]:
        replies: list[Activity] = []
        ended = result.session_ended
        if result.prompt or result.directives:
            message = incoming.reply(
                text=result.prompt or None,
                speak=result.prompt or None,
                input_hint=InputHints.ACCEPTING if ended else InputHints.EXPECTING,
            )
            attachments, rest = _directives(result.directives)
            if attachments:
                message.attachments = attachments
            if rest:
                message.channel_data = {"directives": rest}
            replies.append(message)
        if not ended:
            return replies, "WAIT", None
        code, error = _end_code(result)
        replies.append(
            incoming.reply(
                ActivityTypes.END_OF_CONVERSATION,
                code=code,
                value=_return_value(result),
                input_hint=InputHints.ACCEPTING,
            )
        )
        return replies, code, error

    def _failed(self, incoming: Activity) -> list[Activity]:
        text = self.play.definition.failure_prompt or "죄송해요, 지금은 답할 수 없어요."
        return [
            incoming.reply(text=text, speak=text, input_hint=InputHints.ACCEPTING),
            incoming.reply(
                ActivityTypes.END_OF_CONVERSATION,
                code=SKILL_ERROR,
                input_hint=InputHints.ACCEPTING,
            ),
        ]

    async def _deliver(self, replies: list[Activity], claims: Claims, rid: str) -> str | None:
        """Send the replies in order to the caller's serviceUrl; the first failure stops it."""
        connector = self._connector
        if connector is None:
            return "not started"
        audience = None if claims.anonymous else claims.app_id
        for reply in replies:
            try:
                await connector.send(reply, audience=audience)
            except (ConnectorError, UpstreamError, ValueError) as exc:
                logger.warning(
                    "Bot Framework: a reply could not be delivered to the caller: %s",
                    exc,
                    extra={"request_id": rid},
                )
                return str(exc)
        return None


def _slots(value: Any) -> dict[str, str] | None:
    """A ``value`` object's scalar entries as slot values (strings); None if there are none."""
    if not isinstance(value, Mapping):
        return None
    slots: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or item is None:
            continue
        if isinstance(item, bool):
            slots[key] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            slots[key] = str(item)
    return slots or None


async def _intent_input(engine: DialogEngine, text: str, values: dict[str, str]) -> TurnInput:
    """The first turn of a session with values: the NLU's intent for ``text``, with its
    entities and the values as slots (the values win). No intent: the text alone."""
    if not text.strip():
        return UserText(text)
    parsed = await engine.recognize(text)
    if parsed.intent is None:
        logger.info("Bot Framework: values came with text that matches no intent; ignored")
        return UserText(text)
    slots = {e.role or e.type: e.value for e in parsed.entities}
    slots.update(values)
    return Intent(parsed.intent, slots)


_AUDIO_CARD: Final = "application/vnd.microsoft.card.audio"


def _directives(
    directives: list[dict[str, Any]],
) -> tuple[list[Any], list[dict[str, Any]]]:
    """``AudioPlayer.Play`` becomes an audio card; the others go to ``channelData``."""
    cards: list[Any] = []
    rest: list[dict[str, Any]] = []
    for d in directives:
        stream = (
            d.get("audioItem", {}).get("stream") if d.get("type") == "AudioPlayer.Play" else None
        )
        url = stream.get("url") if isinstance(stream, dict) else None
        if isinstance(url, str) and url:
            cards.append({"contentType": _AUDIO_CARD, "content": {"media": [{"url": url}]}})
        else:
            rest.append(d)
    return cards, rest


def _end_code(result: TurnResult) -> tuple[str, str | None]:
    if result.prompt_source == "failure":
        errors = [c.error for c in result.calls if c.error]
        reason = "; ".join(errors) or "the play failed"
        if any("timeout" in e.lower() or "deadline" in e.lower() for e in errors):
            return EndOfConversationCodes.BOT_TIMED_OUT, reason
        return SKILL_ERROR, reason
    if result.intent == _STOP_INTENT:
        return EndOfConversationCodes.USER_CANCELLED, None
    return EndOfConversationCodes.COMPLETED_SUCCESSFULLY, None


def _return_value(result: TurnResult) -> dict[str, Any]:
    """The skill's result: the session's parameters (nulls left out) and its last intent."""
    params = {k: v for k, v in result.state.params.items() if v is not None}
    return {"intent": result.intent, "actions": list(result.actions), "params": params}
