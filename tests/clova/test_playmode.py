"""Play mode: the same play and handlers answer CLOVA, with the dialog state in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook import ActionRequest, Play
from voicehook.cli.loading import load_play
from voicehook.clova import ClovaChannel, SpeechLimits
from voicehook.clova.playmode import ClovaMapping, PlayMode, check_clova_section, to_cek_directives
from voicehook.errors import HttpError
from voicehook.http import HttpRequest
from voicehook.nugu import directives as nugu
from voicehook.play import parse_definition
from voicehook.play.context import AppContext
from voicehook.server import Settings, create_app
from voicehook.server.routing import Route
from voicehook.store import MemoryStore
from voicehook.testing import ClovaClient, ClovaSigner, cek_request, shared_tokenizer
from voicehook.testing.clova_transcripts import arun_clova_transcripts

ROOT = Path(__file__).resolve().parents[2]


def app_for(play: Play, signer: ClovaSigner, store: Any = None, **kwargs: Any) -> Any:
    channel = ClovaChannel(
        PlayMode(play, **kwargs), verifier=signer.verifier(), limits=SpeechLimits(mode="error")
    )
    return create_app(
        play,
        Settings(),
        store=store or MemoryStore(),
        routes=[Route("/clova", channel, exact=True)],
    )


@pytest.fixture
def weather(signer: ClovaSigner) -> Any:
    return app_for(load_play(str(ROOT / "examples" / "weather")), signer)


async def test_weather_launch_slot_filling_and_answer(weather: Any, signer: ClovaSigner) -> None:
    async with ClovaClient(weather, signer) as c:
        t = await c.launch()
        assert t.speech == "안녕하세요, 날씨 알리미예요. 어느 지역 날씨를 알려드릴까요?"
        assert (t.end, t.reprompt) == (False, t.speech)
        t = await c.intent("ask.weather", {})
        assert (t.speech, t.end) == ("어느 지역 날씨를 알려드릴까요?", False)
        t = await c.intent("ask.weather", {"location": "부산"})  # slot named like the parameter
        assert t.speech.startswith("부산 오늘 날씨는 ")
        assert t.end is True
        assert t.data["version"] == "1.0"


async def test_weather_impossible_date_exception_wait(weather: Any, signer: ClovaSigner) -> None:
    async with ClovaClient(weather, signer, version="0.1.0") as c:
        t = await c.intent("ask.weather", {"LOCATION": "서울", "month": "2", "date": "31"})
        assert (t.speech, t.end) == ("없는 날짜예요. 날짜를 다시 말씀해 주세요.", False)
        assert t.data["version"] == "0.1.0"
        t = await c.intent("Clova.FallbackIntent", {"BID_DT_MDAY": "28", "BID_DT_YMONTH": "2"})
        assert t.speech.startswith("서울 2월 28일 날씨는 ")
        assert t.end is True


async def test_builtins_stop_guide_fallback(weather: Any, signer: ClovaSigner) -> None:
    async with ClovaClient(weather, signer) as c:
        t = await c.intent("Clova.GuideIntent")
        assert t.speech.startswith("안녕하세요, 날씨 알리미예요.")
        t = await c.intent("Clova.FallbackIntent")
        assert (
            t.speech == "죄송해요, 다시 말씀해 주세요. 예를 들어 서울 날씨 알려줘 라고 말해 보세요."
        )
        assert t.end is False
        t = await c.intent("Clova.CancelIntent")
        assert (t.speech, t.end) == ("날씨 알리미를 종료할게요. 좋은 하루 보내세요.", True)


async def test_session_state_lives_in_the_store_and_ends(signer: ClovaSigner) -> None:
    store = MemoryStore()
    play = load_play(str(ROOT / "examples" / "weather"))
    app = app_for(play, signer, store)
    async with ClovaClient(app, signer) as c:
        await c.launch()
        sid = c.session_id
        assert await store.get(f"clova:weather:{sid}") is not None
        t = await c.session_ended()
        assert t.response == {
            "outputSpeech": {},
            "card": {},
            "directives": [],
            "shouldEndSession": True,
        }
        assert await store.get(f"clova:weather:{sid}") is None
        # a slot question keeps the state; the answer ends the session and deletes it
        await c.intent("ask.weather", {})
        sid = c.session_id
        assert await store.get(f"clova:weather:{sid}") is not None
        t = await c.intent("ask.weather", {"location": "서울"})
        assert t.end is True
        assert await store.get(f"clova:weather:{sid}") is None


async def test_two_apps_sharing_a_store_continue_one_session(
    signer: ClovaSigner, tmp_path: Path
) -> None:
    """Two workers (two apps on one SQLite file): the second turn reaches the other one."""
    from voicehook.store import SQLiteStore

    play = load_play(str(ROOT / "examples" / "weather"))
    a = app_for(play, signer, SQLiteStore(str(tmp_path / "state.db")))
    b = app_for(play, signer, SQLiteStore(str(tmp_path / "state.db")))
    async with ClovaClient(a, signer) as ca, ClovaClient(b, signer) as cb:
        t = await ca.intent("ask.weather", {"month": "2", "date": "31", "location": "서울"})
        assert t.end is False
        cb.session_id, cb.new = ca.session_id, False
        t = await cb.intent("ask.weather", {"month": "2", "date": "28"})
        assert t.speech.startswith("서울 2월 28일 날씨는 ")


async def test_handlers_see_the_channel_and_the_user(signer: ClovaSigner) -> None:
    play = Play(
        parse_definition(
            """
