"""The root bot: routes a user's turns to skills or to the root's own play (spec §2–4, §8).

The root's own behaviour (greeting, help, routing by intent, resuming after a skill, using
a skill's return value) is a voicehook play. The gateway runs it through the dialog runtime
(its state in the store, like any play on a stateful channel) and hands it these events,
which a play action takes with ``trigger: {event: ...}`` (fields in ``req.event``):

- ``Skill.Ended``: the skill sent ``endOfConversation`` (``skill``, ``code``, ``value``,
  ``text``).
- ``Skill.Cancelled``: the user cancelled the skill (``skill``, ``text``).
- ``Skill.Failed``: the skill could not be reached or answered badly (``skill``, ``error``).
  Without an action for it the user hears the config's ``apology``.
- ``Skill.Event``: the skill sent an ``event`` activity (``skill``, ``name``, ``value``).

A handler of the root's play starts a skill itself with the directive
``{"type": "Gateway.StartSkill", "skill": "weather", "text": "...", "value": {...}}``
(``text`` defaults to the user's words, ``value`` is passed on the first activity).

Nothing holds a lock across a call to a skill: the skill's callbacks arrive while the POST
is open and are served concurrently. Every piece of state (the active skill, the id
mappings, the root play's dialog) is in the store and written before the skill is called, so
two gateway processes on one store serve one conversation alternately.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import msgspec

from voicehook.botframework.activity import (
    Activity,
    ConversationReference,
    encode_expected_replies,
)
from voicehook.botframework.auth import CHANNEL_AUDIENCE
from voicehook.botframework.connector import ConnectorClient
from voicehook.errors import HttpError
from voicehook.gateway.config import GatewayConfig, Route
from voicehook.gateway.conversations import ActiveSkill, ConversationIdFactory
from voicehook.gateway.skills import SkillClient, TokenSource, rewrite_for_skill
from voicehook.upstream import UpstreamError

__all__ = ["PlayTurn", "RootBot", "RootPlay", "UserTurn"]

logger = logging.getLogger("voicehook.gateway")

START_SKILL = "Gateway.StartSkill"


class PlayTurn(msgspec.Struct):
    """What the root's play said in one turn."""

    prompt: str | None = None
    expecting: bool = False
    ended: bool = False
    directives: list[dict[str, Any]] = msgspec.field(default_factory=list)


class RootPlay(Protocol):
    """The root's own play, as the gateway needs it (see ``voicehook.cli.gateway``)."""

    def handles(self, event: str) -> bool:
        """Whether an action of the play takes this event."""
        ...

    def intent(self, text: str) -> str | None:
        """The intent the play's NLU hears in ``text`` (None: none)."""
        ...

    async def text(self, session: str, text: str, *, user_key: str | None) -> PlayTurn: ...

    async def event(
        self, session: str, event: str, fields: dict[str, Any], *, user_key: str | None
    ) -> PlayTurn: ...


@dataclass(slots=True)
class UserTurn:
    """One user turn in progress: where replies go, and the buffer when the channel asked
    for ``expectReplies``."""

    reference: ConversationReference
    buffer: list[Activity] | None = None
    sent: list[str] = field(default_factory=list)


def _key(ref: ConversationReference) -> tuple[str, str]:
    conv = ref.conversation.id if ref.conversation and ref.conversation.id else ""
    return (ref.channel_id or "", conv)


