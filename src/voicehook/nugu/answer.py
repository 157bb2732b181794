"""The NUGU answer rules: what a backend proxy's answer must look like (spec §3).

One module for every caller that judges a NUGU answer: ``voicehook check`` (the conformance
checker) and the dialog engine's NUGU caller (``voicehook.nugu.caller``) apply the same
rules, so the simulator and the checker never disagree about a backend.

Every finding has a ``kind`` (a stable name, listed in :data:`KINDS` and in docs/check.md), a
severity, a ``subject`` (the key, code or status it is about; used to group findings) and a
message. Checking is pure: it takes what was asked (an :class:`Expectation`) and the raw
answer and returns findings.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec

Severity = Literal["violation", "warning"]


class Expectation(Protocol):
    """What one request asked, as far as the answer rules care."""

    @property
    def action(self) -> str: ...
    @property
    def version(self) -> str | None:
        """The request's ``version`` (the answer echoes it)."""
        ...

    @property
    def declared_keys(self) -> tuple[str, ...]:
        """The action's declared parameter keys."""
        ...

    @property
    def request_keys(self) -> tuple[str, ...]:
        """The keys of ``action.parameters`` in the request."""
        ...

    @property
    def expected_keys(self) -> tuple[str, ...]:
        """Keys an ``OK`` answer's ``output`` must hold: declared ones and the request's."""
        ...

    @property
    def play_builder(self) -> bool:
        """The request had the Play Builder test shape (no Authorization header)."""
        ...

    @property
    def sends_authorization(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Asked:
    """A plain :class:`Expectation`."""

    action: str
    version: str | None
    declared_keys: tuple[str, ...]
    request_keys: tuple[str, ...]
    play_builder: bool = False
    sends_authorization: bool = False

    @property
    def expected_keys(self) -> tuple[str, ...]:
        keys = dict.fromkeys(self.declared_keys)
        keys.update(dict.fromkeys(self.request_keys))
        return tuple(keys)


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of finding: its severity and the contract rule it rests on."""

    severity: Severity
    rule: str


#: Every kind of finding. The names are part of the JSON output and stay stable.
KINDS: dict[str, Kind] = {
    "connection_error": Kind("violation", "§3: a transport failure is a communication failure"),
    "timeout": Kind("violation", "§0.7, §10: no answer within --timeout (DM default 3 s)"),
    "slow": Kind("warning", "§0.7, §10: answers over --slow-ms eat the device's 10 s budget"),
    "http_status": Kind("violation", "§3: non-2xx is a communication failure"),
    "play_builder_unauthorized": Kind(
        "warning", "§1.2, §7.10: the Play Builder test chat sends no Authorization header"
    ),
    "not_json": Kind("violation", "§3: the body must be JSON"),
    "not_object": Kind("violation", "§3: the body must be a JSON object"),
    "version_missing": Kind("violation", "§3: version is required"),
    "version_not_echoed": Kind("violation", "§3: echo the request's version"),
    "result_code_missing": Kind("violation", "§0.4, §3: resultCode is required"),
    "result_code_not_string": Kind("violation", "§0.4, §3: resultCode is a string"),
    "result_code_unknown": Kind(
        "violation", '§0.4, §3: resultCode is "OK" or a declared exception code'
    ),
    "output_missing": Kind("violation", "§0.5, §3: output is required on OK"),
    "output_not_object": Kind("violation", "§3: output is a KEY -> VALUE object"),
    "output_key_missing": Kind(
        "violation", "§0.5, §3: output holds every parameter KEY, null ones included"
    ),
    "output_value_not_string": Kind(
        "violation", "§0.5, §3: values are strings (the real DM tolerates numbers, §10)"
    ),
    "output_value_invalid": Kind("violation", "§0.5, §3: values are strings or null"),
    "output_key_unknown": Kind("warning", "§3: output keys are the action's parameters"),
    "directives_not_list": Kind("violation", "§3: directives is an array"),
    "directive_invalid": Kind("violation", "§3: a directive is an object with a type"),
    "health_status": Kind("violation", "§0.6, §1.3: GET /health answers 200"),
    "health_unreachable": Kind("violation", "§0.6, §1.3: GET /health answers 200"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one answer."""

    kind: str
    subject: str
    message: str
    advice: str = ""

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind].severity

    @property
    def rule(self) -> str:
        return KINDS[self.kind].rule

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "advice": self.advice,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The findings for one answer, and its resultCode when it had a string one."""

    findings: tuple[Finding, ...]
    result_code: str | None = None


def _short(data: bytes, limit: int = 80) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return repr(text + ("…" if len(data) > limit else ""))


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_status(case: Expectation, status: int, body: bytes) -> list[Finding]:
    """Findings for a non-2xx status (empty for 2xx)."""
    if 200 <= status < 300:
        return []
    if status == 401 and case.play_builder:
        return [
            Finding(
                "play_builder_unauthorized",
                "401",
                "HTTP 401 for the Play Builder test shape (no Authorization header)",
                "The Play Builder test chat sends no Authorization header. If you deny it on "
                "purpose, ignore this. To test in Play Builder, accept calls with "
                "isPlayBuilderRequest: true (voicehook: serve --play-builder allow).",
            )
        ]
    advice = ""
    if status in (401, 403):
        advice = (
            "Pass the backend's API key with --api-key KEY; the checker sends "
            "'Authorization: token KEY' like a NUGU device."
            if not case.sends_authorization
            else "The backend rejected 'Authorization: token KEY'. Check the key."
        )
    elif 300 <= status < 400:
        advice = "Answer the action URL directly; do not redirect (HTTP to HTTPS included)."
    elif status == 404:
        advice = f"Serve POST {{Web URL}}/{case.action} (the URL ends with the action name)."
    elif status >= 500:
        advice = "Answer HTTP 200 with an exception resultCode instead of an error status."
    return [Finding("http_status", str(status), f"HTTP {status}; body {_short(body)}", advice)]


def check_answer(
    case: Expectation,
    body: bytes,
    exception_codes: Collection[str],
) -> Verdict:
    """Check a 2xx answer's body against the response contract (spec §3)."""
    try:
        data: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return Verdict((Finding("not_json", "", f"the body is not JSON: {_short(body)}"),))
    if not isinstance(data, dict):
        return Verdict(
            (Finding("not_object", "", f"the body is {_type_name(data)}, not a JSON object"),)
        )
    found: list[Finding] = []
    sent_version = case.version
    if "version" not in data:
        found.append(Finding("version_missing", "", "no 'version'", f"Echo {sent_version!r}."))
    elif data["version"] != sent_version:
        found.append(
            Finding(
                "version_not_echoed",
                repr(data["version"]),
                f"version is {data['version']!r}; the request sent {sent_version!r}",
            )
        )
    code = data.get("resultCode")
    result_code: str | None = None
    ok = False
    if "resultCode" not in data:
        found.append(
            Finding("result_code_missing", "", "no 'resultCode'", 'Send "resultCode": "OK".')
        )
    elif not isinstance(code, str):
        found.append(
            Finding(
                "result_code_not_string",
                repr(code),
                f"resultCode is {_type_name(code)} ({code!r}); the DM speaks the failure prompt",
            )
        )
    else:
        result_code = code
        ok = code == "OK"
        if not ok and code not in exception_codes:
            advice = (
                'resultCode is case-sensitive: write "OK".'
                if code.strip().upper() == "OK"
                else 'Declare it as an exception code of the action or of the play, or answer "OK".'
            )
            declared = ", ".join(sorted(exception_codes)) or "none"
            found.append(
                Finding(
                    "result_code_unknown",
                    code,
                    f'resultCode {code!r} is neither "OK" nor a declared exception code '
                    f"(declared: {declared}); the DM speaks the failure prompt",
                    advice,
                )
            )
    found.extend(_check_output(case, data, ok))
    found.extend(_check_directives(data))
    return Verdict(tuple(found), result_code)


