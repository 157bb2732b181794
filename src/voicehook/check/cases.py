"""The requests the checker sends: a deterministic plan per action.

Each action with the backend on gets a list of :class:`RequestCase`. The list starts with the
cases that cover the most ground (both request shapes, both null forms, every utterance
parameter present and absent, unknown extra fields, a later turn, the device event), then adds
the remaining present/absent combinations of the optional utterance parameters. ``max_requests``
cuts the list; the order makes any prefix of five or more cases send every utterance
parameter with a value and without one (optional ones both left out and as
``{type: null, value: null}``), and backend parameters in both null forms.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from voicehook.check.samples import (
    activity_for_event,
    audio_player_context,
    entity_samples,
    event_body,
)
from voicehook.nugu.wire import build_request
from voicehook.play.definition import Parameter, PlayDefinition

Shape = Literal["device", "play_builder"]

#: Device type of the device shape (a NUGU speaker, as in the spec's sample).
DEVICE_TYPE = "speaker.nugu.nu200"
#: Value of backend parameters in "later turn" cases (set by an earlier backend call).
PREVIOUS_VALUE = "check-previous-value"
#: ``context.session.accessToken`` in "later turn" device cases (account linked).
ACCESS_TOKEN = "voicehook-check-access-token"  # noqa: S105 (a fake OAuth token)
#: Name of the unknown field added at several levels of the "extra fields" case.
EXTRA_FIELD = "voicehookCheckExtra"
_NAMESPACE = uuid.UUID("6f1c2a9e-4d0b-4b7e-9a51-3c1e0b7d2f10")
_ACTIVITIES = ("IDLE", "PLAYING", "PAUSED", "STOPPED")


@dataclass(frozen=True, slots=True)
class RequestCase:
    """One request to send: the body exactly as NUGU would send it, plus what to expect."""

    number: int
    action: str
    shape: Shape
    description: str
    body: dict[str, Any]
    headers: dict[str, str]
    declared_keys: tuple[str, ...]

    @property
    def request_keys(self) -> tuple[str, ...]:
        """The keys of ``action.parameters`` in the body."""
        return tuple(self.body["action"]["parameters"])

    @property
    def expected_keys(self) -> tuple[str, ...]:
        """Keys an ``OK`` answer's ``output`` must hold: declared ones and the request's."""
        keys = dict.fromkeys(self.declared_keys)
        keys.update(dict.fromkeys(self.request_keys))
        return tuple(keys)

    @property
    def sends_authorization(self) -> bool:
        return "Authorization" in self.headers

    @property
    def version(self) -> str | None:
        value = self.body.get("version")
        return value if isinstance(value, str) else None

    @property
    def play_builder(self) -> bool:
        return self.shape == "play_builder"


@dataclass(frozen=True, slots=True)
class _Variant:
    shape: Shape
    present: frozenset[str]
    null_form: bool
    extras: bool = False
    later: bool = False
    empty_interfaces: bool = False


class _ActionPlan:
    def __init__(self, definition: PlayDefinition, action: str, api_key: str | None) -> None:
        self.definition = definition
        self.action = action
        self.api_key = api_key
        act = definition.actions[action]
        self.params = definition.action_parameters(action)
        self.utterance = [p for p in self.params.values() if p.kind == "utterance"]
        self.required = frozenset(p.name for p in self.utterance if p.required)
        self.optional = [p.name for p in self.utterance if not p.required]
        self.event = act.trigger.event if act.trigger is not None else None

    # -- variants ------------------------------------------------------------------------

    def variants(self) -> Iterator[_Variant]:
        every = frozenset(p.name for p in self.utterance)
        required = self.required
        builder: Shape = "device" if self.event else "play_builder"
        yield _Variant("device", every, null_form=False)
        yield _Variant(builder, every, null_form=False)
        yield _Variant("device", required, null_form=True)
        if required:
            yield _Variant(builder, every - required, null_form=False)
        yield _Variant(builder, required, null_form=False, empty_interfaces=True)
        yield _Variant("device", every, null_form=False, extras=True)
        yield _Variant("device", every, null_form=False, later=True)
        if required:
            yield _Variant("device", every - required, null_form=True)
        for i, present in enumerate(self._combinations()):
            shape: Shape = "device" if self.event or i % 2 == 0 else "play_builder"
            yield _Variant(shape, present, null_form=(i // 2) % 2 == 1)

    def _combinations(self) -> Iterator[frozenset[str]]:
        """Present-parameter sets: leave-one-out, one-at-a-time, then all the others."""
        req = self.required
        opt = self.optional
        for name in opt:
            yield req | frozenset(o for o in opt if o != name)
        for name in opt:
            yield req | {name}
        for size in range(2, len(opt)):
            for combo in itertools.combinations(opt, size):
                yield req | frozenset(combo)

    # -- bodies --------------------------------------------------------------------------

    def case(self, number: int, v: _Variant) -> RequestCase:
        index = number - 1
        values: dict[str, Any] = {}
        types: dict[str, str | None] = {}
        for position, p in enumerate(self.utterance):
            if p.name in v.present:
                values[p.name], types[p.name] = self._sample(p, index + position)
            else:
                values[p.name] = None
        for p in self.params.values():
            if p.kind == "backend":
                values[p.name] = PREVIOUS_VALUE if v.later else None
            elif p.kind == "configurable":
                values[p.name] = p.value
        has_null = any(value is None for value in values.values())
        null_form = v.null_form and has_null
        device = v.shape == "device"
        activity = "IDLE"
        interfaces: dict[str, Any] | None = None
        event: dict[str, Any] | None = None
        if device:
            if self.event:
                activity = activity_for_event(self.event)
                event = event_body(self.event, index)
            elif v.later:
                activity = "PAUSED"
            else:
                activity = _ACTIVITIES[index % len(_ACTIVITIES)]
            interfaces = {"AudioPlayer": audio_player_context(activity, index)}
        body = build_request(
            self.action,
            values,
            param_types=types,
            session_id=str(uuid.uuid5(_NAMESPACE, f"{self.action}#{number}")),
            is_new=not v.later,
            play_builder=not device,
            null_form=null_form,
            event=event,
            device_type=DEVICE_TYPE,
            supported_interfaces=interfaces,
            access_token=ACCESS_TOKEN if v.later and device else None,
        )
        if not device:
            body["context"]["supportedInterfaces"] = {} if v.empty_interfaces else None
        levels = _add_extras(body) if v.extras else 0
        headers = {"Content-Type": "application/json", "Accept": "application/json, */*"}
        if device and self.api_key:
            headers["Authorization"] = f"token {self.api_key}"
        description = self._describe(v, values, activity, null_form, has_null, levels)
        return RequestCase(
            number=number,
            action=self.action,
            shape=v.shape,
            description=description,
            body=body,
            headers=headers,
            declared_keys=tuple(self.params),
        )

    def _sample(self, p: Parameter, index: int) -> tuple[str, str | None]:
        mapping = p.mappings[index % len(p.mappings)] if p.mappings else None
        etype = mapping.type if mapping is not None else ""
        samples = entity_samples(self.definition, etype)
        return samples[index % len(samples)], (etype or None)

    def _describe(
        self,
        v: _Variant,
        values: dict[str, Any],
        activity: str,
        null_form: bool,
        has_null: bool,
        extra_levels: int,
    ) -> str:
        parts: list[str] = []
        if v.shape == "play_builder":
            si = "{}" if v.empty_interfaces else "null"
            parts.append(
                f"Play Builder test (no Authorization, no event, supportedInterfaces {si})"
            )
        else:
            auth = "token KEY" if self.api_key else "no key given"
            parts.append(f"device ({auth}; AudioPlayer {activity})")
        if self.event and v.shape == "device":
            parts.append(f"event {self.event}")
        shown = [f"{p.name}={values[p.name]}" for p in self.utterance if p.name in v.present]
        absent = [p.name for p in self.utterance if p.name not in v.present]
        if shown:
            parts.append(" ".join(shown))
        missing_required = [n for n in absent if n in self.required]
        if missing_required:
            parts.append("required absent: " + ", ".join(missing_required))
        other_absent = [n for n in absent if n not in self.required]
        if other_absent:
            parts.append("absent: " + ", ".join(other_absent))
        if has_null:
            parts.append("nulls as {type:null,value:null}" if null_form else "nulls omitted")
        if v.later:
            parts.append("later turn (isNew false, backend parameters set)")
        if extra_levels:
            parts.append(f"unknown extra fields at {extra_levels} levels")
        return "; ".join(parts)


def _add_extras(body: dict[str, Any]) -> int:
    """Add unknown fields at several levels (spec §2.1: "arbitrary fields may be added")."""
    marker = {"note": "unknown field; a backend must ignore it"}
    targets: list[dict[str, Any]] = [body, body["action"], body["context"]]
    context = body["context"]
    targets.append(context["session"])
    targets.append(context["device"])
    context["device"]["state"] = {"volume": 7}
    interfaces = context.get("supportedInterfaces")
    if isinstance(interfaces, dict):
        targets.append(interfaces)
        player = interfaces.get("AudioPlayer")
        if isinstance(player, dict):
            # Device-level AudioPlayer context fields that may leak through (spec §2.3).
            player.update(
                {
                    "version": "1.7",
                    "playServiceId": "voicehook.check",
                    "durationInMilliseconds": 240000,
                    "lyricsVisible": False,
                }
            )
            targets.append(player)
    for entry in body["action"]["parameters"].values():
        if isinstance(entry, dict):
            targets.append(entry)
    event = body.get("event")
    if isinstance(event, dict):
        event.setdefault("requestId", "voicehook-check-request")
        targets.append(event)
    for target in targets:
        target[EXTRA_FIELD] = copy.deepcopy(marker)
    body["profile"] = {
        "privatePlay": {
            "deviceUniqueId": "NU200_CHECK",
            "userKey": "user.0.CHECK",
            "deviceKey": "device.0.CHECK",
            EXTRA_FIELD: copy.deepcopy(marker),
        }
    }
    return len(targets) + 1


def _signature(v: _Variant, has_nulls: bool) -> str:
    return json.dumps(
        [
            v.shape,
            sorted(v.present),
            v.null_form and has_nulls,
            v.extras,
            v.later,
            v.empty_interfaces,
        ]
    )


def _unique_variants(plan: _ActionPlan) -> Iterator[_Variant]:
    has_backend = any(p.kind != "utterance" and p.value is None for p in plan.params.values())
    seen: set[str] = set()
    for v in plan.variants():
        nulls = has_backend or len(v.present) < len(plan.utterance)
        sig = _signature(v, nulls)
        if sig not in seen:
            seen.add(sig)
            yield v


def plan_requests(
    definition: PlayDefinition,
    action: str,
    *,
    api_key: str | None = None,
    max_requests: int = 24,
) -> list[RequestCase]:
    """The requests to send to ``action``, most informative first, at most ``max_requests``."""
    if action not in definition.actions:
        raise KeyError(f"the play has no action {action!r}")
    if max_requests < 1:
        raise ValueError("max_requests must be at least 1")
    plan = _ActionPlan(definition, action, api_key)
    cases: list[RequestCase] = []
    for v in _unique_variants(plan):
        cases.append(plan.case(len(cases) + 1, v))
        if len(cases) >= max_requests:
            break
    return cases


def count_requests(definition: PlayDefinition, action: str, limit: int = 10_000) -> int:
    """How many distinct requests the plan holds without a cap (counted up to ``limit``)."""
    plan = _ActionPlan(definition, action, None)
    return sum(1 for _ in itertools.islice(_unique_variants(plan), limit))
