"""Issue 9, item 3: each connection attack on a real ``voicehook serve`` on 127.0.0.1.

Every test starts the server with short limits, attacks it, and checks that the attack
connection is closed in time while normal requests keep getting answers.
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.conftest import NUGU_BODY, Server

LIMITS = [
    "--store", "memory://",
    "--header-timeout", "1",
    "--body-timeout", "1",
    "--max-header-bytes", "8192",
    "--shutdown-timeout", "1",
    "--keepalive-timeout", "2",
]  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, *LIMITS, "--max-connections", "40")
    try:
        yield srv
    finally:
        srv.stop()


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Read until the server closes the connection or ``seconds`` pass."""
    sock.settimeout(0.2)
    got = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def assert_normal_requests_work(server: Server, n: int = 5) -> None:
    for _ in range(n):
        assert server.health() == 200
        status, body = server.post("/quiz.start", NUGU_BODY)
        assert status == 200 and b'"resultCode"' in body


def test_slow_headers_are_cut_off(server: Server) -> None:
    # Was: one byte every 5 s held the connection for 90 s and more.
    sock = server.connect()
    start = time.monotonic()
    with contextlib.closing(sock):
        closed = False
        for ch in b"POST /quiz.start HTTP/1.1\r\nHost: x\r\n":
            try:
                sock.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            assert_normal_requests_work(server, 1)
            time.sleep(0.1)
            if time.monotonic() - start > 3:
                break
        if not closed:
            closed, got = closed_within(sock, 3)
            assert b"408" in got or got == b""
    assert closed
    assert time.monotonic() - start < 4
    assert "header timeout" in server.log_text()


def test_a_body_shorter_than_its_content_length_is_cut_off(server: Server) -> None:
    # Was: a Content-Length larger than what was sent held the connection for 20 s and more.
    sock = server.connect()
    with contextlib.closing(sock):
        sock.sendall(
            b"POST /quiz.start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n" + NUGU_BODY[:50]
        )
        assert_normal_requests_work(server, 2)
        start = time.monotonic()
        closed, _ = closed_within(sock, 4)
    assert closed and time.monotonic() - start < 3
    assert "body timeout" in server.log_text()


def test_a_slow_body_is_cut_off(server: Server) -> None:
    sock = server.connect()
    start = time.monotonic()
    with contextlib.closing(sock):
        sock.sendall(
            b"POST /quiz.start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(NUGU_BODY)
        )
        closed = False
        for ch in NUGU_BODY:
            try:
                sock.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            if time.monotonic() - start > 3:
                break
        if not closed:
            closed, _ = closed_within(sock, 2)
    assert closed and time.monotonic() - start < 4
    assert_normal_requests_work(server, 2)


def test_many_slow_connections_do_not_lock_out_normal_requests(server: Server) -> None:
    # Was: 2,000 slow connections were all accepted and held.
    socks = []
    try:
        for _ in range(120):  # three times --max-connections
            s = server.connect()
            s.sendall(b"POST /quiz.start HTTP/1.1\r\nHo")
            socks.append(s)
        assert_normal_requests_work(server, 10)
        open_now = 0
        for s in socks:
            s.settimeout(0.01)
            try:
                if s.recv(1024) != b"":
                    open_now += 0  # an answer: closed right after
            except TimeoutError:
                open_now += 1
            except OSError:
                pass
        assert open_now <= 40
    finally:
        for s in socks:
            s.close()
    assert "evicted" in server.log_text()


def test_a_low_file_descriptor_limit_is_respected(tmp_path: Path) -> None:
    # Was: with 1,024 descriptors, 1,100 slow connections failed every normal request,
    # with no log line. Here: 256 descriptors, 400 slow connections.
    server = Server(tmp_path, *LIMITS, "--header-timeout", "30", nofile=256)
    socks = []
    try:
        for _ in range(400):
            try:
                s = server.connect()
                s.sendall(b"POST /quiz.start HTTP/1.1\r\nHo")
            except OSError:
                continue
            socks.append(s)
        assert_normal_requests_work(server, 10)
    finally:
        for s in socks:
            s.close()
        server.stop()
    assert "connection guard" in server.log_text()


def test_huge_unterminated_headers_are_refused_without_memory_growth(server: Server) -> None:
    # Was: ten unterminated 50 MB headers raised RSS from 47 to 505 MB.
    before = server.rss_mb()
    for _ in range(10):
        s = server.connect()
        with contextlib.closing(s):
            s.sendall(b"POST /quiz.start HTTP/1.1\r\nX-Big: ")
            sent = 0
            chunk = b"a" * 65536
            with contextlib.suppress(OSError):
                while sent < 50 * 1024 * 1024:
                    s.sendall(chunk)
                    sent += len(chunk)
            assert sent < 50 * 1024 * 1024  # the server closed it long before
            closed_within(s, 2)
    assert server.rss_mb() - before < 30
    assert_normal_requests_work(server, 2)
    assert "header too large" in server.log_text()


def test_sigterm_with_a_slow_client_stops_within_the_shutdown_timeout(server: Server) -> None:
    # Was: one slow client kept the process alive 30 s after SIGTERM.
    sock = server.connect()
    with contextlib.closing(sock):
        sock.sendall(
            b"POST /quiz.start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n{"
        )
        time.sleep(0.2)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=10)
    assert time.monotonic() - start < 3


def test_two_authorization_headers_are_a_400(tmp_path: Path) -> None:
    # Was: with two Authorization headers the last one won.
    server = Server(tmp_path, "--store", "memory://", "--api-key", "good")
    try:
        for first, second in (("token bad", "token good"), ("token good", "token bad")):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.putrequest("POST", "/quiz.start")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Authorization", first)
            conn.putheader("Authorization", second)
            conn.putheader("Content-Length", str(len(NUGU_BODY)))
            conn.endheaders(NUGU_BODY)
            resp = conn.getresponse()
            assert resp.status == 400 and b"duplicate_header" in resp.read()
            conn.close()
        assert server.post("/quiz.start", NUGU_BODY, {"Authorization": "token good"})[0] == 200
    finally:
        server.stop()


SLOW_PLAY = """
from voicehook import ActionRequest, Play
import asyncio

play = Play("slow")


@play.action("wait", backend=["x"])
async def wait(req: ActionRequest) -> dict[str, str]:
    await asyncio.sleep(1.5)
    return {"x": "done"}
"""


def test_requests_over_the_concurrency_cap_get_a_503(tmp_path: Path) -> None:
    play_dir = tmp_path / "slowplay"
    play_dir.mkdir()
    (play_dir / "app.py").write_text(SLOW_PLAY)
    server = Server(tmp_path, *LIMITS, "--max-concurrency", "2", play=play_dir)
    body = NUGU_BODY.replace(b"quiz.start", b"wait")
    socks = []
    try:
        for _ in range(2):  # two calls in flight: the cap
            s = server.connect()
            s.sendall(
                b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )
            socks.append(s)
        time.sleep(0.3)
        status, answer = server.post("/wait", body)
        assert status == 503 and b"overloaded" in answer
        for s in socks:  # the two in flight still get their answers
            _, got = closed_within(s, 3)
            assert got.startswith(b"HTTP/1.1 200")
        status, _ = server.post("/wait", body)
        assert status == 200  # under the cap again
    finally:
        for s in socks:
            s.close()
        server.stop()
    assert "over concurrency" in server.log_text()
