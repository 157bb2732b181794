"""Prompt rendering, the way NUGU Play Builder renders prompts.

A prompt template mixes text and placeholders:

- ``{{location}}``: the parameter's current value as text. None becomes ``""``.
- ``{{day>DAY_KO}}``, ``{{brand=BRAND}}``, ``{{date:MONTH}}``: response filters, applied in
  order. ``>`` is an NLG translator, ``=`` an NLG normalizer, ``:`` the DATETIME function.
- ``{{location}은}``: a Korean particle written between the two closing braces. It is
  chosen for the rendered value: 서울은, 부산은, 대구는.
- ``{{TTS}}`` and ``{{$TTS}}`` are the same placeholder, named ``TTS``.

Parse a template once with :func:`parse_template` (errors are found at load time), then
call :meth:`Template.render` for each turn. :func:`render` does both in one call.

:func:`pick_random` and :class:`PromptStack` choose which prompt of a list is spoken.

Everything here is pure: no I/O, no global state.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias, TypeVar

from voicehook.dialog.particles import Particle, ParticleError, parse_particle
from voicehook.play import definition as _play
from voicehook.play import to_output_value

__all__ = [
    "DateTimeFilter",
    "Filter",
    "FilterError",
    "Filters",
    "Normalizer",
    "Placeholder",
    "PromptStack",
    "Template",
    "TemplateError",
    "Translator",
    "parse_template",
    "pick_random",
    "render",
    "to_text",
]

_T = TypeVar("_T")

#: Play Builder limits a filter's Source and Target to 200 characters (since 1.4.0).
MAX_FILTER_TEXT = 200


def to_text(value: object) -> str:
    """Render a parameter value as prompt text.

    The same text a backend output value gets (:func:`voicehook.play.to_output_value`),
    except that None becomes ``""``: booleans → ``"true"`` / ``"false"``, ``3.0`` → ``"3"``,
    lists and dicts → compact JSON, anything else through ``str()``.
    """
    text = to_output_value(value)
    return "" if text is None else text


# --------------------------------------------------------------------------- errors


class FilterError(ValueError):
    """A response filter definition is invalid (bad pattern, bad config shape)."""


class TemplateError(ValueError):
    """A prompt template cannot be parsed.

    Attributes:
        reason: what is wrong, without the position.
        template: the whole template text.
        position: 0-based index in ``template`` where the problem starts.
        line: 1-based line of ``position``.
        column: 1-based column of ``position``.
    """

    def __init__(self, reason: str, template: str, position: int) -> None:
        self.reason = reason
        self.template = template
        self.position = position
        self.line = template.count("\n", 0, position) + 1
        self.column = position - (template.rfind("\n", 0, position) + 1) + 1
        super().__init__(f"{reason} (line {self.line}, column {self.column})")


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Translator:
    """``>`` NLG translator: one source maps to one target, exact match only.

    ``Translator({"TODAY": "오늘"})`` turns ``TODAY`` into ``오늘``. ``"01"`` does not
    match ``"1"``. A value without a match is left unchanged.
    """

    mapping: Mapping[str, str]
    operator: ClassVar[str] = ">"
    kind: ClassVar[str] = "translator"

    def apply(self, value: str) -> str:
        """Return the target for ``value``, or ``value`` itself."""
        return self.mapping.get(value, value)


@dataclass(frozen=True, slots=True)
class Normalizer:
    """``=`` NLG normalizer: many sources map to one target, exact match only.

    The mapping goes target → sources, as in play.yaml:
    ``Normalizer({"맑음": ["clear", "sunny"]})`` turns ``sunny`` into ``맑음``.

    Raises:
        FilterError: one source is listed under two different targets.
    """

    mapping: Mapping[str, Sequence[str]]
    _index: dict[str, str] = field(init=False, repr=False, compare=False)
    operator: ClassVar[str] = "="
    kind: ClassVar[str] = "normalizer"

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for target, sources in self.mapping.items():
            if isinstance(sources, str):
                raise FilterError(f"sources of {target!r} must be a list, not a string")
            for source in sources:
                other = index.setdefault(source, target)
                if other != target:
                    raise FilterError(f"source {source!r} maps to both {other!r} and {target!r}")
        object.__setattr__(self, "_index", index)

    def apply(self, value: str) -> str:
        """Return the target whose sources contain ``value``, or ``value`` itself."""
        return self._index.get(value, value)


# Java DateTimeFormatter letters we support, with the field each one reads or writes.
_DATE_FIELDS: dict[str, str] = {
    "y": "year",
    "Y": "year",  # week-based year in Java; Play Builder's own example uses it as the year
    "u": "year",
    "M": "month",
    "L": "month",
    "d": "day",
    "D": "day",  # day-of-year in Java; Play Builder's example YYYY-MM-DD uses it as the day
    "H": "hour",
    "h": "hour12",
    "m": "minute",
    "s": "second",
    "E": "weekday",
    "a": "ampm",
}
_MAX_COUNT: dict[str, int] = {"day": 2, "hour": 2, "hour12": 2, "minute": 2, "second": 2}
_MAX_COUNT.update({"month": 5, "weekday": 5, "ampm": 1, "year": 9})
_WEEKDAYS = "월화수목금토일"  # Monday first, like datetime.date.weekday()
_RANGES: dict[str, tuple[int, int]] = {
    "month": (1, 12),
    "day": (1, 31),
    "hour": (0, 23),
    "hour12": (1, 12),
    "minute": (0, 59),
    "second": (0, 59),
}

_Token: TypeAlias = str | tuple[str, int]  # literal text, or (field letter, count)


def _tokenize_pattern(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    literal: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            i += 1
            if i < n and pattern[i] == "'":  # '' is a single quote
                literal.append("'")
                i += 1
                continue
            while True:
                end = pattern.find("'", i)
                if end == -1:
                    raise FilterError(f"unterminated quote in date pattern {pattern!r}")
                literal.append(pattern[i:end])
                if end + 1 < n and pattern[end + 1] == "'":  # 'o''clock'
                    literal.append("'")
                    i = end + 2
                    continue
                i = end + 1
                break
        elif ch.isascii() and ch.isalpha():
            count = 1
            while i + count < n and pattern[i + count] == ch:
                count += 1
            name = _DATE_FIELDS.get(ch)
            if name is None:
                raise FilterError(f"unsupported letter {ch!r} in date pattern {pattern!r}")
            if count > _MAX_COUNT[name]:
                raise FilterError(f"too many {ch!r} letters in date pattern {pattern!r}")
            if literal:
                tokens.append("".join(literal))
                literal.clear()
            tokens.append((ch, count))
            i += count
        elif ch in "[]{}#":
            raise FilterError(f"unsupported character {ch!r} in date pattern {pattern!r}")
        else:
            literal.append(ch)
            i += 1
    if literal:
        tokens.append("".join(literal))
    return tokens


def _field_regex(letter: str, count: int) -> str:
    name = _DATE_FIELDS[letter]
    if name == "year":
        return r"(\d{2})" if count == 2 else rf"(\d{{{count},9}})"
    if name == "month" and count >= 3:
        return r"(\d{1,2})월"
    if name == "weekday":
        return f"([{_WEEKDAYS}])요일" if count == 4 else f"([{_WEEKDAYS}])"
    if name == "ampm":
        return "(오전|오후|AM|PM|am|pm)"
    return r"(\d{2})" if count == 2 else r"(\d{1,2})"


def _read_field(letter: str, count: int, text: str) -> int:
    name = _DATE_FIELDS[letter]
    if name == "weekday":
        return _WEEKDAYS.index(text)
    if name == "ampm":
        return 0 if text in ("오전", "AM", "am") else 1
    number = int(text)
    if name == "year" and count == 2:
        return 2000 + number
    return number


def _resolve(fields: dict[str, int]) -> dict[str, int] | None:
    """Check ranges, combine hour12 + ampm, derive the weekday. None if invalid."""
    for name, (low, high) in _RANGES.items():
        if name in fields and not low <= fields[name] <= high:
            return None
    if "hour" not in fields and "hour12" in fields:
        hour = fields["hour12"]
        if "ampm" in fields:
            hour = hour % 12 + 12 * fields["ampm"]
        fields["hour"] = hour
    if "hour" in fields:
        fields.setdefault("ampm", int(fields["hour"] >= 12))
        fields.setdefault("hour12", fields["hour"] % 12 or 12)
    if {"year", "month", "day"} <= fields.keys():
        try:
            weekday = _dt.date(fields["year"], fields["month"], fields["day"]).weekday()
        except ValueError:
            return None
        if fields.setdefault("weekday", weekday) != weekday:
            return None
    return fields


def _format_field(letter: str, count: int, fields: Mapping[str, int]) -> str:
    name = _DATE_FIELDS[letter]
    value = fields[name]  # KeyError: the source did not give this field
    if name == "weekday":
        return _WEEKDAYS[value] + ("요일" if count == 4 else "")
    if name == "ampm":
        return "오후" if value else "오전"
    if name == "year":
        return f"{value % 100:02d}" if count == 2 else f"{value:0{count}d}"
    if name == "month" and count >= 3:
        return f"{value}월"
    return f"{value:02d}" if count == 2 else str(value)


@dataclass(frozen=True, slots=True)
class DateTimeFilter:
    """``:`` NLG function DATETIME: parse with ``source``, format with ``target``.

    Patterns follow Java ``DateTimeFormatter`` with Korean names: ``yyyy`` (also ``YYYY``
    and ``u``), ``yy``, ``M``/``MM`` (``MMM``/``MMMM`` → ``3월``), ``d``/``dd`` (also
    ``D``/``DD``), ``H``/``HH``, ``h``/``hh``, ``m``/``mm``, ``s``/``ss``, ``E``/``EEE`` →
    ``월``, ``EEEE`` → ``월요일``, ``a`` → ``오전``/``오후``. Other characters and
    ``'quoted text'`` are literal; ``''`` is a single quote.

    ``DateTimeFilter("yyyy-MM-dd", "M월 d일 EEEE")`` turns ``2024-03-15`` into
    ``3월 15일 금요일``. A value that does not match ``source``, or an impossible date
    (2월 30일), is left unchanged.

    Raises:
        FilterError: a pattern uses an unsupported letter or an unterminated quote.
    """

    source: str
    target: str
    _parser: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _readers: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)
    _writer: tuple[_Token, ...] = field(init=False, repr=False, compare=False)
    operator: ClassVar[str] = ":"
    kind: ClassVar[str] = "datetime"

    def __post_init__(self) -> None:
        regex: list[str] = []
        readers: list[tuple[str, int]] = []
        for token in _tokenize_pattern(self.source):
            if isinstance(token, str):
                regex.append(re.escape(token))
            else:
                regex.append(_field_regex(*token))
                readers.append(token)
        object.__setattr__(self, "_parser", re.compile("".join(regex)))
        object.__setattr__(self, "_readers", tuple(readers))
        object.__setattr__(self, "_writer", tuple(_tokenize_pattern(self.target)))

    def apply(self, value: str) -> str:
        """Reformat ``value``; return it unchanged when it does not parse."""
        match = self._parser.fullmatch(value.strip())
        if match is None:
            return value
        fields: dict[str, int] = {}
        for (letter, count), text in zip(self._readers, match.groups(), strict=True):
            number = _read_field(letter, count, text)
            if fields.setdefault(_DATE_FIELDS[letter], number) != number:
                return value  # the same field twice, with two values
        resolved = _resolve(fields)
        if resolved is None:
            return value
        try:
            return "".join(
                t if isinstance(t, str) else _format_field(*t, resolved) for t in self._writer
            )
        except KeyError:  # the target needs a field the source does not have
            return value


Filter: TypeAlias = Translator | Normalizer | DateTimeFilter
_FILTER_NAME = re.compile(r"[\w-]+")


def _from_definition(spec: _play.Filter) -> Filter:
    if isinstance(spec, _play.TranslateFilter):
        texts = [*spec.mapping, *spec.mapping.values()]
    elif isinstance(spec, _play.NormalizeFilter):
        texts = [*spec.mapping, *(s for sources in spec.mapping.values() for s in sources)]
    else:
        texts = [spec.source, spec.target]
    for text in texts:
        if len(text) > MAX_FILTER_TEXT:
            raise FilterError(f"{text[:20]!r}... is longer than {MAX_FILTER_TEXT} characters")
    if isinstance(spec, _play.TranslateFilter):
        return Translator(spec.mapping)
    if isinstance(spec, _play.NormalizeFilter):
        return Normalizer(spec.mapping)
    return DateTimeFilter(spec.source, spec.target)


@dataclass(frozen=True, slots=True)
class Filters:
    """The play's response filters (응답 필터), by name.

    Build it in code, ``Filters({"DAY_KO": Translator({"TODAY": "오늘"})})``, or from a
    loaded play.yaml with :meth:`from_definitions`.
    """

    by_name: Mapping[str, Filter] = field(default_factory=dict)

    @classmethod
    def from_definitions(cls, definitions: Mapping[str, _play.Filter]) -> Filters:
        """Build filters from a loaded play: ``Filters.from_definitions(play.filters)``.

        >>> from voicehook.play.definition import TranslateFilter
        >>> Filters.from_definitions({"DAY_KO": TranslateFilter({"TODAY": "오늘"})}).get("DAY_KO")
        Translator(mapping={'TODAY': '오늘'})

        Raises:
            FilterError: a normalizer source has two targets, a datetime pattern is
                invalid, or a source/target is longer than 200 characters (Play Builder's
                limit). The message names the filter.
        """
        by_name: dict[str, Filter] = {}
        for name, spec in definitions.items():
            try:
                by_name[name] = _from_definition(spec)
            except FilterError as exc:
                raise FilterError(f"filter {name!r}: {exc}") from None
        return cls(by_name)

    def get(self, name: str) -> Filter | None:
        """Return the filter called ``name``, or None."""
        return self.by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __len__(self) -> int:
        return len(self.by_name)


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{...}}`` in a template.

    Attributes:
        name: the parameter name (``TTS`` for both ``{{TTS}}`` and ``{{$TTS}}``).
        filters: the filters to apply, in order.
        particle: the particle written between the closing braces, or None.
        source: the placeholder as written, e.g. ``"{{day>DAY_KO}는}"``.
    """

    name: str
    filters: tuple[Filter, ...] = ()
    particle: Particle | None = None
    source: str = ""

    def render(self, params: Mapping[str, object | None]) -> str:
        """Return the value of ``name`` in ``params``, filtered, with its particle."""
        value = to_text(params.get(self.name))
        for step in self.filters:
            value = step.apply(value)
        if self.particle is not None:
            value += self.particle.choose(value)
        return value


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed prompt template: literal text and placeholders.

    Make one with :func:`parse_template`; render it as often as needed.

    Attributes:
        source: the template text.
        parts: literal strings and :class:`Placeholder` objects, in order.
        parameters: the parameter names referenced, in order of first use, without repeats.
    """

    source: str
    parts: tuple[str | Placeholder, ...]
    parameters: tuple[str, ...]

    def render(self, params: Mapping[str, object | None]) -> str:
        """Return the prompt text. A missing parameter renders like None: ``""``."""
        return "".join(p if isinstance(p, str) else p.render(params) for p in self.parts)


_IDENT = re.compile(r"\$?[\w-]+")


def _skip_space(text: str, i: int, end: int) -> int:
    while i < end and text[i].isspace():
        i += 1
    return i


def _lookup_filter(
    filters: Filters | Mapping[str, Filter] | None,
    operator: str,
    name: str,
    template: str,
    position: int,
) -> Filter:
    by_name = filters.by_name if isinstance(filters, Filters) else filters or {}
    found = by_name.get(name)
    if found is None:
        known = ", ".join(sorted(by_name)) if by_name else "none"
        raise TemplateError(f"unknown filter {name!r} (declared: {known})", template, position)
    if found.operator != operator:
        raise TemplateError(
            f"filter {name!r} is a {found.kind}; write it as '{found.operator}{name}', "
            f"not '{operator}{name}'",
            template,
            position,
        )
    return found


def _parse_placeholder(
    template: str,
    start: int,
    filters: Filters | Mapping[str, Filter] | None,
) -> tuple[Placeholder, int]:
    """Parse the placeholder that starts with ``{{`` at ``start``; return it and its end."""
    close = template.find("}", start + 2)
    if close == -1:
        raise TemplateError(
            f"placeholder {template[start : start + 20]!r} is not closed; expected '}}}}'",
            template,
            start,
        )
    i = _skip_space(template, start + 2, close)
    ident = _IDENT.match(template, i, close)
    if ident is None:
        what = "an empty placeholder" if i == close else f"{template[i]!r}"
        raise TemplateError(f"expected a parameter name, found {what}", template, i)
    name = ident.group()
    if name.startswith("$"):
        if name != "$TTS":
            raise TemplateError(f"'$' is allowed only in {{{{$TTS}}}}, not {name!r}", template, i)
        name = "TTS"
    steps: list[Filter] = []
    i = _skip_space(template, ident.end(), close)
    while i < close:
        operator = template[i]
        if operator not in ">=:":
            raise TemplateError(
                f"unexpected {operator!r}; a filter is written >NAME, =NAME or :NAME",
                template,
                i,
            )
        i = _skip_space(template, i + 1, close)
        filter_name = _FILTER_NAME.match(template, i, close)
        if filter_name is None:
            raise TemplateError(f"missing filter name after {operator!r}", template, i)
        steps.append(_lookup_filter(filters, operator, filter_name.group(), template, i))
        i = _skip_space(template, filter_name.end(), close)

    particle: Particle | None = None
    if template.startswith("}", close + 1):
        end = close + 2
    else:
        particle_end = template.find("}", close + 1)
        written = template[close + 1 : particle_end]
        if particle_end == -1 or "{" in written or "\n" in written:
            raise TemplateError(
                f"{template[start : close + 1]!r} must end with '}}}}' or a particle "
                "such as '}은}'",
                template,
                close + 1,
            )
        try:
            particle = parse_particle(written)
        except ParticleError as exc:
            raise TemplateError(str(exc), template, close + 1) from None
        end = particle_end + 1
    return Placeholder(name, tuple(steps), particle, template[start:end]), end


def parse_template(
    template: str,
    filters: Filters | Mapping[str, Filter] | None = None,
) -> Template:
    """Parse a prompt template and resolve its filters.

    >>> t = parse_template("{{location}은} {{weather}}")
    >>> t.parameters
    ('location', 'weather')
    >>> t.render({"location": "서울", "weather": "맑아요"})
    '서울은 맑아요'

    Raises:
        TemplateError: a placeholder is malformed (``{{loc``), names a filter that
            ``filters`` does not have or uses it with the wrong operator, or ends with an
            unknown particle. The message gives the line and column.
    """
    parts: list[str | Placeholder] = []
    names: dict[str, None] = {}
    pos = 0
    while (start := template.find("{{", pos)) != -1:
        if start > pos:
            parts.append(template[pos:start])
        placeholder, pos = _parse_placeholder(template, start, filters)
        parts.append(placeholder)
        names[placeholder.name] = None
    if pos < len(template):
        parts.append(template[pos:])
    return Template(template, tuple(parts), tuple(names))


def render(
    template: str,
    params: Mapping[str, object | None],
    filters: Filters | Mapping[str, Filter] | None = None,
) -> str:
    """Parse and render ``template`` in one call.

    Parse once with :func:`parse_template` when the same template is rendered often.

    >>> render("{{day>DAY}는} 맑아요", {"day": "TODAY"}, {"DAY": Translator({"TODAY": "오늘"})})
    '오늘은 맑아요'

    Raises:
        TemplateError: see :func:`parse_template`.
    """
    return parse_template(template, filters).render(params)


# --------------------------------------------------------------------------- selection


def pick_random(prompts: Sequence[_T], rng: random.Random) -> _T:
    """Pick one prompt at random: ordinary response, welcome and exit prompts.

    Pass a seeded ``random.Random`` for repeatable tests.

    Raises:
        ValueError: ``prompts`` is empty.
    """
    if not prompts:
        raise ValueError("no prompts to pick from")
    return rng.choice(prompts)


class PromptStack:
    """In-order prompts: fallback, slot-filling and exception prompts (LIFO).

    ``prompts`` are given in the order typed in Play Builder. The first typed is the end
    prompt (종료); later ones are wait prompts (대기). They are spoken last-typed first::

        stack = PromptStack(["end", "wait 1", "wait 2"])
        stack.next()  # ("wait 2", False)
        stack.next()  # ("wait 1", False)
        stack.next()  # ("end", True)  -> the session ends; stack.exhausted is True

    With one prompt, that prompt is the end prompt. ``spoken`` lets a dialog engine store
    the cursor between turns (in any process) and rebuild the stack later.
    """

    __slots__ = ("_prompts", "_spoken")

    def __init__(self, prompts: Sequence[str], spoken: int = 0) -> None:
        if not prompts:
            raise ValueError("a prompt stack needs at least one prompt (the end prompt)")
        if not 0 <= spoken <= len(prompts):
            raise ValueError(f"spoken must be between 0 and {len(prompts)}, not {spoken}")
        self._prompts = tuple(prompts)
        self._spoken = spoken

    @property
    def spoken(self) -> int:
        """How many prompts were already spoken."""
        return self._spoken

    @property
    def remaining(self) -> int:
        """How many prompts are left, the end prompt included."""
        return len(self._prompts) - self._spoken

    @property
    def exhausted(self) -> bool:
        """True once the end prompt was spoken."""
        return self._spoken >= len(self._prompts)

    def next(self) -> tuple[str, bool]:
        """Return the next prompt to speak and whether it is the end prompt.

        Raises:
            IndexError: the end prompt was already spoken.
        """
        if self.exhausted:
            raise IndexError("the prompt stack is exhausted: its end prompt was spoken")
        index = len(self._prompts) - 1 - self._spoken
        self._spoken += 1
        return self._prompts[index], index == 0

    def reset(self) -> None:
        """Start again from the last-typed prompt."""
        self._spoken = 0

    def __repr__(self) -> str:
        return f"PromptStack({list(self._prompts)!r}, spoken={self._spoken})"
