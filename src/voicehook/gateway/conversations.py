"""The skill conversation-ID factory and the active-skill record, both in the store.

When the gateway hands a user's conversation to a skill, the skill must not see the user's
conversation id (spec §2–3). It gets an opaque id instead, and the gateway keeps the mapping
``skill conversation id → where the user is`` (the user activity's conversation reference,
the skill's id, the OAuth scope of the user's channel). The skill's callbacks name that id in
their path; the gateway looks it up to find the user again.

- Ids are 32 random bytes, URL-safe base64 (``secrets.token_urlsafe``): not guessable, no
  characters that need escaping in a path.
- Every record has a TTL; an expired mapping is invisible and the store sweeps it
  (SQLite's periodic sweep, Redis's own expiry).
- Writes are conditional (store versions), so two turns of one conversation in two
  processes never overwrite each other silently.

Keys: ``gateway:{name}:conv:{id}`` and ``gateway:{name}:active:{channel}:{conversation}``.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from voicehook.botframework.activity import ConversationReference
from voicehook.store import ConflictError, Store

__all__ = ["ActiveSkill", "ConversationIdFactory", "SkillConversation"]

#: The OAuth scope of the public Azure channels (spec §2 step 1).
CHANNEL_SCOPE = "https://api.botframework.com"


class SkillConversation(msgspec.Struct, frozen=True):
    """What a skill conversation id maps to."""

    skill: str
    reference: ConversationReference
    oauth_scope: str = CHANNEL_SCOPE


class ActiveSkill(msgspec.Struct, frozen=True):
    """The skill that holds a user conversation right now, and its conversation id."""

    skill: str
    conversation_id: str


class ConversationIdFactory:
    """Create, look up and delete skill conversation ids in ``store``.

    ``ttl``: seconds a mapping lives after its last write. A skill conversation that stays
    silent longer is forgotten (its callbacks then get 404).
    """

    def __init__(self, store: Store, *, name: str = "gateway", ttl: float = 24 * 3600.0) -> None:
        self.store = store
        self.ttl = ttl
        self.prefix = f"gateway:{name}:"

    def _conv_key(self, conversation_id: str) -> str:
        return f"{self.prefix}conv:{conversation_id}"

    def _active_key(self, channel_id: str, conversation_id: str) -> str:
        return f"{self.prefix}active:{channel_id}:{conversation_id}"

    # ------------------------------------------------------------------ mappings

    async def create(
        self, skill: str, reference: ConversationReference, *, oauth_scope: str = CHANNEL_SCOPE
    ) -> str:
        """A new skill conversation id mapped to ``reference``. Never reuses an id."""
        value = msgspec.to_builtins(SkillConversation(skill, reference, oauth_scope))
        while True:
            conversation_id = secrets.token_urlsafe(32)
            try:
                await self.store.put(self._conv_key(conversation_id), value, ttl=self.ttl)
            except ConflictError:  # pragma: no cover - 256 random bits never collide
                continue
            return conversation_id

    async def refresh(
        self, conversation_id: str, skill: str, reference: ConversationReference
    ) -> bool:
        """Point an existing id at the user's latest activity (so replies answer it) and
        renew its TTL. Returns False when the id is gone (ended or expired)."""
        key = self._conv_key(conversation_id)
        for _ in range(8):
            entry = await self.store.get(key)
            if entry is None:
                return False
            old = _decode(entry.value)
            if old is None or old.skill != skill:
                return False
            value = msgspec.to_builtins(SkillConversation(skill, reference, old.oauth_scope))
            try:
                await self.store.put(key, value, version=entry.version, ttl=self.ttl)
            except ConflictError:
                continue
            return True
        return False

    async def get(self, conversation_id: str) -> SkillConversation | None:
        """The mapping of ``conversation_id``, or None (unknown, ended or expired)."""
        if not conversation_id:
            return None
        entry = await self.store.get(self._conv_key(conversation_id))
        return None if entry is None else _decode(entry.value)

    async def delete(self, conversation_id: str) -> bool:
        """Forget a mapping. Returns False when it was already gone."""
        if not conversation_id:
            return False
        return await self.store.delete(self._conv_key(conversation_id))

    # ------------------------------------------------------------------ active skill

    async def active(self, channel_id: str, conversation_id: str) -> ActiveSkill | None:
        entry = await self.store.get(self._active_key(channel_id, conversation_id))
        if entry is None:
            return None
        try:
            return msgspec.convert(entry.value, ActiveSkill)
        except msgspec.ValidationError:
            return None

    async def set_active(self, channel_id: str, conversation_id: str, active: ActiveSkill) -> None:
        key = self._active_key(channel_id, conversation_id)
        value = msgspec.to_builtins(active)
        for _ in range(8):
            entry = await self.store.get(key)
            try:
                await self.store.put(
                    key, value, version=None if entry is None else entry.version, ttl=self.ttl
                )
            except ConflictError:
                continue
            return
        raise ConflictError(key, None, None)

    async def clear_active(
        self, channel_id: str, conversation_id: str, *, only: str | None = None
    ) -> bool:
        """Forget the active skill (only when it is the skill conversation ``only``)."""
        key = self._active_key(channel_id, conversation_id)
        for _ in range(8):
            entry = await self.store.get(key)
            if entry is None:
                return False
            value: Any = entry.value
            if only is not None and (
                not isinstance(value, dict) or value.get("conversation_id") != only
            ):
                return False
            try:
                return await self.store.delete(key, version=entry.version)
            except ConflictError:
                continue
        return False


def _decode(value: Any) -> SkillConversation | None:
    try:
        return msgspec.convert(value, SkillConversation)
    except msgspec.ValidationError:
        return None
