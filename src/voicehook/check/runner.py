"""Sending the planned requests to a backend proxy over HTTP and checking the answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import aiohttp
import msgspec

from voicehook.check.cases import RequestCase, count_requests, plan_requests
from voicehook.check.report import ActionReport, CaseResult, CheckReport, HealthResult
from voicehook.nugu.answer import Finding, check_answer, check_status, timing_findings
from voicehook.play.app import Play
from voicehook.play.definition import PlayDefinition


class BackendUnreachable(Exception):
    """No TCP connection to the backend could be made (refused, unknown host, ...)."""


def web_urls(base_url: str, prefix: str = "") -> tuple[str, list[str]]:
    """The Web URL (base plus prefix) and the health URLs to check.

    Health is checked under the Web URL and, when the Web URL has a path, at the root too
    (spec §1.3: the docs say ``GET /health``; whether it is relative to the Web URL is not
    stated, so a backend should serve both).
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the backend URL must start with http:// or https://, got {base_url!r}")
    if parts.query or parts.fragment:
        raise ValueError("the backend URL must not have a query or a fragment")
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.strip("/")
    extra = prefix.strip().strip("/")
    segments = [s for s in (path, extra) if s]
    web = origin + "".join("/" + s for s in segments)
    health = [web + "/health"]
    if web != origin:
        health.append(origin + "/health")
    return web, health


async def check_backend(
    definition: PlayDefinition | Play,
    base_url: str,
    *,
    api_key: str | None = None,
    timeout: float = 3.0,
    slow_ms: float = 1000.0,
    max_requests: int = 24,
    prefix: str = "",
    actions: Iterable[str] | None = None,
    concurrency: int = 4,
    insecure: bool = False,
) -> CheckReport:
    """Drive the backend proxy at ``base_url`` (the Web URL) with generated requests.

    Every action of the play with the backend on gets up to ``max_requests`` requests (see
    :func:`voicehook.check.plan_requests`). Raises :class:`BackendUnreachable` when the
    first health request cannot connect, and ValueError for bad arguments. ``insecure``
    skips TLS certificate checks (self-signed certificates on a test server).
    """
    defn = definition.definition if isinstance(definition, Play) else definition
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    web, health_urls = web_urls(base_url, prefix)
    wanted = list(actions) if actions is not None else None
    if wanted is not None:
        unknown = [a for a in wanted if a not in defn.actions]
        if unknown:
            raise ValueError(f"the play has no action(s): {', '.join(unknown)}")
    names = wanted if wanted is not None else list(defn.actions)
    checked = [n for n in names if defn.actions[n].backend]
    skipped = [n for n in names if not defn.actions[n].backend]
    plans = {n: plan_requests(defn, n, api_key=api_key, max_requests=max_requests) for n in checked}
    settings = {
        "timeout": timeout,
        "slow_ms": slow_ms,
        "max_requests": max_requests,
        "api_key": api_key is not None,
        "insecure": insecure,
    }
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=not insecure)
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(
        timeout=client_timeout,
        connector=connector,
        headers={"User-Agent": "voicehook-check"},
    ) as session:
        health = [await _health(session, health_urls[0], first=True)]
        health.extend(
            await asyncio.gather(*(_health(session, u, first=False) for u in health_urls[1:]))
        )

        async def one(case: RequestCase) -> CaseResult:
            async with limit:
                codes = defn.exception_codes(case.action)
                return await _send(session, f"{web}/{case.action}", case, codes, slow_ms)

        reports = []
        for n in checked:
            results = await asyncio.gather(*(one(c) for c in plans[n]))
            reports.append(
                ActionReport(
                    action=n,
                    url=f"{web}/{n}",
                    results=list(results),
                    planned=count_requests(defn, n),
                )
            )
    return CheckReport(
        play=defn.name,
        backend=web,
        actions=reports,
        health=health,
        skipped=skipped,
        settings=settings,
    )


async def _health(session: aiohttp.ClientSession, url: str, *, first: bool) -> HealthResult:
    started = time.perf_counter()
    try:
        async with session.get(url, allow_redirects=False) as resp:
            await resp.read()
            status = resp.status
    except aiohttp.ClientConnectorCertificateError as exc:
        if first:
            raise BackendUnreachable(
                f"{url}: the TLS certificate is not trusted ({exc}); use --insecure "
                "(insecure=True) for a self-signed test server"
            ) from exc
        return _health_failure(url, started, f"TLS certificate not trusted: {exc}")
    except aiohttp.ClientConnectorError as exc:
        if first:
            raise BackendUnreachable(f"cannot connect to {url}: {exc}") from exc
        return _health_failure(url, started, f"cannot connect: {exc}")
    except TimeoutError:
        return _health_failure(url, started, "no answer within the timeout")
    except aiohttp.ClientError as exc:
        return _health_failure(url, started, f"{type(exc).__name__}: {exc}")
    ms = (time.perf_counter() - started) * 1000
    findings = []
    if status != 200:
        findings.append(
            Finding(
                "health_status",
                url,
                f"GET {url} answered HTTP {status}, not 200",
                "Answer 200 (any body, e.g. OK) while healthy; NUGU polls it and may suspend "
                "a play that stays unhealthy.",
            )
        )
    return HealthResult(url, status, ms, findings)


def _health_failure(url: str, started: float, why: str) -> HealthResult:
    ms = (time.perf_counter() - started) * 1000
    return HealthResult(url, None, ms, [Finding("health_unreachable", url, f"GET {url}: {why}")])


async def _send(
    session: aiohttp.ClientSession,
    url: str,
    case: RequestCase,
    exception_codes: Iterable[str],
    slow_ms: float,
) -> CaseResult:
    payload = msgspec.json.encode(case.body)
    started = time.perf_counter()
    try:
        async with session.post(
            url, data=payload, headers=case.headers, allow_redirects=False
        ) as resp:
            body = await resp.read()
            status = resp.status
    except TimeoutError:
        ms = (time.perf_counter() - started) * 1000
        return CaseResult(
            case,
            None,
            ms,
            None,
            [
                Finding(
                    "timeout",
                    "",
                    f"no answer within {ms / 1000:.1f} s (--timeout)",
                    "The device gives up after about 10 s for the whole turn; answer well "
                    "under 3 s.",
                )
            ],
        )
    except aiohttp.ClientError as exc:
        ms = (time.perf_counter() - started) * 1000
        return CaseResult(
            case,
            None,
            ms,
            None,
            [Finding("connection_error", type(exc).__name__, f"{type(exc).__name__}: {exc}")],
        )
    ms = (time.perf_counter() - started) * 1000
    findings = check_status(case, status, body)
    code = None
    if not findings:
        verdict = check_answer(case, body, frozenset(exception_codes))
        findings = list(verdict.findings)
        code = verdict.result_code
    findings.extend(timing_findings(ms, slow_ms))
    return CaseResult(case, status, ms, code, findings)
