"""A user's channel on loopback: what the Bot Framework Emulator does, without a window.

:class:`LoopbackChannel` posts the user's lines as ``message`` activities to a bot's
messaging endpoint. The activities carry a ``serviceUrl`` that the channel serves itself on
``127.0.0.1`` (the Connector v3 routes a bot replies through), so the bot's replies arrive
as HTTP calls and are handed to a callback as they come. With ``expect_replies`` the
activities are sent with ``deliveryMode: expectReplies`` and the replies come from the
response body instead.

``voicehook chat URL`` drives it from the terminal; the gateway's tests use it as the user.
It sends no ``Authorization`` header (``token`` sends that bearer token). It refuses bot
calls that carry one (anonymous mode) unless ``accept_tokens`` is set; then it keeps each
header in :attr:`authorizations` (tests of a root bot with an app id), unchecked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from voicehook.botframework.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    DeliveryModes,
    decode_activity,
    decode_expected_replies,
    encode_activity,
)
from voicehook.errors import HttpError

__all__ = ["LoopbackChannel", "Received", "TurnOutcome"]

logger = logging.getLogger("voicehook.chat")


@dataclass(slots=True)
class Received:
    """One activity the bot sent: how it came (``send``, ``reply``, ``update``, ``delete``,
    ``body`` for an expectReplies answer) and the activity (None for a delete)."""

    how: str
    activity: Activity | None
    conversation_id: str
    activity_id: str | None = None


@dataclass(slots=True)
class TurnOutcome:
    """What one user turn gave: the HTTP status of the POST and every activity received
    from the moment the turn was sent until it was over."""

    status: int
    received: list[Received] = field(default_factory=list)
    body: bytes = b""

    @property
    def texts(self) -> list[str]:
        """The texts of the message activities, in order."""
        return [
            r.activity.text
            for r in self.received
            if r.activity is not None and r.activity.type == "message" and r.activity.text
        ]

    @property
    def activities(self) -> list[Activity]:
        return [r.activity for r in self.received if r.activity is not None]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LoopbackChannel:
    """A channel for one user in one conversation.

    - ``bot_url``: the bot's messaging endpoint (``http://127.0.0.1:3978/api/messages``).
    - ``on_activity``: called with each :class:`Received` as it arrives (also for
      expectReplies bodies, in order).
    - ``linger``: after a turn's POST returns, how long to keep collecting replies that are
      still on their way (a bot may answer after it answered the POST).
    - ``timeout``: the limit of one POST.

    Use it as an async context manager (the Connector server runs inside it)::

        async with LoopbackChannel("http://127.0.0.1:3978/api/messages") as chat:
            outcome = await chat.say("날씨 알려줘")
            print(outcome.texts)
    """

    def __init__(
        self,
        bot_url: str,
        *,
        on_activity: Callable[[Received], None] | None = None,
        expect_replies: bool = False,
        channel_id: str = "emulator",
        conversation_id: str | None = None,
        user_id: str = "user-1",
        user_name: str = "사용자",
        bot_id: str = "bot",
        locale: str = "ko-KR",
        linger: float = 0.2,
        timeout: float = 30.0,
        accept_tokens: bool = False,
        token: str | None = None,
    ) -> None:
        if not bot_url.startswith(("http://", "https://")):
            raise ValueError(f"the bot URL needs http:// or https://, got {bot_url!r}")
        self.bot_url = bot_url
        self.on_activity = on_activity
        self.expect_replies = expect_replies
        self.channel_id = channel_id
        self.conversation_id = conversation_id or "chat-" + secrets.token_urlsafe(12)
        self.user = ChannelAccount(id=user_id, name=user_name, role="user")
        self.bot = ChannelAccount(id=bot_id, role="bot")
        self.locale = locale
        self.linger = linger
        self.timeout = timeout
        self.service_url = ""
        self.received: list[Received] = []
        self.accept_tokens = accept_tokens
        self.token = token
        self.authorizations: list[str] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._arrived = asyncio.Event()
        self._counter = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> LoopbackChannel:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Serve the Connector routes on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=1 << 20)
        base = "/v3/conversations/{conversation}/activities"
        app.router.add_post(base, self._on_send)
        app.router.add_post(base + "/{activity}", self._on_reply)
        app.router.add_put(base + "/{activity}", self._on_update)
        app.router.add_delete(base + "/{activity}", self._on_delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.service_url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ the user's side

    def message(self, text: str) -> Activity:
        """The message activity for one line the user typed."""
        return self._from_user("message", text=text)

    async def join(self) -> TurnOutcome:
        """Say that the user joined (``conversationUpdate`` with ``membersAdded``), as the
        Emulator does when it opens a conversation; many bots greet then."""
        return await self.send(
            self._from_user("conversationUpdate", members_added=[self.bot, self.user])
        )

    def _from_user(
        self,
        type_: str,
        *,
        text: str | None = None,
        members_added: list[ChannelAccount] | None = None,
    ) -> Activity:
        """A new activity from the user in this conversation, with the next id."""
        self._counter += 1
        return Activity(
            type=type_,
            id=f"{self.conversation_id}-{self._counter}",
            timestamp=_now(),
            channel_id=self.channel_id,
            service_url=self.service_url,
            from_=self.user,
            recipient=self.bot,
            conversation=ConversationAccount(id=self.conversation_id),
            locale=self.locale,
            text=text,
            members_added=members_added,
            delivery_mode=DeliveryModes.EXPECT_REPLIES if self.expect_replies else None,
        )

    async def say(self, text: str) -> TurnOutcome:
        """Send one line and return what came back during the turn."""
        return await self.send(self.message(text))

    async def send(self, activity: Activity) -> TurnOutcome:
        """Send any activity from the user (an event, a conversationUpdate, ...)."""
        if self._session is None:
            raise RuntimeError("the channel is not started (use 'async with')")
        start = len(self.received)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        async with self._session.post(
            self.bot_url,
            data=encode_activity(activity),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as resp:
            body = await resp.read()
            status = resp.status
        if activity.delivery_mode == DeliveryModes.EXPECT_REPLIES and status == 200 and body:
            try:
                replies = decode_expected_replies(body)
            except HttpError as exc:
                logger.warning("the expectReplies answer is not usable: %s", exc.message)
            else:
                for reply in replies.activities:
                    conv = reply.conversation.id if reply.conversation else None
                    self._deliver(Received("body", reply, conv or self.conversation_id))
        await self._quiet()
        return TurnOutcome(status, self.received[start:], body)

    async def _quiet(self) -> None:
        """Wait until no activity arrived for ``linger`` seconds (bounded: 20 × linger)."""
        if self.linger <= 0:
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + 20 * self.linger
        while loop.time() < end:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), self.linger)
            except TimeoutError:
                return

    # ------------------------------------------------------------------ the bot's calls

    def _deliver(self, item: Received) -> None:
        self.received.append(item)
        self._arrived.set()
        if self.on_activity is not None:
            self.on_activity(item)

    def _check(self, request: web.Request) -> None:
        header = request.headers.get("Authorization")
        if header is None:
            return
        if not self.accept_tokens:
            raise web.HTTPUnauthorized(text="this channel runs in anonymous mode")
        self.authorizations.append(header)

    async def _activity(self, request: web.Request) -> Activity:
        self._check(request)
        try:
            return decode_activity(await request.read())
        except HttpError as exc:
            raise web.HTTPBadRequest(text=exc.message) from None

    def _answer(self) -> web.Response:
        return web.json_response({"id": "chat-" + secrets.token_hex(8)})

    async def _on_send(self, request: web.Request) -> web.Response:
        activity = await self._activity(request)
        conv = request.match_info["conversation"]
        self._deliver(Received("send", activity, conv))
        return self._answer()

    async def _on_reply(self, request: web.Request) -> web.Response:
        activity = await self._activity(request)
        conv = request.match_info["conversation"]
        self._deliver(Received("reply", activity, conv, request.match_info["activity"]))
        return self._answer()

    async def _on_update(self, request: web.Request) -> web.Response:
        activity = await self._activity(request)
        conv = request.match_info["conversation"]
        self._deliver(Received("update", activity, conv, request.match_info["activity"]))
        return self._answer()

    async def _on_delete(self, request: web.Request) -> web.Response:
        self._check(request)
        conv = request.match_info["conversation"]
        self._deliver(Received("delete", None, conv, request.match_info["activity"]))
        return web.Response(status=200)
