"""RedisStore URL details that need no server: TLS options of Cluster and Sentinel URLs, and
the script hashes that EVALSHA relies on."""

from __future__ import annotations

import hashlib

import pytest

from voicehook.store.redis import _DELETE, _DELETE_SHA, _PUT, _PUT_SHA, RedisStore, _sha1


@pytest.mark.parametrize(
    ("flag", "check"),
    [("1", True), ("true", True), ("YES", True), ("On", True), ("no", False), ("0", False)],
)
def test_tls_options_of_a_cluster_url(flag: str, check: bool) -> None:
    store = RedisStore(
        f"rediss+cluster://h1:7000?ssl_ca_certs=/etc/ca.pem&ssl_check_hostname={flag}"
    )
    hosts, kwargs, service, sentinel = store._parse()
    assert hosts == [("h1", 7000)]
    assert kwargs == {"ssl": True, "ssl_ca_certs": "/etc/ca.pem", "ssl_check_hostname": check}
    assert (service, sentinel) == ("", {})


def test_a_plain_cluster_url_has_no_tls() -> None:
    _, kwargs, _, _ = RedisStore("redis+cluster://:pw@h1:7000")._parse()
    assert kwargs == {"password": "pw"}


def test_script_hashes_are_the_sha1_redis_computes() -> None:
    """EVALSHA finds a cached script only by the SHA1 of its exact source."""
    assert _sha1("return 1") == hashlib.sha1(b"return 1").hexdigest()  # noqa: S324
    assert hashlib.sha1(_PUT.encode()).hexdigest() == _PUT_SHA  # noqa: S324
    assert hashlib.sha1(_DELETE.encode()).hexdigest() == _DELETE_SHA  # noqa: S324
