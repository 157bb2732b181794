"""Bot Framework authentication: inbound bot-to-bot JWTs and outbound tokens.

Inbound (:class:`JwtValidator`), what a skill or a skill host checks on every call:

- ``Authorization: Bearer <JWT>``, signed with RS256/384/512 by a key from the OpenID
  metadata's ``jwks_uri``. Keys are fetched with the app's aiohttp client, cached for
  ``keys_ttl`` and fetched again when a token names an unknown ``kid`` (key rotation), at
  most once per ``refresh_interval`` so random ``kid`` values cannot make us hammer the key
  server. When a fetch fails, the cached keys stay in use (even past ``keys_ttl``) and the
  next fetch waits ``refresh_interval`` too;
- ``exp`` / ``nbf`` with ``clock_skew`` seconds of tolerance; ``iss`` in the issuer list;
  ``aud`` = our own app id;
- the caller's app id: the ``appid`` claim when ``ver`` is ``1.0`` (or missing), ``azp``
  when ``ver`` is ``2.0``; it must be in ``allowed_callers`` (``"*"`` allows any). An empty
  list denies every caller.

**Anonymous mode** (no app id, for local development, like the SDK samples): only calls
*without* an ``Authorization`` header are accepted; a call with one is refused (a token
cannot be checked without an app id to check its audience against). The caller is
``AnonymousSkill``.

Outbound (:class:`CredentialProvider`): the OAuth client-credentials grant against the
token endpoint, one token per audience (``<app id>/.default``), cached until shortly before
it expires. :class:`AnonymousCredentials` gives no token, so no header is sent.

Every refusal is an :class:`~voicehook.errors.HttpError` (401 for a bad or missing token,
403 for a valid token from a caller not in the list, 503 when the signing keys cannot be
fetched and none are cached). The messages never contain the token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import aiohttp
import jwt

from voicehook.errors import HttpError
from voicehook.upstream import HttpClient, UpstreamError

__all__ = [
    "ANONYMOUS_SKILL",
    "ANONYMOUS_WARNING",
    "BOTFRAMEWORK_ISSUERS",
    "CHANNEL_AUDIENCE",
    "DEFAULT_OPENID_METADATA_URL",
    "AnonymousCredentials",
    "BotAuthConfig",
    "Claims",
    "CredentialProvider",
    "Credentials",
    "JwtValidator",
    "TokenError",
    "credentials_for",
    "password_from_env",
]

logger = logging.getLogger("voicehook.botframework")

#: The caller's app id in anonymous mode (the SDK's name for it).
ANONYMOUS_SKILL: Final = "AnonymousSkill"
#: The audience of tokens for the Bot Framework channels (public Azure).
CHANNEL_AUDIENCE: Final = "https://api.botframework.com"
#: Where bot-to-bot tokens' signing keys are published (public Azure).
DEFAULT_OPENID_METADATA_URL: Final = (
    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
)
#: The issuers of bot-to-bot tokens: v1 and v2 of the botframework.com tenant and of the
#: second tenant the SDK accepts, public and US Gov clouds.
BOTFRAMEWORK_ISSUERS: Final = (
    "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
    "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0",
    "https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/",
    "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0",
    "https://sts.windows.net/cab8a31a-1906-4287-a0d8-4eef66b95f6e/",
    "https://login.microsoftonline.us/cab8a31a-1906-4287-a0d8-4eef66b95f6e/v2.0",
)
ANONYMOUS_WARNING: Final = (
    "Bot Framework auth is OFF (no app id): anonymous mode accepts only calls without an "
    "Authorization header, from anyone who can reach this port. Use it for local development "
    "only; set an app id (and the password in the environment) for anything else."
)
_ALGORITHMS: Final = ("RS256", "RS384", "RS512")


def _tenant_issuers(tenant: str) -> tuple[str, ...]:
    return (
        f"https://sts.windows.net/{tenant}/",
        f"https://login.microsoftonline.com/{tenant}/v2.0",
        f"https://login.microsoftonline.us/{tenant}/v2.0",
    )


@dataclass(frozen=True, slots=True)
class BotAuthConfig:
    """How a bot authenticates, in and out.

    - ``app_id``: our Microsoft app id; empty = anonymous mode.
    - ``app_password``: the client secret for outbound tokens (read it from the environment
      with :func:`password_from_env`; never put it in a file under version control).
    - ``tenant_id``: a single-tenant app's tenant: adds its issuers, and outbound tokens come
      from it instead of ``botframework.com``.
    - ``allowed_callers``: app ids allowed to call us, or ``"*"``; empty denies all.
    - ``issuers``: accepted ``iss`` values (the tenant's are added).
    - ``openid_metadata_url``: where the signing keys are published.
    - ``token_endpoint``: the client-credentials endpoint (default from the tenant).
    - ``clock_skew``: seconds of tolerance on ``exp`` / ``nbf``.
    - ``keys_ttl``: seconds the signing keys are cached.
    - ``refresh_interval``: the least seconds between key fetches caused by an unknown ``kid``.
    - ``require_caller``: demand an ``appid``/``azp`` claim (bot-to-bot tokens have one; turn
      it off only for a validator of channel-service tokens, which carry none).
    """

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    tenant_id: str = ""
    allowed_callers: tuple[str, ...] = ()
    issuers: tuple[str, ...] = BOTFRAMEWORK_ISSUERS
    openid_metadata_url: str = DEFAULT_OPENID_METADATA_URL
    token_endpoint: str = ""
    clock_skew: float = 300.0
    keys_ttl: float = 24 * 3600.0
    refresh_interval: float = 30.0
    require_caller: bool = True
    fetch_timeout: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_id", self.app_id.strip())
        object.__setattr__(
            self, "allowed_callers", tuple(c.strip() for c in self.allowed_callers if c.strip())
        )
        if self.clock_skew < 0 or self.keys_ttl <= 0 or self.refresh_interval < 0:
            raise ValueError("clock_skew, keys_ttl and refresh_interval must not be negative")

    @property
    def anonymous(self) -> bool:
        """True when no app id is set: no token checks, no tokens sent."""
        return not self.app_id

    @property
    def valid_issuers(self) -> frozenset[str]:
        extra = _tenant_issuers(self.tenant_id) if self.tenant_id else ()
        return frozenset((*self.issuers, *extra))

    @property
    def token_url(self) -> str:
        if self.token_endpoint:
            return self.token_endpoint
        tenant = self.tenant_id or "botframework.com"
        return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"

    def allows(self, caller: str) -> bool:
        return "*" in self.allowed_callers or caller in self.allowed_callers


def password_from_env(env: Mapping[str, str] | None = None) -> str:
    """The app password: ``VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD``, else the SDK's
    ``MicrosoftAppPassword``; empty when neither is set."""
    env = os.environ if env is None else env
    return env.get("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD") or env.get("MicrosoftAppPassword", "")


@dataclass(frozen=True, slots=True)
class Claims:
    """Who called, after validation.

    - ``app_id``: the caller's app id (``appid``/``azp``), ``AnonymousSkill`` in anonymous
      mode.
    - ``anonymous``: True when no token was checked.
    - ``raw``: every claim of the token (empty in anonymous mode).
    """

    app_id: str | None
    anonymous: bool = False
    audience: str | None = None
    issuer: str | None = None
    version: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def caller_id(self) -> str | None:
        """The turn's ``callerId``: ``urn:botframework:aadappid:<app id>``, or None in
        anonymous mode (as the SDK skill does)."""
        if self.anonymous or not self.app_id:
            return None
        return f"urn:botframework:aadappid:{self.app_id}"


ANONYMOUS_CLAIMS: Final = Claims(app_id=ANONYMOUS_SKILL, anonymous=True)


def _unauthorized(code: str, message: str) -> HttpError:
    return HttpError(401, code, message)


def _keys_unavailable() -> HttpError:
    return HttpError(503, "auth_keys_unavailable", "the signing keys cannot be fetched; try again")


class JwtValidator:
    """Checks the ``Authorization`` header of inbound calls (see the module doc).

    ``http`` is the app's client (opened in the lifespan); it is used only to fetch keys.
    """

    def __init__(self, config: BotAuthConfig, http: HttpClient | None = None) -> None:
        self.config = config
        self.http = http
        self._issuers = config.valid_issuers
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._attempts = 0
        self._last_failed = False
        self._lock = asyncio.Lock()
        #: How many times the keys were fetched (for logs and tests).
        self.fetches = 0

    async def validate(self, header: bytes | None) -> Claims:
        """The caller's claims, or :class:`HttpError` 401/403/503."""
        config = self.config
        if config.anonymous:
            if header is None:
                return ANONYMOUS_CLAIMS
            raise _unauthorized(
                "unexpected_authorization",
                "this bot runs in anonymous mode (no app id) and accepts only calls "
                "without an Authorization header",
            )
        if header is None:
            raise _unauthorized("missing_authorization", "send Authorization: Bearer <token>")
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            raise _unauthorized("invalid_authorization", "use Authorization: Bearer <token>")
        try:
            token = parts[1].decode("ascii")
            head = jwt.get_unverified_header(token)
        except (UnicodeDecodeError, jwt.InvalidTokenError):
            raise _unauthorized("malformed_token", "the bearer token is not a JWT") from None
        alg = head.get("alg")
        if alg not in _ALGORITHMS:
            raise _unauthorized("invalid_token", "the token's algorithm is not accepted")
        kid = head.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _unauthorized("invalid_token", "the token names no signing key (kid)")
        key = await self._key(kid)
        if key is None:
            raise _unauthorized("unknown_signing_key", "the token's signing key is not published")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=config.app_id,
                issuer=self._issuers,
                leeway=config.clock_skew,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token_expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _unauthorized("token_not_yet_valid", "the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("wrong_audience", "the token is not meant for this bot") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("wrong_issuer", "the token's issuer is not accepted") from None
        except jwt.InvalidSignatureError:
            raise _unauthorized("bad_signature", "the token's signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(
                "invalid_token", f"the token is not valid ({type(exc).__name__})"
            ) from None
        version = claims.get("ver")
        if version is None or version == "1.0":
            caller = claims.get("appid")
        elif version == "2.0":
            caller = claims.get("azp")
        else:
            raise _unauthorized("invalid_token", "the token's version (ver) is not 1.0 or 2.0")
        if not isinstance(caller, str) or not caller:
            if config.require_caller:
                raise _unauthorized("missing_caller", "the token names no caller (appid/azp)")
            caller = None
        if config.require_caller and caller is not None and not config.allows(caller):
            raise HttpError(403, "caller_not_allowed", "this caller is not in allowed_callers")
        return Claims(
            app_id=caller,
            audience=config.app_id,
            issuer=claims.get("iss"),
            version=version if isinstance(version, str) else None,
            raw=claims,
        )

    async def _key(self, kid: str) -> Any:
        now = time.monotonic()
        fresh = self._fetched_at is not None and now - self._fetched_at < self.config.keys_ttl
        key = self._keys.get(kid)
        if key is not None and fresh:
            return key
        last = self._last_attempt
        if last is not None and now - last < self.config.refresh_interval:
            if fresh:
                return None  # an unknown kid, and the keys were fetched a moment ago
            if self._last_failed:  # the key server failed a moment ago: do not hammer it
                if not self._keys:
                    raise _keys_unavailable()
                return key  # the stale key, if we have it
        seen = self._attempts
        async with self._lock:
            if self._attempts == seen:
                await self._refresh()
            elif not self._keys:  # another call tried while we waited, and failed
                raise _keys_unavailable()
            return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            keys = await self._fetch()
        except (UpstreamError, ValueError, jwt.PyJWKError) as exc:
            self._attempts += 1
            self._last_failed = True
            logger.warning("Bot Framework signing keys: fetch failed: %s", exc)
            if not self._keys:
                raise _keys_unavailable() from None
            return  # keep the keys we have
        self._keys = keys
        self._attempts += 1
        self._last_failed = False
        self._fetched_at = time.monotonic()
        self.fetches += 1
        logger.info("Bot Framework signing keys: %d key(s) loaded", len(keys))

    async def _fetch(self) -> dict[str, Any]:
        if self.http is None:
            raise ValueError("JwtValidator has no HTTP client (pass the app's HttpClient)")
        timeout = self.config.fetch_timeout
        meta = await self.http.get_json(self.config.openid_metadata_url, timeout=timeout)
        uri = meta.get("jwks_uri") if isinstance(meta, dict) else None
        if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
            raise ValueError("the OpenID metadata has no jwks_uri")
        data = await self.http.get_json(uri, timeout=timeout)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError("the JWKS document has no keys list")
        keys: dict[str, Any] = {}
        for item in data["keys"]:
            if not isinstance(item, dict) or item.get("kty") != "RSA":
                continue
            kid = item.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = jwt.PyJWK.from_dict(item, algorithm="RS256").key
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                # InvalidKeyError (a bad modulus, say) is not a PyJWKError: one broken key
                # must not turn every call into a 500.
                logger.warning("Bot Framework signing keys: key %r is unusable, skipped", kid)
        if not keys:
            raise ValueError("the JWKS document has no usable RSA key")
        return keys


class TokenError(UpstreamError):
    """An outbound token could not be obtained."""


class Credentials(Protocol):
    """Gives the bearer token for calls to another bot or a channel (None: send none)."""

    async def token(self, audience: str | None = None) -> str | None: ...


class AnonymousCredentials:
    """Anonymous mode: never a token, so no ``Authorization`` header is sent."""

    async def token(self, audience: str | None = None) -> str | None:
        return None


class CredentialProvider:
    """Client-credentials tokens for our app id, one per audience, cached until expiry.

    ``audience`` is the app id of the bot we call (a skill, or the root when a skill calls
    back) or :data:`CHANNEL_AUDIENCE`; the scope asked for is ``<audience>/.default``. A
    token is reused until ``margin`` seconds (at most half its lifetime) before it expires.
    Concurrent callers share one request per audience.
    """

    def __init__(
        self,
        config: BotAuthConfig,
        http: HttpClient,
        *,
        default_audience: str = CHANNEL_AUDIENCE,
        margin: float = 300.0,
    ) -> None:
        if config.anonymous:
            raise ValueError("CredentialProvider needs an app id (use AnonymousCredentials)")
        if not config.app_password:
            raise ValueError(
                "an app id is set but no app password: set VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD"
            )
        self.config = config
        self.http = http
        self.default_audience = default_audience
        self.margin = margin
        self._cache: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: How many tokens were requested (for logs and tests).
        self.requests = 0

    async def token(self, audience: str | None = None) -> str | None:
        scope = f"{audience or self.default_audience}/.default"
        cached = self._cache.get(scope)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            cached = self._cache.get(scope)
            if cached is not None and time.monotonic() < cached[1]:
                return cached[0]
            value, refresh_at = await self._request(scope)
            self._cache[scope] = (value, refresh_at)
            return value

    async def _request(self, scope: str) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.app_id,
            "client_secret": self.config.app_password,
            "scope": scope,
        }
        url = self.config.token_url
        started = time.monotonic()
        self.requests += 1
        try:
            async with self.http.session.post(
                url, data=form, timeout=aiohttp.ClientTimeout(total=self.config.fetch_timeout)
            ) as resp:
                status = resp.status
                body = await resp.json(content_type=None)
        except TimeoutError:
            raise TokenError(f"token request to {url} timed out") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise TokenError(f"token request to {url} failed: {type(exc).__name__}") from None
        if status != 200 or not isinstance(body, dict):
            # The error body names the problem (AADSTS codes) and never holds the secret.
            detail = body.get("error") if isinstance(body, dict) else None
            raise TokenError(
                f"token request to {url} answered HTTP {status} ({detail})", status=status
            )
        value = body.get("access_token")
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        if not isinstance(value, str) or not value or lifetime <= 0:
            raise TokenError(f"token request to {url}: no access_token/expires_in in the answer")
        margin = min(self.margin, lifetime / 2)
        return value, started + lifetime - margin


def credentials_for(config: BotAuthConfig, http: HttpClient) -> Credentials:
    """:class:`AnonymousCredentials` in anonymous mode, else a :class:`CredentialProvider`."""
    if config.anonymous:
        return AnonymousCredentials()
    return CredentialProvider(config, http)