name: who
intents:
  ask.who: {examples: ["누구야"]}
actions:
  answer.who:
    trigger: {intent: ask.who}
    backend: true
    parameters: {who: backend}
    response: {type: end, prompts: ["{{who}}"]}
"""
        )
    )

    @play.action("answer.who")
    async def who(req: ActionRequest) -> dict[str, str]:
        user = await req.user_state()
        user["visits"] = int(user.get("visits", 0)) + 1
        return {"who": f"{req.channel} {req.user_key} {user['visits']}번째"}

    app = app_for(play, signer)
    async with ClovaClient(app, signer, user_id="U-42") as c:
        assert (await c.intent("ask.who")).speech == "clova U-42 1번째"
        assert (await c.intent("ask.who")).speech == "clova U-42 2번째"  # user state kept


async def test_handler_error_is_the_failure_prompt(signer: ClovaSigner) -> None:
    play = Play(
        parse_definition(
            """
name: broken
failure_prompt: 지금은 안 돼요.
intents:
  ask.x: {examples: ["해줘"]}
actions:
  answer.x:
    trigger: {intent: ask.x}
    backend: true
    response: {type: end, prompts: ["됐어요."]}
"""
        )
    )

    @play.action("answer.x")
    async def fail(req: ActionRequest) -> dict[str, str]:
        raise RuntimeError("boom")

    async with ClovaClient(app_for(play, signer), signer) as c:
        t = await c.intent("ask.x")
        assert (t.status, t.speech, t.end) == (200, "지금은 안 돼요.", True)


async def test_music_plays_on_clova(signer: ClovaSigner) -> None:
    app = app_for(load_play(str(ROOT / "examples" / "music")), signer)
    async with ClovaClient(app, signer) as c:
        t = await c.intent("play.music", {"PLAYLIST": "클래식"})
        assert t.directives == ["AudioPlayer.Play"]
        play = t.response["directives"][0]["payload"]
        stream = play["audioItem"]["stream"]
        assert stream["token"] == "classic:0"
        assert stream["url"].startswith("https://")
        assert play["audioItem"]["titleText"]
        assert t.end is True
        t = await c.event(
            "AudioPlayer.PlayFinished", {"token": "classic:0", "offsetInMilliseconds": 0}
        )
        assert t.directives == ["AudioPlayer.Play"]
        assert t.response["directives"][0]["payload"]["audioItem"]["stream"]["token"] == "classic:1"
        c.audio_player = {"playerActivity": "PLAYING", "stream": {"token": "classic:1"}}
        t = await c.intent("Clova.PauseIntent")
        assert t.directives == ["PlaybackController.Pause"]
        t = await c.intent("Clova.StopIntent")
        assert t.directives == ["PlaybackController.Stop"]
        t = await c.event("AudioPlayer.PlayFinished", {"token": "classic:1"})
        assert t.directives == ["PlaybackController.Stop"]
        t = await c.event("AudioPlayer.PlayStarted", {"token": "classic:1"})
        assert t.response["outputSpeech"] == {} and t.directives == []


@pytest.mark.parametrize("name", ["weather", "quiz", "music", "calc"])
async def test_example_transcripts_pass_on_clova(name: str) -> None:
    report = await arun_clova_transcripts(
        ROOT / "examples" / name / "transcripts.yaml", tokenizer=shared_tokenizer()
    )
    assert report.passed, report.describe_failures()
    assert len(report.conversations) >= 4


def test_directive_mapping() -> None:
    warnings: list[str] = []
    out = to_cek_directives(
        [
            nugu.play(
                "https://cdn.example.com/a.mp3",
                "a:0",
                offset_ms=1500,
                progress_report_delay_ms=60000,
                template=nugu.template1("음악 상자", "새벽 산책", subtitle1="달빛 피아노"),
            ),
            nugu.pause(),
            nugu.stop(),
            {"type": "Display.FullText1"},
        ],
        source="음악 상자",
        warnings=warnings,
    )
    play = out[0].payload
    assert play["audioItem"]["titleText"] == "새벽 산책"
    assert play["audioItem"]["titleSubText1"] == "달빛 피아노"
    assert play["audioItem"]["stream"]["beginAtInMilliseconds"] == 1500
    assert (
        play["audioItem"]["stream"]["progressReport"]["progressReportDelayInMilliseconds"] == 60000
    )
    assert play["source"] == {"name": "음악 상자"}
    assert [f"{d.header.namespace}.{d.header.name}" for d in out] == [
        "AudioPlayer.Play",
        "PlaybackController.Pause",
        "PlaybackController.Stop",
    ]
    assert warnings == ["directive 'Display.FullText1' has no CLOVA form: dropped"]


CLOVA_PLAY = """
name: renamed
intents:
  ask.weather: {examples: ["날씨"]}
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters: {location: {type: LOC}}
entities: {LOC: {values: {서울: []}}}
clova:
  intents: {WeatherIntent: ask.weather, Clova.YesIntent: NUGU.INTENT.open}
  slots: {city: location}
