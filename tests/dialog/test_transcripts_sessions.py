"""Transcripts: every conversation is a new session with its own session id.

With ``seed`` the ids are repeatable; they depend on the seed and the conversation's name
(and how many conversations before it have that name), not on the position in the file.
"""

from __future__ import annotations

from pathlib import Path

from voicehook.dialog.engine import DialogEngine, EngineSettings
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.play import load_definition
from voicehook.testing import arun_transcripts
from voicehook.testing.transcripts import Report, load_transcripts, session_scopes

PLAY_DIR = Path(__file__).parents[1] / "fixtures" / "plays" / "engine"
TOKENIZER = SimpleTokenizer()
TURN = """\
    turns:
      - user: 서울 날씨 알려줘
        expect: {calls: [answer.weather], result_code: OK}
"""


def _write(tmp_path: Path, names: list[str], settings: str = "settings: {seed: 1}\n") -> Path:
    body = "".join(f"  - name: {name}\n{TURN}" for name in names)
    path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(f"play: {PLAY_DIR}\n{settings}conversations:\n{body}", encoding="utf-8")
    return path


async def _ids(path: Path) -> list[str]:
    """The session id each conversation sent to the backend (first turn's request)."""
    report: Report = await arun_transcripts(path, tokenizer=TOKENIZER)
    assert report.passed, report.describe_failures()
    ids = []
    for conv in report.conversations:
        request = conv.turns[0].calls[0].request
        assert request["context"]["session"]["isNew"] is True
        ids.append(request["context"]["session"]["id"])
        assert conv.turns[0].state.session_id == ids[-1]
    return ids


async def test_each_seeded_conversation_gets_its_own_session_id(tmp_path: Path) -> None:
    ids = await _ids(_write(tmp_path, ["하나", "둘", "셋"]))
    assert len(set(ids)) == 3, ids


async def test_session_ids_are_repeatable_with_the_seed(tmp_path: Path) -> None:
    first = await _ids(_write(tmp_path, ["하나", "둘"]))
    again = await _ids(_write(tmp_path, ["하나", "둘"]))
    other_seed = await _ids(_write(tmp_path, ["하나", "둘"], "settings: {seed: 2}\n"))
    assert first == again
    assert not set(first) & set(other_seed)


async def test_conversations_with_the_same_name_still_differ(tmp_path: Path) -> None:
    ids = await _ids(_write(tmp_path, ["같은 이름", "같은 이름", "conversation 1"]))
    assert len(set(ids)) == 3, ids


async def test_a_conversation_keeps_its_id_when_another_is_added(tmp_path: Path) -> None:
    before = await _ids(_write(tmp_path, ["하나", "둘"]))
    after = await _ids(_write(tmp_path, ["새것", "하나", "둘"]))
    assert after[1:] == before
    assert after[0] not in before


async def test_without_a_seed_ids_differ_too(tmp_path: Path) -> None:
    ids = await _ids(_write(tmp_path, ["하나", "하나"], settings=""))
    assert len(set(ids)) == 2


def test_session_scopes_are_unique(tmp_path: Path) -> None:
    path = _write(tmp_path, ["a", "b", "a", "1:a", "a"])
    scopes = session_scopes(load_transcripts(path).conversations)
    assert len(set(scopes)) == 5
    assert scopes[0] == session_scopes(load_transcripts(_write(tmp_path, ["a"])).conversations)[0]


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
