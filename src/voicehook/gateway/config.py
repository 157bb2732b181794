"""The gateway's YAML configuration (``voicehook gateway CONFIG``).

Read from YAML nodes like ``play.yaml``, so every problem names its file, line and column.
The format is documented in ``docs/botframework.md`` ("Composing skills behind a root")::

    name: root
    play: ./root                     # the root's own play (directory, app.py or play.yaml)
    app_id: ""                       # empty: anonymous mode (local development only)
    host: 127.0.0.1
    port: 3978
    skills:
      weather:
        endpoint: http://127.0.0.1:8081/api/messages
      echo:
        endpoint: http://127.0.0.1:39783/api/messages
        app_id: ""
        delivery: expectReplies
    routes:
      - phrase: 날씨                  # the text contains it
        skill: weather
      - prefix: 에코봇에서              # "에코봇에서 안녕" → the echo skill gets "안녕"
        skill: echo
      - intent: start.echo           # an intent of the root's play
        skill: echo
      - event: openWeather           # an event activity with this name
        skill: weather
    cancel: [그만, 취소]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec

from voicehook.play.definition import NodeLoader, YamlNode, compose_yaml
from voicehook.play.errors import DefinitionError

__all__ = ["GatewayConfig", "Route", "SkillConfig", "load_config", "parse_config"]

CHANNEL_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
SKILL_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Delivery = Literal["normal", "expectReplies"]


class SkillConfig(msgspec.Struct, frozen=True):
    """One skill: its id (the key), app id (empty in anonymous mode), messaging endpoint,
    and the delivery mode the gateway asks for."""

    id: str
    endpoint: str
    app_id: str = ""
    delivery: Delivery = "normal"
    timeout: float | None = None


class Route(msgspec.Struct, frozen=True):
    """One routing rule; exactly one of ``phrase``, ``prefix``, ``intent``, ``event`` is set."""

    skill: str
    phrase: str | None = None
    prefix: str | None = None
    intent: str | None = None
    event: str | None = None
    line: int = 0


class GatewayConfig(msgspec.Struct, frozen=True):
    """The whole configuration. Paths are resolved against the config file's folder."""

    name: str
    play: str
    skills: dict[str, SkillConfig]
    routes: tuple[Route, ...] = ()
    app_id: str = ""
    host: str = "127.0.0.1"
    port: int = 3978
    messaging_path: str = "/api/messages"
    skill_host_path: str = "/api/skills"
    #: The base URL skills call back (``serviceUrl``); default ``http://host:port{skill_host_path}``.
    skill_host_endpoint: str | None = None
    store: str | None = None
    timeout: float = 10.0
    state_ttl: float = 24 * 3600.0
    cancel: tuple[str, ...] = ("그만", "취소")
    apology: str = "죄송해요, 지금은 그 기능을 쓸 수 없어요. 잠시 후 다시 말씀해 주세요."
    allowed_callers: tuple[str, ...] = ()
    token_endpoint: str | None = None
    openid_metadata_url: str | None = None
    #: Where the user's channel (Azure Bot Service) publishes its signing keys.
    channel_openid_metadata_url: str = CHANNEL_OPENID_METADATA_URL
    source: str = "<string>"

    def host_endpoint(self) -> str:
        if self.skill_host_endpoint:
            return self.skill_host_endpoint.rstrip("/")
        return f"http://{self.host}:{self.port}{self.skill_host_path}"


_TOP = (
    "name",
    "play",
    "skills",
    "routes",
    "app_id",
    "host",
    "port",
    "messaging_path",
    "skill_host_path",
    "skill_host_endpoint",
    "store",
    "timeout",
    "state_ttl",
    "cancel",
    "apology",
    "allowed_callers",
    "token_endpoint",
    "openid_metadata_url",
    "channel_openid_metadata_url",
)


def _url(node: YamlNode) -> str | None:
    text = node.string(allow_empty=False)
    if text is not None and not text.startswith(("http://", "https://")):
        node.error(f"expected an http:// or https:// URL, got {text!r}")
        return None
    return text


def _path(node: YamlNode) -> str | None:
    text = node.string(allow_empty=False)
    if text is not None and (not text.startswith("/") or (text.endswith("/") and text != "/")):
        node.error(f"a path starts with / and does not end with one, got {text!r}")
        return None
    return text


def _number(node: YamlNode, *, integer: bool = False) -> float | None:
    value = node.scalar() if node.is_scalar and not node.is_null else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        node.error(f"expected a number > 0, got {node.kind()}")
        return None
    if integer and not isinstance(value, int):
        node.error(f"expected a whole number, got {node.kind()}")
        return None
    return float(value)


