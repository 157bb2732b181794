"""The skill manifest (schema v2.2) of a play served as a Bot Framework skill.

A skill consumer reads the manifest to learn the skill's endpoint and app id and what it
accepts. voicehook writes it from the play definition:

- one endpoint: ``endpointUrl`` (the public URL of ``/api/messages``) and ``msAppId``
  (the all-zero id in anonymous mode, as the SDK samples do);
- ``activities.message``: any Korean utterance; its optional ``value`` object fills the
  play's parameters on the first activity;
- one ``event`` activity per intent that starts an action: ``name`` is the intent,
  ``value`` the action's utterance parameters (slots);
- every activity's ``resultValue``: the ``endOfConversation`` value (see
  ``voicehook.botframework.skill``);
- ``dispatchModels.intents``: the play's intents.

``voicehook manifest PLAY`` prints it; ``voicehook serve --botframework
--botframework-manifest`` serves it at ``/manifest.json``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.play.definition import PlayDefinition

__all__ = ["MANIFEST_PATH", "SCHEMA_URL", "ManifestChannel", "build_manifest"]

SCHEMA_URL: Final = "https://schemas.botframework.com/schemas/skills/v2.2/skill-manifest.json"
MANIFEST_PATH: Final = "/manifest.json"
#: ``msAppId`` when the skill runs without an app id (the schema demands a GUID).
ANONYMOUS_APP_ID: Final = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")

_RESULT: Final = {
    "type": "object",
    "description": "The endOfConversation value: the session's last intent, actions and parameters",
    "properties": {
        "intent": {"type": ["string", "null"]},
        "actions": {"type": "array", "items": {"type": "string"}},
        "params": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def build_manifest(
    definition: PlayDefinition,
    *,
    endpoint_url: str,
    app_id: str = "",
    version: str = "1.0",
    publisher: str = "voicehook",
    description: str | None = None,
) -> dict[str, Any]:
    """The manifest as a JSON-ready dict. Raises ``ValueError`` for an app id that is not a
    GUID or an endpoint URL that is not http(s)."""
    if not endpoint_url.startswith(("http://", "https://")):
        raise ValueError("the endpoint URL must be an http(s) URL")
    msa = app_id or ANONYMOUS_APP_ID
    if not _GUID.match(msa):
        raise ValueError("the Microsoft app id must be a GUID")
    name = definition.name
    title = definition.invocation or name
    events: dict[str, Any] = {}
    all_params: dict[str, Any] = {}
    for action in definition.actions.values():
        intent = action.trigger.intent if action.trigger is not None else None
        if not intent or intent.startswith("NUGU.") or intent in events:
            continue
        slots: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in definition.action_parameters(action.name).items():
            if param.kind != "utterance":
                continue
            slots[pname] = {"type": "string", "description": f"entity type {param.type}"}
            if param.required:
                required.append(pname)
        all_params.update(slots)
        value: dict[str, Any] = {"type": "object", "properties": slots}
        if required:
            value["required"] = required
        events[intent] = {
            "type": "event",
            "name": intent,
            "description": f"Start action {action.name}; value: its parameters",
            "value": value,
            "resultValue": {"$ref": "#/definitions/result"},
        }
    activities: dict[str, Any] = {
        "message": {
            "type": "message",
            "description": f"A Korean utterance for {title}",
            "value": {"type": "object", "properties": all_params},
            "resultValue": {"$ref": "#/definitions/result"},
        },
        **events,
    }
    intents = sorted(definition.intents)
    manifest: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "$id": name,
        "name": title,
        "version": version,
        "description": description or f"{title}: a voicehook play served as a skill",
        "publisherName": publisher,
        "endpoints": [
            {
                "name": "default",
                "protocol": "BotFrameworkV3",
                "description": "voicehook serve --botframework",
                "endpointUrl": endpoint_url,
                "msAppId": msa,
            }
        ],
        "activities": activities,
        "definitions": {"result": _RESULT},
    }
    if intents:
        manifest["dispatchModels"] = {"intents": intents}
    return manifest


class ManifestChannel:
    """Answers ``GET /manifest.json`` with the play's manifest.

    ``endpoint_url`` is the skill's public URL; when empty it is built from the request's
    ``Host`` header and ``path`` (``http://{host}{path}``: set it behind a TLS proxy).
    """

    name = "botframework-manifest"
    methods = frozenset({"GET", "HEAD"})

    def __init__(
        self,
        definition: PlayDefinition,
        *,
        path: str,
        app_id: str = "",
        endpoint_url: str = "",
    ) -> None:
        self.definition = definition
        self.path = path
        self.app_id = app_id
        self.endpoint_url = endpoint_url
        self._fixed: bytes | None = None
        if endpoint_url:
            self._fixed = self._encode(endpoint_url)
        else:  # check the app id now, not on the first request
            build_manifest(definition, endpoint_url="http://localhost/", app_id=app_id)

    def _encode(self, url: str) -> bytes:
        manifest = build_manifest(self.definition, endpoint_url=url, app_id=self.app_id)
        return json.dumps(manifest, ensure_ascii=False, indent=2).encode()

    async def handle(self, request: HttpRequest) -> Answer:
        body = self._fixed
        if body is None:
            host = (request.header(b"host") or b"").decode("latin-1")
            if not host or not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]{1,255}", host):
                raise HttpError(400, "invalid_host", "the Host header is missing or invalid")
            body = self._encode(f"http://{host}{self.path}")
        if request.method == "HEAD":
            body = b""
        return Answer(body, label="botframework.manifest", result_code="OK")

    async def startup(self, app: Any) -> None:
        return None

    async def shutdown(self, app: Any) -> None:
        return None
