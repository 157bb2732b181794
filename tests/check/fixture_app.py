"""A correct voicehook backend for tests/check/play.yaml."""

from __future__ import annotations

from pathlib import Path

from voicehook.nugu import directives
from voicehook.play import ActionRequest, Play, PlayError, Reply

PLAY_YAML = Path(__file__).with_name("play.yaml")


def create_play() -> Play:
    play = Play.from_file(PLAY_YAML)

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str | None) -> dict[str, str]:
        if location == "부산":
            raise PlayError("UNSUPPORTED_LOCATION")
        return {"weather": "맑음"}

    @play.action("play.music")
    async def music(req: ActionRequest, playlist: str | None) -> Reply:
        token = f"{playlist or 'any'}-1"
        return Reply({"track": token}, [directives.play("https://cdn.example.com/a.m3u8", token)])

    @play.action("music.finished")
    async def finished(req: ActionRequest) -> Reply:
        if req.is_event("AudioPlayer.PlaybackFinished"):
            return Reply(directives=[directives.stop()])
        return Reply()

    @play.action("calc.sum")
    def total(req: ActionRequest, first: str | None, second: str | None) -> dict[str, object]:
        if first is None or second is None:
            return {"total": None}
        return {"total": int(first) + int(second)}  # stringified by voicehook

    @play.action("quiz.ask")
    async def quiz(req: ActionRequest) -> dict[str, str]:
        return {"question": "1 더하기 1은?"}

    @play.action("slow.lookup")
    async def lookup(req: ActionRequest) -> dict[str, str]:
        return {"answer": "2"}

    return play