def _skill(sid: str, node: YamlNode, loader: NodeLoader) -> SkillConfig | None:
    if not SKILL_ID_RE.match(sid):
        node.error(f"skill id {sid!r}: letters, digits, '.', '_' and '-', at most 64")
        return None
    if not node.is_map:
        node.error(f"skill {sid!r}: expected a mapping with an endpoint, got {node.kind()}")
        return None
    loader.unknown_keys(node, ("endpoint", "app_id", "delivery", "timeout"))
    fields = dict(node.items())
    if "endpoint" not in fields:
        node.error(f"skill {sid!r} needs an endpoint (its messaging URL)")
        return None
    endpoint = _url(fields["endpoint"])
    app_id = (fields["app_id"].string() or "") if "app_id" in fields else ""
    delivery: Delivery = "normal"
    if "delivery" in fields:
        text = fields["delivery"].string()
        if text not in ("normal", "expectReplies"):
            fields["delivery"].error(f"delivery must be normal or expectReplies, got {text!r}")
        else:
            delivery = text  # type: ignore[assignment]
    timeout = _number(fields["timeout"]) if "timeout" in fields else None
    if endpoint is None:
        return None
    return SkillConfig(id=sid, endpoint=endpoint, app_id=app_id, delivery=delivery, timeout=timeout)


def _route(node: YamlNode, loader: NodeLoader, skills: dict[str, SkillConfig]) -> Route | None:
    if not node.is_map:
        node.error(
            f"a route is a mapping such as {{phrase: 날씨, skill: weather}}, got {node.kind()}"
        )
        return None
    kinds = ("phrase", "prefix", "intent", "event")
    loader.unknown_keys(node, ("skill", *kinds))
    fields = dict(node.items())
    given = [k for k in kinds if k in fields]
    if len(given) != 1:
        node.error(f"a route needs exactly one of {', '.join(kinds)} (got {len(given)})")
        return None
    if "skill" not in fields:
        node.error("a route needs a skill")
        return None
    skill = fields["skill"].string(allow_empty=False)
    if skill is not None and skill not in skills:
        known = ", ".join(sorted(skills)) or "none"
        fields["skill"].error(f"unknown skill {skill!r}; the skills are: {known}")
        return None
    kind = given[0]
    value = fields[kind].string(allow_empty=False)
    if value is None or skill is None:
        return None
    return Route(skill=skill, line=node.line, **{kind: value})


def _build(root: YamlNode, loader: NodeLoader, base: Path | None) -> GatewayConfig | None:
    if not root.is_map:
        root.error(f"the gateway config must be a mapping, got {root.kind()}")
        return None
    loader.unknown_keys(root, _TOP)
    f = dict(root.items())
    values: dict[str, object] = {}
    for key in ("name", "play"):
        if key not in f:
            root.error(f"missing required key {key!r}")
        else:
            values[key] = f[key].string(allow_empty=False)
    skills: dict[str, SkillConfig] = {}
    if "skills" not in f:
        root.error("missing required key 'skills' (at least one skill)")
    else:
        for sid, node in f["skills"].items():
            skill = _skill(sid, node, loader)
            if skill is not None:
                skills[sid] = skill
        if f["skills"].is_map and not f["skills"].node.value:
            f["skills"].error("declare at least one skill")
    routes = []
    if "routes" in f:
        for node in f["routes"].elements():
            route = _route(node, loader, skills)
            if route is not None:
                routes.append(route)
    for key in ("app_id", "host", "store", "apology"):
        if key in f:
            values[key] = f[key].string(allow_empty=key == "app_id")
    for key in ("messaging_path", "skill_host_path"):
        if key in f:
            values[key] = _path(f[key])
    for key in (
        "skill_host_endpoint",
        "token_endpoint",
        "openid_metadata_url",
        "channel_openid_metadata_url",
    ):
        if key in f:
            values[key] = _url(f[key])
    if "port" in f:
        port = _number(f["port"], integer=True)
        if port is not None and port > 65535:
            f["port"].error("a port is at most 65535")
        values["port"] = int(port) if port is not None else None
    for key in ("timeout", "state_ttl"):
        if key in f:
            values[key] = _number(f[key])
    for key in ("cancel", "allowed_callers"):
        if key in f:
            values[key] = f[key].strings()
    if values.get("messaging_path") and values.get("messaging_path") == values.get(
        "skill_host_path"
    ):
        f["skill_host_path"].error("the skill host path must differ from the messaging path")
    if loader.problems:
        return None
    play = str(values.pop("play"))
    if base is not None and not Path(play).is_absolute() and ":" not in play:
        play = str((base / play).resolve())
    clean = {k: v for k, v in values.items() if v is not None}
    return GatewayConfig(
        play=play,
        skills=skills,
        routes=tuple(routes),
        source=loader.source,
        **clean,  # type: ignore[arg-type]
    )


def parse_config(text: str, source: str = "<string>", *, base: Path | None = None) -> GatewayConfig:
    """Parse a gateway config from YAML text. Raises :class:`DefinitionError` listing every
    problem with ``file:line:column``."""
    loader = NodeLoader(source)
    root = compose_yaml(text, source)
    config = _build(YamlNode(root, "gateway", loader), loader, base)
    if config is None or loader.problems:
        raise DefinitionError(loader.problems, source)
    return config


def load_config(path: str | Path) -> GatewayConfig:
    """Load a gateway config file (relative paths inside are relative to its folder)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([f"{p}: cannot read: {exc.strerror}"], str(p)) from None
    return parse_config(text, str(p), base=p.parent)
