"""The skill client: forwards a user's activity to a skill (spec §2).

:func:`rewrite_for_skill` makes the copy a skill receives; :class:`SkillClient` POSTs it with
``x-ms-conversation-id`` and the bearer token (none in anonymous mode) and reads the answer:

- normal delivery: any 2xx, an empty body is fine; the skill's replies arrived as callbacks
  on the skill host while the POST was open;
- ``expectReplies``: ``{"activities": [...]}`` in the body;
- ``invoke``: the HTTP status and the JSON body are the invoke response.

It never raises for transport problems: a :class:`SkillReply` says what happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec

from voicehook.botframework.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    decode_expected_replies,
    encode_activity,
)
from voicehook.errors import HttpError
from voicehook.gateway.config import SkillConfig

__all__ = ["SkillClient", "SkillReply", "TokenSource", "rewrite_for_skill"]

logger = logging.getLogger("voicehook.gateway")

#: ``async (audience) -> token or None``: the bearer token for a skill's app id.
TokenSource = Callable[[str], Awaitable[str | None]]


def rewrite_for_skill(
    activity: Activity, skill_conversation_id: str, host_endpoint: str
) -> Activity:
    """The copy of ``activity`` a skill receives (spec §2 step 2).

    ``relatesTo`` holds where the user is; ``conversation.id`` is the skill conversation id
    (the other conversation fields stay); ``serviceUrl`` is the gateway's skill host;
    ``recipient.role`` is ``skill``; ``callerId`` is never sent. Everything else is kept,
    unknown fields included.
    """
    conv = activity.conversation or ConversationAccount()
    relates = ConversationReference(
        activity_id=activity.id,
        channel_id=activity.channel_id,
        service_url=activity.service_url,
        conversation=ConversationAccount(
            id=conv.id,
            name=conv.name,
            conversation_type=conv.conversation_type,
            aad_object_id=conv.aad_object_id,
            is_group=conv.is_group,
            role=conv.role,
            tenant_id=conv.tenant_id,
            properties=conv.properties,
        ),
        locale=activity.locale,
    )
    recipient = activity.recipient or ChannelAccount()
    return msgspec.structs.replace(
        activity,
        relates_to=relates,
        conversation=msgspec.structs.replace(conv, id=skill_conversation_id),
        service_url=host_endpoint,
        recipient=msgspec.structs.replace(recipient, role="skill"),
        caller_id=None,
        extra=dict(activity.extra),
    )


class SkillReply(msgspec.Struct):
    """How a POST to a skill went.

    ``ok``: a 2xx came back. ``status`` / ``body``: the HTTP answer (``status`` None when no
    answer came). ``activities``: the expectReplies body (None when not asked or not
    usable). ``error``: why it failed, for the log. ``elapsed_ms``: the POST's time.
    """

    ok: bool
    status: int | None = None
    body: bytes = b""
    activities: list[Activity] | None = None
    error: str | None = None
    elapsed_ms: float = 0.0


class SkillClient:
    """POSTs activities to skills over one aiohttp session (opened by the caller)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tokens: TokenSource | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.timeout = timeout

    async def post(
        self, skill: SkillConfig, activity: Activity, skill_conversation_id: str
    ) -> SkillReply:
        """Send ``activity`` (already rewritten) to ``skill``."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-conversation-id": skill_conversation_id,
        }
        if skill.app_id and self.tokens is not None:
            token = await self.tokens(skill.app_id)
            if token:
                headers["Authorization"] = f"Bearer {token}"
        limit = skill.timeout or self.timeout
        start = time.perf_counter()
        try:
            async with self.session.post(
                skill.endpoint,
                data=encode_activity(activity),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError:
            return SkillReply(False, error=f"no answer within {limit:g} s", elapsed_ms=_ms(start))
        except (aiohttp.ClientError, OSError) as exc:
            return SkillReply(False, error=f"{type(exc).__name__}: {exc}", elapsed_ms=_ms(start))
        elapsed = _ms(start)
        if not 200 <= status <= 299:
            return SkillReply(False, status, body, error=f"HTTP {status}", elapsed_ms=elapsed)
        reply = SkillReply(True, status, body, elapsed_ms=elapsed)
        if activity.delivery_mode == "expectReplies" and activity.type != "invoke":
            if not body.strip():
                reply.activities = []
            else:
                try:
                    reply.activities = decode_expected_replies(body).activities
                except HttpError as exc:
                    reply.ok = False
                    reply.error = f"the expectReplies answer is not usable: {exc.message}"
        return reply


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