class RootBot:
    """The consumer's logic behind the two endpoints (see :mod:`voicehook.gateway.channels`).

    - ``config``: the gateway config (skills, routes, cancel words, apology).
    - ``play``: the root's own play.
    - ``ids``: the conversation-id factory (and active-skill record) on the store.
    - ``session``: the aiohttp session for skills.
    - ``connector``: the Channel API client for the user's channel (its retries never
      duplicate a delivered activity; tokens for the channel audience).
    - ``tokens``: outbound tokens for skills (``None``: anonymous mode, no Authorization).
    """

    def __init__(
        self,
        config: GatewayConfig,
        play: RootPlay,
        ids: ConversationIdFactory,
        session: aiohttp.ClientSession,
        connector: ConnectorClient,
        *,
        tokens: TokenSource | None = None,
    ) -> None:
        self.config = config
        self.play = play
        self.ids = ids
        self.session = session
        self.connector = connector
        self.client = SkillClient(session, tokens=tokens, timeout=config.timeout)
        self.host_endpoint = config.host_endpoint()
        self._cancel = {w.strip() for w in config.cancel}
        #: Turns from channels that asked for expectReplies, by (channel, conversation).
        self._buffered: dict[tuple[str, str], UserTurn] = {}
        #: Skills that failed expectReplies once: normal delivery from then on.
        self._no_expect_replies: set[str] = set()

    # ================================================================== user → root

    async def on_user_activity(self, activity: Activity) -> tuple[int, bytes]:
        """Handle one activity from the user's channel. Returns (status, body)."""
        if not activity.conversation or not activity.conversation.id:
            raise HttpError(400, "invalid_activity", "the activity has no conversation.id")
        buffered = activity.delivery_mode == "expectReplies"
        if not buffered and not activity.service_url:
            raise HttpError(400, "invalid_activity", "the activity has no serviceUrl")
        turn = UserTurn(activity.conversation_reference(), [] if buffered else None)
        key = _key(turn.reference)
        if buffered:
            self._buffered[key] = turn
        try:
            status, body = await self._dispatch(activity, turn)
        finally:
            if buffered and self._buffered.get(key) is turn:
                del self._buffered[key]
        if buffered and status == 200 and not body:
            return 200, encode_expected_replies(turn.buffer or [])
        return status, body

    async def _dispatch(self, activity: Activity, turn: UserTurn) -> tuple[int, bytes]:
        channel, conv = _key(turn.reference)
        active = await self.ids.active(channel, conv)
        kind = activity.type
        if kind == "message":
            await self._on_message(activity, turn, active)
            return 200, b""
        if kind == "event":
            route = self._route_event(activity.name)
            if route is not None:
                if active is not None:
                    await self._cancel_skill(active, turn, tell_play=False)
                await self._start(route.skill, activity, turn)
            elif active is not None:
                await self._forward(active, activity, turn)
            return 200, b""
        if kind == "endOfConversation":
            if active is not None:
                await self._cancel_skill(active, turn, tell_play=False)
            return 200, b""
        if kind == "invoke":
            if active is None:
                return 501, b""
            return await self._forward(active, activity, turn, invoke=True)
        if kind == "conversationUpdate":
            # The user joined (the Emulator and most channels say so first): the root's
            # play greets, as when a NUGU play is opened by its name alone.
            bot_id = activity.recipient.id if activity.recipient else None
            joined = [m for m in activity.members_added or () if m.id != bot_id]
            if joined and active is None:
                said = await self._play_text(turn, "")
                await self._after_play(said, None, turn)
            return 200, b""
        if active is not None and kind != "typing":
            await self._forward(active, activity, turn)
        return 200, b""

    async def _on_message(
        self, activity: Activity, turn: UserTurn, active: ActiveSkill | None
    ) -> None:
        text = (activity.text or "").strip()
        if active is not None:
            if text in self._cancel:
                await self._cancel_skill(active, turn, text=text)
                return
            route, rest = self._route_text(text, intents=False)
            if route is None or route.skill == active.skill:
                await self._forward(active, activity, turn)
                return
            await self._cancel_skill(active, turn, tell_play=False)
            await self._start(route.skill, _with_text(activity, rest), turn)
            return
        route, rest = self._route_text(text, intents=True)
        if route is not None:
            await self._start(route.skill, _with_text(activity, rest), turn)
            return
        said = await self._play_text(turn, text)
        await self._after_play(said, activity, turn)

    # ------------------------------------------------------------------ routing

    def _route_text(self, text: str, *, intents: bool) -> tuple[Route | None, str]:
        intent: str | None = None
        for route in self.config.routes:
            if route.prefix is not None and text.startswith(route.prefix):
                rest = text[len(route.prefix) :].strip()
                return route, rest or text
            if route.phrase is not None and route.phrase in text:
                return route, text
            if intents and route.intent is not None:
                if intent is None:
                    intent = self.play.intent(text) or ""
                if intent == route.intent:
                    return route, text
        return None, text

    def _route_event(self, name: str | None) -> Route | None:
        if not name:
            return None
        return next((r for r in self.config.routes if r.event == name), None)

    # ------------------------------------------------------------------ skills

    async def _start(
        self, skill_id: str, activity: Activity, turn: UserTurn, value: Any = None
    ) -> None:
        """Hand the conversation to a skill: mapping and active record first, then the POST."""
        channel, conv = _key(turn.reference)
        skill_conv = await self.ids.create(skill_id, turn.reference)
        active = ActiveSkill(skill_id, skill_conv)
        await self.ids.set_active(channel, conv, active)
        if value is not None:
            activity = msgspec.structs.replace(activity, value=value)
        logger.info("conversation %s: skill %s starts", conv, skill_id)
        await self._forward(active, activity, turn, fresh=True)

    async def _forward(
        self,
        active: ActiveSkill,
        activity: Activity,
        turn: UserTurn,
        *,
        invoke: bool = False,
        fresh: bool = False,
    ) -> tuple[int, bytes]:
        skill = self.config.skills.get(active.skill)
        if skill is None:  # the config changed under a live conversation
            await self._skill_failed(active, turn, "the skill is no longer configured")
            return 200, b""
        if not fresh and not await self.ids.refresh(
            active.conversation_id, active.skill, turn.reference
        ):
            # The mapping expired or ended in another process: start the skill again.
            channel, conv = _key(turn.reference)
            await self.ids.clear_active(channel, conv, only=active.conversation_id)
            await self._start(active.skill, activity, turn)
            return 200, b""
        mode = skill.delivery
        if invoke or active.skill in self._no_expect_replies:
            mode = "normal"
        outgoing = rewrite_for_skill(activity, active.conversation_id, self.host_endpoint)
        outgoing = msgspec.structs.replace(
            outgoing, delivery_mode="expectReplies" if mode == "expectReplies" else None
        )
        reply = await self.client.post(skill, outgoing, active.conversation_id)
        if invoke:
            if reply.status is None:
                await self._skill_failed(active, turn, reply.error or "no answer")
                return 502, b""
            return reply.status, reply.body
        if mode == "expectReplies" and not reply.ok and _refused_expect_replies(reply.status):
            # Stock botbuilder-python 4.17 skills answer 500 to expectReplies (spec §7.1);
            # a skill that cannot answer synchronously may reject it with a 4xx (A3112).
            logger.warning(
                "skill %s failed expectReplies (%s); using normal delivery from now on",
                active.skill,
                reply.error,
            )
            self._no_expect_replies.add(active.skill)
            outgoing = msgspec.structs.replace(outgoing, delivery_mode=None)
            reply = await self.client.post(skill, outgoing, active.conversation_id)
        if not reply.ok:
            await self._skill_failed(active, turn, reply.error or "failed")
            return 200, b""
        for item in reply.activities or ():
            try:
                await self.on_skill_activity(active.conversation_id, item, None, turn=turn)
            except HttpError as exc:  # e.g. the user's channel refused one reply
                logger.warning("skill %s: a reply was not relayed: %s", active.skill, exc.message)
            if item.type == "endOfConversation":
                break  # the skill conversation is over; anything after it has nowhere to go
        return 200, b""

    async def _cancel_skill(
        self, active: ActiveSkill, turn: UserTurn, *, text: str = "", tell_play: bool = True
    ) -> None:
        """End the skill's conversation: tell the skill, forget the mapping."""
        channel, conv = _key(turn.reference)
        await self.ids.clear_active(channel, conv, only=active.conversation_id)
        mapping = await self.ids.get(active.conversation_id)
        await self.ids.delete(active.conversation_id)
        skill = self.config.skills.get(active.skill)
        if skill is not None and mapping is not None:
            end = _from_user(
                turn.reference, "endOfConversation", secrets.token_hex(8), code="userCancelled"
            )
            outgoing = rewrite_for_skill(end, active.conversation_id, self.host_endpoint)
            reply = await self.client.post(skill, outgoing, active.conversation_id)
            if not reply.ok:
                logger.warning("skill %s: the cancel was not taken: %s", active.skill, reply.error)
        logger.info("conversation %s: skill %s cancelled", conv, active.skill)
        if tell_play:
            said = await self._play_event(
                turn, "Skill.Cancelled", {"skill": active.skill, "text": text}
            )
            if said is None:
                said = await self._play_text(turn, text)
            await self._after_play(said, None, turn)

    async def _skill_failed(self, active: ActiveSkill, turn: UserTurn, error: str) -> None:
        logger.warning("skill %s failed: %s", active.skill, error)
        channel, conv = _key(turn.reference)
        await self.ids.clear_active(channel, conv, only=active.conversation_id)
        await self.ids.delete(active.conversation_id)
        said = await self._play_event(turn, "Skill.Failed", {"skill": active.skill, "error": error})
        if said is None or not said.prompt:
            said = PlayTurn(prompt=self.config.apology)
        await self._after_play(said, None, turn)

    # ================================================================== skill → root

    async def on_skill_activity(
        self,
        skill_conversation_id: str,
        activity: Activity,
        reply_to: str | None,
        *,
        turn: UserTurn | None = None,
    ) -> str:
        """A skill's SendToConversation / ReplyToActivity (or an expectReplies item).

        Returns the id to answer with. Raises :class:`HttpError` 404 for an unknown id.
        """
        mapping = await self.ids.get(skill_conversation_id)
        if mapping is None:
            raise HttpError(404, "unknown_conversation", "no such skill conversation")
        ref = mapping.reference
        if turn is None:
            turn = self._buffered.get(_key(ref)) or UserTurn(ref)
        if activity.type == "endOfConversation":
            channel, conv = _key(ref)
            await self.ids.delete(skill_conversation_id)
            await self.ids.clear_active(channel, conv, only=skill_conversation_id)
            logger.info("conversation %s: skill %s ended (%s)", conv, mapping.skill, activity.code)
            fields = {
                "skill": mapping.skill,
                "code": activity.code or "unknown",
                "value": activity.value,
                "text": activity.text,
            }
            said = await self._play_event(turn, "Skill.Ended", fields)
            if said is not None:
                await self._after_play(said, None, turn)
            return secrets.token_hex(16)
        if activity.type == "event":
            fields = {"skill": mapping.skill, "name": activity.name, "value": activity.value}
            said = await self._play_event(turn, "Skill.Event", fields)
            if said is not None:
                await self._after_play(said, None, turn)
            return secrets.token_hex(16)
        if activity.type == "trace" and ref.channel_id != "emulator":
            return secrets.token_hex(16)
        del reply_to  # the reply goes to the user's activity, not the skill's id
        return await self._to_user(turn, activity)

    async def update_activity(
        self, skill_conversation_id: str, activity_id: str, activity: Activity
    ) -> str:
        mapping = await self.ids.get(skill_conversation_id)
        if mapping is None:
            raise HttpError(404, "unknown_conversation", "no such skill conversation")
        ref = mapping.reference
        out = _readdress(activity, ref, reply_to=None)
        service_url, conv = _where(ref)
        try:
            answer = await self.connector.update_activity(
                service_url, conv, activity_id, out, audience=CHANNEL_AUDIENCE
            )
        except UpstreamError as exc:
            raise _channel_failed(exc) from None
        return answer.id or activity_id

    async def delete_activity(self, skill_conversation_id: str, activity_id: str) -> None:
        mapping = await self.ids.get(skill_conversation_id)
        if mapping is None:
            raise HttpError(404, "unknown_conversation", "no such skill conversation")
        service_url, conv = _where(mapping.reference)
        try:
            await self.connector.delete_activity(
                service_url, conv, activity_id, audience=CHANNEL_AUDIENCE
            )
        except UpstreamError as exc:
            raise _channel_failed(exc) from None

    async def members(self, skill_conversation_id: str) -> list[dict[str, Any]]:
        mapping = await self.ids.get(skill_conversation_id)
        if mapping is None:
            raise HttpError(404, "unknown_conversation", "no such skill conversation")
        user = mapping.reference.user
        return [msgspec.to_builtins(user)] if user is not None else []

    # ================================================================== root → user

    async def _to_user(self, turn: UserTurn, activity: Activity) -> str:
        out = _readdress(activity, turn.reference, reply_to=turn.reference.activity_id)
        if turn.buffer is not None:
            new_id = secrets.token_hex(8)
            turn.buffer.append(msgspec.structs.replace(out, id=new_id))
            return new_id
        ref = turn.reference
        service_url, conv = _where(ref)
        try:
            if out.reply_to_id:
                answer = await self.connector.reply_to_activity(
                    service_url, conv, out.reply_to_id, out, audience=CHANNEL_AUDIENCE
                )
            else:
                answer = await self.connector.send_to_conversation(
                    service_url, conv, out, audience=CHANNEL_AUDIENCE
                )
        except UpstreamError as exc:
            raise _channel_failed(exc) from None
        return answer.id or secrets.token_hex(8)

    # ================================================================== the root's play

    def _session(self, turn: UserTurn) -> str:
        channel, conv = _key(turn.reference)
        return f"{channel}:{conv}"

    def _user_key(self, turn: UserTurn) -> str | None:
        user = turn.reference.user
        return user.id if user is not None else None

    async def _play_text(self, turn: UserTurn, text: str) -> PlayTurn:
        try:
            return await self.play.text(self._session(turn), text, user_key=self._user_key(turn))
        except Exception:
            logger.exception("the root play failed on a text turn")
            return PlayTurn(prompt=self.config.apology)

    async def _play_event(
        self, turn: UserTurn, event: str, fields: dict[str, Any]
    ) -> PlayTurn | None:
        if not self.play.handles(event):
            return None
        try:
            return await self.play.event(
                self._session(turn), event, fields, user_key=self._user_key(turn)
            )
        except Exception:
            logger.exception("the root play failed on %s", event)
            return PlayTurn(prompt=self.config.apology)

    async def _after_play(self, said: PlayTurn, activity: Activity | None, turn: UserTurn) -> None:
        if said.prompt:
            reply = Activity(
                type="message",
                text=said.prompt,
                speak=said.prompt,
                input_hint="expectingInput" if said.expecting else "acceptingInput",
            )
            await self._to_user(turn, reply)
        for directive in said.directives:
            if directive.get("type") != START_SKILL:
                continue
            skill = directive.get("skill")
            if not isinstance(skill, str) or skill not in self.config.skills:
                logger.warning("the root play asked for an unknown skill %r", skill)
                continue
            text = directive.get("text")
            base = activity or _from_user(turn.reference, "message", turn.reference.activity_id)
            if isinstance(text, str):
                base = _with_text(base, text)
            await self._start(skill, base, turn, value=directive.get("value"))
            break


