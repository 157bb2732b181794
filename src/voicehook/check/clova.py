"""``voicehook check PLAY --channel clova --backend URL``: a conformance checker for any CEK
custom extension (voicehook or not), from the outside.

It sends the requests CLOVA sends, signed with a test key the extension trusts, and checks:

- every answer is HTTP 200 with a complete envelope (``version``, ``sessionAttributes``,
  ``response.{outputSpeech, card, directives, shouldEndSession}``) and echoes the version;
- ``outputSpeech`` shapes (SimpleSpeech / SpeechList / SpeechSet; ``lang`` ko/ja/en, ``""``
  for URLs), the limits (200 characters per sentence, 1,000 per speech, 2,048 bytes per URL
  or token), directives with ``header.{namespace, name, messageId}`` and a ``payload``, and
  a reprompt only while the session stays open;
- SessionEndedRequest and events (a Skill Store event with ``session: null`` and
  ``context: {}``, an AudioPlayer event) get 200;
- the real-traffic gaps (``slots: null``, no ``application``) are tolerated;
- an unsigned and a tampered request are refused (not 200).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from voicehook.play.definition import PlayDefinition
from voicehook.testing.clova import ClovaClient, ClovaSigner, ClovaTurn, cek_request

__all__ = ["ClovaCheck", "check_answer", "run_clova_checks"]

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
LANGS = ("ko", "ja", "en")


@dataclass(slots=True)
class ClovaCheck:
    """One request and what was wrong with its answer (``problems`` empty: passed)."""

    name: str
    status: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _speech_items(speech: Any, where: str, problems: list[str]) -> list[dict[str, Any]]:
    if speech == {}:
        return []
    if not isinstance(speech, dict):
        problems.append(f"{where} must be an object")
        return []
    kind = speech.get("type")
    if kind == "SimpleSpeech":
        values = speech.get("values")
        if not isinstance(values, dict):
            problems.append(f"{where}: SimpleSpeech.values must be one object")
            return []
        return [values]
    if kind == "SpeechList":
        values = speech.get("values")
        if not isinstance(values, list) or not values:
            problems.append(f"{where}: SpeechList.values must be a non-empty list")
            return []
        return [v for v in values if isinstance(v, dict)]
    if kind == "SpeechSet":
        brief = speech.get("brief")
        items = [brief] if isinstance(brief, dict) else []
        if not items:
            problems.append(f"{where}: SpeechSet.brief must be one object")
        verbose = speech.get("verbose")
        if not isinstance(verbose, dict) or verbose.get("type") not in (
            "SimpleSpeech",
            "SpeechList",
        ):
            problems.append(f"{where}: SpeechSet.verbose must be a SimpleSpeech or SpeechList")
            return items
        return items + _speech_items(verbose, f"{where}.verbose", problems)
    problems.append(f"{where}: unknown type {kind!r}")
    return []


def _check_items(items: list[dict[str, Any]], where: str, problems: list[str]) -> None:
    total = 0
    for item in items:
        kind, lang, value = item.get("type"), item.get("lang"), item.get("value")
        if not isinstance(value, str):
            problems.append(f"{where}: a speech value must be a string")
            continue
        token = item.get("token")
        if isinstance(token, str) and len(token.encode()) > 2048:
            problems.append(f"{where}: a token of {len(token.encode())} bytes (max 2048)")
        if kind == "URL":
            if lang != "":
                problems.append(f'{where}: a URL item needs lang "", got {lang!r}')
            if len(value.encode()) > 2048:
                problems.append(f"{where}: a URL of {len(value.encode())} bytes (max 2048)")
        elif kind == "PlainText":
            if lang not in LANGS:
                problems.append(f"{where}: lang must be ko, ja or en, got {lang!r}")
            for sentence in _SENTENCE.split(value):
                if len(sentence.strip()) > 200:
                    problems.append(
                        f"{where}: a sentence of {len(sentence.strip())} characters (max 200)"
                    )
            total += len(value)
        else:
            problems.append(f"{where}: an item type must be PlainText or URL, got {kind!r}")
    if total > 1000:
        problems.append(f"{where}: {total} characters of speech (max 1000)")


def check_answer(turn: ClovaTurn, version: str) -> list[str]:
    """The problems of one CEK answer (empty: a conforming answer)."""
    if turn.status != 200:
        return [f"HTTP {turn.status} (CLOVA needs 200): {str(turn.data)[:200]}"]
    data = turn.data
    if not isinstance(data, dict):
        return ["the body is not a JSON object"]
    problems: list[str] = []
    for key in ("version", "sessionAttributes", "response"):
        if key not in data:
            problems.append(f"missing {key}")
    if "version" in data and data["version"] != version:
        problems.append(f"version {data['version']!r} does not echo the request's {version!r}")
    if not isinstance(data.get("sessionAttributes", {}), dict):
        problems.append("sessionAttributes must be an object")
    response = data.get("response")
    if not isinstance(response, dict):
        return [*problems, "response must be an object"]
    for key in ("outputSpeech", "card", "directives", "shouldEndSession"):
        if key not in response:
            problems.append(f"missing response.{key}")
    if not isinstance(response.get("shouldEndSession"), bool):
        problems.append("response.shouldEndSession must be true or false")
    items = _speech_items(response.get("outputSpeech", {}), "outputSpeech", problems)
    _check_items(items, "outputSpeech", problems)
    reprompt = response.get("reprompt")
    if reprompt is not None:
        if response.get("shouldEndSession") is True:
            problems.append("a reprompt with shouldEndSession true is never spoken")
        if isinstance(reprompt, dict):
            r_items = _speech_items(reprompt.get("outputSpeech", {}), "reprompt", problems)
            _check_items(r_items, "reprompt", problems)
    directives = response.get("directives")
    if not isinstance(directives, list):
        problems.append("response.directives must be a list")
    else:
        for i, d in enumerate(directives):
            header = d.get("header") if isinstance(d, dict) else None
            if not isinstance(header, dict) or not all(
                isinstance(header.get(k), str) and header.get(k)
                for k in ("namespace", "name", "messageId")
            ):
                problems.append(f"directives[{i}] needs header.namespace, name and messageId")
            if not isinstance(d, dict) or not isinstance(d.get("payload"), dict):
                problems.append(f"directives[{i}] needs a payload object")
                continue
            stream = (d["payload"].get("audioItem") or {}).get("stream") or d["payload"].get(
                "audioStream"
            )
            if isinstance(stream, dict):
                for key in ("url", "token"):
                    value = stream.get(key)
                    if isinstance(value, str) and len(value.encode()) > 2048:
                        problems.append(f"directives[{i}]: the stream {key} is over 2048 bytes")
    return problems


def _intents(definition: PlayDefinition | None) -> Iterable[str]:
    if definition is None:
        return []
    renamed = {v: k for k, v in (definition.clova.get("intents") or {}).items()}
    return [renamed.get(name, name) for name in definition.intents]


async def run_clova_checks(
    url: str,
    signer: ClovaSigner,
    *,
    path: str = "/clova",
    definition: PlayDefinition | None = None,
    application_id: str | None = None,
) -> list[ClovaCheck]:
    """Run every check against the CEK extension at ``url + path``."""
    app_id = application_id or "com.example.voicehook"
    checks: list[ClovaCheck] = []
    async with ClovaClient(url, signer, path=path, application_id=app_id) as client:

        async def answer(name: str, kind: str, version: str = "1.0", **kwargs: Any) -> None:
            client.version = version
            client.new_session()
            turn = await client.send(kind, **kwargs)
            checks.append(ClovaCheck(name, turn.status, check_answer(turn, version)))

        await answer("LaunchRequest", "LaunchRequest")
        await answer("LaunchRequest, version 0.1.0 echoed", "LaunchRequest", "0.1.0")
        for intent in _intents(definition):
            await answer(f"IntentRequest {intent} (no slots)", "IntentRequest", intent=intent)
        for intent in ("Clova.GuideIntent", "Clova.FallbackIntent", "Clova.CancelIntent"):
            await answer(f"IntentRequest {intent}", "IntentRequest", intent=intent)
        await answer("SessionEndedRequest", "SessionEndedRequest")
        await answer(
            "EventRequest AudioPlayer.PlayStarted",
            "EventRequest",
            event="AudioPlayer.PlayStarted",
            payload={"token": "check-token", "offsetInMilliseconds": 0},
        )
        # A Skill Store event: session null, context {}.
        client.version = "1.0"
        skill = json.loads(cek_request("EventRequest", event="ClovaSkill.SkillEnabled"))
        skill["session"] = None
        skill["context"] = {}
        skill["request"]["extensionId"] = app_id
        skill["request"]["event"]["payload"] = None
        body = json.dumps(skill, ensure_ascii=False).encode()
        turn = await client.post(body)
        checks.append(
            ClovaCheck(
                "EventRequest ClovaSkill.SkillEnabled (session null, context {})",
                turn.status,
                check_answer(turn, "1.0"),
            )
        )
        # slots: null and no application object (the 2018 capture's shape).
        raw = json.loads(cek_request("IntentRequest", intent="Clova.GuideIntent"))
        raw["request"]["intent"]["slots"] = None
        raw["context"]["System"].pop("application", None)
        raw["request"]["extensionId"] = app_id
        turn = await client.post(json.dumps(raw, ensure_ascii=False).encode())
        checks.append(
            ClovaCheck(
                "IntentRequest with slots null and no application",
                turn.status,
                check_answer(turn, "1.0"),
            )
        )
        # Refusals: unsigned, tampered.
        body = cek_request("LaunchRequest", application_id=app_id)
        turn = await client.post(body, {"Content-Type": "application/json"})
        checks.append(
            ClovaCheck(
                "an unsigned request is refused",
                turn.status,
                [] if turn.status != 200 else ["answered 200 without SignatureCEK"],
            )
        )
        signature = signer.sign(body)
        tampered = body.replace(b"LaunchRequest", b"SessionEndedRequest")
        turn = await client.post(
            tampered, {"Content-Type": "application/json", "SignatureCEK": signature}
        )
        checks.append(
            ClovaCheck(
                "a tampered request is refused",
                turn.status,
                []
                if turn.status != 200
                else ["answered 200 to a body its signature does not match"],
            )
        )
    return checks
