"""Session ids: an engine's ``session_scope`` gives other repeatable ids for the same seed."""

from __future__ import annotations

from pathlib import Path

from voicehook.dialog.engine import DialogEngine, EngineSettings
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.play import load_definition

PLAY_DIR = Path(__file__).parents[1] / "fixtures" / "plays" / "engine"
TOKENIZER = SimpleTokenizer()


async def test_the_engine_scope_changes_only_the_session_id() -> None:
    definition = load_definition(PLAY_DIR)
    settings = EngineSettings(seed=5)

    async def first_turn(scope: str | None) -> tuple[str, str | None]:
        engine = DialogEngine(
            definition, None, settings=settings, tokenizer=TOKENIZER, session_scope=scope
        )
        result = await engine.turn(engine.new_state(), "테스트 날씨")
        return result.state.session_id, result.prompt

    a, prompt_a = await first_turn("x")
    assert (a, prompt_a) == await first_turn("x")
    b, prompt_b = await first_turn("y")
    c, prompt_c = await first_turn(None)
    assert len({a, b, c}) == 3
    assert prompt_a == prompt_b == prompt_c  # random prompt choice does not depend on it
