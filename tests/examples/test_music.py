"""The music example over the real ASGI path: directives, tokens and AudioPlayer contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.dialog.prompts import Filters, render
from voicehook.play import Play
from voicehook.testing import NuguAnswer, NuguTestClient

MUSIC = Path(__file__).resolve().parents[2] / "examples" / "music"
CDN = "https://cdn.example.com/music"
FINISHED = "AudioPlayer.PlaybackFinished"


@pytest.fixture(scope="module")
def music() -> Play:
    return load_play(str(MUSIC))


@pytest.fixture
async def client(music: Play) -> AsyncIterator[NuguTestClient]:
    async with NuguTestClient(music) as c:
        yield c


def player(activity: str, token: str | None = None, offset: int = 0) -> dict[str, Any]:
    """``supportedInterfaces`` with an AudioPlayer context."""
    ctx: dict[str, Any] = {"playerActivity": activity, "offsetInMilliseconds": offset}
    if token is not None:
        ctx["token"] = token
    return {"AudioPlayer": ctx}


def only(answer: NuguAnswer) -> dict[str, Any]:
    """The one directive of an OK answer."""
    assert answer.status == 200
    assert answer.result_code == "OK", answer
    assert len(answer.directives) == 1, answer.directives
    return answer.directives[0]


def stream(directive: dict[str, Any]) -> dict[str, Any]:
    assert directive["type"] == "AudioPlayer.Play"
    value = directive["audioItem"]["stream"]
    assert isinstance(value, dict)
    return value


def test_validate_succeeds() -> None:
    assert main(["validate", str(MUSIC)]) == 0


def test_every_backend_action_has_a_handler(music: Play) -> None:
    assert music.problems() == []
    assert set(music.specs) == {
        "music.play",
        "music.pause",
        "music.resume",
        "music.continue",
        "music.stop",
        "music.next",
        "music.finished",
    }


# -- music.play ---------------------------------------------------------------------------


async def test_play_starts_the_first_track_with_template_and_progress_report(
    client: NuguTestClient,
) -> None:
    answer = await client.call("music.play", {"playlist": "신나는 음악"}, session_id="s1")
    assert answer.output == {"playlist": "신나는 음악", "title": "여름 드라이브"}
    directive = only(answer)
    s = stream(directive)
    assert s == {
        "url": f"{CDN}/upbeat/01.m3u8",
        "offsetInMilliseconds": 0,
        "token": "upbeat:0",
        "progressReport": {
            "progressReportDelayInMilliseconds": 60000,
            "progressReportIntervalInMilliseconds": 30000,
        },
    }
    template = directive["audioItem"]["metadata"]["template"]
    assert template["type"] == "AudioPlayer.Template1"
    assert template["title"] == {"text": "음악 상자"}
    assert template["content"] == {
        "title": "여름 드라이브",
        "subtitle1": "햇살 밴드",
        "subtitle2": "신나는 음악 · 1/3",
        "imageUrl": f"{CDN}/upbeat/cover.png",
        "durationSec": "198",
    }


@pytest.mark.parametrize(
    ("value", "name", "token"),
    [
        ("잔잔한 음악", "잔잔한 음악", "calm:0"),
        ("클래식", "클래식", "classic:0"),
        ("댄스 음악", "신나는 음악", "upbeat:0"),  # a synonym, should NUGU send one
        ("잔잔한음악", "잔잔한 음악", "calm:0"),  # spacing does not matter
        (None, "잔잔한 음악", "calm:0"),  # "음악 틀어줘": the default playlist
        ("", "잔잔한 음악", "calm:0"),
    ],
)
async def test_play_playlists(
    client: NuguTestClient, value: str | None, name: str, token: str
) -> None:
    answer = await client.call("music.play", {"playlist": value})
    assert answer.output["playlist"] == name
    assert stream(only(answer))["token"] == token


async def test_play_unknown_playlist(client: NuguTestClient) -> None:
    answer = await client.call("music.play", {"playlist": "트로트"})
    assert answer.result_code == "UNKNOWN_PLAYLIST"
    assert answer.directives == []
    assert answer.output == {"playlist": "트로트", "title": None}


async def test_play_null_form_and_play_builder_request(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.play", {"playlist": "클래식", "title": None}, null_form=True, play_builder=True
    )
    assert answer.output == {"playlist": "클래식", "title": "G선상의 아리아"}
    assert stream(only(answer))["url"] == f"{CDN}/classic/01.m3u8"


# -- pause and stop -----------------------------------------------------------------------


async def test_pause(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.pause", {}, supported_interfaces=player("PLAYING", "calm:1", 5000)
    )
    assert only(answer) == {"type": "AudioPlayer.Pause"}
    assert answer.output == {}


async def test_stop(client: NuguTestClient) -> None:
    answer = await client.call("music.stop", {}, supported_interfaces=player("PLAYING", "calm:1"))
    assert only(answer) == {"type": "AudioPlayer.Stop"}
    assert answer.output == {}


# -- music.resume -------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["music.resume", "music.continue"])
async def test_resume_paused_continues_from_the_offset(client: NuguTestClient, action: str) -> None:
    answer = await client.call(action, {}, supported_interfaces=player("PAUSED", "calm:1", 93500))
    s = stream(only(answer))
    assert (s["token"], s["offsetInMilliseconds"], s["url"]) == (
        "calm:1",
        93500,
        f"{CDN}/calm/02.m3u8",
    )
    assert "expectedPreviousToken" not in s
    assert answer.output == {"title": "빗소리 위의 왈츠"}


async def test_resume_stopped_continues_from_the_offset(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.resume", {}, supported_interfaces=player("STOPPED", "classic:1", 1200)
    )
    s = stream(only(answer))
    assert (s["token"], s["offsetInMilliseconds"]) == ("classic:1", 1200)


@pytest.mark.parametrize("action", ["music.resume", "music.continue"])
@pytest.mark.parametrize("activity", ["PLAYING", "BUFFER_UNDERRUN"])
async def test_resume_while_playing_is_already_playing(
    client: NuguTestClient, action: str, activity: str
) -> None:
    answer = await client.call(action, {}, supported_interfaces=player(activity, "calm:0", 3000))
    assert answer.result_code == "ALREADY_PLAYING"
    assert answer.directives == []
    assert answer.output == {"title": None}


async def test_resume_finished_track_starts_it_again(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.resume", {}, supported_interfaces=player("FINISHED", "upbeat:2", 205000)
    )
    s = stream(only(answer))
    assert (s["token"], s["offsetInMilliseconds"]) == ("upbeat:2", 0)


@pytest.mark.parametrize(
    "interfaces",
    [
        {},  # no AudioPlayer context at all
        player("IDLE"),
        player("PAUSED", "other-play-token", 4000),  # not one of our tokens
        player("PAUSED", "calm:9", 4000),  # past the end of the playlist
        player("STOPPED", "calm:x", 4000),
    ],
)
async def test_resume_without_a_track_starts_the_default_playlist(
    client: NuguTestClient, interfaces: dict[str, Any]
) -> None:
    answer = await client.call("music.resume", {}, supported_interfaces=interfaces)
    s = stream(only(answer))
    assert (s["token"], s["offsetInMilliseconds"]) == ("calm:0", 0)
    assert answer.output == {"title": "새벽 산책"}


# -- music.next ---------------------------------------------------------------------------


async def test_next_plays_the_next_track_with_expected_previous_token(
    client: NuguTestClient,
) -> None:
    answer = await client.call(
        "music.next", {}, supported_interfaces=player("PLAYING", "upbeat:0", 30000)
    )
    s = stream(only(answer))
    assert s["token"] == "upbeat:1"
    assert s["expectedPreviousToken"] == "upbeat:0"
    assert s["offsetInMilliseconds"] == 0
    assert s["url"] == f"{CDN}/upbeat/02.m3u8"
    assert answer.output == {"title": "월요일 탈출"}


async def test_next_at_the_last_track(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.next", {}, supported_interfaces=player("PLAYING", "classic:1", 30000)
    )
    assert answer.result_code == "NO_NEXT_TRACK"
    assert answer.directives == []
    assert answer.output == {"title": None}


@pytest.mark.parametrize("interfaces", [{}, player("IDLE"), player("PLAYING", "radio-7")])
async def test_next_with_nothing_playing(
    client: NuguTestClient, interfaces: dict[str, Any]
) -> None:
    answer = await client.call("music.next", {}, supported_interfaces=interfaces)
    assert answer.result_code == "NOTHING_PLAYING"
    assert answer.directives == []


# -- music.finished (AudioPlayer.PlaybackFinished) ----------------------------------------


def finished_event(token: str, offset: int = 200000) -> dict[str, Any]:
    return {"type": FINISHED, "token": token, "offsetInMilliseconds": offset}


async def test_playback_finished_chain_to_the_end_of_the_list(client: NuguTestClient) -> None:
    """Play a playlist, then answer each PlaybackFinished as the device would send it."""
    first = await client.call("music.play", {"playlist": "잔잔한 음악"}, session_id="a")
    token = stream(only(first))["token"]
    seen = [token]
    for _ in range(10):  # the playlist has 3 tracks; a loop would run past 10
        answer = await client.call(
            "music.finished",
            {},
            event=finished_event(token),
            supported_interfaces=player("FINISHED", token, 200000),
            session_id=f"event-{len(seen)}",
        )
        directive = only(answer)
        if directive["type"] == "AudioPlayer.Stop":
            assert answer.output == {"title": None}
            break
        s = stream(directive)
        assert s["expectedPreviousToken"] == token
        assert s["offsetInMilliseconds"] == 0
        assert "progressReport" in s
        assert answer.output["title"]
        token = s["token"]
        seen.append(token)
    else:
        pytest.fail("the chain never stopped")
    assert seen == ["calm:0", "calm:1", "calm:2"]


async def test_playback_finished_uses_the_context_token_when_the_event_has_none(
    client: NuguTestClient,
) -> None:
    answer = await client.call(
        "music.finished",
        {},
        event={"type": FINISHED},
        supported_interfaces=player("FINISHED", "classic:0", 312000),
    )
    s = stream(only(answer))
    assert (s["token"], s["expectedPreviousToken"]) == ("classic:1", "classic:0")


@pytest.mark.parametrize("token", ["someone-else", "calm:99", "calm:"])
async def test_playback_finished_with_an_unknown_token_stops(
    client: NuguTestClient, token: str
) -> None:
    answer = await client.call("music.finished", {}, event=finished_event(token))
    assert only(answer) == {"type": "AudioPlayer.Stop"}


async def test_finished_without_the_event_is_not_handled(client: NuguTestClient) -> None:
    # A Play Builder test call carries no event: the handler only answers PlaybackFinished.
    answer = await client.call("music.finished", {}, play_builder=True)
    assert answer.result_code != "OK"
    assert answer.directives == []


async def test_other_events_do_not_reach_the_finished_handler(client: NuguTestClient) -> None:
    answer = await client.call(
        "music.finished", {}, event={"type": "AudioPlayer.PlaybackStarted", "token": "calm:0"}
    )
    assert answer.result_code != "OK"


# -- prompts with real output -------------------------------------------------------------


async def test_play_prompt_reads_well(client: NuguTestClient, music: Play) -> None:
    answer = await client.call("music.play", {"playlist": "신나는 음악"})
    response = music.definition.actions["music.play"].response
    assert response is not None
    filters = Filters.from_definitions(music.definition.filters)
    spoken = {render(p, answer.output, filters) for p in response.prompts}
    assert spoken == {
        "신나는 음악을 틀어 드릴게요. 첫 곡은 여름 드라이브입니다.",
        "신나는 음악에서 여름 드라이브부터 들려 드릴게요.",
    }
    classic = await client.call("music.play", {"playlist": "클래식"})
    assert render(response.prompts[0], classic.output, filters) == (
        "클래식을 틀어 드릴게요. 첫 곡은 G선상의 아리아입니다."
    )
