"""The ASGI application: routing by path, limits, auth, errors, /health, /metrics, lifespan.

Written directly against ASGI (no web framework) because the NUGU path is the hot path: it
must stay within 20% of a raw ASGI implementation (see docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Iterable
from typing import Any

from voicehook.errors import HttpError, error_body
from voicehook.http import JSON, Answer, Channel, HttpRequest, Message, Receive, Scope, Send
from voicehook.jsonlimits import json_depth_over
from voicehook.limits import LogLimiter, clip
from voicehook.nugu.auth import TokenAuth
from voicehook.nugu.endpoint import NuguChannel
from voicehook.play.app import Play, RuntimeSettings
from voicehook.play.context import AppContext
from voicehook.server.config import Settings
from voicehook.server.logs import REQUEST_ID
from voicehook.server.metrics import Metrics, MetricsShare, render
from voicehook.server.routing import Route, RouteTable
from voicehook.server.watchdog import LoopWatchdog
from voicehook.upstream import HttpClient

logger = logging.getLogger("voicehook.server")
_perf = time.perf_counter
access_logger = logging.getLogger("voicehook.access")

_CT_JSON = (b"content-type", b"application/json")
_JSON = [_CT_JSON]
#: The answer to a call that arrives before the app's startup ran.
NOT_STARTED = (
    "the voicehook app was not started: its ASGI lifespan did not run, so the store, the "
    "HTTP client and the play's startup hooks are not there. Mounted inside another app "
    "(Starlette, FastAPI), mounted apps get no lifespan events: call `await app.startup()` "
    "and `await app.shutdown()` from the host app's lifespan (docs/backend-proxy.md, "
    "'Mounting in another ASGI app'). Under uvicorn, do not pass --lifespan off."
)
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
#: ``/health`` judges the share of failed state saves over about this many seconds ...
HEALTH_WINDOW = 60.0
#: ... once at least this many saves were tried in it (settings.health_failure_rate).
HEALTH_MIN_SAVES = 10
_REQUEST_ID_OK = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _json_media_type(value: bytes) -> bool:
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def runtime_settings(play: Play, settings: Settings) -> RuntimeSettings:
    """The runtime settings of the play's calls when served with ``settings``: the
    server's deadline, codes and output policy over the play's thread and slow-call
    settings. The play object itself is not changed."""
    rs = play.settings
    return RuntimeSettings(
        deadline=settings.deadline,
        failure_code=settings.failure_code,
        timeout_code=settings.timeout_code,
        unknown_action_code=settings.unknown_action_code,
        output_policy="strict" if settings.output_policy == "strict" else "stringify",
        threads=settings.threads,
        slow_warning=rs.slow_warning,
    )


class VoicehookApp:
    """One ASGI application serving a play on its channels (see :func:`create_app`).

    The server owns framing: the route table picks a channel by path, then the method
    (405), the content type (415), the body size (413) and the request id are handled here,
    and the channel gets one :class:`~voicehook.http.HttpRequest`.
    """

    def __init__(
        self,
        play: Play,
        settings: Settings,
        store: Any = None,
        routes: Iterable[Route] = (),
    ) -> None:
        self.play = play
        self.settings = settings
        self.runtime = runtime_settings(play, settings)
        self.metrics = Metrics()
        self._store_url = settings.store
        self.context = AppContext(
            play.name,
            store=store,
            user_ttl=settings.user_ttl or None,
            max_key_length=settings.max_key_length,
        )
        self._owns_store = store is None
        self._begun: list[Channel] = []  # channels started by the running startup()
        self._play_started = False
        self._ping_store = store is not None or bool(settings.store) or settings.default_store
        auth = TokenAuth(settings.api_keys, settings.play_builder) if settings.api_keys else None
        self.nugu = NuguChannel(play, self.context, auth, self.runtime)
        prefix = settings.prefix
        self.routes = RouteTable([*routes, Route(prefix, self.nugu)])
        self.routes.check_actions(play.specs)
        self._match = self.routes.match
        # Health stays under the prefix too (balancers and `voicehook check` that see only
        # the Web URL use it; it says nothing but OK or unhealthy). Metrics do not, unless
        # asked: a proxy that forwards {prefix}/ must not publish them.
        self._health_paths = frozenset({"/health", prefix + "/health"})
        self._metrics_paths = frozenset(
            {"/metrics", prefix + "/metrics"} if settings.metrics_under_prefix else {"/metrics"}
        )
        self._reserved = self._health_paths | self._metrics_paths
        # Content-Length values with fewer digits than the cap are always under it.
        self._short_length = len(str(settings.max_body)) - 1
        self._max_body = settings.max_body
        self._max_depth = settings.max_json_depth
        self._access_log = settings.access_log
        self._slow_warning = self.runtime.slow_warning
        self._log_limit = LogLimiter(10.0)
        self._share = MetricsShare(settings.metrics_dir) if settings.metrics_dir else None
        self._share_task: asyncio.Task[None] | None = None
        self._watchdog: LoopWatchdog | None = None
        self._health_logged = ""
        self._save_samples: deque[tuple[float, int, int]] = deque(maxlen=4096)
        self._probe_key = f"health:{play.name}:{os.getpid()}-{os.urandom(4).hex()}"
        # Request ids "a1b2c3-1f": the next one is one C-level call (an f-string with a
        # format spec per call costs about twice as many instructions).
        self._next_id = map(f"{os.urandom(3).hex()}-{{:x}}".format, itertools.count(1)).__next__
        self.started = False
        self._said_not_started = False

    @property
    def channels(self) -> list[Any]:
        """Every mounted channel, once each."""
        seen: dict[int, Any] = {}
        for route in self.routes.routes:
            seen.setdefault(id(route.channel), route.channel)
        return list(seen.values())

    # -- ASGI entry ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root = scope.get("root_path")
            if root and path.startswith(root):  # mounted under a prefix (Starlette, FastAPI)
                path = path[len(root) :]
            if path not in self._reserved:
                found = self._match(path)
                if found is not None:
                    route, tail = found
                    method: str = scope["method"]
                    if method in route.channel.methods:
                        if not self.started:
                            await self._not_started(send)
                            return
                        await self._dispatch(route, method, tail, scope, receive, send)
                        return
            await self._http(path, scope, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    # -- lifespan ------------------------------------------------------------------------

    async def startup(self) -> None:
        """Open the store and the HTTP client, then run the play's startup hooks.

        A start that fails part-way closes what it had opened (the channels started, the
        play's shutdown hooks when its startup hooks all ran, the HTTP client, the store it
        owns) before the error goes on, so a failed start leaks no connection or file."""
        self._begun = []
        self._play_started = False
        try:
            await self._start()
        except BaseException:
            await self._undo_start()
            raise

    async def _undo_start(self) -> None:
        ctx = self.context
        for channel in reversed(self._begun):
            try:
                await channel.shutdown(ctx)
            except Exception:
                logger.exception("shutdown of the %s channel failed", channel.name)
        self._begun = []
        try:
            if self._play_started:
                await self.play.shutdown(ctx)
        except Exception:
            logger.exception("the play's shutdown hooks failed after a failed start")
        finally:
            self._play_started = False
            await self._close_resources()

    async def _close_resources(self) -> None:
        """Close the HTTP client and the store this app opened."""
        ctx = self.context
        try:
            if ctx.http is not None:
                await ctx.http.aclose()
        finally:
            ctx.http = None
            if ctx.store is not None and self._owns_store:
                store, ctx.store = ctx.store, None
                await store.aclose()

    async def _start(self) -> None:
        ctx = self.context
        if ctx.store is None and self._store_url:
            from voicehook.store import open_store

            ctx.store = open_store(self._store_url)
        if ctx.store is not None:
            opener = getattr(ctx.store, "open", None)
            if opener is not None:
                from voicehook.store import StoreError

                try:
                    await opener()
                except StoreError as exc:
                    raise StartupError(f"cannot open the state store: {exc}") from None
        elif self.settings.default_store:
            # The embedded default, opened now: a path that cannot be created stops the
            # start with a clear message instead of failing every stateful turn later.
            from voicehook.store import DEFAULT_SQLITE_PATH, SQLiteStore, StoreError

            store = SQLiteStore(DEFAULT_SQLITE_PATH)
            where = os.path.join(os.getcwd(), DEFAULT_SQLITE_PATH.removeprefix("./"))
            try:
                await store.open()
            except StoreError as exc:
                raise StartupError(
                    f"cannot create the state store {where} "
                    f"({exc.__cause__ or exc}); run in a writable directory or choose a "
                    "store with --store sqlite:////data/state.db (VOICEHOOK_STORE)"
                ) from None
            ctx.store = store
            logger.info(
                "state store: SQLite at %s (choose another with --store)",
                where,
            )
        if ctx.http is None:
            ctx.http = HttpClient(timeout=self.settings.upstream_timeout)
            await ctx.http.open()
        await self.play.startup(ctx)
        self._play_started = True
        for channel in self.channels:
            await channel.startup(ctx)
            self._begun.append(channel)
        for problem in self.play.problems():
            logger.warning("play %r: %s", self.play.name, problem)
        if self.settings.loop_lag_warning > 0:
            from voicehook.server.watchdog import LoopWatchdog

            self._watchdog = LoopWatchdog(
                self.settings.loop_lag_warning,
                self._handler_codes,
                lambda _lag, _name: self.metrics.event("loop_blocked"),
            )
            self._watchdog.start()
        if self._share is not None:
            self._share_task = asyncio.get_running_loop().create_task(self._share_loop())
        stats = self.play.stats  # the base of /health's failure rate until the first check
        self._save_samples.append((time.monotonic(), stats.state_saves, stats.state_save_errors))
        self.started = True

    async def shutdown(self) -> None:
        """Run the play's shutdown hooks, then close what startup opened."""
        ctx = self.context
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._share_task is not None:
            self._share_task.cancel()
            self._share_task = None
            self._write_share()
        for channel in reversed(self.channels):
            try:
                await channel.shutdown(ctx)
            except Exception:
                logger.exception("shutdown of the %s channel failed", channel.name)
        try:
            await self.play.shutdown(ctx)
        finally:
            await self._close_resources()
        self.started = False

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except StartupError as exc:
                    logger.error("startup failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                except Exception as exc:
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception as exc:
                    logger.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- HTTP ----------------------------------------------------------------------------

    async def _http(self, path: str, scope: Scope, send: Send) -> None:
        """Everything but a channel call: health, metrics, wrong methods, unknown paths."""
        method: str = scope["method"]
        if path in self._health_paths:
            if method in ("GET", "HEAD"):
                await self._health(send, head=method == "HEAD")
            else:
                await self._error(
                    send, HttpError(405, "method_not_allowed", "use GET"), "", b"GET, HEAD"
                )
            return
        if path in self._metrics_paths:
            if method == "GET":
                await _respond(
                    send,
                    200,
                    self.render_metrics(),
                    [(b"content-type", b"text/plain; version=0.0.4")],
                )
            else:
                await self._error(send, HttpError(405, "method_not_allowed", "use GET"), "", b"GET")
            return
        found = self.routes.match(path)
        route = found[0] if found is not None else self.routes.under(path)
        if route is not None:
            channel = route.channel
            if method in channel.methods:  # under the channel's prefix, but not a route
                await self._error(
                    send,
                    HttpError(
                        404, "not_found", f"the {channel.name} channel answers {route.pattern}"
                    ),
                    "",
                )
                return
            allowed = ", ".join(sorted(channel.methods))
            await self._error(
                send,
                HttpError(405, "method_not_allowed", f"the {channel.name} channel takes {allowed}"),
                "",
                allowed.encode(),
            )
            return
        await self._error(send, HttpError(404, "not_found", f"no route for {path[:200]!r}"), "")

    def _request_id(self, value: bytes | None) -> str:
        if value and len(value) <= 64 and all(b in _REQUEST_ID_OK for b in value):
            return value.decode()
        return self._next_id()

    async def _dispatch(
        self, route: Route, method: str, tail: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Frame one channel call (content type, body cap, request id) and answer it."""
        started = _perf()
        content_length = content_type = rid_header = None
        headers = scope["headers"]
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"x-request-id":
                rid_header = value
        if rid_header is None:
            request_id = self._next_id()
            out_headers = [_CT_JSON]
        else:
            request_id = self._request_id(rid_header)
            out_headers = [_CT_JSON, (b"x-request-id", request_id.encode())]
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            if (
                content_type is not None
                and content_type != b"application/json"
                and not _json_media_type(content_type)
            ):
                raise HttpError(
                    415, "unsupported_media_type", "send Content-Type: application/json"
                )
            if content_length is not None and (
                len(content_length) > self._short_length or not content_length.isdigit()
            ):
                self._check_length(content_length)
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                body: bytes = message.get("body", b"")
                if len(body) > self._max_body:
                    raise HttpError(
                        413, "body_too_large", f"the body is over the {self._max_body}-byte limit"
                    )
            else:
                body = await self._read_more(message, receive)
            if json_depth_over(body, self._max_depth):
                raise HttpError(
                    400,
                    "too_deep",
                    f"the JSON body nests arrays and objects more than {self._max_depth} levels",
                )
            rid_token = REQUEST_ID.set(request_id)  # handlers' own log records carry it
            try:
                answer: Answer = await route.channel.handle(
                    HttpRequest(method, tail, headers, body, request_id)
                )
            finally:
                REQUEST_ID.reset(rid_token)
        except HttpError as exc:
            metrics.in_flight -= 1
            metrics.rejected(exc.code, exc.status)
            held = self._log_limit.allow(exc.code)
            if held is None:
                metrics.event("logs_suppressed")
            else:
                logger.warning(
                    "rejected %s %s: %s%s",
                    exc.status,
                    exc.code,
                    clip(exc.message, 300),
                    f" ({held} more like it in the last 10 s, not logged)" if held else "",
                    extra={"request_id": request_id, "path": clip(scope["path"])},
                )
            await self._error(send, exc, request_id)
            return
        except Exception:
            metrics.in_flight -= 1
            metrics.rejected("internal_error", 500)
            logger.exception("internal error", extra={"request_id": request_id})
            await self._error(
                send,
                HttpError(500, "internal_error", "internal error; see the server log"),
                request_id,
            )
            return
        metrics.in_flight -= 1
        body_out = answer.body
        if answer.content_type is not JSON:
            out_headers[0] = (b"content-type", answer.content_type)
        if answer.headers:
            out_headers.extend(answer.headers)
        out_headers.append((b"content-length", b"%d" % len(body_out)))
        status = answer.status
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body_out})
        elapsed = _perf() - started
        label = answer.label
        metrics.observe(label, answer.result_code, status, elapsed)
        if answer.error is not None:
            held = self._log_limit.allow(f"answer:{label}:{answer.result_code}")
            if held is None:
                metrics.event("logs_suppressed")
            else:
                logger.warning(
                    "%s %r answered %s: %s%s",
                    route.channel.name,
                    clip(label),
                    answer.result_code,
                    clip(answer.error, 500),
                    f" ({held} more like it in the last 10 s, not logged)" if held else "",
                    extra={"request_id": request_id, "action": clip(label)},
                )
        if self._access_log:
            access_logger.info(
                "%s %s",
                label,
                answer.result_code,
                extra={
                    "request_id": request_id,
                    "channel": route.channel.name,
                    "action": label,
                    "result_code": answer.result_code,
                    "ms": round(elapsed * 1000, 3),
                    # the peer, or the X-Forwarded-For client with serve --proxy-headers
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
        elif elapsed > self._slow_warning:
            logger.warning(
                "slow call %r: %.0f ms",
                label,
                elapsed * 1000,
                extra={"request_id": request_id, "action": label},
            )

    def _check_length(self, content_length: bytes) -> None:
        """Refuse a body over the cap from its Content-Length, before reading it.

        Content-Length is digits only (RFC 9110): ``-1`` or ``+5``, which ``int()`` would
        take, are a 400 like any other non-number."""
        if not content_length.isdigit():
            raise HttpError(400, "invalid_content_length", "Content-Length is not a number")
        if int(content_length) > self._max_body:
            raise HttpError(
                413, "body_too_large", f"the body is over the {self._max_body}-byte limit"
            )

    async def _read_more(self, message: Message, receive: Receive) -> bytes:
        """Read a body that comes in several messages, up to the cap."""
        cap = self._max_body
        chunks = []
        size = 0
        while True:
            if message["type"] != "http.request":
                raise HttpError(400, "disconnected", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise HttpError(413, "body_too_large", f"the body is over the {cap}-byte limit")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
            message = await receive()

    async def _not_started(self, send: Send) -> None:
        """A call before startup: the host app did not forward the ASGI lifespan."""
        if not self._said_not_started:
            self._said_not_started = True
            logger.error("%s", NOT_STARTED)
        await self._error(send, HttpError(503, "not_started", NOT_STARTED), "")

    async def _error(
        self, send: Send, exc: HttpError, request_id: str, allow: bytes | None = None
    ) -> None:
        headers = list(_JSON)
        if allow is not None:
            headers.append((b"allow", allow))
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        await _respond(send, exc.status, exc.body(request_id), headers)

    async def _health(self, send: Send, *, head: bool) -> None:
        failures = await self.check_health()
        if not failures:
            if self._health_logged:
                logger.info("healthy again")
                self._health_logged = ""
            await _respond(send, 200, b"" if head else b"OK", _TEXT)
            return
        # The details go to the log (once per change), never to the unauthenticated answer:
        # they can name hosts, ports and file paths.
        detail = "; ".join(f"{k}: {v}" for k, v in failures.items())
        if detail != self._health_logged:
            logger.error("unhealthy: %s", detail)
            self._health_logged = detail
        body = error_body("unhealthy", f"failing: {', '.join(sorted(failures))}; see the log")
        await _respond(send, 503, b"" if head else body, _JSON)

    async def check_health(self) -> dict[str, str]:
        """Run the store checks and the play's health checks; name -> problem for failures.

        The store check writes: it updates a small key of this process (a 60 s TTL), so a
        store that can be read but not written (a full disk, a read-only file, a replica)
        fails it. ``health_write_probe = false`` makes it a read (``ping``) only.
        """
        checks: dict[str, Awaitable[object]] = {}
        ctx = self.context
        if ctx.store is not None and self._ping_store:
            checks["store"] = (
                self._probe_store(ctx.store)
                if self.settings.health_write_probe
                else ctx.store.ping()
            )
        for name, fn in self.play.health_checks.items():
            checks[name] = fn(ctx)
        writes = self._save_failures()
        if not checks:
            return {"store_writes": writes} if writes else {}
        timeout = self.settings.health_timeout
        names = list(checks)
        results = await asyncio.gather(
            *(asyncio.wait_for(c, timeout) for c in checks.values()), return_exceptions=True
        )
        failures: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, TimeoutError):
                failures[name] = f"no answer within {timeout:g} s"
            elif isinstance(result, BaseException):
                failures[name] = f"{type(result).__name__}: {result}"[:300]
            elif result is False:
                failures[name] = "check returned False"
        if writes:
            failures["store_writes"] = writes
        if "store" in failures:
            self.metrics.event("store_probe_failures")
        return failures

    def _save_failures(self) -> str | None:
        """The failed share of this process's state saves over about the last
        :data:`HEALTH_WINDOW` seconds, as a problem when it passes ``health_failure_rate``
        (and at least :data:`HEALTH_MIN_SAVES` saves were tried); else None. A sample is
        taken at start-up and at each health check; the base is the newest sample at least
        a window old (or the oldest there is)."""
        rate = self.settings.health_failure_rate
        if not rate:
            return None
        stats = self.play.stats
        now = time.monotonic()
        samples = self._save_samples
        samples.append((now, stats.state_saves, stats.state_save_errors))
        while len(samples) > 2 and now - samples[1][0] >= HEALTH_WINDOW:
            samples.popleft()
        _, saves0, errors0 = samples[0]
        saves = stats.state_saves - saves0
        failed = stats.state_save_errors - errors0
        if saves >= HEALTH_MIN_SAVES and failed > rate * saves:
            return (
                f"{failed} of the last {saves} state saves failed "
                f"(over health_failure_rate {rate:g})"
            )
        return None

    async def _probe_store(self, store: Any) -> None:
        from voicehook.store import update

        await update(store, self._probe_key, lambda n: (n or 0) + 1, default=0, ttl=60.0)

    # -- metrics -------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        stats = self.play.stats
        http = self.context.http
        extra = {
            "state_conflicts": stats.state_conflicts,
            "state_save_errors": stats.state_save_errors,
            "thread_pool_saturated": stats.thread_pool_saturated,
            "blocked_deadline": stats.blocked_deadline,
            "upstream_requests": getattr(http, "requests", 0),
            "upstream_errors": getattr(http, "errors", 0),
        }
        custom = {
            name: {
                "help": c.help,
                "labels": list(c.labels),
                "values": [[*key, value] for key, value in c.values.items()],
            }
            for name, c in self.play.counters.items()
        }
        return self.metrics.snapshot(extra_events=extra, custom=custom)

    def render_metrics(self) -> bytes:
        """``/metrics``: this worker's numbers plus every other worker's last snapshot."""
        snapshots = [self._snapshot()]
        if self._share is not None:
            try:
                snapshots += self._share.others(os.getpid())
            except OSError as exc:
                logger.warning("cannot read the other workers' metrics: %s", exc)
        return render(snapshots)

    def _write_share(self) -> None:
        if self._share is None:
            return
        try:
            self._share.write(self._snapshot())
        except OSError as exc:
            held = self._log_limit.allow("metrics_share")
            if held is not None:
                logger.warning("cannot write this worker's metrics: %s", exc)

    async def _share_loop(self) -> None:
        while True:
            self._write_share()
            await asyncio.sleep(1.0)

    def _handler_codes(self) -> dict[Any, str]:
        codes: dict[Any, str] = {}
        for name, spec in self.play.specs.items():
            for info in spec.handlers.values():
                code = getattr(info.fn, "__code__", None)
                if code is not None:
                    codes[code] = name
        return codes


class StartupError(RuntimeError):
    """The app cannot start (a store path that cannot be created); the message says why."""


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    play: Play,
    settings: Settings | None = None,
    *,
    store: Any = None,
    routes: Iterable[Route] = (),
) -> VoicehookApp:
    """The ASGI application serving ``play`` as a NUGU Backend proxy, plus ``routes``.

    Mount it in Starlette/FastAPI or run it with any ASGI server; ``voicehook serve`` runs it
    with uvicorn. ``store`` overrides ``settings.store`` with an already-built store object.
    ``routes`` mounts more channels (:class:`~voicehook.server.routing.Route`) next to the
    NUGU route at ``{prefix}/{actionName}``. The play object is not changed: the server's
    deadline and codes apply to the calls it serves (:func:`runtime_settings`).
    """
    return VoicehookApp(play, settings or Settings(), store=store, routes=routes)