def _from_user(
    ref: ConversationReference, type_: str, id_: str | None, *, code: str | None = None
) -> Activity:
    """An activity from the user in ``ref``'s conversation, addressed to the bot."""
    return Activity(
        type=type_,
        id=id_,
        code=code,
        channel_id=ref.channel_id,
        service_url=ref.service_url,
        from_=ref.user,
        recipient=ref.bot,
        conversation=ref.conversation,
        locale=ref.locale,
    )


def _with_text(activity: Activity, text: str) -> Activity:
    if activity.text == text:
        return activity
    return msgspec.structs.replace(activity, text=text)


def _readdress(activity: Activity, ref: ConversationReference, *, reply_to: str | None) -> Activity:
    """A skill's activity re-addressed to the user's conversation (spec §4 step 4)."""
    return msgspec.structs.replace(
        activity,
        channel_id=ref.channel_id,
        service_url=ref.service_url,
        conversation=ref.conversation,
        from_=ref.bot,
        recipient=ref.user,
        reply_to_id=reply_to,
        locale=activity.locale or ref.locale,
        relates_to=None,
        caller_id=None,
        extra=dict(activity.extra),
    )


def _refused_expect_replies(status: int | None) -> bool:
    """An HTTP error that says "not with expectReplies" rather than "not you". A 2xx with
    a broken body is a failure of the skill, not a refusal: no second try."""
    return status is not None and not 200 <= status <= 299 and status not in (401, 403, 404)


def _where(ref: ConversationReference) -> tuple[str, str]:
    """The user's ``serviceUrl`` and conversation id (404 when the mapping lacks them)."""
    if not ref.service_url or not ref.conversation or not ref.conversation.id:
        raise HttpError(404, "unknown_conversation", "the user conversation has no serviceUrl")
    return ref.service_url, ref.conversation.id


def _channel_failed(exc: UpstreamError) -> HttpError:
    logger.warning("the user's channel did not take the activity: %s", exc)
    return HttpError(502, "channel_failed", "the user's channel did not take the activity")


def skill_events() -> Collection[str]:
    """The events the gateway hands the root's play."""
    return ("Skill.Ended", "Skill.Cancelled", "Skill.Failed", "Skill.Event")
