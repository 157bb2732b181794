"""RedisStore over TLS with a client certificate (``rediss://...?ssl_certfile=...``), against a
real redis-server with ``tls-auth-clients yes`` on 127.0.0.1. Certificates are made here with
the ``openssl`` command (a private CA, a server certificate for 127.0.0.1, a client one)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests._support.redis_server import RedisServer, free_port, require_redis_server
from voicehook.store import Entry, StoreUnavailable, open_store

pytestmark = pytest.mark.redis


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=voicehook test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)  # fmt: skip
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        ext = ["-extfile", "server.ext"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *ext, cwd=d)  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, int, Path]]:
    require_redis_server()
    if shutil.which("openssl") is None:  # in Debian's base image; skip elsewhere
        pytest.skip("openssl not found")
    d = tmp_path_factory.mktemp("tls")
    make_certs(d)
    tls_port = free_port()
    args = ["--tls-port", str(tls_port), "--tls-cert-file", str(d / "server.crt")]
    args += ["--tls-key-file", str(d / "server.key"), "--tls-ca-cert-file", str(d / "ca.crt")]
    args += ["--tls-auth-clients", "yes"]
    with RedisServer(args=args) as server:  # the plain port answers the start-up PING
        yield server, tls_port, d


def q(path: Path) -> str:
    return quote(str(path), safe="/")


async def test_rediss_with_a_client_certificate(tls_server: tuple[RedisServer, int, Path]) -> None:
    _, port, d = tls_server
    url = (
        f"rediss://127.0.0.1:{port}/0?prefix=tls:&ssl_ca_certs={q(d / 'ca.crt')}"
        f"&ssl_certfile={q(d / 'client.crt')}&ssl_keyfile={q(d / 'client.key')}"
    )
    store = open_store(url)
    try:
        assert await store.put("세션:1", {"단계": 1}) == 1
        assert await store.get("세션:1") == Entry({"단계": 1}, 1)
        assert await store.put("세션:1", {"단계": 2}, version=1) == 2
    finally:
        await store.aclose()


async def test_rediss_without_the_client_certificate_is_refused(
    tls_server: tuple[RedisServer, int, Path],
) -> None:
    _, port, d = tls_server
    store = open_store(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={q(d / 'ca.crt')}")
    try:
        with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1"):  # the server hangs up
            await store.put("k", 1)
    finally:
        await store.aclose()


async def test_rediss_checks_the_server_certificate(
    tls_server: tuple[RedisServer, int, Path],
) -> None:
    """Without the private CA the server's certificate is not trusted."""
    _, port, d = tls_server
    url = (
        f"rediss://127.0.0.1:{port}/0?ssl_certfile={q(d / 'client.crt')}"
        f"&ssl_keyfile={q(d / 'client.key')}"
    )
    store = open_store(url)
    try:
        with pytest.raises(StoreUnavailable, match="certificate verify failed"):
            await store.get("k")
    finally:
        await store.aclose()
