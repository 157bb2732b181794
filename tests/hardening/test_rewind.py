"""Issue 9, item 10: spec §5.6 rewind in the dialog engine."""

from __future__ import annotations

from typing import Any

from tests.dialog.test_engine import script, talk_factory  # noqa: F401  (fixtures)

REWIND = "NUGU.INTENT.rewind"


async def test_rewind_falls_back_in_an_audio_player_play_without_a_rewind_action(
    talk_factory: Any,  # noqa: F811
) -> None:
    # Was: the engine replayed the last prompt; §5.6 says rewind is then a fallback.
    talk = talk_factory()
    assert talk.engine.uses_audio_player
    await talk.say("테스트 날씨")
    r = await talk.say("다시 말해 줘")
    assert r.intent == REWIND
    assert r.prompt_source == "fallback"


async def test_rewind_phrases_replay_the_last_prompt_without_audio_player(
    talk_factory: Any,  # noqa: F811
) -> None:
    # Was: in a play without AudioPlayer these phrases were not recognised at all.
    talk = talk_factory(audio_player=False)
    assert not talk.engine.uses_audio_player
    first = await talk.say("테스트 날씨")
    for phrase in ("다시 말해 줘", "뭐라고?", "한 번 더 말해 줄래"):
        r = await talk.say(phrase)
        assert r.intent == REWIND, phrase
        assert (r.prompt, r.prompt_source) == (first.prompt, "rewind"), phrase
