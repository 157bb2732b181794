"""open_store(url): URL forms, options and errors. No I/O happens here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from voicehook.store import (
    DEFAULT_SQLITE_PATH,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    open_store,
)


def test_memory() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite://", DEFAULT_SQLITE_PATH),
        ("sqlite:///", DEFAULT_SQLITE_PATH),
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///./data/state.db", "./data/state.db"),
        ("sqlite:////var/lib/voicehook/state.db", "/var/lib/voicehook/state.db"),
        ("sqlite:///%EC%83%81%ED%83%9C.db", "상태.db"),
        ("sqlite:///상태.db", "상태.db"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path


def test_sqlite_absolute_path_and_no_file_created(tmp_path: Path) -> None:
    target = tmp_path / "x.db"  # absolute, so the URL gets four slashes
    store = open_store("sqlite:///" + str(target))
    assert isinstance(store, SQLiteStore)
    assert store.path == str(target)
    assert not target.exists()


def test_sqlite_options() -> None:
    store = open_store("sqlite:///s.db?busy_timeout=1.5&sweep_interval=10&inline=false&table=kv2")
    assert isinstance(store, SQLiteStore)
    assert (store.busy_timeout, store.sweep_interval, store.inline, store.table) == (
        1.5,
        10.0,
        False,
        "kv2",
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite://localhost/x.db", "four before an absolute one"),
        ("sqlite:///x.db?colour=red", "unknown SQLite store URL option 'colour'"),
        ("sqlite:///x.db?busy_timeout=soon", "not a number"),
        ("sqlite:///x.db?inline=maybe", "use true or false"),
        ("sqlite:///x.db?table=drop;table", "SQL identifier"),
        ("memory://somewhere", "use memory://"),
    ],
)
def test_bad_urls(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        open_store(url)


@pytest.mark.parametrize("url", ["postgres://db/x", "mysql://x", "redis", "", "file:///x.db"])
def test_unknown_scheme_lists_the_known_ones(url: str) -> None:
    with pytest.raises(ValueError) as info:
        open_store(url)
    for scheme in ("memory://", "sqlite://", "redis://", "rediss://"):
        assert scheme in str(info.value)


def test_redis_urls() -> None:
    store = open_store("redis://:s3cret@cache.internal:6380/2?prefix=myplay:&timeout=1")
    assert isinstance(store, RedisStore)
    assert store.address == "cache.internal:6380"
    assert store.prefix == "myplay:"
    assert store.timeout == 1.0
    assert "prefix" not in store.url and "s3cret@cache.internal:6380/2" in store.url

    default = open_store("redis://localhost")
    assert isinstance(default, RedisStore)
    assert (default.address, default.prefix) == ("localhost:6379", "voicehook:")

    tls = open_store("rediss://user:pw@redis.example.com:6390/0?ssl_cert_reqs=none")
    assert isinstance(tls, RedisStore)
    assert tls.address == "redis.example.com:6390" and "ssl_cert_reqs=none" in tls.url

    sock = open_store("unix:///run/redis/redis.sock?db=1")
    assert isinstance(sock, RedisStore)
    assert sock.address == "/run/redis/redis.sock"


def test_redis_cluster_and_sentinel_urls() -> None:
    cluster = open_store("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001?prefix=q:&timeout=2")
    assert isinstance(cluster, RedisStore)
    assert cluster.address == "cluster 10.0.0.1:7000,10.0.0.2:7001"
    assert (cluster.prefix, cluster.timeout) == ("q:", 2.0)

    tls = open_store("rediss+cluster://c.example.com:6379?ssl_ca_certs=/etc/ca.pem")
    assert isinstance(tls, RedisStore) and tls.scheme == "rediss+cluster"

    sentinel = open_store("redis+sentinel://s1:26379,s2:26379/mymaster/2?sentinel_password=x")
    assert isinstance(sentinel, RedisStore)
    assert sentinel.address == "mymaster via sentinel s1:26379,s2:26379"

    margin = open_store("redis://localhost?clock_margin=0.5")
    assert isinstance(margin, RedisStore) and margin.clock_margin == 0.5


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://h:7000?db=3", "unknown Redis Cluster URL options"),
        ("redis+sentinel://h:26379", "needs the service name"),
        ("redis+sentinel://h:26379/svc?bogus=1", "unknown Redis Sentinel URL options"),
        ("redis+cluster://h:notaport", "bad host:port"),
    ],
)
def test_bad_cluster_and_sentinel_urls(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        open_store(url)


def test_redis_timeout_must_exceed_the_clock_margin() -> None:
    with pytest.raises(ValueError, match="clock_margin"):
        open_store("redis://localhost?timeout=0.1&clock_margin=0.2")


def test_url_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        open_store(b"memory://")  # type: ignore[arg-type]


def test_sqlite_defaults() -> None:
    store = open_store("sqlite:///s.db")
    assert isinstance(store, SQLiteStore)
    assert (store.busy_timeout, store.sweep_interval, store.inline, store.table) == (
        5.0,
        60.0,
        True,
        "voicehook_kv",
    )


def test_sqlite_url_without_slashes_is_a_relative_path() -> None:
    store = open_store("sqlite:state.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == "state.db"


@pytest.mark.parametrize(
    ("text", "inline"),
    [("1", True), ("true", True), ("Yes", True), ("ON", True), ("0", False), ("off", False)],
)
def test_sqlite_inline_flag_words(text: str, inline: bool) -> None:
    store = open_store(f"sqlite:///s.db?inline={text}")
    assert isinstance(store, SQLiteStore)
    assert store.inline is inline


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///x.db?inline=", "store URL option inline='': use true or false"),
        ("sqlite:///x.db?busy_timeout=soon", "store URL option busy_timeout='soon': not a number"),
        ("sqlite:///x.db?sweep_interval=", "store URL option sweep_interval='': not a number"),
        (
            "sqlite:///x.db?colour=red",
            "unknown SQLite store URL option 'colour' in 'sqlite:///x.db?colour=red'; "
            "known: busy_timeout, sweep_interval, inline, table",
        ),
    ],
)
def test_sqlite_option_errors_name_the_option(url: str, message: str) -> None:
    """An empty option value is an error, not silently the default."""
    with pytest.raises(ValueError) as info:
        open_store(url)
    assert str(info.value) == message


@pytest.mark.parametrize("url", ["memory:", "memory://", "memory:///"])
def test_memory_url_forms(url: str) -> None:
    assert isinstance(open_store(url), MemoryStore)


def test_redis_defaults_and_options() -> None:
    default = open_store("redis://localhost")
    assert isinstance(default, RedisStore)
    assert (default.connect_timeout, default.timeout, default.clock_margin) == (2.0, 5.0, 0.2)
    tuned = open_store("redis://localhost?connect_timeout=1.5&timeout=3&clock_margin=0.1")
    assert isinstance(tuned, RedisStore)
    assert (tuned.connect_timeout, tuned.timeout, tuned.clock_margin) == (1.5, 3.0, 0.1)


def test_an_empty_redis_prefix_means_no_prefix() -> None:
    store = open_store("redis://localhost?prefix=")
    assert isinstance(store, RedisStore) and store.prefix == ""


@pytest.mark.parametrize("name", ["connect_timeout", "timeout", "clock_margin"])
def test_redis_number_options_are_named_in_errors(name: str) -> None:
    with pytest.raises(ValueError) as info:
        open_store(f"redis://localhost?{name}=soon")
    assert str(info.value) == f"store URL option {name}='soon': not a number"


def test_the_unknown_scheme_error_lists_every_scheme() -> None:
    with pytest.raises(ValueError) as info:
        open_store("postgres://db/x")
    assert str(info.value) == (
        "unknown store URL 'postgres://db/x': the scheme must be one of memory://, sqlite://, "
        "redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, redis+sentinel://, "
        "rediss+sentinel://"
    )


def test_a_url_that_is_not_a_string_is_named() -> None:
    with pytest.raises(TypeError) as info:
        open_store(b"memory://")  # type: ignore[arg-type]
    assert str(info.value) == "store URL must be a str, got bytes"


def test_redis_store_is_imported_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import voicehook.store as package
    from voicehook.store import redis as redis_module

    assert package.RedisStore is redis_module.RedisStore
    with pytest.raises(AttributeError) as info:
        package.NoSuchStore  # noqa: B018
    assert str(info.value) == "module 'voicehook.store' has no attribute 'NoSuchStore'"
    monkeypatch.setitem(sys.modules, "voicehook.store.redis", None)  # redis-py not installed
    with pytest.raises(ImportError) as missing:
        package.RedisStore  # noqa: B018
    assert str(missing.value).startswith(
        "the Redis store needs redis-py: pip install 'voicehook[redis]' ("
    )
