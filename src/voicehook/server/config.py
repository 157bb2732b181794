"""Server settings, from code, environment variables (``VOICEHOOK_*``) or a config file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from voicehook.nugu.auth import PlayBuilderPolicy


@dataclass(frozen=True, slots=True)
class Settings:
    """How the server runs. Every field can be set from the CLI, the environment or a file.

    ========================  ==================================  ===========================
    field                     environment variable                default
    ========================  ==================================  ===========================
    host                      VOICEHOOK_HOST                      127.0.0.1
    port                      VOICEHOOK_PORT                      8080
    workers                   VOICEHOOK_WORKERS                   1
    prefix                    VOICEHOOK_PREFIX                    "" (no prefix)
    api_keys                  VOICEHOOK_API_KEYS (comma list)     none: no auth check
    play_builder              VOICEHOOK_PLAY_BUILDER              deny
    max_body                  VOICEHOOK_MAX_BODY                  1048576 (1 MiB)
    deadline                  VOICEHOOK_DEADLINE                  3.0 seconds
    failure_code              VOICEHOOK_FAILURE_CODE              BACKEND_ERROR
    timeout_code              VOICEHOOK_TIMEOUT_CODE              BACKEND_TIMEOUT
    unknown_action_code       VOICEHOOK_UNKNOWN_ACTION_CODE       UNKNOWN_ACTION
    output_policy             VOICEHOOK_OUTPUT_POLICY             stringify
    store                     VOICEHOOK_STORE                     none (see default_store)
    default_store             VOICEHOOK_DEFAULT_STORE             false (``serve``: true)
    access_log                VOICEHOOK_ACCESS_LOG                false
    log_level                 VOICEHOOK_LOG_LEVEL                 info
    health_timeout            VOICEHOOK_HEALTH_TIMEOUT            2.0 seconds
    upstream_timeout          VOICEHOOK_UPSTREAM_TIMEOUT          2.0 seconds
    max_json_depth            VOICEHOOK_MAX_JSON_DEPTH            64 (deeper bodies: 400)
    threads                   VOICEHOOK_THREADS                   16 (plain def handlers)
    max_connections           VOICEHOOK_MAX_CONNECTIONS           1000 (serve)
    max_concurrency           VOICEHOOK_MAX_CONCURRENCY           500 (serve; more: 503)
    header_timeout            VOICEHOOK_HEADER_TIMEOUT            10.0 seconds (serve)
    body_timeout              VOICEHOOK_BODY_TIMEOUT              10.0 seconds (serve)
    max_header_bytes          VOICEHOOK_MAX_HEADER_BYTES          16384 (serve; more: 431)
    keepalive_timeout         VOICEHOOK_KEEPALIVE_TIMEOUT         5.0 seconds (serve)
    shutdown_timeout          VOICEHOOK_SHUTDOWN_TIMEOUT          10.0 seconds (serve)
    loop_lag_warning          VOICEHOOK_LOOP_LAG_WARNING          0.5 seconds (0: off)
    health_write_probe        VOICEHOOK_HEALTH_WRITE_PROBE        true
    health_failure_rate       VOICEHOOK_HEALTH_FAILURE_RATE       0.5 (failed saves; 0: off)
    user_ttl                  VOICEHOOK_USER_TTL                  2592000 (30 days; 0: none)
    max_key_length            VOICEHOOK_MAX_KEY_LENGTH            256 (longer ids: hashed)
    metrics_under_prefix      VOICEHOOK_METRICS_UNDER_PREFIX      false ({prefix}/metrics)
    metrics_dir               VOICEHOOK_METRICS_DIR               "" (serve --workers: a temp dir)
    botframework              VOICEHOOK_BOTFRAMEWORK              false: no Bot Framework skill
    botframework_app_id       VOICEHOOK_BOTFRAMEWORK_APP_ID       "": anonymous mode
    botframework_path         VOICEHOOK_BOTFRAMEWORK_PATH         /api/messages
    botframework_allowed_...  ..._ALLOWED_CALLERS (comma list)    none: every caller refused
    botframework_tenant_id    VOICEHOOK_BOTFRAMEWORK_TENANT_ID    "": multi-tenant
    botframework_manifest     VOICEHOOK_BOTFRAMEWORK_MANIFEST     false: no /manifest.json
    botframework_endpoint...  ..._ENDPOINT_URL                    "": from the Host header
    botframework_openid_...   ..._OPENID_METADATA_URL             Azure public cloud
    botframework_token_...    ..._TOKEN_ENDPOINT                  Azure public cloud
    ========================  ==================================  ===========================

    See docs/deployment.md ("Limits") for what each limit protects against.

    The CLOVA channel (docs/clova.md); each field's variable is ``VOICEHOOK_`` + its name in
    capitals (``clova_app_ids``: a comma list):

    - ``clova``: true (CLOVA at ``clova_path``); ``clova_path``: ``/clova``;
    - ``clova_public_key``: none (CLOVA's bundled key); ``clova_app_ids``: none (any);
    - ``clova_insecure_skip_verify``: false; ``clova_deadline``: 5.0 seconds (CLOVA waits
      8); ``clova_limits``: ``fix`` (or ``error``).

    The Bot Framework app password is never a setting: it comes from the environment only
    (``VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD``), so it cannot end up in a config file.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    prefix: str = ""
    api_keys: tuple[str, ...] = ()
    play_builder: PlayBuilderPolicy = PlayBuilderPolicy.DENY
    max_body: int = 1024 * 1024
    deadline: float = 3.0
    failure_code: str = "BACKEND_ERROR"
    timeout_code: str = "BACKEND_TIMEOUT"
    unknown_action_code: str = "UNKNOWN_ACTION"
    output_policy: str = "stringify"
    store: str | None = None
    #: With no ``store``: use SQLite at ``./voicehook-state.db``, opened on first use (so a
    #: play that keeps no state never creates the file). ``voicehook serve`` turns it on.
    default_store: bool = False
    access_log: bool = False
    log_level: str = "info"
    health_timeout: float = 2.0
    upstream_timeout: float = 2.0
    max_json_depth: int = 64
    threads: int = 16
    max_connections: int = 1000
    max_concurrency: int = 500
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    keepalive_timeout: float = 5.0
    shutdown_timeout: float = 10.0
    loop_lag_warning: float = 0.5
    health_write_probe: bool = True
    health_failure_rate: float = 0.5
    user_ttl: float = 30 * 24 * 3600.0
    max_key_length: int = 256
    metrics_under_prefix: bool = False
    metrics_dir: str = ""
    clova: bool = True
    clova_path: str = "/clova"
    clova_public_key: str | None = None
    clova_app_ids: tuple[str, ...] = ()
    clova_insecure_skip_verify: bool = False
    clova_deadline: float = 5.0
    clova_limits: str = "fix"
    # Bot Framework skill (voicehook.botframework; docs/botframework.md).
    botframework: bool = False
    botframework_app_id: str = ""
    botframework_path: str = "/api/messages"
    botframework_allowed_callers: tuple[str, ...] = ()
    botframework_tenant_id: str = ""
    botframework_manifest: bool = False
    botframework_endpoint_url: str = ""
    botframework_openid_metadata_url: str = ""
    botframework_token_endpoint: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prefix = self.prefix.strip()
        prefix = "" if prefix in ("", "/") else "/" + prefix.strip("/")
        object.__setattr__(self, "prefix", prefix)
        bf_path = "/" + self.botframework_path.strip().strip("/")
        if bf_path == "/":
            raise ValueError("botframework_path must not be empty or /")
        object.__setattr__(self, "botframework_path", bf_path)
        object.__setattr__(self, "play_builder", PlayBuilderPolicy(self.play_builder))
        if self.max_body < 1:
            raise ValueError("max_body must be at least 1 byte")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        if self.output_policy not in ("stringify", "strict"):
            raise ValueError("output_policy must be 'stringify' or 'strict'")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        for name in ("max_json_depth", "threads", "max_connections", "max_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_header_bytes < 1024:
            raise ValueError("max_header_bytes must be at least 1024")
        if self.max_key_length < 32:
            raise ValueError("max_key_length must be at least 32")
        for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        for name in ("shutdown_timeout", "loop_lag_warning", "user_ttl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not 0 <= self.health_failure_rate <= 1:
            raise ValueError("health_failure_rate must be between 0 and 1 (0: off)")
        clova_path = "/" + self.clova_path.strip().strip("/")
        if clova_path == "/":
            raise ValueError("clova_path must not be /")
        object.__setattr__(self, "clova_path", clova_path)
        if not 0 < self.clova_deadline < 8:
            raise ValueError("clova_deadline must be between 0 and 8 seconds (CLOVA waits 8)")
        if self.clova_limits not in ("fix", "error"):
            raise ValueError("clova_limits must be 'fix' or 'error'")

    def merged(self, values: Mapping[str, Any]) -> Settings:
        """These settings with ``values`` (field name -> value, None = keep) applied."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            if key not in known:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
            changes[key] = _coerce(key, value, getattr(self, key))
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, base: Settings | None = None
    ) -> Settings:
        """Settings from ``VOICEHOOK_*`` environment variables over ``base``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"VOICEHOOK_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = raw
        return (base or cls()).merged(values)

    @classmethod
    def from_file(cls, path: str | Path, base: Settings | None = None) -> Settings:
        """Settings from a TOML file: top-level keys, or a ``[voicehook]`` table."""
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        table = data.get("voicehook", data)
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [voicehook] must be a table")
        values = {k.replace("-", "_"): v for k, v in table.items()}
        return (base or cls()).merged(values)


def _coerce(key: str, value: Any, current: Any) -> Any:
    if key in ("api_keys", "clova_app_ids", "botframework_allowed_callers"):
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return tuple(str(k) for k in value)
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if isinstance(current, int) and not isinstance(current, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: expected a whole number, got {value!r}") from None
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
    if key == "play_builder":
        try:
            return PlayBuilderPolicy(str(value).lower())
        except ValueError:
            raise ValueError(f"{key}: expected 'deny' or 'allow', got {value!r}") from None
    return str(value)