"""


def test_clova_section_renames() -> None:
    definition = parse_definition(CLOVA_PLAY)
    assert check_clova_section(definition) == []
    mapping = ClovaMapping.from_definition(definition)
    assert mapping.intent("WeatherIntent") == "ask.weather"
    assert mapping.intent("Clova.StopIntent") == "NUGU.INTENT.stop"
    assert mapping.intent("Clova.FallbackIntent") is None
    assert mapping.slots["city"] == "location"


async def test_clova_section_in_a_turn(signer: ClovaSigner) -> None:
    play = Play(
        parse_definition(
            CLOVA_PLAY.replace(
                "    backend: true\n",
                '    backend: true\n    response: {type: end, prompts: ["{{location}} 날씨"]}\n',
            )
        )
    )

    @play.action("answer.weather")
    async def answer(req: ActionRequest) -> dict[str, str]:
        return {}

    async with ClovaClient(app_for(play, signer), signer) as c:
        assert (await c.intent("WeatherIntent", {"city": "서울"})).speech == "서울 날씨"


def test_bad_clova_sections() -> None:
    bad = CLOVA_PLAY.replace("slots: {city: location}", "slots: {city: nowhere}\n  extra: 1")
    problems = check_clova_section(parse_definition(bad))
    assert any("'nowhere' is not a parameter" in p for p in problems)
    assert any("unknown key 'extra'" in p for p in problems)
    bad = CLOVA_PLAY.replace("WeatherIntent: ask.weather", "WeatherIntent: ask.nothing")
    assert any(
        "'ask.nothing' is not an intent" in p for p in check_clova_section(parse_definition(bad))
    )
    with pytest.raises(ValueError, match=r"ask\.nothing"):
        PlayMode(Play(parse_definition(bad)))


# -- fuzzing play mode: any signed CEK input gives a 200 answer or a precise 4xx -------------


_FUZZ_SIGNER = ClovaSigner()
_names = st.sampled_from(
    [
        "ask.weather",
        "ask.weekday",
        "Clova.StopIntent",
        "Clova.GuideIntent",
        "Clova.NextIntent",
        "Clova.FallbackIntent",
        "Clova.YesIntent",
        "",
        "없는.인텐트",
    ]
)
_slot_names = st.sampled_from(["location", "LOCATION", "month", "date", "day", "BID_DT_MDAY", "x"])
_values = st.one_of(st.text(max_size=12), st.integers(-50, 50), st.none())
_events = st.sampled_from(
    [
        "AudioPlayer.PlayFinished",
        "AudioPlayer.PlayStarted",
        "AudioPlayer.StreamRequested",
        "ClovaSkill.SkillDisabled",
        "Foo.Bar",
    ]
)


async def _fuzz_channel() -> ClovaChannel:
    play = load_play(str(ROOT / "examples" / "weather"))
    channel = ClovaChannel(
        PlayMode(play), verifier=_FUZZ_SIGNER.verifier(), limits=SpeechLimits("error")
    )
    await channel.startup(AppContext("weather", store=MemoryStore()))
    return channel


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("IntentRequest"), _names, st.dictionaries(_slot_names, _values, max_size=3)
            ),
            st.tuples(
                st.just("EventRequest"),
                _events,
                st.dictionaries(
                    st.sampled_from(["token", "offsetInMilliseconds"]), _values, max_size=2
                ),
            ),
            st.tuples(
                st.sampled_from(["LaunchRequest", "SessionEndedRequest"]), st.just(""), st.just({})
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_play_mode_conversations(turns: list[tuple[str, str, dict[str, Any]]]) -> None:
    import asyncio

    async def run() -> None:
        channel = await _fuzz_channel()
        for kind, name, extra in turns:
            if kind == "IntentRequest":
                body = cek_request(kind, intent=name, slots=extra)
            elif kind == "EventRequest":
                body = cek_request(kind, event=name, payload=extra)
            else:
                body = cek_request(kind)
            request = HttpRequest(
                "POST", "", [(b"signaturecek", _FUZZ_SIGNER.sign(body).encode())], body, "fuzz"
            )
            try:
                answer = await channel.handle(request)
            except HttpError as exc:
                assert 400 <= exc.status < 500
                continue
            assert answer.status == 200
            assert answer.result_code in ("OK", "HANDLER_ERROR", "SPEECH_LIMIT"), answer.error
            assert answer.result_code != "HANDLER_ERROR", answer.error  # no crash in voicehook
        await channel.shutdown(AppContext("weather"))

    asyncio.run(run())


@pytest.mark.parametrize("name", ["weather", "quiz", "music"])
async def test_clova_transcripts_pass_on_both_channels(name: str) -> None:
    from voicehook.testing import arun_transcripts

    path = ROOT / "examples" / name / "clova.transcripts.yaml"
    clova = await arun_clova_transcripts(path, tokenizer=shared_tokenizer())
    assert clova.passed, clova.describe_failures()
    nugu = await arun_transcripts(path, tokenizer=shared_tokenizer())
    assert nugu.passed, nugu.describe_failures()


@pytest.mark.parametrize(
    ("clova", "message"),
    [
        ("launch", "expected a mapping"),
        ({"intent": "a", "event": "A.B"}, "exactly one of"),
        ({"intent": "a", "payload": {}}, "unknown keys: payload"),
        ({"event": "PlayFinished"}, "Namespace.Name"),
        ({"intent": "a", "slots": [1]}, "slots must be a mapping"),
    ],
)
def test_bad_clova_turns(tmp_path: Path, clova: Any, message: str) -> None:
    import yaml

    from voicehook.testing import TranscriptError, load_transcripts

    path = tmp_path / "t.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "play": str(ROOT / "examples" / "weather"),
                "conversations": [{"name": "x", "turns": [{"user": "안녕", "clova": clova}]}],
            },
            allow_unicode=True,
        )
    )
    with pytest.raises(TranscriptError, match=message):
        load_transcripts(path)


async def test_a_new_session_over_an_old_state_starts_fresh(signer: ClovaSigner) -> None:
    """CLOVA says session.new: the first turn does not read the store, and a stale state
    left under the same id (a reused id) is replaced, not continued."""
    store = MemoryStore()
    app = app_for(load_play(str(ROOT / "examples" / "weather")), signer, store)
    async with ClovaClient(app, signer) as c:
        await c.intent("ask.weather", {})  # waits for the location
        sid = c.session_id
        stale = await store.get(f"clova:weather:{sid}")
        assert stale is not None
        c.session_id, c.new = sid, True  # the same id again, as a new session
        t = await c.intent("Clova.FallbackIntent", {"location": "부산"})
        # a fresh session: the fallback, not the slot answer of the old one
        assert (
            t.speech == "죄송해요, 다시 말씀해 주세요. 예를 들어 서울 날씨 알려줘 라고 말해 보세요."
        )
        entry = await store.get(f"clova:weather:{sid}")
        assert entry is not None and entry.version != stale.version


async def test_a_clova_date_slot_fills_the_month_and_day(weather: Any, signer: ClovaSigner) -> None:
    async with ClovaClient(weather, signer) as c:
        t = await c.intent(
            "ask.weather",
            {"location": "서울", "when": {"value": "2026-02-28", "valueType": "DATE"}},
        )
        assert t.speech.startswith("서울 2월 28일 날씨는 "), t.speech


def test_validate_checks_the_clova_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from voicehook.cli import main

    good = tmp_path / "good.yaml"
    good.write_text(CLOVA_PLAY)
    assert main(["validate", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(CLOVA_PLAY.replace("city: location", "city: nowhere"))
    assert main(["validate", str(bad)]) == 1
    assert "clova.slots.city: 'nowhere' is not a parameter" in capsys.readouterr().err
