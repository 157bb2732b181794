"""The root bot's handlers: they turn the gateway's Skill.* events into words.

The gateway hands these events to the play (``req.event``): ``skill`` (the skill's id in
gateway.yaml), and for ``Skill.Ended`` the skill's ``code`` and return ``value``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicehook import ActionRequest, Play

play = Play.from_file(Path(__file__).parent / "play.yaml")

#: Skill ids of gateway.yaml → the names the user hears.
NAMES = {"weather": "날씨 알리미", "echo": "에코봇"}


def _name(req: ActionRequest) -> str:
    skill = req.event.get("skill")
    return NAMES.get(skill, "그 기능") if isinstance(skill, str) else "그 기능"


@play.action("skill.ended")
async def skill_ended(req: ActionRequest) -> dict[str, Any]:
    value = req.event.get("value")
    code = req.event.get("code")
    if isinstance(value, dict) and isinstance(value.get("echoed"), int):
        summary = f"에코봇이 {value['echoed']}번 따라 말했어요."
    elif code not in (None, "completedSuccessfully", "unknown"):
        summary = f"{_name(req)}가 중간에 끝났어요."
    else:
        summary = f"{_name(req)}를 마쳤어요."
    return {"summary": summary}


@play.action("skill.cancelled")
async def skill_cancelled(req: ActionRequest) -> dict[str, Any]:
    return {"skill_name": _name(req)}


@play.action("skill.failed")
async def skill_failed(req: ActionRequest) -> dict[str, Any]:
    return {"skill_name": _name(req)}
