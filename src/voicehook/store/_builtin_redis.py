"""A store in Redis: for several processes or several machines.

It speaks to Redis with a small built-in pipelined client (:mod:`voicehook.store._resp`), so
it needs no extra package. All tasks of a process share one connection: commands are written
at once and replies come back in order.

Each entry is one Redis hash ``{prefix}{key}`` with two fields: ``v`` (the encoded value)
and ``n`` (the version). Conditional writes run as Lua scripts, so the compare-and-set is
atomic on the server. TTLs are Redis expiries (``PEXPIRE``). Each script touches one key
only, so it also works with Redis Cluster hash slots.
"""

from __future__ import annotations

import hashlib
from typing import Any

from voicehook.store._resp import (
    RedisAddress,
    RespClient,
    RespConnectionError,
    RespReplyError,
)
from voicehook.store.base import (
    ConflictError,
    Entry,
    StoreError,
    StoreUnavailable,
    check_key,
    check_ttl,
    check_version,
)
from voicehook.store.codec import decode, encode

__all__ = ["BuiltinRedisStore"]

# ARGV: expected version ("" = must not exist), encoded value, ttl in ms ("" = none).
# Returns the new version (>= 1), 0 if the entry is missing, -current on a mismatch.
_PUT = """
local cur = redis.call('HGET', KEYS[1], 'n')
if ARGV[1] == '' then
  if cur then return -tonumber(cur) end
elseif cur ~= ARGV[1] then
  if cur then return -tonumber(cur) end
  return 0
end
local new = 1
if cur then new = tonumber(cur) + 1 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'n', new)
if ARGV[3] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return new
"""

# ARGV: expected version. Returns 1 if deleted, 0 if missing, -current on a mismatch.
_DELETE = """
local cur = redis.call('HGET', KEYS[1], 'n')
if not cur then return 0 end
if cur ~= ARGV[1] then return -tonumber(cur) end
redis.call('DEL', KEYS[1])
return 1
"""


class _Script:
    """A Lua script run with EVALSHA and loaded on demand (also after a Redis restart)."""

    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest().encode()

    async def __call__(self, client: RespClient, key: str, *args: bytes | str | int) -> Any:
        try:
            return await client.execute(b"EVALSHA", self.sha, 1, key, *args)
        except RespReplyError as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
        await client.execute(b"SCRIPT", b"LOAD", self.source)
        return await client.execute(b"EVALSHA", self.sha, 1, key, *args)


_PUT_SCRIPT = _Script(_PUT)
_DELETE_SCRIPT = _Script(_DELETE)


class BuiltinRedisStore:
    """Store entries in Redis.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS; add
            ``?ssl_cert_reqs=none`` to skip certificate checks, ``?ssl_ca_certs=/path``
            for a private CA) or ``unix:///path/to/redis.sock[?db=N]``.
        prefix: put before every key, so several apps can share one Redis database.
        connect_timeout: seconds to wait for a connection (and login).
        timeout: seconds to wait for a reply. After that the connection is dropped and
            the waiting calls raise :class:`StoreUnavailable`.

    When Redis cannot be reached, every call raises :class:`StoreUnavailable` naming the
    server. Writes are never retried automatically (a lost reply could hide a write that
    did happen); reads are retried once on a fresh connection. When Redis is back, the
    next call reconnects by itself.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "voicehook:",
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        self._where = RedisAddress.from_url(url)
        self.url = url
        self.address = self._where.name
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._client: RespClient | None = None

    def __repr__(self) -> str:
        return f"RedisStore({self.address!r}, prefix={self.prefix!r})"

    async def open(self) -> None:
        """Prepare the client. It connects on first use; no I/O here."""
        if self._client is None:
            self._client = RespClient(
                self._where, connect_timeout=self.connect_timeout, timeout=self.timeout
            )

    async def aclose(self) -> None:
        """Close the connection. The store reconnects if used again."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _redis(self) -> RespClient:
        if self._client is None:
            self._client = RespClient(
                self._where, connect_timeout=self.connect_timeout, timeout=self.timeout
            )
        return self._client

    def _error(self, exc: Exception) -> StoreError:
        if isinstance(exc, RespConnectionError | OSError):
            return StoreUnavailable(f"Redis at {self.address} is unavailable: {exc}")
        return StoreError(f"Redis at {self.address} failed: {exc}")

    async def _read(self, *args: bytes | str | int) -> Any:
        client = self._redis()
        try:
            try:
                return await client.execute(*args)
            except RespConnectionError:
                # Safe to repeat: hides a connection that died before we noticed.
                return await client.execute(*args)
        except (RespConnectionError, RespReplyError, OSError) as e:
            raise self._error(e) from e

    async def ping(self) -> None:
        """Send PING. Raises :class:`StoreUnavailable` when Redis does not answer."""
        await self._read(b"PING")

    async def get(self, key: str) -> Entry | None:
        """Return the entry for ``key`` or ``None`` (Redis hides expired keys)."""
        check_key(key)
        value, version = await self._read(b"HMGET", self.prefix + key, b"v", b"n")
        if value is None or version is None:
            return None
        return Entry(decode(value), int(version))

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        """Conditional write (one Lua script); see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        check_ttl(ttl)
        data = encode(value)
        ttl_ms = b"" if ttl is None else max(1, round(ttl * 1000))
        expected = b"" if version is None else version
        try:
            result = int(
                await _PUT_SCRIPT(self._redis(), self.prefix + key, expected, data, ttl_ms)
            )
        except (RespConnectionError, RespReplyError, OSError) as e:
            raise self._error(e) from e
        if result <= 0:
            raise ConflictError(key, version, -result if result else None)
        return result

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        client = self._redis()
        try:
            if version is None:
                return int(await client.execute(b"DEL", self.prefix + key)) == 1
            result = int(await _DELETE_SCRIPT(client, self.prefix + key, version))
        except (RespConnectionError, RespReplyError, OSError) as e:
            raise self._error(e) from e
        if result != 1:
            raise ConflictError(key, version, -result if result else None)
        return True
