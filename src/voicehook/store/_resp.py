"""A small pipelined Redis client (RESP2) for :class:`~voicehook.store.RedisStore`.

Why not a general client: the store needs four commands on the hot path, and a general
client spends 50-60 microseconds of Python per command. This one writes each command
straight to the socket and matches replies to callers in order (Redis answers in the
order it receives), so all tasks of a process share one connection without locks.

Written from the RESP2 specification (https://redis.io/docs/reference/protocol-spec/).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["RedisAddress", "RespClient", "RespConnectionError", "RespReplyError"]


class RespConnectionError(ConnectionError):
    """No connection, or the connection broke before the reply arrived."""


class RespReplyError(Exception):
    """Redis answered with an error reply (``-ERR ...``)."""


class _Incomplete(Exception):
    pass


_INCOMPLETE = _Incomplete()


@dataclass(frozen=True)
class RedisAddress:
    """Where and how to connect, parsed from a ``redis://`` / ``rediss://`` / ``unix://`` URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str | None = None

    @property
    def name(self) -> str:
        """``host:port`` or the socket path, for messages."""
        return self.path if self.path else f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """Parse a Redis URL. Raises ``ValueError`` for unknown forms or options."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r} (use redis://, rediss:// or unix://)")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        db = 0
        path_db = parts.path.strip("/") if scheme != "unix" else ""
        try:
            if path_db:
                db = int(path_db)
            if "db" in query:
                db = int(query.pop("db"))
        except ValueError:
            raise ValueError(f"bad database number in Redis URL {url!r}") from None
        verify = True
        reqs = query.pop("ssl_cert_reqs", "required").lower()
        if reqs in ("none", "cert_none"):
            verify = False
        elif reqs not in ("required", "cert_required"):
            raise ValueError(f"ssl_cert_reqs must be 'required' or 'none', got {reqs!r}")
        ca_file = query.pop("ssl_ca_certs", None) or None
        if query:
            raise ValueError(
                f"unknown Redis URL option(s) {sorted(query)} in {url!r}; known: db, prefix, "
                "connect_timeout, timeout, ssl_cert_reqs, ssl_ca_certs"
            )
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if scheme == "unix":
            if not parts.path:
                raise ValueError(f"unix:// Redis URL needs a socket path: {url!r}")
            return cls(path=unquote(parts.path), username=username, password=password, db=db)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            username=username,
            password=password,
            db=db,
            tls=scheme == "rediss",
            tls_verify=verify,
            tls_ca_file=ca_file,
        )


def encode_command(args: tuple[bytes | str | int, ...]) -> bytes:
    """Encode one command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n" % len(arg))
        out.append(arg)
        out.append(b"\r\n")
    return b"".join(out)


