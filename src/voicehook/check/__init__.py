"""``voicehook check``: drive any NUGU backend proxy and report contract violations.

The checker reads a play definition, generates the requests NUGU would send to every action
with the backend on, sends them over HTTP, and checks each answer against the response rules
of the Backend proxy contract. It works with a backend in any language. See docs/check.md.

Use it from pytest::

    report = await check_backend(play.definition, "http://127.0.0.1:8080", api_key="KEY")
    assert report.ok, report.render()
"""

from voicehook.check.cases import RequestCase, count_requests, plan_requests
from voicehook.check.report import (
    SCHEMA,
    ActionReport,
    CaseResult,
    CheckReport,
    Group,
    HealthResult,
)
from voicehook.check.runner import BackendUnreachable, check_backend, web_urls
from voicehook.nugu.answer import KINDS, Finding, Kind, check_answer, check_status

__all__ = [
    "KINDS",
    "SCHEMA",
    "ActionReport",
    "BackendUnreachable",
    "CaseResult",
    "CheckReport",
    "Finding",
    "Group",
    "HealthResult",
    "Kind",
    "RequestCase",
    "check_answer",
    "check_backend",
    "check_status",
    "count_requests",
    "plan_requests",
    "web_urls",
]
