"""A store in Redis: for several processes or several machines.

Needs the ``redis`` package (``pip install 'voicehook[redis]'``). It is imported when the
store opens, so ``import voicehook.store`` works without it.

Each entry is one Redis hash ``{prefix}{key}`` with two fields: ``v`` (the encoded value)
and ``n`` (the version). Conditional writes run as Lua scripts, so the compare-and-set is
atomic on the server. TTLs are Redis expiries (``PEXPIRE``). Each script touches one key
only, so it also works with Redis Cluster hash slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisStore"]

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
    """A Lua script run with EVALSHA, loaded on demand (after a Redis restart, too)."""

    def __init__(self, source: str) -> None:
        import hashlib

        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: redis.asyncio.Redis, key: str, *args: Any) -> Any:
        from redis.exceptions import NoScriptError

        try:
            return await client.evalsha(self.sha, 1, key, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, 1, key, *args)


_PUT_SCRIPT = _Script(_PUT)
_DELETE_SCRIPT = _Script(_DELETE)


class RedisStore:
    """Store entries in Redis.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS) or
            ``unix:///path/to/redis.sock``. Query options of redis-py are accepted.
        prefix: put before every key, so several apps can share one Redis database.
        max_connections: size of the connection pool (``None``: no limit).
        connect_timeout: seconds to wait for a TCP connection.
        timeout: seconds to wait for a reply.
        **options: more keyword arguments for ``redis.asyncio.ConnectionPool``.

    When Redis cannot be reached, every call raises :class:`StoreUnavailable` naming the
    server. Writes are never retried automatically (a lost reply could hide a write that
    did happen). When Redis is back, the next call reconnects by itself.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "voicehook:",
        max_connections: int | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
        **options: Any,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r} (use redis://, rediss:// or unix://)")
        self.url = url
        self.prefix = prefix
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._options = options
        if parts.scheme == "unix":
            self.address = parts.path
        else:
            self.address = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
        self._client: redis.asyncio.Redis | None = None
        self._errors: tuple[type[Exception], ...] = (OSError,)
        self._reconnect_errors: tuple[type[Exception], ...] = (OSError,)

    def __repr__(self) -> str:
        return f"RedisStore({self.address!r}, prefix={self.prefix!r})"

    async def open(self) -> None:
        """Create the connection pool. Connections are made on first use; no I/O here."""
        if self._client is not None:
            return
        try:
            import redis.asyncio
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError, RedisError
            from redis.retry import Retry
        except ImportError as e:
            raise StoreError(
                "RedisStore needs the redis package: pip install 'voicehook[redis]'"
            ) from e
        options: dict[str, Any] = {
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.timeout,
            "max_connections": self.max_connections,
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": 0,
            # RESP2: simple replies, and redis-py then checks every pooled connection for
            # a closed socket before use (with RESP3 it may skip that check), so a Redis
            # restart costs no failed request.
            "protocol": 2,
        }
        options.update(self._options)
        options["decode_responses"] = False
        pool = redis.asyncio.ConnectionPool.from_url(self.url, **options)
        self._errors = (RedisError, OSError)
        self._reconnect_errors = (ConnectionError,)
        self._client = redis.asyncio.Redis.from_pool(pool)

    async def aclose(self) -> None:
        """Close the pool and all its connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    def _error(self, exc: Exception) -> StoreError:
        from redis.exceptions import ConnectionError, TimeoutError

        if isinstance(exc, ConnectionError | TimeoutError | OSError):
            return StoreUnavailable(f"Redis at {self.address} is unavailable: {exc}")
        return StoreError(f"Redis at {self.address} failed: {exc}")

    async def ping(self) -> None:
        """Send PING. Raises :class:`StoreUnavailable` when Redis does not answer."""
        client = await self._redis()
        try:
            try:
                await client.ping()
            except self._reconnect_errors:
                await client.ping()
        except self._errors as e:
            raise self._error(e) from e

    async def get(self, key: str) -> Entry | None:
        """Return the entry for ``key`` or ``None`` (Redis hides expired keys)."""
        check_key(key)
        client = await self._redis()
        name = self.prefix + key
        try:
            try:
                value, version = await client.hmget(name, ("v", "n"))
            except self._reconnect_errors:
                # A read is safe to repeat: one retry hides a pooled connection that died
                # (for example after a Redis restart) before we noticed.
                value, version = await client.hmget(name, ("v", "n"))
        except self._errors as e:
            raise self._error(e) from e
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
        ttl_ms = "" if ttl is None else str(max(1, round(ttl * 1000)))
        client = await self._redis()
        expected = "" if version is None else str(version)
        try:
            result = int(await _PUT_SCRIPT(client, self.prefix + key, expected, data, ttl_ms))
        except self._errors as e:
            raise self._error(e) from e
        if result <= 0:
            raise ConflictError(key, version, -result if result else None)
        return result

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        client = await self._redis()
        try:
            if version is None:
                return int(await client.delete(self.prefix + key)) == 1
            result = int(await _DELETE_SCRIPT(client, self.prefix + key, str(version)))
        except self._errors as e:
            raise self._error(e) from e
        if result != 1:
            raise ConflictError(key, version, -result if result else None)
        return True
