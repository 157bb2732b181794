"""Checks of a play definition that need the prompt language (templates, filters).

The loader (``voicehook.play.definition``) checks structure and references; this module,
one layer up, parses every prompt so ``voicehook validate`` reports template mistakes and
prompts that name parameters the play never declares.
"""

from __future__ import annotations

from collections.abc import Iterator

from voicehook.dialog.prompts import FilterError, Filters, TemplateError, parse_template
from voicehook.play.definition import PlayDefinition

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


def check_prompts(defn: PlayDefinition) -> list[str]:
    """Problems in the play's prompts, each naming where the prompt is."""
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
            problems.append(f"{defn.source}: {where}: {exc}")
            continue
        for name in template.parameters:
            if name not in known:
                problems.append(
                    f"{defn.source}: {where}: prompt uses {{{{{name}}}}}, which no action "
                    "declares as a parameter"
                )
    return problems
