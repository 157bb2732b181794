"""A fake weather upstream: answers every GET after a fixed delay (default 50 ms).

It is a bare asyncio Protocol on uvloop, not a framework, so that it is never the bottleneck.
`GET /weather?location=서울` returns `{"weather": "맑음", "temperature": "23"}`.

Run: python -m bench.fake_upstream --port 18090 --delay 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from urllib.parse import parse_qs, urlsplit

import uvloop

from bench.common import UPSTREAM_DELAY_S, weather_for

_MAX_HEAD = 16 * 1024


def _response(status: bytes, body: bytes, close: bool) -> bytes:
    conn = b"close" if close else b"keep-alive"
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: " + conn + b"\r\n\r\n"
    ) + body


_cache: dict[bytes, bytes] = {}


def _answer(target: bytes) -> tuple[bytes, bytes]:
    body = _cache.get(target)
    if body is not None:
        return b"200 OK", body
    parts = urlsplit(target.decode("latin-1"))
    if parts.path in ("/", "/health"):
        return b"200 OK", b'{"status":"OK"}'
    if parts.path != "/weather":
        return b"404 Not Found", b'{"error":"not found"}'
    qs = parse_qs(parts.query)
    location = qs["location"][0] if "location" in qs else None
    weather, temperature = weather_for(location)
    body = json.dumps({"weather": weather, "temperature": temperature}, ensure_ascii=False).encode()
    if len(_cache) < 1024:
        _cache[target] = body
    return b"200 OK", body


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > _MAX_HEAD and self.transport is not None:
                    self.transport.close()
                return
            head = self.buf[:end]
            lines = head.split(b"\r\n")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            total = end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            request_line = lines[0].split(b" ")
            target = request_line[1] if len(request_line) > 1 else b"/"
            status, body = _answer(target)
            self.loop.call_later(self.delay, self._send, _response(status, body, close), close)

    def _send(self, payload: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(payload)
        if close:
            self.transport.close()


async def serve(host: str, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(delay), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"fake upstream on http://{host}:{port} delay={delay * 1000:.0f}ms", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--delay", type=float, default=UPSTREAM_DELAY_S, help="seconds")
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.delay))


if __name__ == "__main__":
    main()
