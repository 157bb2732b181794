"""Real HTTP servers on 127.0.0.1 for the checker tests, each in a background thread.

A server thread runs its own event loop, so tests can call the checker through
``asyncio.run`` (the CLI) as well as from async tests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from aiohttp import web

from tests._support.server import plain_asgi

Serve = Callable[[socket.socket, asyncio.Event, threading.Event], Awaitable[None]]


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextmanager
def _in_thread(serve: Serve) -> Iterator[str]:
    sock = _listening_socket()
    port = sock.getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def main() -> None:
        async def run() -> None:
            stop = asyncio.Event()
            holder["loop"] = asyncio.get_running_loop()
            holder["stop"] = stop
            await serve(sock, stop, ready)

        try:
            asyncio.run(run())
        except BaseException as exc:  # surfaced by the waiting test below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    if not ready.wait(10) or "error" in holder:
        raise RuntimeError(f"server did not start: {holder.get('error')!r}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        sock.close()


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn; yields the base URL."""

    async def serve(sock: socket.socket, stop: asyncio.Event, ready: threading.Event) -> None:
        config = uvicorn.Config(
            plain_asgi(app), log_level="warning", lifespan="on", access_log=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            await task
        ready.set()
        await stop.wait()
        server.should_exit = True
        await task

    with _in_thread(serve) as url:
        yield url


@contextmanager
def aiohttp_server(app: web.Application) -> Iterator[str]:
    """Run an aiohttp.web application; yields the base URL."""

    async def serve(sock: socket.socket, stop: asyncio.Event, ready: threading.Event) -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with _in_thread(serve) as url:
        yield url


def closed_port_url() -> str:
    """A URL where nothing listens (a port that was just free)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
