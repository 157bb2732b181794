"""Transcripts: scripted conversations with expectations, run by the dialog engine.

The format is described in ``docs/simulator.md``. A transcript file names the play (relative
to the file), optional engine settings, and conversations made of turns::

    play: ../weather
    conversations:
      - name: 서울 날씨
        turns:
          - user: 서울 날씨 알려줘
            expect: {prompt_contains: 날씨는, type: end, calls: [answer.weather]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Reset,
    TurnInput,
    TurnResult,
    UserText,
)
from voicehook.dialog.nlu import Tokenizer
from voicehook.dialog.recognizer import Recognizer
from voicehook.dialog.session import DeviceState
from voicehook.nugu.backend import Backend, HttpBackend
from voicehook.nugu.caller import NuguCaller
from voicehook.play.definition import PlayDefinition, load_definition
from voicehook.server.inprocess import InProcessBackend
from voicehook.testing.clova import check_clova_spec

__all__ = [
    "EXPECT_KEYS",
    "ConversationReport",
    "Mismatch",
    "Report",
    "Transcript",
    "TranscriptError",
    "TurnSpec",
    "arun_transcripts",
    "check_turn",
    "load_transcripts",
]

#: Every key an ``expect:`` mapping may use.
EXPECT_KEYS = (
    "prompt",
    "prompt_contains",
    "prompt_regex",
    "type",
    "source",
    "intent",
    "entities",
    "action",
    "actions",
    "calls",
    "result_code",
    "result_codes",
    "directives",
    "session_ended",
    "end_code",
    "params",
    "violations",
)


class TranscriptError(Exception):
    """The transcript file is malformed (the message says where)."""


@dataclass(frozen=True, slots=True)
class TurnSpec:
    """One scripted turn: an input and what to expect."""

    input: TurnInput
    expect: Mapping[str, Any]
    label: str
    #: The exact CEK request for ``--channel clova`` (``{intent, slots}``, ``{event,
    #: payload}``, ``{launch: true}``); NUGU runs ignore it. See docs/clova.md.
    clova: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConversationSpec:
    name: str
    turns: tuple[TurnSpec, ...]
    settings: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Transcript:
    """A loaded transcript file."""

    path: Path
    play: Path
    backend: str | None
    settings: Mapping[str, Any]
    conversations: tuple[ConversationSpec, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One expectation that did not hold."""

    key: str
    expected: Any
    got: Any


#: The expectations on the words the user got, checked alike on every channel.
PROMPT_KEYS = frozenset({"prompt", "prompt_contains", "prompt_regex"})


def prompt_mismatch(key: str, want: Any, text: str) -> Mismatch | None:
    """Check one of :data:`PROMPT_KEYS` against ``text`` (what was said or written):
    ``prompt`` exactly (None is the empty text), ``prompt_contains`` one part or a list of
    parts, ``prompt_regex`` a pattern found anywhere."""
    if key == "prompt":
        if text != ("" if want is None else str(want)):
            return Mismatch(key, want, text)
    elif key == "prompt_contains":
        parts = want if isinstance(want, list) else [want]
        absent = [str(x) for x in parts if str(x) not in text]
        if absent:
            return Mismatch(key, f"a prompt containing {absent}", text)
    elif key == "prompt_regex":
        if re.search(str(want), text) is None:
            return Mismatch(key, f"a prompt matching /{want}/", text)
    else:
        raise ValueError(f"not a prompt key: {key!r}")
    return None


@dataclass(slots=True)
class ConversationReport:
    """How one conversation went: its turns and the first failing turn's mismatches."""

    name: str
    turns: list[TurnResult] = field(default_factory=list)
    failed_turn: int | None = None
    failed_input: str = ""
    mismatches: list[Mismatch] = field(default_factory=list)
    #: Turns run on a channel that keeps no :class:`TurnResult` (CLOVA).
    turn_count: int = 0

    @property
    def passed(self) -> bool:
        return self.failed_turn is None


