"""A store in Redis: for several processes or several machines.

It speaks to Redis with redis-py (and its hiredis parser), so it works with one Redis server,
with Redis Cluster and with Redis Sentinel. Commands of one event-loop step are sent together
as one redis-py pipeline (automatic pipelining): many turns in flight share a few
connections, and each command costs much less CPU than a command of its own.

Each entry is one Redis hash ``{prefix}{key}`` with two fields: ``v`` (the encoded value)
and ``n`` (the version). Conditional writes run as Lua scripts, so the compare-and-set is
atomic on the server. TTLs are Redis expiries (``PEXPIRE``). Each script touches one key
only, so it also works with Redis Cluster hash slots.

**No late writes.** Every write carries a "not after" time. The put script reads the server
clock (``TIME``) and refuses the write when it reaches Redis later than that. The client
waits for the reply a little longer (``clock_margin``) and only then reports the write as
failed. So a write that was reported as failed is never applied later, for example when a
stopped Redis resumes and runs the commands waiting in its socket. The "not after" time is
the sooner of ``timeout`` and the write deadline of the caller
(:func:`voicehook.store.base.write_deadline`; a play turn sets it to the turn's deadline).
This needs the clocks of the voicehook host and the Redis host to agree within
``clock_margin`` (NTP does this).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicehook.store.base import (
    ConflictError,
    Entry,
    StoreError,
    StoreUnavailable,
    check_key,
    check_ttl,
    check_version,
    current_write_deadline,
)
from voicehook.store.codec import decode, encode

__all__ = ["SCHEMES", "RedisStore"]

#: URL schemes of :class:`RedisStore`.
SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+cluster",
    "rediss+cluster",
    "redis+sentinel",
    "rediss+sentinel",
)

# ARGV: expected version ("" = must not exist), encoded value, ttl in ms ("" = none),
# not-after time in Unix ms ("" = none).
# Returns the new version (>= 1), 0 if the entry is missing, -current on a mismatch,
# or the error "LATE" when the write reached Redis after its not-after time.
_PUT = """
if ARGV[4] ~= '' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[4]) then
    return redis.error_reply('LATE the write reached Redis after its deadline')
  end
end
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

_Client = aioredis.Redis | RedisCluster
_pack = hiredis.pack_command


def _sha1(source: str) -> str:
    import hashlib

    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


_PUT_SHA = _sha1(_PUT)
_DELETE_SHA = _sha1(_DELETE)

_TLS_OPTIONS = {
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_cert_reqs",
    "ssl_check_hostname",
    "ssl_password",
    "ssl_min_version",
}


def _split_hosts(netloc: str, url: str) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    """``user:pw@h1:p1,h2:p2`` -> (user, password, [(h1, p1), (h2, p2)])."""
    auth, at, hosts = netloc.rpartition("@")
    user = password = None
    if at:
        name, colon, secret = auth.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    out: list[tuple[str, int]] = []
    for part in hosts.split(","):
        if not part:
            continue
        if part.startswith("["):  # [::1]:7000
            host, _, port = part[1:].partition("]:")
        else:
            host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
        try:
            out.append((host, int(port) if port else 6379))
        except ValueError:
            raise ValueError(f"bad host:port {part!r} in Redis URL {url!r}") from None
    if not out:
        raise ValueError(f"no host in Redis URL {url!r}")
    return user, password, out


