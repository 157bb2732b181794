"""The play definition model and its YAML loader.

A play definition holds what NUGU Play Builder holds: actions with their parameters, exception
codes and responses, intents, entities, filters and the built-in actions. The format is
described in ``docs/play-format.md``. The loader reads YAML nodes (not plain dicts) so that
every problem is reported with its file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeAlias

import msgspec
import yaml

from voicehook.play.errors import DefinitionError

ParameterKind = Literal["utterance", "backend", "configurable"]
PromptType = Literal["wait", "end", "continuation"]

NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
ACTION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
PARAM_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TYPE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_FAILURE_PROMPT = "죄송합니다. 현재 서버에 연결할 수 없습니다. 잠시 후 다시 이용해주세요."
BUILTIN_ACTIONS = ("NUGU.ACTION.welcome", "NUGU.ACTION.exit", "NUGU.ACTION.fallback")


class EntityMapping(msgspec.Struct, frozen=True):
    """One entity mapping of an utterance parameter: ``TYPE`` or ``TYPE:ROLE``."""

    type: str
    role: str
    slot_filling_only: bool = False

    def __str__(self) -> str:
        return f"{self.type}:{self.role}"


class Parameter(msgspec.Struct, frozen=True):
    """A parameter of an action (utterance, backend or configurable)."""

    name: str
    kind: ParameterKind
    mappings: tuple[EntityMapping, ...] = ()
    required: bool = False
    prompts: tuple[str, ...] = ()
    value: str | None = None

    @property
    def type(self) -> str | None:
        """The entity type sent in ``action.parameters[KEY].type`` (the first mapping's)."""
        return self.mappings[0].type if self.mappings else None

    @property
    def entity_types(self) -> tuple[str, ...]:
        """All entity types mapped to this parameter."""
        return tuple(m.type for m in self.mappings)


class ExceptionCode(msgspec.Struct, frozen=True):
    """An exception code with its prompts, in the order they were typed in Play Builder.

    The first typed prompt is the end prompt; the later ones are wait prompts. They are
    spoken last-typed first.
    """

    code: str
    prompts: tuple[str, ...] = ()


class Response(msgspec.Struct, frozen=True):
    """The response of a leaf action."""

    type: PromptType = "end"
    prompts: tuple[str, ...] = ()
    directives: tuple[dict[str, Any], ...] = ()
    silent: bool = False


class Equals(msgspec.Struct, frozen=True, tag="equals"):
    """``param`` equals ``value`` (a literal, or ``{{other}}`` for another parameter)."""

    param: str
    value: str


class Exists(msgspec.Struct, frozen=True, tag="exists"):
    """``param`` has a non-empty value."""

    param: str


class IntentIs(msgspec.Struct, frozen=True, tag="intent"):
    """The user's next utterance has this intent (multi-turn branches only)."""

    intent: str


class AllOf(msgspec.Struct, frozen=True, tag="all"):
    """Every condition holds."""

    items: tuple[Condition, ...]


class AnyOf(msgspec.Struct, frozen=True, tag="any"):
    """At least one condition holds."""

    items: tuple[Condition, ...]


Condition: TypeAlias = Equals | Exists | IntentIs | AllOf | AnyOf


class Branch(msgspec.Struct, frozen=True):
    """A branch to another action; ``condition`` is None for the default branch."""

    action: str
    condition: Condition | None = None


class Trigger(msgspec.Struct, frozen=True):
    """What starts a root action: an intent or a device event."""

    intent: str | None = None
    event: str | None = None


class Action(msgspec.Struct, frozen=True):
    """An action of the play."""

    name: str
    trigger: Trigger | None = None
    backend: bool = False
    parameters: dict[str, Parameter] = msgspec.field(default_factory=dict)
    exceptions: dict[str, ExceptionCode] = msgspec.field(default_factory=dict)
    response: Response | None = None
    branches: tuple[Branch, ...] = ()
    common: str | None = None
    line: int = 0
    reprompts: tuple[str, ...] = ()


class Intent(msgspec.Struct, frozen=True):
    """A custom intent with its example utterances (entities marked ``[text](TYPE)``)."""

    name: str
    examples: tuple[str, ...] = ()


class EntityType(msgspec.Struct, frozen=True):
    """A custom entity type: representative values and their synonyms."""

    name: str
    values: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)