def parse_reply(buf: bytearray | bytes, pos: int) -> tuple[Any, int]:
    """Parse one RESP2 reply at ``pos``. Returns ``(value, next_pos)``.

    Error replies are returned as :class:`RespReplyError` instances (not raised), so that
    an error inside an array does not lose the rest. Raises ``_Incomplete`` when more
    bytes are needed.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _INCOMPLETE
    kind = buf[pos]
    line = buf[pos + 1 : end]
    pos = end + 2
    if kind == 0x24:  # $ bulk string
        n = int(line)
        if n < 0:
            return None, pos
        stop = pos + n
        if len(buf) < stop + 2:
            raise _INCOMPLETE
        return bytes(buf[pos:stop]), stop + 2
    if kind == 0x3A:  # : integer
        return int(line), pos
    if kind == 0x2B:  # + simple string
        return bytes(line), pos
    if kind == 0x2D:  # - error
        return RespReplyError(bytes(line).decode("utf-8", "replace")), pos
    if kind == 0x2A:  # * array
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = parse_reply(buf, pos)
            items.append(item)
        return items, pos
    raise RespConnectionError(f"Redis protocol error: unexpected reply type {chr(kind)!r}")


class _Connection(asyncio.Protocol):
    """One socket. Requests are written at once; replies resolve futures in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.sent_at: collections.deque[float] = collections.deque()
        self.buf = bytearray()
        self.outgoing: list[bytes] = []
        self.closed = False
        self.error: str = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, so no isinstance.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        pending = self.pending
        try:
            while pos < len(buf):
                value, pos = parse_reply(buf, pos)
                if not pending:
                    raise RespConnectionError("Redis sent a reply nobody asked for")
                fut = pending.popleft()
                self.sent_at.popleft()
                if not fut.done():  # the caller may have been cancelled; drop the reply
                    if isinstance(value, RespReplyError):
                        fut.set_exception(value)
                    else:
                        fut.set_result(value)
        except _Incomplete:
            pass
        except (RespConnectionError, ValueError) as e:
            self.abort(f"bad reply from Redis at {self.name}: {e}")
            return
        if pos:
            del buf[:pos]

    def eof_received(self) -> bool | None:
        self.error = f"Redis at {self.name} closed the connection"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = self.error or (
            f"connection to Redis at {self.name} lost: {exc}"
            if exc
            else f"connection to Redis at {self.name} closed"
        )
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(RespConnectionError(reason))
        self.sent_at.clear()

    def abort(self, reason: str) -> None:
        if not self.error:
            self.error = reason
        if self.transport is not None:
            self.transport.abort()  # connection_lost fails the pending futures

    def request(self, payload: bytes, now: float) -> asyncio.Future[Any]:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise RespConnectionError(self.error or f"connection to Redis at {self.name} closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        # Commands issued in the same event-loop step go out in one write (one syscall).
        if not self.outgoing:
            loop.call_soon(self.flush)
        self.outgoing.append(payload)
        self.pending.append(fut)
        self.sent_at.append(now)
        return fut

    def flush(self) -> None:
        out = self.outgoing
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self.transport is not None and not self.closed:
            self.transport.write(data)


class RespClient:
    """A pipelined Redis client on one connection, reconnecting on demand.

    ``timeout``: if the oldest unanswered request waits longer, the connection is dropped
    and every waiting caller gets :class:`RespConnectionError`.
    """

    def __init__(
        self, address: RedisAddress, *, connect_timeout: float = 2.0, timeout: float = 5.0
    ) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def execute(self, *args: bytes | str | int) -> Any:
        """Send one command and return its reply. Error replies raise ``RespReplyError``."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        loop = asyncio.get_running_loop()
        return await conn.request(encode_command(args), loop.time())

    async def aclose(self) -> None:
        """Close the connection. Waiting callers get :class:`RespConnectionError`."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.error = f"client for Redis at {self.address.name} was closed"
            conn.transport.close()

    async def _connect(self) -> _Connection:
        # One connect at a time; concurrent callers wait for the same attempt.
        task = self._connecting
        if task is None:
            task = self._connecting = asyncio.ensure_future(self._open_and_keep())
            task.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._connecting is task:
                self._connecting = None

    async def _open_and_keep(self) -> _Connection:
        conn = await self._open()
        self._conn = conn
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self.timeout / 2, self._watch)
        return conn

    async def _open(self) -> _Connection:
        a = self.address
        loop = asyncio.get_running_loop()
        context = None
        if a.tls:
            context = ssl.create_default_context(cafile=a.tls_ca_file)
            if not a.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        try:
            async with asyncio.timeout(self.connect_timeout):
                if a.path:
                    _, conn = await loop.create_unix_connection(lambda: _Connection(a.name), a.path)
                else:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(a.name), a.host, a.port, ssl=context
                    )
                setup: list[asyncio.Future[Any]] = []
                now = loop.time()
                if a.password is not None:
                    auth: tuple[bytes | str, ...] = (b"AUTH", a.password)
                    if a.username:
                        auth = (b"AUTH", a.username, a.password)
                    setup.append(conn.request(encode_command(auth), now))
                if a.db:
                    setup.append(conn.request(encode_command((b"SELECT", a.db)), now))
                for fut in setup:
                    await fut
        except TimeoutError:
            raise RespConnectionError(
                f"cannot connect to Redis at {a.name}: no answer within {self.connect_timeout} s"
            ) from None
        except OSError as e:
            raise RespConnectionError(f"cannot connect to Redis at {a.name}: {e}") from e
        except RespReplyError as e:
            conn.abort(str(e))
            raise RespConnectionError(f"Redis at {a.name} refused the login: {e}") from e
        return conn

    def _watch(self) -> None:
        self._watchdog = None
        conn = self._conn
        if conn is None or conn.closed:
            return
        loop = asyncio.get_running_loop()
        if conn.sent_at and loop.time() - conn.sent_at[0] > self.timeout:
            conn.abort(f"Redis at {self.address.name} did not answer within {self.timeout} s")
        self._watchdog = loop.call_later(self.timeout / 2, self._watch)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    # Connect errors reach every waiting caller; this only silences "never retrieved".
    if not fut.cancelled():
        fut.exception()
