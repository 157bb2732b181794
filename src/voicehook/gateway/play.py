"""The root's own play, run by the dialog engine with its state in the store."""

from __future__ import annotations

from typing import Any

from voicehook.dialog.engine import DeviceEvent, DialogEngine, TurnResult, UserText
from voicehook.dialog.runtime import DialogConflict, DialogRuntime
from voicehook.gateway.root import PlayTurn
from voicehook.store import Store

__all__ = ["DialogRootPlay"]


def _said(result: TurnResult) -> PlayTurn:
    return PlayTurn(
        prompt=result.prompt,
        expecting=result.prompt_type == "wait",
        ended=result.session_ended,
        directives=list(result.directives),
    )


class DialogRootPlay:
    """:class:`~voicehook.gateway.root.RootPlay` over a :class:`DialogEngine`.

    The conversation state lives in ``store`` under ``dialog:{play}:{channel}:{conversation}``
    for ``ttl`` seconds after the last turn, so any gateway process can take the next turn.
    """

    def __init__(self, engine: DialogEngine, store: Store, *, ttl: float | None) -> None:
        self.engine = engine
        self.runtime = DialogRuntime(engine, store, ttl=ttl)
        self._events = frozenset(
            act.trigger.event
            for act in engine.definition.actions.values()
            if act.trigger is not None and act.trigger.event
        )

    def handles(self, event: str) -> bool:
        return event in self._events

    def intent(self, text: str) -> str | None:
        if not text:
            return None
        return self.engine.nlu.parse(text).intent

    async def text(self, session: str, text: str, *, user_key: str | None) -> PlayTurn:
        return await self._turn(session, UserText(text), user_key)

    async def event(
        self, session: str, event: str, fields: dict[str, Any], *, user_key: str | None
    ) -> PlayTurn:
        return await self._turn(session, DeviceEvent(event, dict(fields)), user_key)

    async def _turn(
        self, session: str, user_input: UserText | DeviceEvent, user_key: str | None
    ) -> PlayTurn:
        try:
            result = await self.runtime.turn(
                session, user_input, user_key=user_key, channel="botframework"
            )
        except DialogConflict as exc:  # another process took a turn meanwhile
            result = exc.result
        return _said(result)
