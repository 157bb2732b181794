"""Connection limits for ``voicehook serve``: uvicorn's HTTP protocol with a guard.

uvicorn limits idle keep-alive connections (``timeout_keep_alive``), the wait at shutdown
(``timeout_graceful_shutdown``) and, with h11 only, the header size. It does not limit how
long a client may take to send its request head or body, or how many connections it may
hold open. A slow client (one byte every 5 s) could hold a connection for ever, and 1,100 of
them used up every file descriptor. :class:`GuardedHttpToolsProtocol` adds:

- ``header_timeout``: the request line and headers must arrive within this many seconds of
  the connection (or of the previous response); else the connection gets a 408 and closes.
- ``body_timeout``: the body must arrive within this many seconds after the headers (a
  Content-Length larger than what is sent ends here).
- ``max_header_bytes``: a request head larger than this gets a 431 and the connection closes
  (without it, httptools buffers a 50 MB header in memory).
- ``max_connections``: at this many open connections, a new one first closes the oldest
  connection that is still sending its request head (the slow-client attack); when there is
  none, the new connection is closed at once. The cap stays under the process's file
  descriptor limit.
- ``max_concurrency``: requests being handled at once; more get a 503 (uvicorn's own
  ``limit_concurrency`` also counts idle keep-alive connections, so it is not used).

The hot-path cost is one method override (``data_received``) with a few attribute reads
and writes and one clock read per request; the timeouts are
checked by one timer per process every ``min(header_timeout, body_timeout) / 4`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "GuardedHttpToolsProtocol", "fd_budget"]

logger = logging.getLogger("voicehook.server")

_IDLE, _HEAD, _BODY = 0, 1, 2


def _canned(status: bytes, code: str, message: str) -> bytes:
    body = b'{"error":{"code":"%s","message":"%s"}}' % (code.encode(), message.encode())
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


_408 = _canned(b"408 Request Timeout", "request_timeout", "the request was sent too slowly")
_431 = _canned(
    b"431 Request Header Fields Too Large", "headers_too_large", "the request head is too big"
)
_400 = _canned(b"400 Bad Request", "invalid_http", "the request is not valid HTTP/1.1")
_503 = _canned(b"503 Service Unavailable", "too_many_connections", "try again in a moment")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The guard's settings (see the module docs); picklable for ``--workers``."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_connections: int = 1000
    max_concurrency: int = 500


def fd_budget(wanted: int) -> int:
    """``wanted`` connections, or fewer so that they fit in the file descriptor limit
    (raised to the hard limit first) with 64 descriptors left for the store, logs and
    upstream calls."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, int(soft) - 64))


