"""The Bot Framework Activity schema (Connector v3) as msgspec Structs.

Attribute names follow Python style (``service_url``, ``reply_to_id``, ``from_``); the wire
names are Bot Framework's camelCase (``serviceUrl``, ``replyToId``, ``from``).

Input is tolerant:

- every field but ``type`` is optional, and ``null`` is accepted everywhere;
- fields this module does not know (a channel's own, a newer schema's) are kept in
  :attr:`Activity.extra` and written back by :func:`encode_activity`, so an activity
  relayed from one bot to another loses nothing at the top level;
- a body that is not JSON, not an object, or has a field of the wrong type is a
  :class:`~voicehook.errors.HttpError` 400, never a 500.

Output is strict: :func:`encode_activity` writes the known fields in their schema types and
omits the ones that are ``None`` (Bot Framework omits nulls too).

The account objects ``from``, ``recipient`` and ``conversation`` keep their unknown fields
the same way, in their own ``extra`` (a channel's ``tenant``, ``userPrincipalName``, …), so a
relayed activity loses nothing there either. Deeper objects (``relatesTo``, ``membersAdded``)
keep only the schema's fields.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from voicehook.errors import HttpError

__all__ = [
    "CALLER_ID_BOT_PREFIX",
    "Activity",
    "ActivityTypes",
    "ChannelAccount",
    "ConversationAccount",
    "ConversationReference",
    "DeliveryModes",
    "EndOfConversationCodes",
    "ExpectedReplies",
    "InputHints",
    "ResourceResponse",
    "RoleTypes",
    "decode_activity",
    "decode_expected_replies",
    "decode_resource_response",
    "encode_activity",
    "encode_expected_replies",
]


class ActivityTypes:
    """The ``type`` values this package acts on (others pass through)."""

    MESSAGE: Final = "message"
    END_OF_CONVERSATION: Final = "endOfConversation"
    EVENT: Final = "event"
    INVOKE: Final = "invoke"
    INVOKE_RESPONSE: Final = "invokeResponse"
    TYPING: Final = "typing"
    TRACE: Final = "trace"
    CONVERSATION_UPDATE: Final = "conversationUpdate"


class DeliveryModes:
    NORMAL: Final = "normal"
    NOTIFICATION: Final = "notification"
    EXPECT_REPLIES: Final = "expectReplies"
    EPHEMERAL: Final = "ephemeral"


class InputHints:
    ACCEPTING: Final = "acceptingInput"
    EXPECTING: Final = "expectingInput"
    IGNORING: Final = "ignoringInput"


class EndOfConversationCodes:
    UNKNOWN: Final = "unknown"
    COMPLETED_SUCCESSFULLY: Final = "completedSuccessfully"
    USER_CANCELLED: Final = "userCancelled"
    BOT_TIMED_OUT: Final = "botTimedOut"
    BOT_ISSUED_INVALID_MESSAGE: Final = "botIssuedInvalidMessage"
    CHANNEL_FAILED: Final = "channelFailed"


class RoleTypes:
    USER: Final = "user"
    BOT: Final = "bot"
    SKILL: Final = "skill"


#: ``callerId`` of a turn whose token came from another bot: this prefix + its app id.
CALLER_ID_BOT_PREFIX: Final = "urn:botframework:aadappid:"


class ChannelAccount(msgspec.Struct, rename="camel", omit_defaults=True, repr_omit_defaults=True):
    """``from`` / ``recipient``: a user or a bot."""

    id: str | None = None
    name: str | None = None
    aad_object_id: str | None = None
    role: str | None = None
    properties: Any = None
    #: Fields the schema does not know, kept for relaying; not a wire field itself.
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="$extra")


class ConversationAccount(
    msgspec.Struct, rename="camel", omit_defaults=True, repr_omit_defaults=True
):
    """``conversation``."""

    id: str | None = None
    name: str | None = None
    is_group: bool | None = None
    conversation_type: str | None = None
    aad_object_id: str | None = None
    role: str | None = None
    tenant_id: str | None = None
    properties: Any = None
    #: Fields the schema does not know, kept for relaying; not a wire field itself.
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="$extra")


class ConversationReference(
    msgspec.Struct, rename="camel", omit_defaults=True, repr_omit_defaults=True
):
    """``relatesTo``, and what a bot stores to reach a conversation later."""

    activity_id: str | None = None
    user: ChannelAccount | None = None
    bot: ChannelAccount | None = None
    conversation: ConversationAccount | None = None
    channel_id: str | None = None
    locale: str | None = None
    service_url: str | None = None


class Activity(msgspec.Struct, rename="camel", omit_defaults=True, repr_omit_defaults=True):
    """One activity. Only ``type`` is required; see the module doc for unknown fields.

    Timestamps stay strings, exactly as they came (they are relayed, never computed on).
    """

    type: str
    id: str | None = None
    timestamp: str | None = None
    local_timestamp: str | None = None
    local_timezone: str | None = None
    channel_id: str | None = None
    service_url: str | None = None
    from_: ChannelAccount | None = msgspec.field(default=None, name="from")
    recipient: ChannelAccount | None = None
    conversation: ConversationAccount | None = None
    reply_to_id: str | None = None
    relates_to: ConversationReference | None = None
    delivery_mode: str | None = None
    caller_id: str | None = None
    locale: str | None = None
    text: str | None = None
    text_format: str | None = None
    speak: str | None = None
    input_hint: str | None = None
    summary: str | None = None
    attachment_layout: str | None = None
    attachments: list[Any] | None = None
    suggested_actions: Any = None
    entities: list[Any] | None = None
    channel_data: Any = None
    name: str | None = None
    value: Any = None
    value_type: str | None = None
    label: str | None = None
    code: str | None = None
    action: str | None = None
    expiration: str | None = None
    importance: str | None = None
    listen_for: list[Any] | None = None
    text_highlights: list[Any] | None = None
    semantic_action: Any = None
    members_added: list[ChannelAccount] | None = None
    members_removed: list[ChannelAccount] | None = None
    reactions_added: list[Any] | None = None
    reactions_removed: list[Any] | None = None
    topic_name: str | None = None
    history_disclosed: bool | None = None
    #: Top-level fields the schema above does not know, kept for relaying. Never holds a
    #: known field's wire name. Not a wire field itself (see :func:`encode_activity`).
    extra: dict[str, Any] = msgspec.field(default_factory=dict, name="$extra")

    def conversation_reference(self) -> ConversationReference:
        """Where replies to this (incoming) activity go: ``user`` is ``from``, ``bot`` is
        ``recipient``, ``activity_id`` is ``id``."""
        return ConversationReference(
            activity_id=self.id,
            user=self.from_,
            bot=self.recipient,
            conversation=self.conversation,
            channel_id=self.channel_id,
            locale=self.locale,
            service_url=self.service_url,
        )

    def reply(self, type: str = ActivityTypes.MESSAGE, **fields: Any) -> Activity:
        """A new activity answering this one: ``from``/``recipient`` swapped, the same
        conversation, channel, service URL and locale, ``replyToId`` = this ``id``."""
        base: dict[str, Any] = {
            "channel_id": self.channel_id,
            "service_url": self.service_url,
            "from_": _account(self.recipient),
            "recipient": _account(self.from_),
            "conversation": self.conversation,
            "reply_to_id": self.id,
            "locale": self.locale,
        }
        base.update(fields)
        return Activity(type=type, **base)


def _account(account: ChannelAccount | None) -> ChannelAccount | None:
    if account is None:
        return None
    return ChannelAccount(id=account.id, name=account.name, role=account.role)


class ExpectedReplies(msgspec.Struct, omit_defaults=True, repr_omit_defaults=True):
    """The body of an ``expectReplies`` answer: ``{"activities": [...]}``."""

    activities: list[Activity] = msgspec.field(default_factory=list)


class ResourceResponse(msgspec.Struct, omit_defaults=True, repr_omit_defaults=True):
    """``{"id": ...}``: what Send/Reply/Update answer."""

    id: str | None = None


_EXTRA_WIRE = "$extra"


def _wire_names(struct: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(f.encode_name for f in msgspec.structs.fields(struct)) - {_EXTRA_WIRE}


#: The wire names of the fields :class:`Activity` knows.
_KNOWN: Final = _wire_names(Activity)
#: The account objects whose unknown fields are kept: wire name, attribute, known fields.
_ACCOUNTS: Final = (
    ("from", "from_", _wire_names(ChannelAccount)),
    ("recipient", "recipient", _wire_names(ChannelAccount)),
    ("conversation", "conversation", _wire_names(ConversationAccount)),
)

_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


def _from_mapping(raw: Any, where: str) -> Activity:
    if not isinstance(raw, dict):
        raise HttpError(400, "invalid_activity", f"{where} must be a JSON object")
    extra: dict[str, Any] | None = None
    known: dict[str, Any] = raw
    if not _KNOWN.issuperset(raw):
        known = {}
        extra = {}
        for key, value in raw.items():
            if key in _KNOWN:
                known[key] = value
            else:
                extra[key] = value
    nested: list[tuple[str, dict[str, Any]]] = []
    for wire, attr, names in _ACCOUNTS:
        value = known.get(wire)
        if isinstance(value, dict) and not names.issuperset(value):
            if known is raw:
                known = dict(raw)
            known[wire] = {k: v for k, v in value.items() if k in names}
            nested.append((attr, {k: v for k, v in value.items() if k not in names}))
    try:
        activity = msgspec.convert(known, Activity)
    except msgspec.ValidationError as exc:
        # msgspec names the field and the expected type, never the value.
        raise HttpError(400, "invalid_activity", f"{where}: {exc}") from None
    except RecursionError:
        raise HttpError(400, "invalid_activity", f"{where} is nested too deeply") from None
    if extra:
        activity.extra = extra
    for attr, unknown in nested:
        getattr(activity, attr).extra = unknown
    return activity


def _decode_json(data: bytes, what: str) -> Any:
    try:
        return _json_decoder.decode(data)
    except msgspec.DecodeError:
        raise HttpError(400, "invalid_json", f"the {what} is not valid JSON") from None
    except RecursionError:  # a few hundred kB of [[[[... fit under the body cap
        raise HttpError(400, "invalid_json", f"the {what} is nested too deeply") from None


def decode_activity(data: bytes) -> Activity:
    """One activity from a request body. Raises :class:`HttpError` 400 on bad input."""
    return _from_mapping(_decode_json(data, "activity"), "the activity")


def encode_activity(activity: Activity) -> bytes:
    """The activity as JSON bytes: known fields (nulls omitted), then :attr:`~Activity.extra`."""
    return _encoder.encode(_to_builtins(activity))


def _to_builtins(activity: Activity) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(activity)
    _merge_extra(out, _KNOWN)
    for wire, _, names in _ACCOUNTS:
        account = out.get(wire)
        if isinstance(account, dict):
            _merge_extra(account, names)
    # Accounts deeper down (relatesTo, membersAdded) carry an extra only when built in code.
    relates = out.get("relatesTo")
    deeper = [relates.get(k) for k in ("user", "bot", "conversation")] if relates else []
    deeper += [*out.get("membersAdded", ()), *out.get("membersRemoved", ())]
    for account in deeper:
        if isinstance(account, dict):
            account.pop(_EXTRA_WIRE, None)
    return out


def _merge_extra(obj: dict[str, Any], known: frozenset[str]) -> None:
    """Write ``obj``'s kept unknown fields back beside its known ones; a known name in the
    extras never overrides the real field."""
    extra = obj.pop(_EXTRA_WIRE, None)
    if extra:
        for key, value in extra.items():
            if key not in known:
                obj.setdefault(key, value)


def decode_expected_replies(data: bytes) -> ExpectedReplies:
    """An ``expectReplies`` body. Unknown fields of each activity are kept, as in
    :func:`decode_activity`. Raises :class:`HttpError` 400 on bad input."""
    raw = _decode_json(data, "expectReplies body")
    if not isinstance(raw, dict):
        raise HttpError(400, "invalid_activity", "the expectReplies body must be a JSON object")
    items = raw.get("activities")
    if items is None:
        return ExpectedReplies()
    if not isinstance(items, list):
        raise HttpError(400, "invalid_activity", "activities must be a list")
    return ExpectedReplies(
        [_from_mapping(item, f"activities[{i}]") for i, item in enumerate(items)]
    )


def encode_expected_replies(replies: ExpectedReplies | list[Activity]) -> bytes:
    """``{"activities": [...]}`` as JSON bytes."""
    activities = replies.activities if isinstance(replies, ExpectedReplies) else replies
    return _encoder.encode({"activities": [_to_builtins(a) for a in activities]})


def decode_resource_response(data: bytes) -> ResourceResponse:
    """``{"id": ...}`` from a Connector answer; an empty body or no ``id`` gives ``id=None``.

    Tolerant of what channels really answer: anything that is not an object with a string
    ``id`` counts as "no id" rather than an error (the activity was accepted either way).
    """
    if not data.strip():
        return ResourceResponse()
    try:
        raw = _json_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return ResourceResponse()
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return ResourceResponse(id=raw["id"])
    return ResourceResponse()
