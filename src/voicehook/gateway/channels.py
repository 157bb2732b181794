"""The gateway's two HTTP surfaces as channels behind the server's route table.

- :class:`MessagingChannel` (default ``POST /api/messages``): the user's channel posts
  activities here.
- :class:`SkillHostChannel` (default base ``/api/skills``): the Channel API (Connector v3)
  that skills call back (spec §1.1):

  ============================================================  ==================
  ``POST   /v3/conversations/{id}/activities``                   SendToConversation
  ``POST   /v3/conversations/{id}/activities/{activityId}``      ReplyToActivity
  ``PUT    /v3/conversations/{id}/activities/{activityId}``      UpdateActivity
  ``DELETE /v3/conversations/{id}/activities/{activityId}``      DeleteActivity
  ``GET    /v3/conversations/{id}/members``                      GetConversationMembers
  ``GET    /v3/conversations/{id}/members/{memberId}``           GetConversationMember
  ============================================================  ==================

  Every other Connector route answers 501; an unknown conversation id 404. The server
  hands over the path already percent-decoded (skills encode ids with ``safe=''``).

Both authenticate first: see :class:`Authenticator`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Protocol

from voicehook.botframework.activity import decode_activity
from voicehook.errors import HttpError
from voicehook.gateway.root import RootBot
from voicehook.http import Answer, HttpRequest
from voicehook.store import StoreError

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = [
    "AnonymousAuthenticator",
    "Authenticator",
    "MessagingChannel",
    "Parts",
    "SkillHostChannel",
]

logger = logging.getLogger("voicehook.gateway")


class Parts(Protocol):
    """What the channels need, ready after the app's startup (see ``gateway.service``)."""

    @property
    def bot(self) -> RootBot: ...

    @property
    def auth(self) -> Authenticator: ...

    @property
    def channel_auth(self) -> Authenticator: ...

    async def startup(self, app: AppContext) -> None: ...

    async def shutdown(self, app: AppContext) -> None: ...


class Authenticator(Protocol):
    """Checks the ``Authorization`` header of an inbound call; raises HttpError 401/403."""

    async def check(self, authorization: bytes | None) -> str | None:
        """Returns the caller's app id (None in anonymous mode)."""
        ...


class AnonymousAuthenticator:
    """Anonymous mode (no app id configured): only calls *without* an Authorization header
    are accepted (spec §5.2: a receiver with auth disabled must not trust any token)."""

    async def check(self, authorization: bytes | None) -> str | None:
        if authorization is not None:
            raise HttpError(
                401,
                "unexpected_credentials",
                "this gateway runs in anonymous mode and takes no Authorization header",
            )
        return None


def _json(value: object, *, label: str) -> Answer:
    return Answer(json.dumps(value, ensure_ascii=False).encode(), label=label, result_code="200")


class MessagingChannel:
    """``POST {messaging_path}``: the user's activities."""

    name = "botframework-gateway"
    methods = frozenset({"POST"})

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    async def handle(self, request: HttpRequest) -> Answer:
        if request.path not in ("", "/"):
            raise HttpError(404, "not_found", "no such route")
        await self.parts.channel_auth.check(request.header(b"authorization"))
        activity = decode_activity(request.body)
        try:
            status, body = await self.parts.bot.on_user_activity(activity)
        except StoreError as exc:
            raise _store_down(exc) from None
        if not body:
            return Answer(b"", status=status, label=activity.type, result_code=str(status))
        return Answer(body, status=status, label=activity.type, result_code=str(status))

    async def startup(self, app: AppContext) -> None:
        await self.parts.startup(app)

    async def shutdown(self, app: AppContext) -> None:
        await self.parts.shutdown(app)


_ROUTE = re.compile(
    r"^/v3/conversations/(?P<conv>[^/]+)"
    r"(?:/(?P<what>activities|members|pagedmembers|attachments)"
    r"(?:/(?P<item>[^/]+)(?:/(?P<tail>members))?)?)?/?$"
)


class SkillHostChannel:
    """``{skill_host_path}/v3/conversations/...``: the skills' callbacks."""

    name = "botframework-skill-host"
    methods = frozenset({"GET", "POST", "PUT", "DELETE"})

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    async def handle(self, request: HttpRequest) -> Answer:
        await self.parts.auth.check(request.header(b"authorization"))
        try:
            return await self._handle(request, self.parts.bot)
        except StoreError as exc:
            raise _store_down(exc) from None

    async def _handle(self, request: HttpRequest, bot: RootBot) -> Answer:
        match = _ROUTE.match(request.path)
        method = request.method
        if match is None:
            if request.path in ("", "/", "/v3/conversations") and method in ("GET", "POST"):
                return _not_implemented("CreateConversation / GetConversations")
            raise HttpError(404, "not_found", "no such Channel API route")
        conv = match["conv"]
        what, item, tail = match["what"], match["item"], match["tail"]
        if what == "activities" and tail is None:
            if method == "POST" and item is None:
                return await self._post(bot, request, conv, None)
            if method == "POST" and item == "history":
                return _not_implemented("SendConversationHistory")
            if method == "POST":
                return await self._post(bot, request, conv, item)
            if method == "PUT" and item is not None:
                activity = decode_activity(request.body)
                new_id = await bot.update_activity(conv, item, activity)
                return _json({"id": new_id}, label="UpdateActivity")
            if method == "DELETE" and item is not None:
                await bot.delete_activity(conv, item)
                return Answer(b"", status=200, label="DeleteActivity")
        if what == "members" and method == "GET":
            members = await bot.members(conv)
            if item is None:
                return _json(members, label="GetConversationMembers")
            found = next((m for m in members if m.get("id") == item), None)
            if found is None:
                raise HttpError(404, "unknown_member", "no such member in this conversation")
            return _json(found, label="GetConversationMember")
        return _not_implemented(f"{method} {what or ''}".strip())

    async def _post(
        self, bot: RootBot, request: HttpRequest, conv: str, reply_to: str | None
    ) -> Answer:
        activity = decode_activity(request.body)
        new_id = await bot.on_skill_activity(conv, activity, reply_to)
        label = "ReplyToActivity" if reply_to else "SendToConversation"
        return _json({"id": new_id}, label=label)

    async def startup(self, app: AppContext) -> None:
        await self.parts.startup(app)

    async def shutdown(self, app: AppContext) -> None:
        await self.parts.shutdown(app)


def _store_down(exc: StoreError) -> HttpError:
    logger.error("the gateway's store failed: %s", exc)
    return HttpError(503, "store_unavailable", "the conversation state cannot be reached")


def _not_implemented(what: str) -> Answer:
    body = json.dumps(
        {"error": {"code": "not_implemented", "message": f"{what} is not implemented"}}
    ).encode()
    return Answer(body, status=501, label="not_implemented", result_code="501")