class _Watch:
    """One per process: the guarded connections and the timer that checks them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: ConnectionLimits) -> None:
        self.loop = loop
        self.limits = limits
        self.conns: set[GuardedHttpToolsProtocol] = set()
        self.tick = max(0.05, min(limits.header_timeout, limits.body_timeout) / 4)
        self.handle: asyncio.TimerHandle | None = None
        self.counts = {"header_timeout": 0, "body_timeout": 0, "header_too_large": 0,
                       "evicted": 0, "refused": 0, "over_concurrency": 0}  # fmt: skip
        self._logged: dict[str, int] = {}

    def add(self, conn: GuardedHttpToolsProtocol) -> None:
        self.conns.add(conn)
        if self.handle is None:
            self.handle = self.loop.call_later(self.tick, self.check)

    def count(self, what: str, client: Any) -> None:
        """Count an event; log it the 1st, 2nd, 4th, 8th ... time (bounded log volume)."""
        n = self.counts[what] = self.counts[what] + 1
        if n & (n - 1) == 0:
            logger.warning(
                "connection guard: %s (client %s; %d times so far)",
                what.replace("_", " "),
                f"{client[0]}:{client[1]}" if client else "?",
                n,
            )

    def check(self) -> None:
        now = self.loop.time()
        limits = self.limits
        for conn in list(self.conns):
            phase = conn._vh_phase
            if phase == _HEAD and now - conn._vh_since > limits.header_timeout:
                self.count("header_timeout", conn.client)
                conn._vh_close(_408)
            elif phase == _BODY and now - conn._vh_since > limits.body_timeout:
                self.count("body_timeout", conn.client)
                conn._vh_close(_408)
        self.handle = self.loop.call_later(self.tick, self.check) if self.conns else None

    def evict_for(self, newcomer: GuardedHttpToolsProtocol) -> bool:
        """Make room for ``newcomer``: close the oldest connection still sending its
        request head. False when there is none."""
        oldest: GuardedHttpToolsProtocol | None = None
        for conn in self.conns:
            if (
                conn is not newcomer
                and conn._vh_phase == _HEAD
                and (oldest is None or conn._vh_since < oldest._vh_since)
            ):
                oldest = conn
        if oldest is None:
            return False
        self.count("evicted", oldest.client)
        oldest._vh_close(_408)
        return True


_WATCH_ATTR = "_voicehook_guard"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ConnectionLimits` (see the module docs).

    Pass ``functools.partial(GuardedHttpToolsProtocol, limits=...)`` as uvicorn's ``http``
    (``voicehook serve`` does); the class alone (``--http
    voicehook.server.guard:GuardedHttpToolsProtocol``) runs with the default limits.
    """

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        watch: _Watch | None = getattr(server_state, _WATCH_ATTR, None)
        if watch is None or watch.loop is not self.loop:
            watch = _Watch(self.loop, limits or ConnectionLimits())
            setattr(server_state, _WATCH_ATTR, watch)
        self._vh_watch = watch
        self._vh_app = self.app
        self._vh_max_concurrency = watch.limits.max_concurrency
        self._vh_phase = _IDLE
        self._vh_since = 0.0
        self._vh_head_bytes = 0

    # -- connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        watch = self._vh_watch
        self._vh_phase = _HEAD  # a new connection must send a request head in time
        self._vh_since = self.loop.time()
        watch.add(self)
        if len(watch.conns) > watch.limits.max_connections and not watch.evict_for(self):
            watch.count("refused", self.client)
            self._vh_close(_503)

    def connection_lost(self, exc: Exception | None) -> None:
        self._vh_watch.conns.discard(self)
        self._vh_phase = _IDLE
        super().connection_lost(exc)

    def _vh_close(self, answer: bytes) -> None:
        self._vh_phase = _IDLE
        self._vh_watch.conns.discard(self)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self.cycle is None or self.cycle.response_started is False:
                transport.write(answer)
            transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, as voicehook's JSON error."""
        self._vh_close(_400)

    # -- parsing ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        # One override on the hot path (not one per parser callback): the phase is read off
        # uvicorn's request cycle after the parser ran.
        phase = self._vh_phase
        if phase == _IDLE:  # the next request on a kept-alive connection starts
            self._vh_phase = phase = _HEAD
            self._vh_since = self.loop.time()
            self._vh_head_bytes = 0
        before = self.cycle
        busy = phase == _HEAD and len(self.tasks) >= self._vh_max_concurrency
        if busy:  # a head completed in this chunk gets the 503 app
            self.app = _busy
        _parent_data_received(self, data)  # super() builds an object per call
        if busy:
            self.app = self._vh_app
        cycle = self.cycle
        if cycle is not before and cycle is not None:  # a request head completed
            if busy:
                self._vh_watch.count("over_concurrency", self.client)
            if cycle.more_body:
                self._vh_phase = _BODY
                self._vh_since = self.loop.time()
            else:
                self._vh_phase = _IDLE
        elif phase == _BODY:
            if cycle is not None and not cycle.more_body:
                self._vh_phase = _IDLE
        elif self._vh_phase == _HEAD:
            size = self._vh_head_bytes = self._vh_head_bytes + len(data)
            if size > self._vh_watch.limits.max_header_bytes:
                self._vh_watch.count("header_too_large", self.client)
                self._vh_close(_431)


_parent_data_received = HttpToolsProtocol.data_received


async def _busy(scope: Any, receive: Any, send: Any) -> None:
    """The answer past ``max_concurrency``: 503, try again."""
    body = b'{"error":{"code":"overloaded","message":"too many requests at once; try again"}}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
