"""Async key-value state with versions (optimistic concurrency) and TTL.

Backends: :class:`MemoryStore` (one process), :class:`SQLiteStore` (the embedded default,
several processes on one machine) and :class:`RedisStore` (several machines). Pick one
with a URL::

    store = open_store("sqlite:///./voicehook-state.db")
    await store.open()                      # in the ASGI lifespan
    entry = await update(store, "세션:abc", lambda n: n + 1, default=0)
    await store.aclose()

See docs/state.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from voicehook.store.base import (
    ConflictError,
    Entry,
    Store,
    StoreError,
    StoreUnavailable,
    update,
    write_deadline,
)
from voicehook.store.codec import CodecError
from voicehook.store.memory import MemoryStore
from voicehook.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from voicehook.store.redis import RedisStore

__all__ = [
    "DEFAULT_SQLITE_PATH",
    "SCHEMES",
    "CodecError",
    "ConflictError",
    "Entry",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "update",
    "write_deadline",
]

#: The file used by the URL ``sqlite://`` (relative to the working directory).
DEFAULT_SQLITE_PATH = "./voicehook-state.db"

#: URL schemes understood by :func:`open_store`.
REDIS_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+cluster",
    "rediss+cluster",
    "redis+sentinel",
    "rediss+sentinel",
)
SCHEMES = ("memory", "sqlite", *REDIS_SCHEMES)


def __getattr__(name: str) -> Any:
    # RedisStore needs redis-py (the ``redis`` extra): import it only when it is used.
    if name == "RedisStore":
        return _redis_store_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _redis_store_class() -> type[RedisStore]:
    try:
        from voicehook.store.redis import RedisStore
    except ImportError as exc:
        raise ImportError(
            f"the Redis store needs redis-py: pip install 'voicehook[redis]' ({exc})"
        ) from exc
    return RedisStore


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"store URL option {name}={text!r}: use true or false")


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"store URL option {name}={text!r}: not a number") from None


def _sqlite(url: str) -> SQLiteStore:
    parts = urlsplit(url)
    if parts.netloc:
        raise ValueError(
            f"bad SQLite URL {url!r}: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (three slashes before a relative path, four before "
            "an absolute one)"
        )
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if not path:
        path = DEFAULT_SQLITE_PATH
    busy_timeout, sweep_interval, inline, table = 5.0, 60.0, True, "voicehook_kv"
    for name, text in parse_qsl(parts.query, keep_blank_values=True):
        if name == "busy_timeout":
            busy_timeout = _number(name, text)
        elif name == "sweep_interval":
            sweep_interval = _number(name, text)
        elif name == "inline":
            inline = _flag(name, text)
        elif name == "table":
            table = text
        else:
            raise ValueError(
                f"unknown SQLite store URL option {name!r} in {url!r}; "
                "known: busy_timeout, sweep_interval, inline, table"
            )
    return SQLiteStore(
        path, busy_timeout=busy_timeout, sweep_interval=sweep_interval, inline=inline, table=table
    )


def _redis(url: str) -> RedisStore:
    parts = urlsplit(url)
    prefix = "voicehook:"
    connect_timeout, timeout, clock_margin = 2.0, 5.0, 0.2
    rest: list[tuple[str, str]] = []
    for name, text in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            prefix = text
        elif name == "connect_timeout":
            connect_timeout = _number(name, text)
        elif name == "timeout":
            timeout = _number(name, text)
        elif name == "clock_margin":
            clock_margin = _number(name, text)
        else:
            rest.append((name, text))  # redis-py's own URL options
    clean = urlunsplit(parts._replace(query=urlencode(rest)))
    return _redis_store_class()(
        clean,
        prefix=prefix,
        connect_timeout=connect_timeout,
        timeout=timeout,
        clock_margin=clock_margin,
    )


def open_store(url: str) -> Store:
    """Make a store from a URL. Does no I/O: call ``await store.open()`` later.

    URL forms:

    - ``memory://`` -- :class:`MemoryStore`.
    - ``sqlite://`` -- :class:`SQLiteStore` on ``./voicehook-state.db``.
    - ``sqlite:///state/voicehook.db`` or ``sqlite:///./voicehook.db`` -- a path relative to
      the working directory (everything after the third slash).
    - ``sqlite:////var/lib/voicehook/state.db`` -- an absolute path (four slashes).
      Options: ``?busy_timeout=5&sweep_interval=60&inline=true&table=voicehook_kv``.
    - ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS),
      ``unix:///run/redis.sock``, ``redis+cluster://host:port[,host:port...]``,
      ``redis+sentinel://host:port[,host:port...]/SERVICE[/db]`` -- :class:`RedisStore`
      (needs the ``redis`` extra; see its docs for TLS options). Options: ``?prefix=myapp:``,
      ``connect_timeout``, ``timeout``, ``clock_margin``, and redis-py's own URL options.

    Raises ``ValueError`` for an unknown scheme or option.
    """
    if not isinstance(url, str):
        raise TypeError(f"store URL must be a str, got {type(url).__name__}")
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme == "memory":
        rest = url[len("memory:") :]
        if rest not in ("", "//", "///"):
            raise ValueError(f"bad memory store URL {url!r}: use memory://")
        return MemoryStore()
    if scheme == "sqlite":
        return _sqlite(url)
    if scheme in REDIS_SCHEMES:
        return _redis(url)
    raise ValueError(
        f"unknown store URL {url!r}: the scheme must be one of "
        + ", ".join(f"{s}://" for s in SCHEMES)
    )
