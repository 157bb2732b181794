"""Inbound JWT validation against a local OpenID/JWKS server, and outbound tokens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.botframework.auth import (
    ANONYMOUS_SKILL,
    AnonymousCredentials,
    BotAuthConfig,
    CredentialProvider,
    JwtValidator,
    TokenError,
    credentials_for,
    password_from_env,
)
from voicehook.errors import HttpError
from voicehook.upstream import HttpClient

from .keys import ROOT_APP_ID, SKILL_APP_ID, V2_ISSUER, KeyServer, key_server, serving, token


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


async def refused(validator: JwtValidator, header: bytes | None) -> HttpError:
    with pytest.raises(HttpError) as info:
        await validator.validate(header)
    return info.value


async def test_valid_v1_and_v2_tokens(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys), http)
    claims = await v.validate(bearer(token()))
    assert claims.app_id == ROOT_APP_ID
    assert not claims.anonymous
    assert claims.caller_id == f"urn:botframework:aadappid:{ROOT_APP_ID}"
    claims2 = await v.validate(bearer(token(ver="2.0", iss=V2_ISSUER)))
    assert claims2.app_id == ROOT_APP_ID and claims2.version == "2.0"
    assert keys.jwks_hits == 1, "the keys are cached"


async def test_v1_rule_reads_appid_v2_rule_reads_azp(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, allowed_callers=("*",)), http)
    # A v2 token whose caller is only in appid (not azp) names no caller.
    t = token(ver="2.0", iss=V2_ISSUER, caller="x")
    assert (await v.validate(bearer(t))).app_id == "x"
    import jwt as pyjwt

    from .keys import private_key

    claims = pyjwt.decode(t, options={"verify_signature": False})
    claims["appid"] = claims.pop("azp")
    swapped = pyjwt.encode(
        claims, private_key("key-1"), algorithm="RS256", headers={"kid": "key-1"}
    )
    err = await refused(v, bearer(swapped))
    assert (err.status, err.code) == (401, "missing_caller")
    # A token without ver is read as v1.
    assert (await v.validate(bearer(token(ver=None)))).app_id == ROOT_APP_ID
    err = await refused(v, bearer(token(ver="3.0")))
    assert err.code == "invalid_token"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"exp": -600}, "token_expired"),
        ({"nbf": 600}, "token_not_yet_valid"),
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"iss": "https://evil.example/"}, "wrong_issuer"),
        ({"signer": "other-key"}, "bad_signature"),
        ({"exp": None}, "invalid_token"),
    ],
)
async def test_refusals(
    keys: KeyServer, http: HttpClient, kwargs: dict[str, Any], code: str
) -> None:
    err = await refused(JwtValidator(config(keys), http), bearer(token(**kwargs)))
    assert (err.status, err.code) == (401, code)
    assert "eyJ" not in err.message


async def test_clock_skew_allowance(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, clock_skew=300), http)
    await v.validate(bearer(token(exp=-120)))  # expired 2 minutes ago: within the skew
    await v.validate(bearer(token(nbf=120)))
    strict = JwtValidator(config(keys, clock_skew=0), http)
    assert (await refused(strict, bearer(token(exp=-120)))).code == "token_expired"


async def test_unknown_caller_is_forbidden(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys), http)
    err = await refused(v, bearer(token(caller="33333333-0000-0000-0000-000000000003")))
    assert (err.status, err.code) == (403, "caller_not_allowed")


async def test_empty_allowed_callers_denies_everyone(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, allowed_callers=()), http)
    assert (await refused(v, bearer(token()))).status == 403
    anyone = JwtValidator(config(keys, allowed_callers=("*",)), http)
    assert (await anyone.validate(bearer(token(caller="whoever")))).app_id == "whoever"


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"Bearer",
        b"Basic abc",
        b"Bearer abc.def.ghi",
        b"Bearer not-a-jwt",
        b"Bearer \xff\xfe",
        b"Bearer a b",
    ],
)
async def test_malformed_headers(keys: KeyServer, http: HttpClient, header: bytes | None) -> None:
    err = await refused(JwtValidator(config(keys), http), header)
    assert err.status == 401
    assert keys.jwks_hits == 0, "a malformed token never makes us fetch keys"


async def test_algorithm_none_and_hmac_are_refused(keys: KeyServer, http: HttpClient) -> None:
    import jwt as pyjwt

    claims = {"aud": SKILL_APP_ID, "iss": "x", "appid": ROOT_APP_ID, "exp": 2**40}
    none_token = pyjwt.encode(claims, None, algorithm="none", headers={"kid": "key-1"})
    hs_token = pyjwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": "key-1"})
    v = JwtValidator(config(keys), http)
    for t in (none_token, hs_token):
        assert (await refused(v, bearer(t))).code == "invalid_token"


async def test_unknown_kid_then_rotated_keys(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, refresh_interval=0), http)
    await v.validate(bearer(token()))
    assert keys.jwks_hits == 1
    # A token signed with a key that is not published yet: refetched once, still unknown.
    err = await refused(v, bearer(token(kid="key-2")))
    assert err.code == "unknown_signing_key"
    assert keys.jwks_hits == 2
    # The issuer rotates: key-2 published, key-1 withdrawn.
    keys.kids = ["key-2"]
    claims = await v.validate(bearer(token(kid="key-2")))
    assert claims.app_id == ROOT_APP_ID
    assert keys.jwks_hits == 3
    # key-1 is gone from the new set; after the interval it is refused too.
    assert (await refused(v, bearer(token(kid="key-1")))).code == "unknown_signing_key"


async def test_unknown_kid_refetch_is_rate_limited(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, refresh_interval=60), http)
    await v.validate(bearer(token()))
    for i in range(5):
        assert (await refused(v, bearer(token(kid=f"random-{i}")))).code == "unknown_signing_key"
    assert keys.jwks_hits == 1


async def test_concurrent_calls_share_one_fetch(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys), http)
    results = await asyncio.gather(*(v.validate(bearer(token())) for _ in range(10)))
    assert all(r.app_id == ROOT_APP_ID for r in results)
    assert keys.jwks_hits == 1


async def test_keys_expire_after_ttl(keys: KeyServer, http: HttpClient) -> None:
    v = JwtValidator(config(keys, keys_ttl=0.05), http)
    await v.validate(bearer(token()))
    await asyncio.sleep(0.1)
    await v.validate(bearer(token()))
    assert keys.jwks_hits == 2


async def test_key_server_down(keys: KeyServer, http: HttpClient) -> None:
    keys.fail = True
    v = JwtValidator(config(keys), http)
    err = await refused(v, bearer(token()))
    assert (err.status, err.code) == (503, "auth_keys_unavailable")
    assert keys.metadata_hits == 1
    # Right after a failure the key server is not asked again for every call.
    assert (await refused(v, bearer(token()))).status == 503
    assert keys.metadata_hits == 1
    # Once keys are cached, a failed refresh keeps the old ones.
    keys.fail = False
    v2 = JwtValidator(config(keys, keys_ttl=0.05), http)
    await v2.validate(bearer(token()))
    keys.fail = True
    await asyncio.sleep(0.1)
    hits = keys.metadata_hits
    assert (await v2.validate(bearer(token()))).app_id == ROOT_APP_ID
    assert (await v2.validate(bearer(token()))).app_id == ROOT_APP_ID
    assert keys.metadata_hits == hits + 1  # one failed refresh, then the stale keys
    # After the interval it tries again.
    v3 = JwtValidator(config(keys, refresh_interval=0), http)
    for _ in range(2):
        await refused(v3, bearer(token()))
    assert keys.metadata_hits == hits + 3


async def test_anonymous_mode_accepts_only_no_header(http: HttpClient) -> None:
    v = JwtValidator(BotAuthConfig(), http)
    claims = await v.validate(None)
    assert claims.anonymous and claims.app_id == ANONYMOUS_SKILL and claims.caller_id is None
    err = await refused(v, bearer(token()))
    assert (err.status, err.code) == (401, "unexpected_authorization")


async def test_missing_header_with_app_id(keys: KeyServer, http: HttpClient) -> None:
    err = await refused(JwtValidator(config(keys), http), None)
    assert (err.status, err.code) == (401, "missing_authorization")


def test_tenant_issuers_and_token_url() -> None:
    c = BotAuthConfig(app_id="a", tenant_id="tid")
    assert "https://sts.windows.net/tid/" in c.valid_issuers
    assert c.token_url == "https://login.microsoftonline.com/tid/oauth2/v2.0/token"
    assert BotAuthConfig(app_id="a").token_url.endswith("/botframework.com/oauth2/v2.0/token")
    assert "secret" not in repr(BotAuthConfig(app_id="a", app_password="secret"))


def test_password_from_env() -> None:
    assert password_from_env({"VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD": "p"}) == "p"
    assert password_from_env({"MicrosoftAppPassword": "q"}) == "q"
    assert password_from_env({}) == ""


# -- outbound tokens -------------------------------------------------------------------


class TokenServer:
    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.expires_in: Any = 3600
        self.status = 200
        self.delay = 0.0
        self.base = ""


@pytest.fixture
async def token_server() -> AsyncIterator[TokenServer]:
    state = TokenServer()

    async def issue(request: web.Request) -> web.Response:
        form = dict(await request.post())
        state.forms.append({k: str(v) for k, v in form.items()})
        await asyncio.sleep(state.delay)
        if state.status != 200:
            return web.json_response({"error": "invalid_client"}, status=state.status)
        n = len(state.forms)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": state.expires_in, "access_token": f"tok-{n}"}
        )

    app = web.Application()
    app.router.add_post("/token", issue)
    async with serving(app) as base:
        state.base = base
        yield state


def provider(ts: TokenServer, http: HttpClient, **kw: Any) -> CredentialProvider:
    cfg = BotAuthConfig(
        app_id=ROOT_APP_ID, app_password="s3cret", token_endpoint=f"{ts.base}/token"
    )
    return CredentialProvider(cfg, http, **kw)


async def test_client_credentials_cached_per_audience(
    token_server: TokenServer, http: HttpClient
) -> None:
    p = provider(token_server, http)
    assert await p.token(SKILL_APP_ID) == "tok-1"
    assert await p.token(SKILL_APP_ID) == "tok-1"
    assert await p.token() == "tok-2"  # the channel audience is another token
    assert token_server.forms[0] == {
        "grant_type": "client_credentials",
        "client_id": ROOT_APP_ID,
        "client_secret": "s3cret",
        "scope": f"{SKILL_APP_ID}/.default",
    }
    assert token_server.forms[1]["scope"] == "https://api.botframework.com/.default"


async def test_token_refreshed_before_expiry(token_server: TokenServer, http: HttpClient) -> None:
    token_server.expires_in = 0.2  # refreshed at half its life at the latest
    p = provider(token_server, http)
    assert await p.token() == "tok-1"
    await asyncio.sleep(0.15)
    assert await p.token() == "tok-2"


async def test_concurrent_token_requests_share_one(
    token_server: TokenServer, http: HttpClient
) -> None:
    token_server.delay = 0.05
    p = provider(token_server, http)
    got = await asyncio.gather(*(p.token(SKILL_APP_ID) for _ in range(8)))
    assert set(got) == {"tok-1"}
    assert len(token_server.forms) == 1


async def test_token_errors(
    token_server: TokenServer, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    token_server.status = 401
    with pytest.raises(TokenError) as info:
        await provider(token_server, http).token()
    assert info.value.status == 401
    assert "s3cret" not in str(info.value)
    token_server.status = 200
    token_server.expires_in = "soon"
    with pytest.raises(TokenError):
        await provider(token_server, http).token()
    cfg = BotAuthConfig(app_id="a", app_password="p", token_endpoint="http://127.0.0.1:9/token")
    with pytest.raises(TokenError):
        await CredentialProvider(cfg, http).token()


async def test_anonymous_credentials(http: HttpClient) -> None:
    creds = credentials_for(BotAuthConfig(), http)
    assert isinstance(creds, AnonymousCredentials)
    assert await creds.token("x") is None
    with pytest.raises(ValueError, match="PASSWORD"):
        credentials_for(BotAuthConfig(app_id="a"), http)
    logging.getLogger("x")


# -- property test: whatever the header, a refusal is a 401/403, never a crash ------------


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_shaped(head: dict[str, Any], payload: dict[str, Any], sig: bytes) -> bytes:
    parts = (_b64(json.dumps(head).encode()), _b64(json.dumps(payload).encode()), _b64(sig))
    return ("Bearer " + ".".join(parts)).encode()


def _fresh_validator() -> JwtValidator:
    import time as _time

    import jwt as pyjwt

    from .keys import jwk

    v = JwtValidator(BotAuthConfig(app_id=SKILL_APP_ID, allowed_callers=("*",)), None)
    # White-box: keys already cached and fresh, so no fetch is attempted (http is None).
    v._keys = {"key-1": pyjwt.PyJWK.from_dict(jwk("key-1"), algorithm="RS256").key}
    v._fetched_at = v._last_attempt = _time.monotonic()
    v._attempts = 1
    return v


_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_claims = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "aud", "iss", "exp", "nbf", "ver", "appid", "azp"])
    | st.text(max_size=4),
    _json_scalars | st.sampled_from(["RS256", "key-1", "none", "HS256", SKILL_APP_ID]),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=80),
        st.builds(
            _jwt_shaped,
            _claims,
            _claims,
            st.binary(max_size=64),
        ),
    )
)
def test_random_headers_are_refused_cleanly(header: bytes) -> None:
    v = _fresh_validator()
    try:
        asyncio.run(v.validate(header))
    except HttpError as exc:
        assert exc.status in (401, 403)
    else:  # pragma: no cover - a random signature never verifies
        raise AssertionError("a random token was accepted")