def _tls_kwargs(query: dict[str, str], url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ssl": True}
    for name in _TLS_OPTIONS & query.keys():
        value = query.pop(name)
        if name == "ssl_check_hostname":
            out[name] = value.lower() in ("1", "true", "yes", "on")
        else:
            out[name] = value
    return out


class RedisStore:
    """Store entries in Redis (one server, Cluster or Sentinel).

    Args:
        url: where Redis is (see below).
        prefix: put before every key, so several apps can share one Redis database.
        connect_timeout: seconds to wait for a connection (and login).
        timeout: seconds to wait for a reply. A write also must reach Redis within this
            time (less ``clock_margin``), or Redis refuses it (see the module docs).
        clock_margin: seconds the client waits past a write's "not after" time before it
            reports the write as failed. Must exceed the clock difference between this host
            and Redis plus one round trip.

    URL forms (user and password are optional everywhere; ``rediss`` means TLS):

    - ``redis://[[user]:password@]host[:port][/db]`` -- one Redis server.
    - ``rediss://...?ssl_ca_certs=/ca.pem&ssl_certfile=/client.pem&ssl_keyfile=/client.key``
      -- TLS with a private CA and a client certificate; ``ssl_cert_reqs=none`` skips the
      server certificate check (tests only).
    - ``unix:///run/redis.sock?db=0`` -- a Unix socket.
    - ``redis+cluster://[[user]:password@]host:port[,host:port...]`` -- Redis Cluster; the
      hosts are start-up nodes, the client learns the rest. ``rediss+cluster://`` for TLS.
    - ``redis+sentinel://[[user]:password@]host:port[,host:port...]/SERVICE[/db]`` -- the
      master of ``SERVICE`` as told by these Sentinels. ``?sentinel_password=...`` (and
      ``sentinel_username``) when the Sentinels need a login; user and password in the URL
      are for the Redis servers. ``rediss+sentinel://`` for TLS to the servers.

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
        clock_margin: float = 0.2,
    ) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        if self.scheme not in SCHEMES:
            raise ValueError(
                f"not a Redis URL: {url!r} (use " + ", ".join(f"{s}://" for s in SCHEMES) + ")"
            )
        if not timeout > clock_margin >= 0:
            raise ValueError("need timeout > clock_margin >= 0")
        self.url = url
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.clock_margin = clock_margin
        self.address = self._address(parts)
        if "+" in self.scheme:
            self._parse()  # a bad Cluster / Sentinel URL fails here, not on first use
        self._client: _Client | None = None
        self._sentinel: Sentinel | None = None
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._line: _Line | None = None
        self._connecting = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RedisStore({self.address!r}, prefix={self.prefix!r})"

    @staticmethod
    def _address(parts: Any) -> str:
        """``host:port``, the socket path, or the cluster / sentinel hosts, for messages."""
        scheme = parts.scheme.lower()
        if scheme == "unix":
            return str(unquote(parts.path))
        _, _, hosts = _split_hosts(parts.netloc or "127.0.0.1", parts.geturl())
        names = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts)
        if scheme.endswith("+sentinel"):
            service = unquote(parts.path.strip("/").split("/")[0])
            return f"{service} via sentinel {names}"
        if scheme.endswith("+cluster"):
            return f"cluster {names}"
        return names

    # -- connections -------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        return {
            "socket_connect_timeout": self.connect_timeout,
            # Standalone and Sentinel: one timeout per batch of commands (see _run).
            "socket_timeout": self.timeout if self.scheme.endswith("+cluster") else None,
            # Never retry behind our back: a write whose reply was lost may have happened.
            "retry": Retry(NoBackoff(), 0),
        }

    def _parse(self) -> tuple[list[tuple[str, int]], dict[str, Any], str, dict[str, Any]]:
        """Cluster / Sentinel URL -> (hosts, client kwargs, service, sentinel kwargs).

        Raises ``ValueError`` for a bad URL; called by the constructor, so errors show early.
        """
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        user, password, hosts = _split_hosts(parts.netloc, self.url)
        kwargs: dict[str, Any] = {}
        if self.scheme.startswith("rediss"):
            kwargs |= _tls_kwargs(query, self.url)
        if user:
            kwargs["username"] = user
        if password is not None:
            kwargs["password"] = password
        if self.scheme.endswith("+cluster"):
            if query:
                raise ValueError(
                    f"unknown Redis Cluster URL options {sorted(query)} in {self.url!r}"
                )
            return hosts, kwargs, "", {}
        # Sentinel: /SERVICE[/db]
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError(f"Sentinel URL {self.url!r} needs the service name: .../SERVICE")
        service = unquote(path[0])
        if len(path) > 1:
            try:
                kwargs["db"] = int(path[1])
            except ValueError:
                raise ValueError(f"bad database number in Redis URL {self.url!r}") from None
        sentinel_kwargs: dict[str, Any] = {}
        if "sentinel_password" in query:
            sentinel_kwargs["password"] = query.pop("sentinel_password")
        if "sentinel_username" in query:
            sentinel_kwargs["username"] = query.pop("sentinel_username")
        if query:
            raise ValueError(f"unknown Redis Sentinel URL options {sorted(query)} in {self.url!r}")
        return hosts, kwargs, service, sentinel_kwargs

    def _make_client(self) -> _Client:
        if self.scheme in ("redis", "rediss", "unix"):
            return aioredis.Redis.from_url(self.url, **self._common())
        hosts, extra, service, sentinel_extra = self._parse()
        kwargs = self._common() | extra
        if self.scheme.endswith("+cluster"):
            nodes = [ClusterNode(host, port) for host, port in hosts]
            return RedisCluster(startup_nodes=nodes, **kwargs)
        sentinel_kwargs = {
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.timeout,
        } | sentinel_extra
        self._sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
        client: aioredis.Redis = self._sentinel.master_for(service, **kwargs)
        return client

    def _redis(self) -> _Client:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    async def open(self) -> None:
        """Prepare the client. It connects on first use; no I/O here."""
        self._redis()

    async def aclose(self) -> None:
        """Close the connections. The store reconnects if used again."""
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        line, self._line = self._line, None
        if line is not None:
            await line.close(StoreUnavailable("the store was closed"))
        client, self._client = self._client, None
        sentinel, self._sentinel = self._sentinel, None
        if client is not None:
            await client.aclose()
        if sentinel is not None:
            for s in sentinel.sentinels:
                await s.aclose()

    def _error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError):
            return StoreUnavailable(f"Redis at {self.address} is unavailable: {exc}")
        return StoreError(f"Redis at {self.address} failed: {exc}")

    # -- automatic pipelining ----------------------------------------------------------

    async def _send(self, *args: Any, give_up: float | None = None) -> Any:
        """Run one command. The commands of one event-loop step go out as one write: the
        first caller of the step waits one step, then sends them all (it is the "leader")."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): old connections are unusable
            self._loop = loop
            self._client = None
            self._line = None
            self._queue = []
        fut: asyncio.Future[Any] = loop.create_future()
        queue = self._queue
        queue.append((args, fut))
        if len(queue) == 1:
            try:
                await asyncio.sleep(0)  # let the other tasks of this step queue theirs
            except BaseException:
                # Cancelled before sending: the others in the batch still need a sender.
                batch, self._queue = self._queue, []
                fut.cancel()
                task = loop.create_task(self._dispatch(batch))
                self._flushing.add(task)
                task.add_done_callback(self._flushing.discard)
                raise
            batch, self._queue = self._queue, []
            line = self._line
            if line is not None and line.dead is None:
                await self._dispatch(batch)  # the common case: only writes to the socket
            else:
                # Connecting, or a Cluster pipeline: may wait on the network. In a task, so
                # that every caller's give-up timer (below) starts now.
                task = loop.create_task(self._dispatch(batch))
                self._flushing.add(task)
                task.add_done_callback(self._flushing.discard)
        if give_up is None:
            return await fut
        timer = loop.call_at(give_up, _give_up, fut)  # cheaper than asyncio.timeout
        try:
            return await fut
        finally:
            timer.cancel()

    async def _dispatch(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            client = self._redis()
            if isinstance(client, RedisCluster):
                # The cluster pipeline splits the batch by hash slot and follows MOVED/ASK.
                pipe = client.pipeline(transaction=False)
                for args, _ in batch:
                    pipe.execute_command(*args)
                results = await pipe.execute(raise_on_error=False)
                for (_, fut), result in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(result, Exception):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
                return
            line = self._line
            if line is None or line.dead is not None:
                async with self._connecting:
                    line = self._line
                    if line is None or line.dead is not None:
                        pool = client.connection_pool
                        # Bounded: a stopped Redis accepts the TCP connection but never
                        # answers the handshake.
                        async with asyncio.timeout(self.connect_timeout + self.timeout):
                            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
                        line = self._line = _Line(pool, conn, self.timeout)
            await line.send(batch)
        except BaseException as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else StoreUnavailable())
            if not isinstance(exc, Exception):
                raise

    async def _script(
        self, sha: str, source: str, key: str, *args: Any, give_up: float | None = None
    ) -> Any:
        try:
            return await self._send("EVALSHA", sha, 1, key, *args, give_up=give_up)
        except NoScriptError:
            pass
        except ResponseError as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
        # Not cached on this server (new or restarted): EVAL sends the source and caches it.
        return await self._send("EVAL", source, 1, key, *args, give_up=give_up)

    async def _read(self, *args: Any) -> Any:
        try:
            try:
                return await self._send(*args)
            except (RedisConnectionError, OSError):
                # Safe to repeat: hides a pooled connection that died before we noticed.
                return await self._send(*args)
        except (RedisError, OSError) as e:
            raise self._error(e) from e

    # -- the store interface -----------------------------------------------------------

    async def ping(self) -> None:
        """Send PING. Raises :class:`StoreUnavailable` when Redis does not answer."""
        await self._read("PING")

    async def get(self, key: str) -> Entry | None:
        """Return the entry for ``key`` or ``None`` (Redis hides expired keys)."""
        check_key(key)
        value, version = await self._read("HMGET", self.prefix + key, "v", "n")
        if value is None or version is None:
            return None
        return Entry(decode(value), int(version))

    def _budget(self) -> float:
        """Seconds this write may take: ``timeout``, or less when a deadline is set."""
        budget = self.timeout
        deadline = current_write_deadline()
        if deadline is not None:
            budget = min(budget, deadline - asyncio.get_running_loop().time())
        return budget

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        """Conditional write (one Lua script); see :class:`~voicehook.store.Store`.

        The write must reach Redis before its "not after" time (see the module docs), or it
        is not applied and this raises :class:`StoreUnavailable`.
        """
        check_key(key)
        check_version(version)
        check_ttl(ttl)
        data = encode(value)
        budget = self._budget()
        if budget <= self.clock_margin:
            raise StoreUnavailable(
                f"Redis at {self.address}: no time left for the write of {key!r} "
                f"({max(budget, 0):.3f} s, need more than {self.clock_margin:g} s)"
            )
        not_after = int((time.time() + budget - self.clock_margin) * 1000)
        ttl_ms = "" if ttl is None else max(1, round(ttl * 1000))
        expected = "" if version is None else version
        loop = asyncio.get_running_loop()
        give_up = loop.time() + budget
        try:
            result = int(
                await self._script(
                    _PUT_SHA,
                    _PUT,
                    self.prefix + key,
                    expected,
                    data,
                    ttl_ms,
                    not_after,
                    give_up=give_up,
                )
            )
        except (TimeoutError, RedisTimeoutError) as e:
            # Sent, no reply. Redis refuses the write after not_after; report the failure
            # only once that time (plus the clock margin) has passed.
            await asyncio.sleep(max(0.0, give_up - loop.time()))
            raise StoreUnavailable(
                f"Redis at {self.address} did not answer the write of {key!r} within "
                f"{budget:.3f} s; the write was not applied and will not be"
            ) from e
        except ResponseError as e:
            if str(e).startswith("LATE"):
                raise StoreUnavailable(
                    f"Redis at {self.address} refused the write of {key!r}: it arrived after "
                    "its deadline"
                ) from e
            raise self._error(e) from e
        except (RedisError, OSError) as e:
            raise self._error(e) from e
        if result <= 0:
            raise ConflictError(key, version, -result if result else None)
        return result

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        try:
            if version is None:
                return int(await self._send("DEL", self.prefix + key)) == 1
            result = int(await self._script(_DELETE_SHA, _DELETE, self.prefix + key, version))
        except (RedisError, OSError) as e:
            raise self._error(e) from e
        if result != 1:
            raise ConflictError(key, version, -result if result else None)
        return True


def _give_up(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class _Line:
    """One redis-py connection used as a pipeline: callers write their commands in order,
    one reader task takes the replies in the same order (Redis answers in order).

    A reply missing for longer than ``timeout`` ends the connection: every waiting call
    fails with a timeout, and the next call opens a new connection.
    """

    def __init__(self, pool: aioredis.ConnectionPool, conn: Any, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self.pool = pool
        self.conn = conn
        self.timeout = timeout
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.lock = asyncio.Lock()  # keeps "queue the futures + write" in order
        self.dead: BaseException | None = None
        self.progress = loop.time()
        self._closing: asyncio.Task[None] | None = None
        self._reader = loop.create_task(self._read())
        self._timer = loop.call_later(timeout / 4, self._watch)

    async def send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        data = b"".join([_pack(args) for args, _ in batch])
        async with self.lock:
            if self.dead is not None:
                raise self.dead
            if not self.pending:
                self.progress = asyncio.get_running_loop().time()
            self.pending.extend(fut for _, fut in batch)
            try:
                await self.conn.send_packed_command(data, check_health=False)
            except BaseException as exc:
                await self.close(exc)
                raise

    async def _read(self) -> None:
        # Reads also while idle: a connection that the server closes is noticed at once.
        loop = asyncio.get_running_loop()
        pending = self.pending
        conn = self.conn
        try:
            while True:
                try:
                    reply = await conn.read_response()
                except ResponseError as e:  # an error reply; the stream is still in step
                    reply = e
                self.progress = loop.time()
                if not pending:
                    raise RedisConnectionError("a reply that no command asked for")
                fut = pending.popleft()
                if fut.done():  # the caller gave up waiting
                    continue
                if isinstance(reply, Exception):
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except asyncio.CancelledError:
            if self.dead is None:
                self._fail(StoreUnavailable("the connection was closed"))
            raise
        except Exception as exc:
            self._fail(exc)
            await self._release()

    def _watch(self) -> None:
        if self.dead is not None:
            return
        loop = asyncio.get_running_loop()
        if self.pending and loop.time() - self.progress > self.timeout:
            self._fail(RedisTimeoutError(f"no reply within {self.timeout:g} s"))
            self._reader.cancel()
            self._closing = loop.create_task(self._release())
            return
        self._timer = loop.call_later(self.timeout / 4, self._watch)

    def _fail(self, exc: BaseException) -> None:
        if self.dead is None:
            self.dead = exc
        self._timer.cancel()
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(exc)

    async def _release(self) -> None:
        # Replies may still be on their way: this connection's stream is out of step.
        with contextlib.suppress(Exception):
            await self.conn.disconnect(nowait=True)
        with contextlib.suppress(Exception):
            await self.pool.release(self.conn)

    async def close(self, exc: BaseException) -> None:
        if self.dead is None:
            self._fail(exc)
            self._reader.cancel()
            await self._release()
