"""Every rule of Bot Framework auth, with its exact answer (found by mutation testing).

test_auth.py covers the flows; this file pins each refusal's status, code and message, the
configuration rules, the signing-key document checks and the outbound token's cache time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from voicehook.botframework.auth import (
    ANONYMOUS_SKILL,
    BOTFRAMEWORK_ISSUERS,
    BotAuthConfig,
    Claims,
    CredentialProvider,
    JwtValidator,
    TokenError,
    credentials_for,
    password_from_env,
)
from voicehook.errors import HttpError
from voicehook.upstream import HttpClient

from .keys import (
    ROOT_APP_ID,
    SKILL_APP_ID,
    V1_ISSUER,
    V2_ISSUER,
    KeyServer,
    jwk,
    key_server,
    private_key,
    serving,
    token,
)


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(timeout=5) as client:
        yield client


@pytest.fixture
async def keys() -> AsyncIterator[KeyServer]:
    async with key_server() as server:
        yield server


def config(keys: KeyServer, **kw: Any) -> BotAuthConfig:
    base: dict[str, Any] = {
        "app_id": SKILL_APP_ID,
        "allowed_callers": (ROOT_APP_ID,),
        "openid_metadata_url": keys.metadata_url,
    }
    base.update(kw)
    return BotAuthConfig(**base)


def bearer(value: str) -> bytes:
    return f"Bearer {value}".encode()


def signed(claims: dict[str, Any], *, kid: Any = "key-1", alg: str = "RS256") -> str:
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(claims, private_key("key-1"), algorithm=alg, headers=headers)


def claims(**kw: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": SKILL_APP_ID,
        "iss": V1_ISSUER,
        "exp": now + 3600,
        "ver": "1.0",
        "appid": ROOT_APP_ID,
    }
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


async def refusal(validator: JwtValidator, header: bytes | None) -> tuple[int, str, str]:
    with pytest.raises(HttpError) as info:
        await validator.validate(header)
    err = info.value
    assert "eyJ" not in err.message  # never the token
    return err.status, err.code, err.message


# -- configuration ------------------------------------------------------------------------


def test_config_is_normalised() -> None:
    c = BotAuthConfig(app_id=" app ", allowed_callers=(" x ", "", "  ", "y"))
    assert (c.app_id, c.allowed_callers) == ("app", ("x", "y"))
    assert BotAuthConfig(app_id="  ").anonymous
    assert not c.anonymous


@pytest.mark.parametrize(
    "kw", [{"clock_skew": -1}, {"keys_ttl": 0}, {"keys_ttl": -1}, {"refresh_interval": -0.5}]
)
def test_config_refuses_negative_times(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError) as err:
        BotAuthConfig(app_id="a", **kw)
    assert str(err.value) == "clock_skew, keys_ttl and refresh_interval must not be negative"


def test_config_takes_zero_skew_and_interval() -> None:
    c = BotAuthConfig(app_id="a", clock_skew=0, refresh_interval=0, keys_ttl=0.001)
    assert (c.clock_skew, c.refresh_interval) == (0, 0)


def test_issuers_and_token_url() -> None:
    assert BotAuthConfig(app_id="a").valid_issuers == frozenset(BOTFRAMEWORK_ISSUERS)
    assert BotAuthConfig(app_id="a", tenant_id="tid").valid_issuers == frozenset(
        {
            *BOTFRAMEWORK_ISSUERS,
            "https://sts.windows.net/tid/",
            "https://login.microsoftonline.com/tid/v2.0",
            "https://login.microsoftonline.us/tid/v2.0",
        }
    )
    assert (
        BotAuthConfig(app_id="a").token_url
        == "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    )
    assert (
        BotAuthConfig(app_id="a", tenant_id="tid", token_endpoint="http://127.0.0.1:1/t").token_url
        == "http://127.0.0.1:1/t"
    )


def test_allowed_callers() -> None:
    listed = BotAuthConfig(app_id="a", allowed_callers=("x", "y"))
    assert listed.allows("x") and listed.allows("y")
    assert not listed.allows("z") and not listed.allows("")
    assert BotAuthConfig(app_id="a", allowed_callers=("x", "*")).allows("anyone")
    assert not BotAuthConfig(app_id="a").allows("x")


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", raising=False)
    monkeypatch.setenv("MicrosoftAppPassword", "sdk")
    assert password_from_env() == "sdk"
    monkeypatch.setenv("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", "ours")
    assert password_from_env() == "ours"
    both = {"VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD": "", "MicrosoftAppPassword": "sdk"}
    assert password_from_env(both) == "sdk"


def test_caller_id() -> None:
    assert Claims(app_id="x").caller_id == "urn:botframework:aadappid:x"
    assert Claims(app_id=None).caller_id is None
    assert Claims(app_id="").caller_id is None
    assert Claims(app_id="x", anonymous=True).caller_id is None


# -- inbound refusals, each with its exact answer -----------------------------------------

INVALID_AUTHORIZATION = (401, "invalid_authorization", "use Authorization: Bearer <token>")
MALFORMED = (401, "malformed_token", "the bearer token is not a JWT")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (401, "missing_authorization", "send Authorization: Bearer <token>")),
        (b"Basic abc", INVALID_AUTHORIZATION),
        (b"Bearer", INVALID_AUTHORIZATION),
        (b"Bearer a b", INVALID_AUTHORIZATION),
        (b"Bearer not-a-jwt", MALFORMED),
        (b"Bearer \xc3\xa9.e30.x", MALFORMED),
    ],
)
async def test_header_refusals(
    keys: KeyServer, http: HttpClient, header: bytes | None, expected: tuple[int, str, str]
) -> None:
    assert await refusal(JwtValidator(config(keys), http), header) == expected
    assert keys.metadata_hits == 0


async def test_the_scheme_is_case_insensitive(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys), http)
    for scheme in ("bearer", "BEARER", "Bearer"):
        claims_ = await v.validate(f"{scheme} {token()}".encode())
        assert claims_.app_id == ROOT_APP_ID


def _unsigned_rs256(head: dict[str, Any]) -> str:
    """A token whose header says RS256 but whose kid is ``head['kid']`` (any JSON value)."""
    import base64

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join((b64(json.dumps(head).encode()), b64(b"{}"), b64(b"sig")))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: jwt.encode(claims(), "k" * 32, algorithm="HS256", headers={"kid": "key-1"}),
            (401, "invalid_token", "the token's algorithm is not accepted"),
        ),
        (
            lambda: signed(claims(), kid=None),
            (401, "invalid_token", "the token names no signing key (kid)"),
        ),
        (
            lambda: signed(claims(), kid=""),
            (401, "invalid_token", "the token names no signing key (kid)"),
        ),
        # PyJWT itself refuses a kid that is not a string.
        (lambda: _unsigned_rs256({"alg": "RS256", "kid": 7}), MALFORMED),
        (
            lambda: token(kid="key-9"),
            (401, "unknown_signing_key", "the token's signing key is not published"),
        ),
        (lambda: token(exp=-600), (401, "token_expired", "the token has expired")),
        (lambda: token(nbf=600), (401, "token_not_yet_valid", "the token is not valid yet")),
        (
            lambda: token(aud="someone-else"),
            (401, "wrong_audience", "the token is not meant for this bot"),
        ),
        (
            lambda: token(iss="https://evil.example/"),
            (401, "wrong_issuer", "the token's issuer is not accepted"),
        ),
        (
            lambda: token(signer="other-key"),
            (401, "bad_signature", "the token's signature does not verify"),
        ),
        (
            lambda: signed(claims(exp=None)),
            (401, "invalid_token", "the token is not valid (MissingRequiredClaimError)"),
        ),
        (
            lambda: signed(claims(aud=None)),
            (401, "invalid_token", "the token is not valid (MissingRequiredClaimError)"),
        ),
        (
            lambda: signed(claims(iss=None)),
            (401, "invalid_token", "the token is not valid (MissingRequiredClaimError)"),
        ),
        (
            lambda: signed(claims(ver="3.0")),
            (401, "invalid_token", "the token's version (ver) is not 1.0 or 2.0"),
        ),
        (
            lambda: signed(claims(appid=None)),
            (401, "missing_caller", "the token names no caller (appid/azp)"),
        ),
        (
            lambda: signed(claims(appid="")),
            (401, "missing_caller", "the token names no caller (appid/azp)"),
        ),
        (
            lambda: signed(claims(appid=5)),
            (401, "missing_caller", "the token names no caller (appid/azp)"),
        ),
        (
            lambda: signed(claims(ver="2.0", iss=V2_ISSUER)),  # v2 reads azp, not appid
            (401, "missing_caller", "the token names no caller (appid/azp)"),
        ),
        (
            lambda: token(caller="33333333-0000-0000-0000-000000000003"),
            (403, "caller_not_allowed", "this caller is not in allowed_callers"),
        ),
    ],
)
async def test_token_refusals(
    keys: KeyServer, http: HttpClient, make: Callable[[], str], expected: tuple[int, str, str]
) -> None:
    v = JwtValidator(config(keys, refresh_interval=0), http)
    assert await refusal(v, bearer(make())) == expected


async def test_anonymous_mode_refuses_a_header(http: HttpClient) -> None:
    v = JwtValidator(BotAuthConfig(), http)
    claims_ = await v.validate(None)
    assert (claims_.app_id, claims_.anonymous, claims_.raw) == (ANONYMOUS_SKILL, True, {})
    assert await refusal(v, b"") == (
        401,
        "unexpected_authorization",
        "this bot runs in anonymous mode (no app id) and accepts only calls without an "
        "Authorization header",
    )


async def test_accepted_claims(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys), http)
    got = await v.validate(bearer(signed(claims())))
    assert (got.app_id, got.anonymous, got.audience, got.issuer, got.version) == (
        ROOT_APP_ID,
        False,
        SKILL_APP_ID,
        V1_ISSUER,
        "1.0",
    )
    assert got.raw["appid"] == ROOT_APP_ID and got.raw["aud"] == SKILL_APP_ID
    v2 = await v.validate(bearer(signed(claims(ver="2.0", iss=V2_ISSUER, azp=ROOT_APP_ID))))
    assert (v2.app_id, v2.issuer, v2.version) == (ROOT_APP_ID, V2_ISSUER, "2.0")
    no_ver = await v.validate(bearer(signed(claims(ver=None))))
    assert (no_ver.app_id, no_ver.version) == (ROOT_APP_ID, None)
    for alg in ("RS384", "RS512"):
        assert (await v.validate(bearer(signed(claims(), alg=alg)))).app_id == ROOT_APP_ID


async def test_without_require_caller(keys: KeyServer, http: HttpClient) -> None:
    """A channel-service validator: no caller claim needed, and no allow-list applies."""
    v = JwtValidator(config(keys, require_caller=False, allowed_callers=()), http)
    got = await v.validate(bearer(signed(claims(appid=None))))
    assert got.app_id is None and got.caller_id is None
    assert (await v.validate(bearer(signed(claims(appid="other"))))).app_id == "other"


# -- the signing keys: what the key documents must hold ----------------------------------


class Documents:
    """An OpenID server on 127.0.0.1 whose metadata and key set the test chooses."""

    def __init__(self) -> None:
        self.base = ""
        self.metadata: Any = None
        self.jwks: Any = {"keys": [jwk("key-1")]}
        self.delay = 0.0
        self.jwks_delay = 0.0
        self.hits = 0

    @property
    def url(self) -> str:
        return f"{self.base}/meta"


@pytest.fixture
async def docs() -> AsyncIterator[Documents]:
    state = Documents()

    async def meta(request: web.Request) -> web.Response:
        state.hits += 1
        await asyncio.sleep(state.delay)
        body = state.metadata if state.metadata is not None else {"jwks_uri": f"{state.base}/k"}
        return web.json_response(body)

    async def jwks(request: web.Request) -> web.Response:
        await asyncio.sleep(state.jwks_delay)
        return web.json_response(state.jwks)

    app = web.Application()
    app.router.add_get("/meta", meta)
    app.router.add_get("/k", jwks)
    async with serving(app) as base:
        state.base = base
        yield state


def doc_validator(docs: Documents, http: HttpClient | None, **kw: Any) -> JwtValidator:
    cfg = BotAuthConfig(
        app_id=SKILL_APP_ID, allowed_callers=("*",), openid_metadata_url=docs.url, **kw
    )
    return JwtValidator(cfg, http)


UNAVAILABLE = (503, "auth_keys_unavailable", "the signing keys cannot be fetched; try again")


@pytest.mark.parametrize(
    ("metadata", "jwks", "logged"),
    [
        ({"issuer": "x"}, None, "the OpenID metadata has no jwks_uri"),
        (["jwks_uri"], None, "the OpenID metadata has no jwks_uri"),
        ({"jwks_uri": 5}, None, "the OpenID metadata has no jwks_uri"),
        ({"jwks_uri": "ftp://127.0.0.1/k"}, None, "the OpenID metadata has no jwks_uri"),
        (None, {"keys": {"kid": "key-1"}}, "the JWKS document has no keys list"),
        (None, [jwk("key-1")], "the JWKS document has no keys list"),
        (None, {"keys": []}, "the JWKS document has no usable RSA key"),
    ],
)
async def test_bad_key_documents(
    docs: Documents,
    http: HttpClient,
    caplog: pytest.LogCaptureFixture,
    metadata: Any,
    jwks: Any,
    logged: str,
) -> None:
    docs.metadata = metadata
    if jwks is not None:
        docs.jwks = jwks
    v = doc_validator(docs, http)
    with caplog.at_level(logging.WARNING, "voicehook.botframework"):
        assert await refusal(v, bearer(token())) == UNAVAILABLE
    assert f"Bot Framework signing keys: fetch failed: {logged}" in caplog.messages
    assert v.fetches == 0


async def test_http_metadata_urls_are_allowed(docs: Documents, http: HttpClient) -> None:
    docs.metadata = {"jwks_uri": f"{docs.base}/k"}  # http:// (a local test server)
    assert (await doc_validator(docs, http).validate(bearer(token()))).app_id == ROOT_APP_ID


async def test_no_http_client(docs: Documents, caplog: pytest.LogCaptureFixture) -> None:
    v = doc_validator(docs, None)
    with caplog.at_level(logging.WARNING, "voicehook.botframework"):
        assert await refusal(v, bearer(token())) == UNAVAILABLE
    assert (
        "Bot Framework signing keys: fetch failed: JwtValidator has no HTTP client "
        "(pass the app's HttpClient)"
    ) in caplog.messages


async def test_only_usable_rsa_keys_are_kept(
    docs: Documents, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    ec_key = jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True
    )
    no_kid = {k: v for k, v in jwk("key-2").items() if k != "kid"}
    docs.jwks = {
        "keys": [
            "not an object",
            {**ec_key, "kid": "ec"},
            no_kid,
            {**jwk("key-3"), "kid": ""},
            {**jwk("key-4"), "n": 5},  # unusable: its modulus is not a string
            jwk("key-1"),
        ]
    }
    v = doc_validator(docs, http, refresh_interval=60)
    with caplog.at_level(logging.INFO, "voicehook.botframework"):
        assert (await v.validate(bearer(token()))).app_id == ROOT_APP_ID
    assert "Bot Framework signing keys: key 'key-4' is unusable, skipped" in caplog.messages
    assert "Bot Framework signing keys: 1 key(s) loaded" in caplog.messages
    assert v.fetches == 1
    for kid in ("ec", "key-2", "key-4"):
        assert (await refusal(v, bearer(token(kid=kid))))[1] == "unknown_signing_key"
    assert v.fetches == 1 and docs.hits == 1


@pytest.mark.parametrize("slow", ["metadata", "jwks"])
async def test_the_fetch_timeout_applies(docs: Documents, http: HttpClient, slow: str) -> None:
    """The key server answers after 2 s; with a 0.2 s fetch timeout the call gets a 503
    (the app client's own timeout, 5 s, would have waited for it)."""
    if slow == "metadata":
        docs.delay = 2.0
    else:
        docs.jwks_delay = 2.0
    v = doc_validator(docs, http, fetch_timeout=0.2)
    assert await refusal(v, bearer(token())) == UNAVAILABLE


async def test_an_https_jwks_uri_is_fetched(
    docs: Documents, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An https:// jwks_uri is accepted and fetched (here the port speaks plain HTTP, so the
    TLS handshake fails: a fetch error, not "no jwks_uri")."""
    https = docs.base.replace("http://", "https://") + "/k"
    docs.metadata = {"jwks_uri": https}
    v = doc_validator(docs, http)
    with caplog.at_level(logging.WARNING, "voicehook.botframework"):
        assert await refusal(v, bearer(token())) == UNAVAILABLE
    [line] = [m for m in caplog.messages if "fetch failed" in m]
    assert line.startswith(f"Bot Framework signing keys: fetch failed: GET {https} failed")


async def test_keys_are_cached_for_keys_ttl(keys: KeyServer, http: HttpClient) -> None:
    """A minute of TTL: a second call a moment later uses the cached key."""
    v = JwtValidator(config(keys, keys_ttl=60, refresh_interval=0), http)
    for _ in range(3):
        await v.validate(bearer(token()))
    assert keys.jwks_hits == 1


async def test_waiters_do_not_refetch_after_a_later_refresh(
    keys: KeyServer, http: HttpClient
) -> None:
    """Calls that queue behind a key refresh use its outcome instead of fetching again, also
    after earlier refreshes (each refresh changes the attempt count)."""
    v = JwtValidator(config(keys, refresh_interval=0), http)
    await v.validate(bearer(token()))
    await refusal(v, bearer(token(kid="key-9")))
    assert keys.jwks_hits == 2
    results = await asyncio.gather(
        *(v.validate(bearer(token(kid="key-9"))) for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, HttpError) and r.code == "unknown_signing_key" for r in results)
    assert keys.jwks_hits == 3


async def test_waiters_do_not_refetch_after_a_later_failure(
    docs: Documents, http: HttpClient
) -> None:
    docs.metadata = {"issuer": "x"}  # every fetch fails
    v = doc_validator(docs, http, refresh_interval=0)
    await refusal(v, bearer(token()))
    await refusal(v, bearer(token()))
    assert docs.hits == 2
    docs.delay = 0.1
    results = await asyncio.gather(
        *(v.validate(bearer(token())) for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, HttpError) and r.status == 503 for r in results)
    assert docs.hits == 3


async def test_concurrent_calls_share_one_failed_fetch(docs: Documents, http: HttpClient) -> None:
    docs.metadata = {"issuer": "x"}
    docs.delay = 0.1
    v = doc_validator(docs, http, refresh_interval=0)
    results = await asyncio.gather(
        *(v.validate(bearer(token())) for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, HttpError) and r.status == 503 for r in results)
    assert docs.hits == 1


async def test_fetches_counts_each_refresh(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, refresh_interval=0), http)
    await v.validate(bearer(token()))
    await refusal(v, bearer(token(kid="key-9")))
    assert v.fetches == 2 == keys.jwks_hits


async def test_a_known_key_past_its_ttl_is_used_while_refetch_is_held_back(
    keys: KeyServer, http: HttpClient
) -> None:
    """Keys past keys_ttl, the last fetch failed a moment ago: the stale key still verifies,
    an unknown kid is refused without a new fetch."""
    v = JwtValidator(config(keys, keys_ttl=0.05, refresh_interval=60), http)
    await v.validate(bearer(token()))
    await asyncio.sleep(0.1)
    keys.fail = True
    await v.validate(bearer(token()))  # the refresh fails: the stale key is used
    hits = keys.metadata_hits
    assert (await v.validate(bearer(token()))).app_id == ROOT_APP_ID
    assert (await refusal(v, bearer(token(kid="key-9"))))[1] == "unknown_signing_key"
    assert keys.metadata_hits == hits


# -- outbound tokens ----------------------------------------------------------------------


class Issuer:
    """A token endpoint on 127.0.0.1 whose answer the test chooses."""

    def __init__(self) -> None:
        self.base = ""
        self.answer: Callable[[], Awaitable[web.StreamResponse]] | None = None
        self.forms: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"{self.base}/token"


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    state = Issuer()

    async def issue(request: web.Request) -> web.StreamResponse:
        state.forms.append({k: str(v) for k, v in (await request.post()).items()})
        if state.answer is not None:
            return await state.answer()
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", issue)
    async with serving(app) as base:
        state.base = base
        yield state


def creds(issuer: Issuer, http: HttpClient, **kw: Any) -> CredentialProvider:
    cfg = BotAuthConfig(app_id=ROOT_APP_ID, app_password="s3cret", token_endpoint=issuer.url)
    return CredentialProvider(cfg, http, **kw)


def test_provider_needs_an_app_id_and_a_password() -> None:
    with pytest.raises(ValueError) as err:
        CredentialProvider(BotAuthConfig(), None)  # type: ignore[arg-type]
    assert str(err.value) == "CredentialProvider needs an app id (use AnonymousCredentials)"
    with pytest.raises(ValueError) as err:
        CredentialProvider(BotAuthConfig(app_id="a"), None)  # type: ignore[arg-type]
    assert str(err.value) == (
        "an app id is set but no app password: set VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD"
    )


async def test_credentials_for_an_app_id(http: HttpClient) -> None:
    provider = credentials_for(BotAuthConfig(app_id="a", app_password="p"), http)
    assert isinstance(provider, CredentialProvider)
    assert (provider.default_audience, provider.margin) == ("https://api.botframework.com", 300)


async def test_token_is_kept_until_margin_before_expiry(issuer: Issuer, http: HttpClient) -> None:
    p = creds(issuer, http)
    before = time.monotonic()
    assert await p.token("aud") == "tok"
    after = time.monotonic()
    # White-box: the refresh time. 3600 s minus the 300 s margin.
    value, refresh_at = p._cache["aud/.default"]
    assert value == "tok"
    assert before + 3300 <= refresh_at <= after + 3300
    assert await p.token("aud") == "tok"
    assert (p.requests, len(issuer.forms)) == (1, 1)
    assert await p.token("aud2") == "tok"
    assert (p.requests, len(issuer.forms)) == (2, 2)
    # A short-lived token: the margin is at most half its lifetime.
    short = creds(issuer, http, margin=50, default_audience="other")

    async def short_lived() -> web.Response:
        return web.json_response({"access_token": "brief", "expires_in": 60})

    issuer.answer = short_lived
    before = time.monotonic()
    assert await short.token() == "brief"
    assert issuer.forms[-1]["scope"] == "other/.default"
    refresh_at = short._cache["other/.default"][1]
    assert before + 30 <= refresh_at <= time.monotonic() + 30


def _json(body: Any, status: int = 200) -> Callable[[], Awaitable[web.Response]]:
    async def answer() -> web.Response:
        return web.json_response(body, status=status)

    return answer


@pytest.mark.parametrize(
    ("answer", "message", "status"),
    [
        (_json({"error": "invalid_client"}, 401), "answered HTTP 401 (invalid_client)", 401),
        (_json({"message": "x"}, 500), "answered HTTP 500 (None)", 500),
        (_json(["tok"]), "answered HTTP 200 (None)", 200),
        (_json({"expires_in": 3600}), ": no access_token/expires_in in the answer", None),
        (_json({"access_token": "", "expires_in": 3600}), ": no access_token/expires_in", None),
        (_json({"access_token": 5, "expires_in": 3600}), ": no access_token/expires_in", None),
        (_json({"access_token": "t"}), ": no access_token/expires_in in the answer", None),
        (_json({"access_token": "t", "expires_in": 0}), ": no access_token/expires_in", None),
        (_json({"access_token": "t", "expires_in": None}), ": no access_token/expires_in", None),
        (_json({"access_token": "t", "expires_in": "x"}), ": no access_token/expires_in", None),
    ],
)
async def test_outbound_token_refusals(
    issuer: Issuer,
    http: HttpClient,
    answer: Callable[[], Awaitable[web.Response]],
    message: str,
    status: int | None,
) -> None:
    issuer.answer = answer
    with pytest.raises(TokenError) as err:
        await creds(issuer, http).token()
    assert str(err.value).startswith(f"token request to {issuer.url}")
    assert message in str(err.value)
    assert err.value.status == status
    assert "s3cret" not in str(err.value)


async def test_token_answer_not_json(issuer: Issuer, http: HttpClient) -> None:
    async def text() -> web.Response:
        return web.Response(text="<html>", content_type="text/html")

    issuer.answer = text
    with pytest.raises(TokenError) as err:
        await creds(issuer, http).token()
    assert str(err.value) == f"token request to {issuer.url} failed: JSONDecodeError"


async def test_token_request_times_out(issuer: Issuer, http: HttpClient) -> None:
    """fetch_timeout bounds the token request (the client's own timeout is 5 s)."""

    async def slow() -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"access_token": "late", "expires_in": 3600})

    issuer.answer = slow
    cfg = BotAuthConfig(
        app_id=ROOT_APP_ID, app_password="s", token_endpoint=issuer.url, fetch_timeout=0.2
    )
    with pytest.raises(TokenError) as err:
        await CredentialProvider(cfg, http).token()
    assert str(err.value) == f"token request to {issuer.url} timed out"


async def test_audiences_do_not_wait_for_each_other(issuer: Issuer, http: HttpClient) -> None:
    """One lock per audience: a slow token for one audience does not hold up another."""
    in_flight = 0
    most = 0

    async def slow() -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.2)
        in_flight -= 1
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    issuer.answer = slow
    p = creds(issuer, http)
    assert await asyncio.gather(p.token("a"), p.token("b"), p.token("a")) == ["tok"] * 3
    assert most == 2  # "a" and "b" at once; the second "a" waited for the first
    assert p.requests == 2
