"""The gateway's parts, opened in the app's lifespan and shared by its two channels.

``voicehook gateway CONFIG`` builds one :class:`Gateway` and mounts its channels next to the
server's own routes::

    gateway = Gateway(config, lambda ctx: DialogEngine(definition, PlayCaller(play, ctx)))
    routes = gateway.routes()           # messaging (exact) + skill host (tree)
    app = create_app(root_play, settings, routes=routes)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from voicehook.botframework.auth import (
    AnonymousCredentials,
    BotAuthConfig,
    Claims,
    Credentials,
    JwtValidator,
    credentials_for,
    password_from_env,
)
from voicehook.botframework.connector import ConnectorClient
from voicehook.dialog.engine import DialogEngine
from voicehook.errors import HttpError
from voicehook.gateway.channels import (
    AnonymousAuthenticator,
    Authenticator,
    MessagingChannel,
    SkillHostChannel,
)
from voicehook.gateway.config import GatewayConfig
from voicehook.gateway.conversations import ConversationIdFactory
from voicehook.gateway.play import DialogRootPlay
from voicehook.gateway.root import RootBot

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = ["Gateway", "JwtAuthenticator"]

logger = logging.getLogger("voicehook.gateway")

#: The issuer of the user's channel's own tokens (the Bot Connector).
CHANNEL_ISSUER = "https://api.botframework.com"


class JwtAuthenticator:
    """Bot-to-bot JWT validation (spec §5.1) with the allowed-callers list."""

    def __init__(self, validator: JwtValidator) -> None:
        self.validator = validator

    async def check(self, authorization: bytes | None) -> str | None:
        claims: Claims = await self.validator.validate(authorization)
        return claims.app_id


class Gateway:
    """The root bot's parts: config, the root play's engine, auth, and (after startup) the
    :class:`RootBot` on the app's store and HTTP client."""

    def __init__(self, config: GatewayConfig, engine: Callable[[AppContext], DialogEngine]) -> None:
        self.config = config
        self._engine_factory = engine
        self.engine: DialogEngine | None = None
        auth = BotAuthConfig(
            app_id=config.app_id,
            app_password=password_from_env() if config.app_id else "",
            allowed_callers=config.allowed_callers,
            token_endpoint=config.token_endpoint or "",
        )
        if config.openid_metadata_url:
            auth = dataclasses.replace(auth, openid_metadata_url=config.openid_metadata_url)
        self.auth_config = auth
        # The user's channel signs with the Bot Connector's keys; its tokens name no caller.
        self.channel_auth_config = dataclasses.replace(
            auth,
            issuers=(CHANNEL_ISSUER,),
            require_caller=False,
            openid_metadata_url=config.channel_openid_metadata_url,
        )
        self.messaging = MessagingChannel(self)
        self.skill_host = SkillHostChannel(self)
        self._bot: RootBot | None = None
        self._auth: Authenticator | None = None
        self._channel_auth: Authenticator | None = None
        self._starts = 0

    @property
    def bot(self) -> RootBot:
        if self._bot is None:
            raise HttpError(503, "not_started", "the gateway is starting")
        return self._bot

    @property
    def auth(self) -> Authenticator:
        if self._auth is None:
            raise HttpError(503, "not_started", "the gateway is starting")
        return self._auth

    @property
    def channel_auth(self) -> Authenticator:
        """Auth of the messaging endpoint (the user's channel)."""
        if self._channel_auth is None:
            raise HttpError(503, "not_started", "the gateway is starting")
        return self._channel_auth

    async def startup(self, app: AppContext) -> None:
        """Called by both channels; the first call builds the parts."""
        self._starts += 1
        if self._bot is not None:
            return
        if app.store is None:
            raise RuntimeError("the gateway needs a store (set 'store' in the config)")
        if app.http is None:
            raise RuntimeError("the gateway needs the app's HTTP client")
        await app.http.open()
        config = self.config
        if self.auth_config.anonymous:
            logger.warning(
                "gateway %s runs in ANONYMOUS mode (no app_id): it accepts only calls without "
                "an Authorization header and sends no tokens; use this for local development",
                config.name,
            )
            self._auth = AnonymousAuthenticator()
            self._channel_auth = self._auth
            tokens = None
            credentials: Credentials = AnonymousCredentials()
        else:
            self._auth = JwtAuthenticator(JwtValidator(self.auth_config, app.http))
            self._channel_auth = JwtAuthenticator(JwtValidator(self.channel_auth_config, app.http))
            credentials = credentials_for(self.auth_config, app.http)

            async def tokens_for(audience: str) -> str | None:
                return await credentials.token(audience)

            tokens = tokens_for
        ids = ConversationIdFactory(app.store, name=config.name, ttl=config.state_ttl)
        self.engine = self._engine_factory(app)
        play = DialogRootPlay(self.engine, app.store, ttl=config.state_ttl)
        self._bot = RootBot(
            config,
            play,
            ids,
            app.http.session,
            ConnectorClient(app.http, credentials, timeout=config.timeout),
            tokens=tokens,
        )

    async def shutdown(self, app: AppContext) -> None:
        self._starts -= 1
        if self._starts > 0 or self._bot is None:
            return
        self._bot = None
        self._auth = None
        self._channel_auth = None
        if self.engine is not None:
            await self.engine.aclose()
            self.engine = None
