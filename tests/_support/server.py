"""Run an ASGI app under a real uvicorn server on 127.0.0.1, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def plain_asgi(app: Any) -> Any:
    """``app`` behind a plain three-argument function.

    uvicorn calls an app with no argument to see whether it is a factory. The real app's
    ``__call__`` needs three, but under mutation testing (bench/mutation.py) mutmut wraps it in
    ``(*args, **kwargs)``, and uvicorn would take it for a factory.
    """

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    return asgi


@contextmanager
def running_server(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields the base URL ``http://127.0.0.1:PORT``."""
    port = port or free_port()
    config = uvicorn.Config(
        plain_asgi(app),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
