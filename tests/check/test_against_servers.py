"""The checker against real servers: a correct voicehook backend and a broken aiohttp one."""

from __future__ import annotations

import asyncio

import pytest

from tests.check.broken_backend import SLOW_S
from tests.check.conftest import API_KEY
from voicehook.check import BackendUnreachable, CheckReport, check_backend
from voicehook.play import PlayDefinition

from .servers import closed_port_url

BACKEND_ACTIONS = [
    "answer.weather",
    "play.music",
    "music.finished",
    "calc.sum",
    "quiz.ask",
    "slow.lookup",
]


def _kinds(report: CheckReport, action: str) -> set[str]:
    return {f.kind for f in report.action(action).findings}


async def test_correct_voicehook_backend_has_no_violations(
    definition: PlayDefinition, good_url: str
) -> None:
    report = await check_backend(definition, good_url, api_key=API_KEY, max_requests=12)
    assert report.ok, report.render()
    assert [a.action for a in report.actions] == BACKEND_ACTIONS
    assert report.skipped == ["hello"]
    assert all(len(a.results) >= 4 for a in report.actions)
    # Calls are answered 200 with OK or a declared exception code.
    codes = {r.result_code for a in report.actions for r in a.results if r.status == 200}
    assert codes <= {"OK", "UNSUPPORTED_LOCATION"}
    assert "OK" in codes and "UNSUPPORTED_LOCATION" in codes
    # The server denies Play Builder calls without a key: a warning, not a violation.
    assert report.kinds() == {"play_builder_unauthorized"}
    assert all(f.severity == "warning" for f in report.findings)
    # The event action got its event and answered with a directive list.
    finished = report.action("music.finished")
    assert all(
        r.case.body["event"]["type"] == "AudioPlayer.PlaybackFinished" for r in finished.results
    )


async def test_device_calls_without_key_are_violations(
    definition: PlayDefinition, good_url: str
) -> None:
    report = await check_backend(definition, good_url, max_requests=4, actions=["quiz.ask"])
    assert not report.ok
    group = next(g for g in report.action("quiz.ask").groups() if g.kind == "http_status")
    assert group.subject == "401"
    assert "--api-key" in group.advice


async def test_prefixed_backend_without_auth_is_clean(
    definition: PlayDefinition, open_prefixed_url: str
) -> None:
    report = await check_backend(definition, open_prefixed_url, prefix="/nugu", max_requests=8)
    assert report.findings == [], report.render()
    assert [h.url for h in report.health] == [
        f"{open_prefixed_url}/nugu/health",
        f"{open_prefixed_url}/health",
    ]
    assert report.action("play.music").url == f"{open_prefixed_url}/nugu/play.music"


async def test_wrong_prefix_is_reported(definition: PlayDefinition, open_prefixed_url: str) -> None:
    report = await check_backend(
        definition, open_prefixed_url + "/wrong", max_requests=2, actions=["quiz.ask"]
    )
    assert "health_status" in report.kinds()
    assert {g.subject for g in report.action("quiz.ask").groups()} == {"404"}


@pytest.fixture(scope="module")
def broken_report(definition: PlayDefinition, broken_url: str) -> CheckReport:
    """One run against the broken backend, shared by the tests below."""
    return asyncio.run(
        check_backend(
            definition,
            broken_url,
            api_key=API_KEY,
            timeout=1.0,
            slow_ms=SLOW_S * 1000 * 0.6,
            max_requests=6,
        )
    )


async def test_broken_missing_key_and_int_value(broken_report: CheckReport) -> None:
    groups = {(g.kind, g.subject): g for g in broken_report.action("answer.weather").groups()}
    missing = groups[("output_key_missing", "weather")]
    assert missing.severity == "violation"
    assert len(missing.requests) == len(broken_report.action("answer.weather").results)
    number = groups[("output_value_not_string", "unit")]
    assert number.severity == "violation"
    assert "21" in number.message and "accept numbers" in number.message
    # The broken backend only echoes what it received, so parameters the request left out
    # (null ones; a required one, as the Play Builder test may do) are missing from output.
    results = {r.case.number: r for r in broken_report.action("answer.weather").results}
    left_out = {key for (kind, key) in groups if kind == "output_key_missing"} - {"weather"}
    assert left_out == {"location", "day", "when"}
    for key in left_out:
        for n in groups[("output_key_missing", key)].requests:
            assert key not in results[n].case.request_keys
    assert {kind for kind, _ in groups} == {"output_key_missing", "output_value_not_string"}


async def test_broken_undeclared_result_code(broken_report: CheckReport) -> None:
    assert _kinds(broken_report, "play.music") == {"result_code_unknown"}
    group = broken_report.action("play.music").groups()[0]
    assert group.subject == "NOT_DECLARED"


async def test_broken_directives_object(broken_report: CheckReport) -> None:
    assert _kinds(broken_report, "music.finished") == {"directives_not_list"}


async def test_broken_http_500(broken_report: CheckReport) -> None:
    assert _kinds(broken_report, "calc.sum") == {"http_status"}
    assert {r.status for r in broken_report.action("calc.sum").results} == {500}


async def test_broken_invalid_json(broken_report: CheckReport) -> None:
    assert _kinds(broken_report, "quiz.ask") == {"not_json"}


async def test_broken_slow_and_timeout(broken_report: CheckReport) -> None:
    results = broken_report.action("slow.lookup").results
    for r in results:
        kinds = {f.kind for f in r.findings}
        if r.case.shape == "play_builder":
            assert kinds == {"timeout"}, r.findings
            assert r.status is None
        else:
            assert kinds == {"slow"}, r.findings
            assert r.findings[0].severity == "warning"


async def test_broken_health(broken_report: CheckReport) -> None:
    (health,) = broken_report.health
    assert health.status == 503
    assert [f.kind for f in health.findings] == ["health_status"]
    assert not broken_report.ok
    assert broken_report.exit_code() == 1


async def test_unreachable_backend_raises(definition: PlayDefinition) -> None:
    with pytest.raises(BackendUnreachable):
        await check_backend(definition, closed_port_url(), max_requests=1)


async def test_bad_arguments(definition: PlayDefinition) -> None:
    with pytest.raises(ValueError, match="http"):
        await check_backend(definition, "ftp://127.0.0.1", max_requests=1)
    with pytest.raises(ValueError, match="no action"):
        await check_backend(definition, "http://127.0.0.1:1", actions=["nope"])