def _check_output(case: Expectation, data: dict[str, Any], ok: bool) -> list[Finding]:
    found: list[Finding] = []
    if "output" not in data or data["output"] is None:
        if ok:
            found.append(
                Finding(
                    "output_missing",
                    "",
                    "resultCode is OK but there is no 'output'",
                    "Return every parameter KEY in output, even null ones.",
                )
            )
        return found
    output = data["output"]
    if not isinstance(output, dict):
        found.append(
            Finding("output_not_object", "", f"output is {_type_name(output)}, not an object")
        )
        return found
    if ok:
        for key in case.expected_keys:
            if key not in output:
                found.append(
                    Finding(
                        "output_key_missing",
                        key,
                        f"output lacks key {key!r}",
                        "Return every parameter KEY of the action, also the ones the request "
                        "left out because they were null. Echo the value you received, or "
                        "null.",
                    )
                )
    declared = set(case.declared_keys) | set(case.request_keys)
    for key, value in output.items():
        if value is None or isinstance(value, str):
            pass
        elif isinstance(value, bool | int | float):
            found.append(
                Finding(
                    "output_value_not_string",
                    str(key),
                    f"output[{key!r}] is {_type_name(value)} ({value!r}), not a string. "
                    "A contract violation; the real DM is observed to accept numbers.",
                    f"Send {str(value)!r} (a string).",
                )
            )
        else:
            found.append(
                Finding(
                    "output_value_invalid",
                    str(key),
                    f"output[{key!r}] is {_type_name(value)}; values are strings or null",
                )
            )
        if key not in declared:
            found.append(
                Finding(
                    "output_key_unknown",
                    str(key),
                    f"output key {key!r} is not a parameter of the action",
                    "Declare it as a parameter in Play Builder and in the play definition, "
                    "or drop it (a typo?).",
                )
            )
    return found


def _check_directives(data: dict[str, Any]) -> list[Finding]:
    if "directives" not in data or data["directives"] is None:
        return []
    directives = data["directives"]
    if not isinstance(directives, list):
        return [
            Finding(
                "directives_not_list",
                "",
                f"directives is {_type_name(directives)}, not an array",
                'Send a list: "directives": [{"type": "AudioPlayer.Play", ...}].',
            )
        ]
    found: list[Finding] = []
    for i, d in enumerate(directives):
        if not isinstance(d, dict):
            found.append(
                Finding("directive_invalid", str(i), f"directives[{i}] is {_type_name(d)}")
            )
        elif not isinstance(d.get("type"), str) or not d["type"]:
            found.append(
                Finding(
                    "directive_invalid",
                    str(i),
                    f"directives[{i}] has no 'type' string (flattened form "
                    '{"type": "Namespace.Name", ...})',
                )
            )
    return found


def timing_findings(ms: float, slow_ms: float) -> list[Finding]:
    """A ``slow`` warning when the answer took over ``slow_ms``."""
    if ms > slow_ms:
        return [Finding("slow", "", f"answered in {ms:.0f} ms (over {slow_ms:g} ms)")]
    return []