class TranslateFilter(msgspec.Struct, frozen=True, tag="translate"):
    """``>`` NLG translator: one source to one target, exact match."""

    mapping: dict[str, str]


class NormalizeFilter(msgspec.Struct, frozen=True, tag="normalize"):
    """``=`` NLG normalizer: many sources to one target (target -> sources), exact match."""

    mapping: dict[str, tuple[str, ...]]


class DateTimeFilter(msgspec.Struct, frozen=True, tag="datetime"):
    """``:`` NLG function DATETIME: parse with ``source``, format with ``target``."""

    source: str
    target: str


Filter: TypeAlias = TranslateFilter | NormalizeFilter | DateTimeFilter


class PlayDefinition(msgspec.Struct, frozen=True):
    """A whole play definition."""

    name: str
    invocation: str | None = None
    failure_prompt: str = DEFAULT_FAILURE_PROMPT
    backend_url: str | None = None
    entities: dict[str, EntityType] = msgspec.field(default_factory=dict)
    intents: dict[str, Intent] = msgspec.field(default_factory=dict)
    exceptions: dict[str, ExceptionCode] = msgspec.field(default_factory=dict)
    parameters: dict[str, Parameter] = msgspec.field(default_factory=dict)
    filters: dict[str, Filter] = msgspec.field(default_factory=dict)
    actions: dict[str, Action] = msgspec.field(default_factory=dict)
    welcome: tuple[str, ...] = ()
    exit: tuple[str, ...] = ()
    fallback: tuple[str, ...] = ()
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    #: The raw ``clova:`` section (CEK intent and slot renames; ``voicehook.clova`` reads it).
    clova: dict[str, Any] = msgspec.field(default_factory=dict)
    source: str = "<code>"

    def action_parameters(self, action: str) -> dict[str, Parameter]:
        """The action's parameters including the play's global parameters."""
        act = self.actions.get(action)
        merged = dict(self.parameters)
        if act is not None:
            merged.update(act.parameters)
        return merged

    def exception_codes(self, action: str) -> dict[str, ExceptionCode]:
        """Exception codes valid for ``action``: its own plus the global ones."""
        merged = dict(self.exceptions)
        act = self.actions.get(action)
        if act is not None:
            merged.update(act.exceptions)
        return merged


# --------------------------------------------------------------------------------------------
# Loader


