"""Local signing keys, tokens and an OpenID/JWKS server on 127.0.0.1 for the auth tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

V1_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
V2_ISSUER = "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0"
SKILL_APP_ID = "11111111-aaaa-4bbb-8ccc-000000000001"
ROOT_APP_ID = "22222222-aaaa-4bbb-8ccc-000000000002"


@cache
def private_key(name: str) -> rsa.RSAPrivateKey:
    """An RSA key per name, made once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(name: str) -> dict[str, Any]:
    data: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
        private_key(name).public_key(), as_dict=True
    )
    data.update(kid=name, use="sig", alg="RS256")
    return data


def token(
    *,
    kid: str = "key-1",
    signer: str | None = None,
    aud: str = SKILL_APP_ID,
    iss: str = V1_ISSUER,
    caller: str = ROOT_APP_ID,
    ver: str | None = "1.0",
    exp: float | None = 3600,
    nbf: float | None = -60,
    alg: str = "RS256",
    **more: Any,
) -> str:
    """A token signed with key ``signer`` (default: ``kid``'s own key). ``exp``/``nbf`` are
    seconds from now."""
    now = time.time()
    claims: dict[str, Any] = {"aud": aud, "iss": iss, "iat": int(now) - 60, **more}
    if ver is not None:
        claims["ver"] = ver
    if ver == "2.0":
        claims["azp"] = caller
    else:
        claims["appid"] = caller
    if exp is not None:
        claims["exp"] = int(now + exp)
    if nbf is not None:
        claims["nbf"] = int(now + nbf)
    return jwt.encode(claims, private_key(signer or kid), algorithm=alg, headers={"kid": kid})


@dataclass
class KeyServer:
    """What the OpenID server publishes; change ``kids`` to rotate keys."""

    kids: list[str] = field(default_factory=lambda: ["key-1"])
    base: str = ""
    metadata_hits: int = 0
    jwks_hits: int = 0
    fail: bool = False

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/.well-known/openid-configuration"


@asynccontextmanager
async def key_server(kids: list[str] | None = None) -> AsyncIterator[KeyServer]:
    state = KeyServer(kids=kids or ["key-1"])

    async def metadata(request: web.Request) -> web.Response:
        state.metadata_hits += 1
        if state.fail:
            return web.Response(status=500)
        return web.json_response({"issuer": "x", "jwks_uri": f"{state.base}/keys"})

    async def keys(request: web.Request) -> web.Response:
        state.jwks_hits += 1
        return web.json_response({"keys": [jwk(k) for k in state.kids]})

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", metadata)
    app.router.add_get("/keys", keys)
    async with serving(app) as base:
        state.base = base
        yield state


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on 127.0.0.1 (a free port) in this event loop."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def new_id() -> str:
    return uuid.uuid4().hex
