"""The ASGI app's rules with their exact values (found by mutation testing of server/app.py):
request ids, Content-Length, streamed bodies, the not-started answer, /health, the store
probe and /metrics with the workers' shared snapshots."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from voicehook import ActionRequest, Play, Settings, create_app
from voicehook.play import parse_definition
from voicehook.server.app import NOT_STARTED
from voicehook.store import MemoryStore
from voicehook.testing import NuguTestClient

PLAY = """
name: rules
actions:
  answer.echo:
    backend: true
    parameters:
      word: {type: WORD}
entities:
  WORD: {values: {사과: []}}
"""

JSON = {"content-type": "application/json"}
BODY = json.dumps(
    {"version": "2.0", "action": {"actionName": "answer.echo", "parameters": {}}}
).encode()


def make_play() -> Play:
    play = Play(parse_definition(PLAY))

    @play.action("answer.echo")
    async def echo(req: ActionRequest) -> None:
        return None

    return play


# -- request ids ---------------------------------------------------------------------------


async def test_request_ids_up_to_64_safe_characters_are_kept() -> None:
    async with NuguTestClient(make_play()) as client:
        for rid, kept in (
            ("a" * 64, True),
            ("a" * 65, False),
            ("Abc-1.2_x", True),
            ("a b", False),
            ("a/b", False),
            ("", False),
        ):
            answer = await client.request(
                "POST", "/answer.echo", BODY, {**JSON, "x-request-id": rid}
            )
            assert answer.status == 200
            got = answer.headers["x-request-id"]
            assert (got == rid) is kept, (rid, got)
            if not kept:
                assert got.count("-") == 1 and len(got) > 7  # our own: "<prefix>-<n>"


# -- Content-Length and streamed bodies ----------------------------------------------------


@pytest.mark.parametrize(
    ("length", "status", "code", "message"),
    [
        ("1001", 413, "body_too_large", "the body is over the 1000-byte limit"),
        ("99999", 413, "body_too_large", "the body is over the 1000-byte limit"),
        ("-1", 400, "invalid_content_length", "Content-Length is not a number"),
        ("+5", 400, "invalid_content_length", "Content-Length is not a number"),
        ("1e3", 400, "invalid_content_length", "Content-Length is not a number"),
    ],
)
async def test_content_length_refusals(length: str, status: int, code: str, message: str) -> None:
    async with NuguTestClient(make_play(), Settings(max_body=1000)) as client:
        answer = await client.request(
            "POST", "/answer.echo", BODY, {**JSON, "content-length": length}
        )
    assert answer.status == status
    assert (answer.json["error"]["code"], answer.json["error"]["message"]) == (code, message)


async def test_content_length_at_the_cap_is_read() -> None:
    """A declared length of exactly max_body (as many digits as the cap) is not refused."""
    async with NuguTestClient(make_play(), Settings(max_body=1000)) as client:
        answer = await client.request(
            "POST", "/answer.echo", BODY, {**JSON, "content-length": "1000"}
        )
    assert answer.status == 200


async def call_raw(app: Any, messages: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Send ``messages`` as the request; returns the status and the JSON body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/answer.echo",
        "headers": [(b"content-type", b"application/json")],
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_streamed_body_at_and_over_the_cap() -> None:
    cap = len(BODY) + 10
    app = create_app(make_play(), Settings(max_body=cap))
    await app.startup()
    try:
        padded = BODY[:-1] + b"," + b'"p":"' + b"x" * (cap - len(BODY) - 7) + b'"}'
        assert len(padded) == cap
        parts = [padded[:10], padded[10:20], padded[20:]]
        msgs = [
            {"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(parts)
        ]
        status, data = await call_raw(app, msgs)
        assert status == 200, data
        over = padded[:-1] + b" }"
        parts = [over[:10], over[10:]]
        msgs = [
            {"type": "http.request", "body": p, "more_body": i < 1} for i, p in enumerate(parts)
        ]
        status, data = await call_raw(app, msgs)
        assert status == 413
        assert data["error"]["message"] == f"the body is over the {cap}-byte limit"
        # A chunk without "body" counts as empty.
        msgs = [
            {"type": "http.request", "more_body": True},
            {"type": "http.request", "body": BODY, "more_body": False},
        ]
        assert (await call_raw(app, msgs))[0] == 200
    finally:
        await app.shutdown()


async def test_a_client_gone_mid_body_is_400_disconnected() -> None:
    app = create_app(make_play())
    await app.startup()
    try:
        msgs = [
            {"type": "http.request", "body": BODY[:5], "more_body": True},
            {"type": "http.disconnect"},
        ]
        status, data = await call_raw(app, msgs)
    finally:
        await app.shutdown()
    assert status == 400
    assert (data["error"]["code"], data["error"]["message"]) == (
        "disconnected",
        "the client went away",
    )


# -- not started ---------------------------------------------------------------------------


async def test_not_started_is_said_once_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(make_play())
    with caplog.at_level(logging.ERROR, "voicehook.server"):
        for _ in range(3):
            status, data = await call_raw(app, [{"type": "http.request", "body": BODY}])
            assert status == 503
            assert (data["error"]["code"], data["error"]["message"]) == ("not_started", NOT_STARTED)
    assert [r.getMessage() for r in caplog.records] == [NOT_STARTED]


# -- /health and the store probe -----------------------------------------------------------


class RecordingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts: list[tuple[str, Any, float | None]] = []

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        self.puts.append((key, value, ttl))
        return await super().put(key, value, version=version, ttl=ttl)


async def test_health_writes_a_probe_key_with_a_minute_of_ttl() -> None:
    store = RecordingStore()
    play = make_play()
    async with NuguTestClient(create_app(play, Settings(), store=store)) as client:
        for _ in range(2):
            answer = await client.request("GET", "/health")
            assert (answer.status, answer.body) == (200, b"OK")
    key = f"health:rules:{os.getpid()}-"
    assert [(k[: len(key)], v, ttl) for k, v, ttl in store.puts] == [(key, 1, 60.0), (key, 2, 60.0)]
    assert len({k for k, _, _ in store.puts}) == 1


async def test_health_read_only_probe_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    store = RecordingStore()
    pings = []

    async def ping() -> None:
        pings.append(1)

    monkeypatch.setattr(store, "ping", ping)
    settings = Settings(health_write_probe=False)
    async with NuguTestClient(create_app(make_play(), settings, store=store)) as client:
        assert (await client.request("GET", "/health")).status == 200
    assert store.puts == [] and pings == [1]


async def test_health_answers_and_logs_each_change_once(caplog: pytest.LogCaptureFixture) -> None:
    play = make_play()
    state = {"db": True, "cache": True}

    @play.health_check("db")
    async def db(ctx: Any) -> bool:
        return state["db"]

    @play.health_check("cache")
    async def cache(ctx: Any) -> bool:
        if not state["cache"]:
            raise ConnectionError("cache at 10.0.0.7:6379 refused")
        return True

    async with NuguTestClient(play) as client:
        with caplog.at_level(logging.INFO, "voicehook.server"):
            head = await client.request("HEAD", "/health")
            assert (head.status, head.body, head.headers["content-type"]) == (
                200,
                b"",
                "text/plain; charset=utf-8",
            )
            state["db"] = state["cache"] = False
            for _ in range(2):
                bad = await client.request("GET", "/health")
                assert bad.status == 503
                assert bad.headers["content-type"] == "application/json"
                assert bad.json["error"] == {
                    "code": "unhealthy",
                    "message": "failing: cache, db; see the log",
                }
            head = await client.request("HEAD", "/health")
            assert (head.status, head.body) == (503, b"")
            state["cache"] = True
            assert (await client.request("GET", "/health")).json["error"]["message"] == (
                "failing: db; see the log"
            )
            state["db"] = True
            for _ in range(2):
                ok = await client.request("GET", "/health")
                assert (ok.status, ok.body) == (200, b"OK")
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "voicehook.server"]
    assert lines == [
        (
            logging.ERROR,
            "unhealthy: db: check returned False; "
            "cache: ConnectionError: cache at 10.0.0.7:6379 refused",
        ),
        (logging.ERROR, "unhealthy: db: check returned False"),
        (logging.INFO, "healthy again"),
    ]


async def test_a_slow_health_check_times_out() -> None:
    play = make_play()

    @play.health_check("slow")
    async def slow(ctx: Any) -> bool:
        await asyncio.sleep(5)
        return True

    app = create_app(play, Settings(health_timeout=0.1))
    await app.startup()
    try:
        assert await app.check_health() == {"slow": "no answer within 0.1 s"}
    finally:
        await app.shutdown()


# -- /metrics ------------------------------------------------------------------------------


def metric_lines(text: str) -> set[str]:
    return {line for line in text.splitlines() if not line.startswith("#")}


def test_metrics_carry_the_plays_numbers_and_counters() -> None:
    play = make_play()
    answers = play.counter("quiz_answers_total", "퀴즈 답변 수", labels=("result",))
    answers.inc(result="right")
    answers.inc(result="right")
    plain = play.counter("plain_total", "no labels")
    plain.inc()
    app = create_app(play)
    stats = play.stats
    stats.state_conflicts, stats.state_save_errors = 1, 2
    stats.thread_pool_saturated, stats.blocked_deadline = 3, 4
    app.context.http = SimpleNamespace(requests=5, errors=6)  # type: ignore[assignment]
    text = app.render_metrics().decode()
    assert {
        "voicehook_state_conflicts_total 1",
        "voicehook_state_save_errors_total 2",
        "voicehook_thread_pool_saturated_total 3",
        "voicehook_blocked_deadline_total 4",
        "voicehook_upstream_requests_total 5",
        "voicehook_upstream_errors_total 6",
        'quiz_answers_total{result="right"} 2.0',
        "plain_total 1.0",
        "voicehook_workers 1",
    } <= metric_lines(text)
    assert "# HELP quiz_answers_total 퀴즈 답변 수" in text
    app.context.http = None
    assert "voicehook_upstream_requests_total 0" in metric_lines(app.render_metrics().decode())


def test_metrics_add_up_the_other_workers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    play = make_play()
    play.stats.state_conflicts = 1
    app = create_app(play, Settings(metrics_dir=str(tmp_path)))
    other = {"pid": os.getpid() + 100000, "events": {"state_conflicts": 10}, "in_flight": 0}
    (tmp_path / f"worker-{other['pid']}.json").write_text(json.dumps(other))
    assert "voicehook_state_conflicts_total 11" in metric_lines(app.render_metrics().decode())
    # This worker's own snapshot is written to the directory.
    app._write_share()
    mine = json.loads((tmp_path / f"worker-{os.getpid()}.json").read_text())
    assert mine["events"]["state_conflicts"] == 1
    # A directory that cannot be read or written: a warning, never a failed scrape.
    assert app._share is not None

    def broken(*args: Any) -> Any:
        raise OSError("disk gone")

    app._share.others = broken  # type: ignore[method-assign]
    app._share.write = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, "voicehook.server"):
        text = app.render_metrics().decode()
        app._write_share()
        app._write_share()  # rate limited: said once
    assert "voicehook_state_conflicts_total 1" in metric_lines(text)
    assert [r.getMessage() for r in caplog.records] == [
        "cannot read the other workers' metrics: disk gone",
        "cannot write this worker's metrics: disk gone",
    ]


def test_without_a_metrics_dir_nothing_is_shared(tmp_path: Path) -> None:
    app = create_app(make_play())
    app._write_share()  # no directory: nothing to do, no error
    assert app._share is None


async def test_the_snapshot_is_shared_while_running_and_at_shutdown(tmp_path: Path) -> None:
    async with NuguTestClient(make_play(), Settings(metrics_dir=str(tmp_path))) as client:
        path = tmp_path / f"worker-{os.getpid()}.json"
        for _ in range(100):  # the share loop writes at once, then every second
            if path.exists():
                break
            await asyncio.sleep(0.01)
        first = json.loads(path.read_text())
        assert first["requests"] == []
        assert (await client.request("POST", "/answer.echo", BODY, JSON)).status == 200
    last = json.loads(path.read_text())
    assert [r[:3] for r in last["requests"]] == [["answer.echo", "OK", 200]]


# -- everything but a channel call: health, metrics, wrong methods, unknown paths ----------


@pytest.mark.parametrize(
    ("method", "path", "status", "allow", "code", "message"),
    [
        (
            "GET",
            "/nugu/answer.echo",
            405,
            "POST",
            "method_not_allowed",
            "the nugu channel takes POST",
        ),
        ("POST", "/nugu/a/b", 404, None, "not_found", "the nugu channel answers /nugu/{tail}"),
        ("POST", "/other", 404, None, "not_found", "no route for '/other'"),
        ("POST", "/" + "x" * 300, 404, None, "not_found", f"no route for {'/' + 'x' * 199!r}"),
        ("POST", "/health", 405, "GET, HEAD", "method_not_allowed", "use GET"),
        ("DELETE", "/nugu/health", 405, "GET, HEAD", "method_not_allowed", "use GET"),
        ("POST", "/metrics", 405, "GET", "method_not_allowed", "use GET"),
    ],
)
async def test_wrong_methods_and_paths(
    method: str, path: str, status: int, allow: str | None, code: str, message: str
) -> None:
    async with NuguTestClient(make_play(), Settings(prefix="/nugu")) as client:
        answer = await client.request(method, path, BODY, JSON)
    assert answer.status == status
    assert answer.headers.get("allow") == allow
    assert answer.headers["content-type"] == "application/json"
    assert answer.json["error"] == {"code": code, "message": message}
    assert "x-request-id" not in answer.headers


async def test_metrics_answer_in_the_prometheus_text_format() -> None:
    async with NuguTestClient(make_play(), Settings(prefix="/nugu")) as client:
        answer = await client.request("GET", "/metrics")
        assert answer.status == 200
        assert answer.headers["content-type"] == "text/plain; version=0.0.4"
        assert answer.headers["content-length"] == str(len(answer.body))
        # Not under the prefix unless asked.
        assert (await client.request("GET", "/nugu/metrics")).status == 405
    settings = Settings(prefix="/nugu", metrics_under_prefix=True)
    async with NuguTestClient(make_play(), settings) as client:
        assert (await client.request("GET", "/nugu/metrics")).status == 200


async def test_a_mounted_app_strips_its_root_path() -> None:
    app = create_app(make_play())
    await app.startup()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mount/answer.echo",
        "root_path": "/mount",
        "headers": [(b"content-type", b"application/json")],
    }
    try:
        await app(scope, receive, send)
    finally:
        await app.shutdown()
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["resultCode"] == "OK"


async def test_websockets_are_closed() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    await create_app(make_play())({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1003}]


async def run_lifespan(app: Any, *kinds: str) -> list[dict[str, Any]]:
    incoming = [{"type": f"lifespan.{k}"} for k in kinds]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app({"type": "lifespan"}, receive, send), 10)
    return sent


async def test_the_lifespan_starts_and_stops_the_app() -> None:
    app = create_app(make_play())
    assert await run_lifespan(app, "startup", "shutdown") == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert not app.started


async def test_the_lifespan_reports_failed_hooks(caplog: pytest.LogCaptureFixture) -> None:
    play = make_play()

    @play.on_startup
    async def boom(ctx: Any) -> None:
        raise RuntimeError("no database")

    with caplog.at_level(logging.ERROR, "voicehook.server"):
        sent = await run_lifespan(create_app(play), "startup")
    assert sent == [{"type": "lifespan.startup.failed", "message": "no database"}]
    assert [r.getMessage() for r in caplog.records] == ["startup failed"]
    caplog.clear()

    class Broken:
        name = "broken"
        methods = frozenset({"POST"})

        async def startup(self, app: Any) -> None:
            pass

        async def shutdown(self, app: Any) -> None:
            raise RuntimeError("cannot flush")

        async def handle(self, request: Any) -> Any:
            raise AssertionError

    from voicehook.server.routing import Route

    app = create_app(make_play(), routes=[Route("/broken", Broken(), exact=True)])
    with caplog.at_level(logging.ERROR, "voicehook.server"):
        sent = await run_lifespan(app, "startup", "shutdown")
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert [r.getMessage() for r in caplog.records] == ["shutdown of the broken channel failed"]


async def test_a_failed_start_closes_what_it_opened(tmp_path: Path) -> None:
    """A startup hook that fails leaves no HTTP client session and no store file open."""
    from voicehook.server.routing import Route

    events: list[str] = []

    class Recorder:
        name = "recorder"
        methods = frozenset({"POST"})

        async def startup(self, app: Any) -> None:
            events.append("channel up")

        async def shutdown(self, app: Any) -> None:
            events.append("channel down")

        async def handle(self, request: Any) -> Any:
            raise AssertionError

    class Failing(Recorder):
        name = "failing"

        async def startup(self, app: Any) -> None:
            raise RuntimeError("no certificate")

    play = make_play()

    @play.on_shutdown
    async def down(ctx: Any) -> None:
        events.append("play down")

    app = create_app(
        play,
        Settings(store=f"sqlite:///{tmp_path / 'state.db'}"),
        routes=[
            Route("/rec", Recorder(), exact=True),
            Route("/fail", Failing(), exact=True),
        ],
    )
    ctx = app.context
    sent = await run_lifespan(app, "startup")
    assert sent == [{"type": "lifespan.startup.failed", "message": "no certificate"}]
    # The channel that started is stopped, the play's shutdown hooks run (its startup
    # hooks had all run), and the client and store are closed and dropped.
    assert events == ["channel up", "channel down", "play down"]
    assert ctx.http is None and ctx.store is None

    # A play startup hook that fails: its shutdown hooks do not run, the resources close.
    events.clear()
    play2 = make_play()

    @play2.on_startup
    async def boom(ctx: Any) -> None:
        raise RuntimeError("no database")

    @play2.on_shutdown
    async def down2(ctx: Any) -> None:
        events.append("play down")

    app2 = create_app(play2, Settings(store=f"sqlite:///{tmp_path / 'state2.db'}"))
    sent = await run_lifespan(app2, "startup")
    assert sent == [{"type": "lifespan.startup.failed", "message": "no database"}]
    assert events == []
    assert app2.context.http is None and app2.context.store is None