class YamlNode:
    """A YAML node with a place, for precise error messages."""

    __slots__ = ("_loader", "node", "path")

    def __init__(self, node: yaml.Node, path: str, loader: NodeLoader) -> None:
        self.node = node
        self.path = path
        self._loader = loader

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def where(self) -> str:
        mark = self.node.start_mark
        return f"{self._loader.source}:{mark.line + 1}:{mark.column + 1} ({self.path})"

    def error(self, message: str) -> None:
        self._loader.problems.append(f"{self.where()}: {message}")

    @property
    def is_map(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    @property
    def is_list(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode)

    @property
    def is_null(self) -> bool:
        return self.is_scalar and self.node.tag == "tag:yaml.org,2002:null"

    def items(self) -> Iterator[tuple[str, YamlNode]]:
        """Key/value pairs of a mapping (reports duplicate and non-string keys)."""
        if not self.is_map:
            self.error(f"expected a mapping, got {self.kind()}")
            return
        seen: set[str] = set()
        for key_node, value_node in self.node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key == "":
                YamlNode(key_node, self.path, self._loader).error("keys must be non-empty strings")
                continue
            if key in seen:
                YamlNode(key_node, f"{self.path}.{key}", self._loader).error(
                    f"duplicate key {key!r}"
                )
                continue
            seen.add(key)
            yield key, YamlNode(value_node, f"{self.path}.{key}", self._loader)

    def elements(self) -> Iterator[YamlNode]:
        if not self.is_list:
            self.error(f"expected a list, got {self.kind()}")
            return
        for i, child in enumerate(self.node.value):
            yield YamlNode(child, f"{self.path}[{i}]", self._loader)

    def kind(self) -> str:
        if self.is_map:
            return "a mapping"
        if self.is_list:
            return "a list"
        if self.is_null:
            return "null"
        return f"{self.scalar()!r}"

    def scalar(self) -> Any:
        """The Python value of a scalar node (YAML 1.1 types as PyYAML resolves them).

        A scalar PyYAML resolves to a tag it cannot construct (``=`` is the YAML 1.1
        ``value`` tag) is its text as written, so a problem report can name it."""
        try:
            return self._loader.constructor.construct_object(self.node, deep=True)
        except yaml.YAMLError:
            value = self.node.value
            return value if isinstance(value, str) else str(value)

    def string(self, *, allow_empty: bool = True) -> str | None:
        """A scalar as text, exactly as written: ``yes``, ``21`` and ``NO`` stay text (no
        YAML 1.1 surprises such as ``yes`` becoming a boolean)."""
        if not self.is_scalar or self.is_null:
            self.error(f"expected a string, got {self.kind()}")
            return None
        text = str(self.node.value)
        if not allow_empty and not text:
            self.error("must not be empty")
            return None
        return text

    def boolean(self) -> bool | None:
        if self.is_scalar:
            value = self.scalar()
            if isinstance(value, bool):
                return value
        self.error(f"expected true or false, got {self.kind()}")
        return None

    def strings(self) -> tuple[str, ...]:
        """A list of strings, or a single string taken as a list of one."""
        if self.is_scalar and not self.is_null:
            one = self.string()
            return (one,) if one is not None else ()
        out = []
        for el in self.elements():
            s = el.string()
            if s is not None:
                out.append(s)
        return tuple(out)


class NodeLoader:
    """Collects every problem found while reading one YAML file's nodes (:class:`YamlNode`),
    each with ``file:line:column``. The play loader and the gateway config loader share it.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.constructor = yaml.SafeLoader("")

    def unknown_keys(self, node: YamlNode, allowed: tuple[str, ...]) -> None:
        if not node.is_map:
            return
        for key_node, _ in node.node.value:
            key = getattr(key_node, "value", None)
            if isinstance(key, str) and key not in allowed:
                near = _near(key, dict.fromkeys(allowed))
                YamlNode(key_node, f"{node.path}.{key}", self).error(
                    f"unknown key {key!r}{near}; expected one of: {', '.join(allowed)}"
                )


def _prompt_list(node: YamlNode) -> tuple[str, ...]:
    return node.strings()


def _mapping(node: YamlNode, text: str, slot_only: bool) -> EntityMapping | None:
    type_, _, role = text.partition(":")
    type_, role = type_.strip(), role.strip()
    if not type_ or not TYPE_RE.match(type_) or (role and not TYPE_RE.match(role)):
        node.error(f"entity mapping {text!r} must be TYPE or TYPE:ROLE")
        return None
    return EntityMapping(type=type_, role=role or type_, slot_filling_only=slot_only)


def _parameter(name: str, node: YamlNode, loader: NodeLoader) -> Parameter | None:
    if not PARAM_RE.match(name):
        node.error(f"parameter name {name!r}: letters, digits, _ and -, at most 40 characters")
        return None
    if node.is_scalar:
        word = node.string()
        if word in ("backend", "utterance"):
            return Parameter(name=name, kind="backend" if word == "backend" else "utterance")
        node.error(
            f"parameter {name!r}: write 'backend', or a mapping such as "
            "{type: LOCATION, required: true}"
        )
        return None
    if not node.is_map:
        node.error(f"parameter {name!r}: expected a mapping, got {node.kind()}")
        return None
    loader.unknown_keys(node, ("kind", "type", "required", "prompts", "value", "slot_filling_only"))
    fields = dict(node.items())
    kind: ParameterKind
    if "kind" in fields:
        k = fields["kind"].string()
        if k not in ("utterance", "backend", "configurable"):
            fields["kind"].error("kind must be utterance, backend or configurable")
            return None
        kind = k  # type: ignore[assignment]
    elif "type" in fields:
        kind = "utterance"
    elif "value" in fields:
        kind = "configurable"
    else:
        kind = "backend"
    mappings: list[EntityMapping] = []
    if "type" in fields:
        for text in fields["type"].strings():
            m = _mapping(fields["type"], text, slot_only=False)
            if m:
                mappings.append(m)
    if "slot_filling_only" in fields:
        for text in fields["slot_filling_only"].strings():
            m = _mapping(fields["slot_filling_only"], text, slot_only=True)
            if m:
                mappings.append(m)
    if kind == "utterance" and not mappings:
        node.error(f"utterance parameter {name!r} needs an entity mapping: type: TYPE")
    if kind != "utterance" and mappings:
        node.error(f"{kind} parameter {name!r} cannot have an entity mapping")
    required = bool(fields["required"].boolean()) if "required" in fields else False
    prompts = _prompt_list(fields["prompts"]) if "prompts" in fields else ()
    if required and not prompts:
        node.error(f"required parameter {name!r} needs slot-filling prompts")
    if prompts and not required:
        fields["prompts"].error(f"slot-filling prompts of {name!r} need required: true")
    value = fields["value"].string() if "value" in fields else None
    return Parameter(
        name=name,
        kind=kind,
        mappings=tuple(mappings),
        required=required,
        prompts=prompts,
        value=value,
    )


def _parameters(node: YamlNode, loader: NodeLoader) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    if node.is_null:
        return out
    for name, child in node.items():
        p = _parameter(name, child, loader)
        if p is not None:
            out[name] = p
    return out


def _exceptions(node: YamlNode, loader: NodeLoader) -> dict[str, ExceptionCode]:
    out: dict[str, ExceptionCode] = {}
    if node.is_null:
        return out
    for code, child in node.items():
        if code == "OK":
            child.error("'OK' is the success code and cannot be an exception code")
            continue
        if child.is_map:
            loader.unknown_keys(child, ("prompts",))
            fields = dict(child.items())
            prompts = _prompt_list(fields["prompts"]) if "prompts" in fields else ()
        elif child.is_null:
            prompts = ()
        else:
            prompts = _prompt_list(child)
        out[code] = ExceptionCode(code=code, prompts=prompts)
    return out


def _condition(node: YamlNode, loader: NodeLoader) -> Condition | None:
    if not node.is_map or len(node.node.value) != 1:
        node.error("a condition is a mapping with one key: equals, exists, intent, all or any")
        return None
    ((key, child),) = list(node.items())
    if key == "equals":
        pairs = list(child.items())
        if len(pairs) != 1:
            child.error("equals takes one pair: {param: value}")
            return None
        param, value_node = pairs[0]
        value = value_node.string()
        return Equals(param=param, value=value) if value is not None else None
    if key == "exists":
        target = child.string(allow_empty=False)
        return Exists(param=target) if target else None
    if key == "intent":
        name = child.string(allow_empty=False)
        return IntentIs(intent=name) if name else None
    if key in ("all", "any"):
        items = [c for el in child.elements() if (c := _condition(el, loader)) is not None]
        if not items:
            child.error(f"{key} needs at least one condition")
            return None
        return AllOf(items=tuple(items)) if key == "all" else AnyOf(items=tuple(items))
    node.error(f"unknown condition {key!r}; expected equals, exists, intent, all or any")
    return None


def _branches(node: YamlNode, loader: NodeLoader) -> tuple[Branch, ...]:
    out: list[Branch] = []
    for el in node.elements():
        if not el.is_map:
            el.error("a branch is {when: CONDITION, action: NAME} or {default: NAME}")
            continue
        fields = dict(el.items())
        if "default" in fields:
            loader.unknown_keys(el, ("default",))
            target = fields["default"].string(allow_empty=False)
            if target:
                out.append(Branch(action=target))
            continue
        loader.unknown_keys(el, ("when", "action"))
        if "action" not in fields or "when" not in fields:
            el.error("a branch needs both 'when' and 'action' (or is {default: NAME})")
            continue
        target = fields["action"].string(allow_empty=False)
        cond = _condition(fields["when"], loader)
        if target and cond:
            out.append(Branch(action=target, condition=cond))
    for i, br in enumerate(out):
        if br.condition is None and i != len(out) - 1:
            node.error("the default branch must be the last one")
    return tuple(out)


def _response(node: YamlNode, loader: NodeLoader) -> Response | None:
    loader.unknown_keys(node, ("type", "prompts", "directives", "silent"))
    fields = dict(node.items())
    rtype: PromptType = "end"
    if "type" in fields:
        t = fields["type"].string()
        if t not in ("wait", "end", "continuation"):
            fields["type"].error("response type must be wait, end or continuation")
        else:
            rtype = t  # type: ignore[assignment]
    prompts = _prompt_list(fields["prompts"]) if "prompts" in fields else ()
    directives: list[dict[str, Any]] = []
    if "directives" in fields:
        for el in fields["directives"].elements():
            data = loader.constructor.construct_object(el.node, deep=True)
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                el.error("a directive is a mapping with a 'type' such as AudioPlayer.Stop")
                continue
            directives.append(data)
    silent = bool(fields["silent"].boolean()) if "silent" in fields else False
    return Response(type=rtype, prompts=prompts, directives=tuple(directives), silent=silent)


def _action(name: str, node: YamlNode, loader: NodeLoader) -> Action | None:
    if not ACTION_RE.match(name):
        node.error(f"action name {name!r}: letters, digits, '.', '_' and '-' only")
        return None
    if node.is_null:
        return Action(name=name, line=node.line)
    loader.unknown_keys(
        node,
        (
            "trigger",
            "backend",
            "parameters",
            "exceptions",
            "response",
            "branches",
            "common",
            "reprompts",
        ),
    )
    fields = dict(node.items())
    trigger = None
    if "trigger" in fields:
        t = fields["trigger"]
        loader.unknown_keys(t, ("intent", "event"))
        tf = dict(t.items())
        intent = tf["intent"].string(allow_empty=False) if "intent" in tf else None
        event = tf["event"].string(allow_empty=False) if "event" in tf else None
        if (intent is None) == (event is None):
            t.error("a trigger is {intent: NAME} or {event: Namespace.Name}, exactly one")
        else:
            trigger = Trigger(intent=intent, event=event)
    backend = bool(fields["backend"].boolean()) if "backend" in fields else False
    params = _parameters(fields["parameters"], loader) if "parameters" in fields else {}
    excs = _exceptions(fields["exceptions"], loader) if "exceptions" in fields else {}
    response = _response(fields["response"], loader) if "response" in fields else None
    branches = _branches(fields["branches"], loader) if "branches" in fields else ()
    common = fields["common"].string(allow_empty=False) if "common" in fields else None
    reprompts = _prompt_list(fields["reprompts"]) if "reprompts" in fields else ()
    if excs and not backend:
        fields["exceptions"].error("exception codes need backend: true on the action")
    return Action(
        name=name,
        trigger=trigger,
        backend=backend,
        parameters=params,
        exceptions=excs,
        response=response,
        branches=branches,
        common=common,
        line=node.line,
        reprompts=reprompts,
    )


def _filter(name: str, node: YamlNode, loader: NodeLoader) -> Filter | None:
    if not node.is_map or len(node.node.value) != 1:
        node.error("a filter has one key: translate, normalize or datetime")
        return None
    ((key, child),) = list(node.items())
    if key == "translate":
        mapping = {k: s for k, v in child.items() if (s := v.string()) is not None}
        return TranslateFilter(mapping=mapping)
    if key == "normalize":
        return NormalizeFilter(mapping={k: v.strings() for k, v in child.items()})
    if key == "datetime":
        loader.unknown_keys(child, ("source", "target"))
        f = dict(child.items())
        if "source" not in f or "target" not in f:
            child.error("datetime needs source and target patterns")
            return None
        src, dst = f["source"].string(), f["target"].string()
        if src is None or dst is None:
            return None
        return DateTimeFilter(source=src, target=dst)
    node.error(f"unknown filter kind {key!r}; expected translate, normalize or datetime")
    return None


_TOP_KEYS = (
    "name",
    "invocation",
    "failure_prompt",
    "backend_url",
    "entities",
    "intents",
    "exceptions",
    "parameters",
    "filters",
    "actions",
    "welcome",
    "exit",
    "fallback",
    "settings",
    "clova",
)


def _definition(root: YamlNode, loader: NodeLoader) -> PlayDefinition | None:
    if not root.is_map:
        root.error("a play definition is a mapping with at least 'name'")
        return None
    loader.unknown_keys(root, _TOP_KEYS)
    f = dict(root.items())
    name = f["name"].string(allow_empty=False) if "name" in f else None
    if "name" not in f:
        root.error("missing 'name'")
    elif name and not NAME_RE.match(name):
        f["name"].error("the play name may use letters, digits, _ and - only")
    entities: dict[str, EntityType] = {}
    if "entities" in f and not f["entities"].is_null:
        for ename, enode in f["entities"].items():
            if ename.startswith("BID_"):
                enode.error(f"{ename}: BID_* names are reserved for built-in entity types")
                continue
            loader.unknown_keys(enode, ("values",))
            ef = dict(enode.items())
            values: dict[str, tuple[str, ...]] = {}
            if "values" in ef:
                vnode = ef["values"]
                if vnode.is_list:
                    values = {v: () for v in vnode.strings()}
                else:
                    for rep, syn in vnode.items():
                        values[rep] = () if syn.is_null else syn.strings()
            entities[ename] = EntityType(name=ename, values=values)
    intents: dict[str, Intent] = {}
    if "intents" in f and not f["intents"].is_null:
        for iname, inode in f["intents"].items():
            if iname.startswith("NUGU"):
                inode.error("custom intent names must not start with NUGU")
                continue
            loader.unknown_keys(inode, ("examples",))
            fi = dict(inode.items())
            examples = fi["examples"].strings() if "examples" in fi else ()
            intents[iname] = Intent(name=iname, examples=examples)
            for ex_node, ex in zip(
                fi["examples"].elements() if "examples" in fi else [], examples, strict=False
            ):
                for problem in check_example_markup(ex):
                    ex_node.error(problem)
    exceptions = _exceptions(f["exceptions"], loader) if "exceptions" in f else {}
    params = _parameters(f["parameters"], loader) if "parameters" in f else {}
    filters: dict[str, Filter] = {}
    if "filters" in f and not f["filters"].is_null:
        for fname, fnode in f["filters"].items():
            flt = _filter(fname, fnode, loader)
            if flt is not None:
                filters[fname] = flt
    actions: dict[str, Action] = {}
    if "actions" in f and not f["actions"].is_null:
        for aname, anode in f["actions"].items():
            act = _action(aname, anode, loader)
            if act is not None:
                actions[aname] = act
    settings: dict[str, Any] = {}
    if "settings" in f and not f["settings"].is_null:
        data = loader.constructor.construct_object(f["settings"].node, deep=True)
        if isinstance(data, dict):
            settings = data
        else:
            f["settings"].error("settings must be a mapping")
    clova: dict[str, Any] = {}
    if "clova" in f and not f["clova"].is_null:
        data = loader.constructor.construct_object(f["clova"].node, deep=True)
        if isinstance(data, dict):
            clova = data
        else:
            f["clova"].error("clova must be a mapping")
    defn = PlayDefinition(
        name=name or "play",
        invocation=f["invocation"].string() if "invocation" in f else None,
        failure_prompt=(
            f["failure_prompt"].string() or "" if "failure_prompt" in f else DEFAULT_FAILURE_PROMPT
        ),
        backend_url=f["backend_url"].string() if "backend_url" in f else None,
        entities=entities,
        intents=intents,
        exceptions=exceptions,
        parameters=params,
        filters=filters,
        actions=actions,
        welcome=_prompt_list(f["welcome"]) if "welcome" in f else (),
        exit=_prompt_list(f["exit"]) if "exit" in f else (),
        fallback=_prompt_list(f["fallback"]) if "fallback" in f else (),
        settings=settings,
        clova=clova,
        source=loader.source,
    )
    _cross_check(defn, f.get("actions"), loader)
    return defn


_MARKUP_RE = re.compile(r"\[([^\[\]]+)\]\(([^()]+)\)")


def check_example_markup(example: str) -> list[str]:
    """Problems in an example utterance's ``[text](TYPE)`` markup (empty when fine)."""
    problems = []
    for m in _MARKUP_RE.finditer(example):
        type_, _, role = m.group(2).partition(":")
        if not TYPE_RE.match(type_.strip()) or (role and not TYPE_RE.match(role.strip())):
            problems.append(
                f"entity markup {m.group(0)!r}: write [text](TYPE) or [text](TYPE:ROLE)"
            )
    stripped = _MARKUP_RE.sub("", example)
    if "[" in stripped or "](" in stripped:
        problems.append(f"unbalanced entity markup in {example!r}")
    return problems


def _cross_check(defn: PlayDefinition, actions_node: YamlNode | None, loader: NodeLoader) -> None:
    """References between actions, intents and entity types."""
    where: dict[str, YamlNode] = {}
    if actions_node is not None and actions_node.is_map:
        where = dict(actions_node.items())

    def err(action: str, message: str) -> None:
        node = where.get(action)
        if node is not None:
            node.error(message)
        else:
            loader.problems.append(f"{loader.source}: action {action!r}: {message}")

    known_types = set(defn.entities)
    for act in defn.actions.values():
        for br in act.branches:
            if br.action not in defn.actions:
                err(
                    act.name,
                    f"branch target {br.action!r} is not an action{_near(br.action, defn.actions)}",
                )
            elif br.action == act.name:
                err(act.name, "an action cannot branch to itself")
        if act.common and act.common not in defn.actions:
            err(
                act.name,
                f"common action {act.common!r} is not an action{_near(act.common, defn.actions)}",
            )
        if act.trigger and act.trigger.intent:
            intent = act.trigger.intent
            if not intent.startswith("NUGU.INTENT.") and intent not in defn.intents:
                err(
                    act.name,
                    f"trigger intent {intent!r} is not declared{_near(intent, defn.intents)}",
                )
        for p in act.parameters.values():
            for m in p.mappings:
                if not m.type.startswith("BID_") and m.type not in known_types:
                    err(act.name, f"parameter {p.name!r} maps unknown entity type {m.type!r}")
        leafless = act.response is None and not act.branches and not act.common
        if leafless and act.trigger is not None and not act.backend:
            err(
                act.name,
                "an action needs a response, branches, a common action or backend: true",
            )
        if act.response and act.response.type == "continuation":
            err(act.name, "continuation prompts are for the welcome action only; use wait or end")
        has_default = any(b.condition is None for b in act.branches)
        multi_turn = act.response is not None and act.response.type == "wait"
        if act.branches and not has_default and not multi_turn:
            err(act.name, "branch actions need a default branch ({default: NAME}) at the end")
    for p in defn.parameters.values():
        for m in p.mappings:
            if not m.type.startswith("BID_") and m.type not in known_types:
                loader.problems.append(
                    f"{loader.source}: global parameter {p.name!r} maps unknown entity "
                    f"type {m.type!r}"
                )


def _near(name: str, known: Mapping[str, object]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def compose_yaml(text: str, source: str) -> yaml.Node:
    """The YAML node tree of ``text`` (nodes keep their line and column). Raises
    DefinitionError with ``file:line:column`` for invalid YAML and for an empty file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([f"{place}: invalid YAML: {problem}"], source) from None
    if root is None:
        raise DefinitionError([f"{source}: the file is empty"], source)
    return root


def parse_definition(text: str, source: str = "<string>") -> PlayDefinition:
    """Parse a play definition from YAML text. Raises DefinitionError listing every problem."""
    loader = NodeLoader(source)
    root = compose_yaml(text, source)
    defn = _definition(YamlNode(root, "$", loader), loader)
    if loader.problems or defn is None:
        raise DefinitionError(loader.problems or [f"{source}: invalid"], source, defn)
    return defn


class ScalarPlace(NamedTuple):
    """Where a string value is written: 1-based line and column of its first character
    (after an opening quote), and whether the text maps 1:1 onto one source line."""

    line: int
    column: int
    exact: bool


def scalar_places(text: str) -> dict[str, ScalarPlace]:
    """Every string value of a YAML text and where it first appears (for prompt columns)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[str, ScalarPlace] = {}
    stack: list[yaml.Node] = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(v for _, v in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
            start = node.start_mark
            quoted = node.style in ("'", '"')
            one_line = start.line == node.end_mark.line and node.style in (None, "'", '"')
            exact = one_line and "\\" not in text[start.index : node.end_mark.index]
            out.setdefault(
                node.value, ScalarPlace(start.line + 1, start.column + 1 + int(quoted), exact)
            )
    return out


def load_definition(path: str | Path) -> PlayDefinition:
    """Load a play definition file. A directory means its ``play.yaml``."""
    p = Path(path)
    if p.is_dir():
        p = p / "play.yaml"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([f"{p}: no such file"], str(p)) from None
    except UnicodeDecodeError as exc:
        raise DefinitionError([f"{p}: not UTF-8 text ({exc.reason})"], str(p)) from None
    return parse_definition(text, str(p))
