"""Checks of a play definition that need the prompt language (templates, filters).

The loader (``voicehook.play.definition``) checks structure and references; this module,
one layer up, parses every prompt so ``voicehook validate`` reports template mistakes and
prompts that name parameters the play never declares.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping

from voicehook.dialog.prompts import FilterError, Filters, TemplateError, parse_template
from voicehook.play.definition import PlayDefinition, ScalarPlace

_BUILTIN_NAMES = frozenset({"TTS"})


def _prompts(defn: PlayDefinition) -> Iterator[tuple[str, str, str | None]]:
    """(where, prompt, action name or None) for every prompt of the play."""
    for kind in ("welcome", "exit", "fallback"):
        for p in getattr(defn, kind):
            yield kind, p, None
    yield "failure_prompt", defn.failure_prompt, None
    for code, exc in defn.exceptions.items():
        for p in exc.prompts:
            yield f"exceptions.{code}", p, None
    for name, act in defn.actions.items():
        for code, exc in act.exceptions.items():
            for p in exc.prompts:
                yield f"actions.{name}.exceptions.{code}", p, name
        for pname, param in act.parameters.items():
            for p in param.prompts:
                yield f"actions.{name}.parameters.{pname}.prompts", p, name
        if act.response is not None:
            for p in act.response.prompts:
                yield f"actions.{name}.response", p, name


_UNKNOWN_PARTICLE = re.compile(r"unknown particle '([^']+)'")
_PLACEHOLDER_BEFORE = re.compile(r"\{\{\s*([^{}]+?)\s*\}$")


def _place(
    defn: PlayDefinition,
    where: str,
    prompt: str,
    places: Mapping[str, ScalarPlace] | None,
    offset: int = 0,
) -> str:
    """``file:line:column (where)`` of a prompt, or of a character inside it."""
    place = (places or {}).get(prompt)
    if place is None:
        return f"{defn.source}: {where}"
    column = place.column + offset if place.exact else place.column
    return f"{defn.source}:{place.line}:{column} ({where})"


def _near(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join('{{' + c + '}}' for c in close)}?" if close else ""


def _particle_hint(exc: TemplateError) -> str:
    """``{{x}의}``: a particle that never changes needs no braces."""
    m = _UNKNOWN_PARTICLE.search(exc.reason)
    if m is None:
        return ""
    before = _PLACEHOLDER_BEFORE.search(exc.template[: exc.position])
    name = before.group(1) if before else "name"
    particle = m.group(1)
    return (
        f". Hint: {particle!r} is the same after any syllable, so it needs no choice: "
        f"write {{{{{name}}}}}{particle}"
    )


def check_prompts(
    defn: PlayDefinition, places: Mapping[str, ScalarPlace] | None = None
) -> list[str]:
    """Problems in the play's prompts, each naming where the prompt is.

    ``places`` (from :func:`voicehook.play.definition.scalar_places` of the file's text)
    adds the line and the column of the mistake inside the prompt.
    """
    problems: list[str] = []
    try:
        filters = Filters.from_definitions(defn.filters)
    except FilterError as exc:
        return [f"{defn.source}: filters: {exc}"]
    known = set(defn.parameters) | _BUILTIN_NAMES
    for act in defn.actions.values():
        known.update(act.parameters)
    for where, prompt, _action in _prompts(defn):
        try:
            template = parse_template(prompt, filters)
        except TemplateError as exc:
            at = _place(defn, where, prompt, places, exc.position)
            problems.append(f"{at}: {exc.reason}{_particle_hint(exc)}")
            continue
        for name in template.parameters:
            if name not in known:
                at = _place(defn, where, prompt, places, max(prompt.find(name) - 2, 0))
                problems.append(
                    f"{at}: prompt uses {{{{{name}}}}}, which no action declares as a "
                    f"parameter{_near(name, known - _BUILTIN_NAMES)}"
                )
    return list(dict.fromkeys(problems))


def check_warnings(
    defn: PlayDefinition, places: Mapping[str, ScalarPlace] | None = None
) -> list[str]:
    """Things that work but are probably not meant (``voicehook validate`` warns)."""
    out: list[str] = []
    for name, act in defn.actions.items():
        for pname, param in act.parameters.items():
            if param.required and len(param.prompts) == 1:
                where = f"actions.{name}.parameters.{pname}.prompts"
                at = _place(defn, where, param.prompts[0], places)
                out.append(
                    f"{at}: required parameter {pname!r} has a single prompt. NUGU treats the "
                    "last prompt as the end prompt: it asks once and the session ends. Add a "
                    "second prompt to ask again"
                )
    return out
