"""The checker against a raw HTTP/1.1 server written on asyncio streams (no framework):
dropped connections, redirects, and HTTPS with a self-signed certificate."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from voicehook.check import BackendUnreachable, check_backend
from voicehook.play import PlayDefinition, parse_definition

Handler = Callable[[str, str, bytes], bytes | None]

PLAY = """
name: raw
actions:
  fine: {backend: true}
  drop: {backend: true}
  moved: {backend: true}
"""


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: application/json\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def handle(method: str, path: str, body: bytes) -> bytes | None:
    if method == "GET" and path == "/health":
        return _response("200 OK", b"OK")
    if path == "/fine":
        req = json.loads(body)
        answer = {"version": req["version"], "resultCode": "OK", "output": {}}
        return _response("200 OK", json.dumps(answer).encode())
    if path == "/moved":
        return _response("302 Found", b"", "Location: /fine\r\n")
    return None  # /drop: close the connection without an answer


@asynccontextmanager
async def raw_server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            answer = handler(method, path, body)
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def definition() -> PlayDefinition:
    return parse_definition(PLAY)


async def test_dropped_connection_and_redirect(definition: PlayDefinition) -> None:
    async with raw_server(handle) as port:
        report = await check_backend(definition, f"http://127.0.0.1:{port}", max_requests=2)
    assert report.action("fine").findings == []
    assert {f.kind for f in report.action("drop").findings} == {"connection_error"}
    moved = report.action("moved")
    assert {(f.kind, f.subject) for f in moved.findings} == {("http_status", "302")}
    assert "redirect" in moved.findings[0].advice
    assert report.exit_code() == 1


def _self_signed(tmp: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def test_https_self_signed_needs_insecure(definition: PlayDefinition, tmp_path: Path) -> None:
    tls = _self_signed(tmp_path)
    async with raw_server(handle, tls) as port:
        url = f"https://127.0.0.1:{port}"
        with pytest.raises(BackendUnreachable, match="--insecure"):
            await check_backend(definition, url, max_requests=1, actions=["fine"])
        report = await check_backend(
            definition, url, max_requests=2, actions=["fine"], insecure=True
        )
    assert report.ok, report.render()
    assert [h.status for h in report.health] == [200]
