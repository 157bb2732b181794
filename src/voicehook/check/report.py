"""The check report: results per request, grouped for people, stable JSON for tools."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from voicehook.check.cases import RequestCase
from voicehook.nugu.answer import Finding

#: Version of the JSON schema (docs/check.md). Bumped only on incompatible changes.
SCHEMA = "voicehook.check/1"


@dataclass(slots=True)
class CaseResult:
    """What happened to one request."""

    case: RequestCase
    status: int | None
    ms: float
    result_code: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "violation"]

    def to_dict(self, *, bodies: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.case.number,
            "shape": self.case.shape,
            "description": self.case.description,
            "status": self.status,
            "ms": round(self.ms, 1),
            "result_code": self.result_code,
            "findings": [f.to_dict() for f in self.findings],
        }
        if bodies:
            out["request"] = {"headers": _safe_headers(self.case.headers), "body": self.case.body}
        return out


def _safe_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("token ***" if k == "Authorization" else v) for k, v in headers.items()}


@dataclass(slots=True)
class ActionReport:
    """The results for one action."""

    action: str
    url: str
    results: list[CaseResult]
    planned: int

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def groups(self) -> list[Group]:
        return group(self.results)

    def to_dict(self, *, bodies: bool = False) -> dict[str, Any]:
        findings = self.findings
        return {
            "action": self.action,
            "url": self.url,
            "requests": len(self.results),
            "planned": self.planned,
            "violations": sum(f.severity == "violation" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
            "max_ms": round(max((r.ms for r in self.results), default=0.0), 1),
            "groups": [g.to_dict() for g in self.groups()],
            "results": [r.to_dict(bodies=bodies) for r in self.results],
        }


@dataclass(slots=True)
class HealthResult:
    """The answer to one ``GET .../health``."""

    url: str
    status: int | None
    ms: float
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "ms": round(self.ms, 1),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(slots=True)
class Group:
    """The same finding (kind and subject) seen in one or more requests of an action."""

    kind: str
    subject: str
    severity: str
    message: str
    advice: str
    rule: str
    requests: list[int]
    descriptions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "advice": self.advice,
            "rule": self.rule,
            "requests": self.requests,
        }


def group(results: Iterable[CaseResult]) -> list[Group]:
    """Findings grouped by (kind, subject), violations first, in first-seen order."""
    groups: dict[tuple[str, str], Group] = {}
    for r in results:
        for f in r.findings:
            key = (f.kind, f.subject)
            g = groups.get(key)
            if g is None:
                g = groups[key] = Group(
                    f.kind, f.subject, f.severity, f.message, f.advice, f.rule, [], []
                )
            if r.case.number not in g.requests:
                g.requests.append(r.case.number)
                g.descriptions.append(r.case.description)
    return sorted(groups.values(), key=lambda g: g.severity != "violation")


@dataclass(slots=True)
class CheckReport:
    """Everything one ``check_backend`` run found."""

    play: str
    backend: str
    actions: list[ActionReport]
    health: list[HealthResult]
    skipped: list[str]
    settings: dict[str, Any]

    @property
    def findings(self) -> list[Finding]:
        out = [f for h in self.health for f in h.findings]
        for a in self.actions:
            out.extend(a.findings)
        return out

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "violation"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no violation was found (warnings allowed)."""
        return not self.violations

    @property
    def requests(self) -> int:
        return sum(len(a.results) for a in self.actions)

    def kinds(self) -> set[str]:
        """Every kind of finding seen."""
        return {f.kind for f in self.findings}

    def action(self, name: str) -> ActionReport:
        for a in self.actions:
            if a.action == name:
                return a
        raise KeyError(name)

    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self, *, bodies: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "play": self.play,
            "backend": self.backend,
            "ok": self.ok,
            "settings": self.settings,
            "summary": {
                "actions": len(self.actions),
                "requests": self.requests,
                "violations": len(self.violations),
                "warnings": len(self.warnings),
                "kinds": sorted(self.kinds()),
            },
            "health": [h.to_dict() for h in self.health],
            "actions": [a.to_dict(bodies=bodies) for a in self.actions],
            "skipped": self.skipped,
        }

    def render(self, *, examples: int = 3) -> str:
        """The report for people."""
        s = self.settings
        lines = [
            f"voicehook check: play {self.play!r} -> {self.backend}",
            f"(timeout {s['timeout']:g} s, slow over {s['slow_ms']:g} ms, "
            f"at most {s['max_requests']} requests per action)",
            "",
        ]
        for h in self.health:
            status = "no answer" if h.status is None else f"HTTP {h.status}"
            mark = "ok" if not h.findings else h.findings[0].severity.upper()
            lines.append(f"GET  {h.url}  {status} ({h.ms:.0f} ms)  {mark}")
            for f in h.findings:
                lines.append(f"  {f.severity.upper()} {f.kind}: {f.message}")
        advised: set[str] = set()
        for a in self.actions:
            findings = a.findings
            nv = sum(f.severity == "violation" for f in findings)
            nw = len(findings) - nv
            capped = f" of {a.planned}" if a.planned > len(a.results) else ""
            state = "ok" if not findings else f"{nv} violation(s), {nw} warning(s)"
            lines.append("")
            lines.append(f"POST {a.url}  {len(a.results)}{capped} request(s)  {state}")
            for g in a.groups():
                lines.append(f"  {g.severity.upper()} {g.kind}: {g.message}")
                lines.append(f"    rule: {g.rule}")
                if g.advice and g.kind not in advised:
                    lines.append(f"    fix: {g.advice}")
                    advised.add(g.kind)
                elif g.advice:
                    lines.append("    fix: see above")
                lines.append(f"    in {len(g.requests)} of {len(a.results)} request(s):")
                for number, desc in list(zip(g.requests, g.descriptions, strict=True))[:examples]:
                    lines.append(f"      #{number} {desc}")
                if len(g.requests) > examples:
                    more = ", ".join(f"#{n}" for n in g.requests[examples:])
                    lines.append(f"      also {more}")
        if self.skipped:
            lines.append("")
            lines.append("not checked (backend off): " + ", ".join(self.skipped))
        lines.append("")
        nv, nw = len(self.violations), len(self.warnings)
        verdict = "PASSED" if self.ok else "FAILED"
        lines.append(
            f"{verdict}: {len(self.actions)} action(s), {self.requests} request(s), "
            f"{nv} violation(s), {nw} warning(s)"
        )
        return "\n".join(lines)