@dataclass(slots=True)
class Report:
    """The result of running a transcript file."""

    path: Path
    conversations: list[ConversationReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.conversations)

    @property
    def failed(self) -> list[ConversationReport]:
        return [c for c in self.conversations if not c.passed]

    def summary(self) -> str:
        ok = sum(c.passed for c in self.conversations)
        return f"{self.path}: {ok}/{len(self.conversations)} conversations passed"

    def describe_failures(self) -> str:
        """A readable diff of every failure: conversation, turn, expected and got."""
        lines: list[str] = []
        for conv in self.failed:
            lines.append(f"FAIL {conv.name!r}, turn {conv.failed_turn} ({conv.failed_input})")
            for m in conv.mismatches:
                lines.append(f"  {m.key}:")
                lines.append(f"    expected: {_show(m.expected)}")
                lines.append(f"    got:      {_show(m.got)}")
            if conv.turns:
                last = conv.turns[-1]
                if last.violations:
                    lines.append(f"  contract violations: {'; '.join(last.violations)}")
                for call in last.calls:
                    if call.error:
                        lines.append(f"  backend call {call.action}: {call.error}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    return repr(value)


# --------------------------------------------------------------------------- loading


def load_transcripts(path: str | Path) -> Transcript:
    """Read and check a transcript file. Raises :class:`TranscriptError`."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranscriptError(f"{p}: no such file") from None
    except yaml.YAMLError as exc:
        raise TranscriptError(f"{p}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TranscriptError(f"{p}: a transcript is a mapping with 'play' and 'conversations'")
    unknown = set(data) - {"play", "backend", "settings", "conversations"}
    if unknown:
        raise TranscriptError(f"{p}: unknown keys: {', '.join(sorted(unknown))}")
    play = data.get("play")
    if not isinstance(play, str) or not play:
        raise TranscriptError(f"{p}: 'play' must name the play (relative to this file)")
    convs = data.get("conversations")
    if not isinstance(convs, list) or not convs:
        raise TranscriptError(f"{p}: 'conversations' must be a non-empty list")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise TranscriptError(f"{p}: 'settings' must be a mapping")
    backend = data.get("backend")
    if backend is not None and not isinstance(backend, str):
        raise TranscriptError(f"{p}: 'backend' must be a URL")
    out = [_conversation(p, i, c) for i, c in enumerate(convs, 1)]
    return Transcript(p, (p.parent / play), backend, settings, tuple(out))


def _conversation(path: Path, index: int, data: Any) -> ConversationSpec:
    where = f"{path}: conversation {index}"
    if not isinstance(data, dict):
        raise TranscriptError(f"{where}: expected a mapping with 'name' and 'turns'")
    name = str(data.get("name") or f"conversation {index}")
    where = f"{path}: conversation {name!r}"
    unknown = set(data) - {"name", "turns", "settings"}
    if unknown:
        raise TranscriptError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    turns = data.get("turns")
    if not isinstance(turns, list) or not turns:
        raise TranscriptError(f"{where}: 'turns' must be a non-empty list")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise TranscriptError(f"{where}: 'settings' must be a mapping")
    return ConversationSpec(
        name, tuple(_turn(f"{where}, turn {i}", t) for i, t in enumerate(turns, 1)), settings
    )


def _turn(where: str, data: Any) -> TurnSpec:
    if not isinstance(data, dict):
        raise TranscriptError(
            f"{where}: a turn is {{user: TEXT}}, {{event: NAME}} or {{reset: true}}"
        )
    kinds = [k for k in ("user", "event", "reset") if k in data]
    if len(kinds) != 1:
        raise TranscriptError(f"{where}: give exactly one of user, event or reset")
    unknown = set(data) - {"user", "event", "reset", "fields", "expect", "clova"}
    if unknown:
        raise TranscriptError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    expect = data.get("expect") or {}
    if not isinstance(expect, dict):
        raise TranscriptError(f"{where}: 'expect' must be a mapping")
    bad = set(expect) - set(EXPECT_KEYS)
    if bad:
        raise TranscriptError(
            f"{where}: unknown expectations {', '.join(sorted(bad))}; use {', '.join(EXPECT_KEYS)}"
        )
    inp: TurnInput
    if kinds[0] == "user":
        text = data["user"]
        inp = UserText("" if text is None else str(text))
        label = f"user: {inp.text}"
    elif kinds[0] == "event":
        fields = data.get("fields") or {}
        if not isinstance(fields, dict):
            raise TranscriptError(f"{where}: 'fields' must be a mapping")
        inp = DeviceEvent(str(data["event"]), dict(fields))
        label = f"event: {inp.full_type}"
    else:
        inp = Reset()
        label = "reset"
    clova = data.get("clova")
    if clova is not None:
        problem = check_clova_spec(clova)
        if problem:
            raise TranscriptError(f"{where}: clova: {problem}")
    return TurnSpec(inp, expect, label, clova)


# --------------------------------------------------------------------------- checking


def check_turn(result: TurnResult, expect: Mapping[str, Any]) -> list[Mismatch]:
    """Compare one turn with its expectations; an empty list means it passed."""
    out: list[Mismatch] = []
    prompt = result.prompt

    def miss(key: str, expected: Any, got: Any) -> None:
        out.append(Mismatch(key, expected, got))

    for key, want in expect.items():
        if key == "prompt":
            if prompt != (None if want is None else str(want)):
                miss(key, want, prompt)
        elif key == "prompt_contains":
            parts = want if isinstance(want, list) else [want]
            absent = [str(x) for x in parts if prompt is None or str(x) not in prompt]
            if absent:
                miss(key, f"a prompt containing {absent}", prompt)
        elif key == "prompt_regex":
            if prompt is None or re.search(str(want), prompt) is None:
                miss(key, f"a prompt matching /{want}/", prompt)
        elif key == "type":
            if result.prompt_type != want:
                miss(key, want, result.prompt_type)
        elif key == "source":
            if result.prompt_source != want:
                miss(key, want, result.prompt_source)
        elif key == "intent":
            if result.intent != want:
                miss(key, want, result.intent)
        elif key == "entities":
            got_e = {e.type: e.value for e in result.entities}
            got_e.update({e.role: e.value for e in result.entities})
            for name, value in dict(want).items():
                if got_e.get(name) != str(value):
                    miss(f"entities.{name}", str(value), got_e.get(name))
        elif key == "action":
            reached = result.actions + [c.action for c in result.calls]
            if want not in reached:
                miss(key, f"{want} on the path", result.actions)
        elif key == "actions":
            if result.actions != list(want):
                miss(key, list(want), result.actions)
        elif key == "calls":
            got_calls = [c.action for c in result.calls]
            if got_calls != list(want):
                miss(key, list(want), got_calls)
        elif key == "result_code":
            codes = result.result_codes
            if not codes or codes[-1] != want:
                miss(key, want, codes[-1] if codes else "no backend call")
        elif key == "result_codes":
            if result.result_codes != list(want):
                miss(key, list(want), result.result_codes)
        elif key == "directives":
            if result.directive_types != [str(x) for x in want]:
                miss(key, list(want), result.directive_types)
        elif key == "session_ended":
            if result.session_ended != bool(want):
                miss(key, bool(want), result.session_ended)
        elif key == "params":
            for name, value in dict(want).items():
                got_v = result.state.params.get(name)
                if got_v != (None if value is None else str(value)):
                    miss(f"params.{name}", value, got_v)
        elif key == "violations":
            if isinstance(want, int) and not isinstance(want, bool):
                if len(result.violations) != want:
                    miss(key, f"{want} violation(s)", result.violations)
            else:
                parts = want if isinstance(want, list) else [want]
                text = " | ".join(result.violations)
                absent = [str(x) for x in parts if str(x) not in text]
                if absent:
                    miss(key, f"violations mentioning {absent}", result.violations)
    return out


# --------------------------------------------------------------------------- running


def make_backend(
    transcript: Transcript, url: str | None, *, timeout: float, api_key: str | None = None
) -> tuple[Backend, PlayDefinition]:
    """The backend and play definition a transcript runs against."""
    from voicehook.cli.loading import load_play

    url = url or transcript.backend
    target = transcript.play
    if url:
        if target.is_dir() or target.suffix in (".yaml", ".yml"):
            definition = load_definition(target)
        else:  # app.py or module:attribute: only its definition is used
            definition = load_play(str(target)).definition
        return HttpBackend(url, timeout=timeout, api_key=api_key), definition
    play = load_play(str(target))
    return InProcessBackend(play), play.definition


async def arun_transcripts(
    path: str | Path,
    backend: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    settings: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    only: str | None = None,
) -> Report:
    """Run every conversation of a transcript file.

    ``backend`` is a Backend proxy URL; without it the play runs in process. ``settings``
    override engine settings for every conversation. ``only`` runs just the conversation
    of that name (with the same session ids as in a full run).
    """
    transcript = load_transcripts(path)
    names = [c.name for c in transcript.conversations]
    if only is not None and only not in names:
        raise TranscriptError(f"{path}: no conversation named {only!r}; there are {names}")
    base, _ = EngineSettings.from_mapping({})
    timeout = float({**transcript.settings, **(settings or {})}.get("timeout", base.timeout))
    be, definition = make_backend(transcript, backend, timeout=timeout, api_key=api_key)
    caller = NuguCaller(be)
    report = Report(Path(path))
    recognisers: dict[tuple[float, bool | None], Recognizer] = {}
    try:
        for conv, scope in zip(
            transcript.conversations, session_scopes(transcript.conversations), strict=True
        ):
            if only is not None and conv.name != only:
                continue
            merged = {**definition.settings, **transcript.settings, **conv.settings}
            merged.update(settings or {})
            eng_settings, _ = EngineSettings.from_mapping(merged)
            key = (eng_settings.nlu_threshold, eng_settings.audio_player)
            engine = DialogEngine(
                definition,
                caller,
                settings=eng_settings,
                tokenizer=tokenizer,
                nlu=recognisers.get(key),
                session_scope=scope,
            )
            recognisers[key] = engine.nlu  # one recogniser per setting combination
            report.conversations.append(await _run_conversation(engine, conv))
    finally:
        await caller.aclose()
    return report


def session_scopes(conversations: Sequence[ConversationSpec]) -> list[str]:
    """One session scope per conversation, all different: ``"<n>:<name>"`` for the n-th
    conversation of that name.

    Each conversation is a new session, so with a ``seed`` it must get its own session id
    (a backend that keeps data per session id would otherwise see the previous
    conversation's). The id depends on the seed and the conversation's name, not on its
    position: adding a conversation does not change the others' ids.
    """
    seen: dict[str, int] = {}
    out: list[str] = []
    for conv in conversations:
        seen[conv.name] = seen.get(conv.name, 0) + 1
        out.append(f"{seen[conv.name]}:{conv.name}")
    return out


async def _run_conversation(engine: DialogEngine, conv: ConversationSpec) -> ConversationReport:
    rep = ConversationReport(conv.name)
    state = engine.new_state()
    device = DeviceState()
    for number, turn in enumerate(conv.turns, 1):
        result = await engine.turn(state, turn.input, device=device)
        rep.turns.append(result)
        state, device = result.state, result.device
        mismatches = check_turn(result, turn.expect)
        if mismatches:
            rep.failed_turn = number
            rep.failed_input = turn.label
            rep.mismatches = mismatches
            break
    return rep


def conversations_named(report: Report, names: Sequence[str]) -> list[ConversationReport]:
    """The conversations of ``report`` with these names (for focused assertions)."""
    return [c for c in report.conversations if c.name in names]
