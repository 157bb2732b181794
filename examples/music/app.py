"""The music example: an AudioPlayer play with playlists.

Run it: ``voicehook serve examples/music``. Try it in Korean:
``voicehook simulate examples/music``.

The backend keeps no state. Every stream token says which playlist and which track it is
(``calm:0`` is the first track of 잔잔한 음악). The device sends the token back in the
AudioPlayer context and in AudioPlayer events, so each call knows where the user is.

Actions:

- ``music.play``: start a playlist from its first track (``AudioPlayer.Play``).
- ``music.pause``: ``AudioPlayer.Pause``.
- ``music.resume``: continue the paused track from its offset (``AudioPlayer.Play``).
- ``music.continue``: "틀어줘" (``NUGU.INTENT.play``), the same as ``music.resume``.
- ``music.stop``: ``AudioPlayer.Stop``.
- ``music.next``: the next track of the current playlist.
- ``music.finished``: the event ``AudioPlayer.PlaybackFinished``; the next track, or
  ``AudioPlayer.Stop`` after the last one.

The stream URLs point at ``cdn.example.com``. They are fake: a real play puts its own
streaming URLs here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicehook import ActionRequest, Play, PlayError, Reply
from voicehook.nugu import directives
from voicehook.nugu.directives import AudioPlayerEvent, PlayerActivity

HERE = Path(__file__).parent
CDN = "https://cdn.example.com/music"
PLAY_TITLE = "음악 상자"
PROGRESS_DELAY_MS = 60_000  # one ProgressReportDelayElapsed at 1 minute
PROGRESS_INTERVAL_MS = 30_000  # ProgressReportIntervalElapsed every 30 seconds


@dataclass(frozen=True, slots=True)
class Track:
    title: str
    artist: str
    duration_sec: int


@dataclass(frozen=True, slots=True)
class Playlist:
    id: str  # used in tokens and URLs: letters only, no ':'
    name: str  # the PLAYLIST entity's representative value
    tracks: tuple[Track, ...]


PLAYLISTS: dict[str, Playlist] = {
    p.id: p
    for p in (
        Playlist(
            "calm",
            "잔잔한 음악",
            (
                Track("새벽 산책", "달빛 피아노", 214),
                Track("빗소리 위의 왈츠", "달빛 피아노", 187),
                Track("따뜻한 차 한 잔", "오후의 현악", 201),
            ),
        ),
        Playlist(
            "upbeat",
            "신나는 음악",
            (
                Track("여름 드라이브", "햇살 밴드", 198),
                Track("월요일 탈출", "햇살 밴드", 176),
                Track("불꽃놀이", "네온 댄서즈", 205),
            ),
        ),
        Playlist(
            "classic",
            "클래식",
            (
                Track("G선상의 아리아", "바흐", 312),
                Track("월광 소나타 1악장", "베토벤", 356),
            ),
        ),
    )
}
DEFAULT_PLAYLIST = PLAYLISTS["calm"]

play = Play.from_file(HERE / "play.yaml")


def _names() -> dict[str, Playlist]:
    """Playlist by representative value and by synonym (from play.yaml's PLAYLIST entity)."""
    by_name = {p.name: p for p in PLAYLISTS.values()}
    entity = play.definition.entities.get("PLAYLIST")
    if entity is not None:
        for value, synonyms in entity.values.items():
            if value in by_name:
                for synonym in synonyms:
                    by_name.setdefault(synonym, by_name[value])
    return {_key(k): v for k, v in by_name.items()}


def _key(name: str) -> str:
    return "".join(name.split())  # "신나는음악" is "신나는 음악"


NAMES = _names()


def find_playlist(name: str) -> Playlist | None:
    """The playlist a PLAYLIST value (or one of its synonyms) names."""
    return NAMES.get(_key(name))


def make_token(playlist: Playlist, index: int) -> str:
    """The stream token of a track: ``calm:0``."""
    return f"{playlist.id}:{index}"


def parse_token(token: str | None) -> tuple[Playlist, int] | None:
    """The playlist and track index in a token, or None when it is not one of ours."""
    if not token:
        return None
    pid, sep, number = token.partition(":")
    playlist = PLAYLISTS.get(pid)
    if not sep or playlist is None or not number.isdigit():
        return None
    index = int(number)
    if index >= len(playlist.tracks):
        return None
    return playlist, index


def track_url(playlist: Playlist, index: int) -> str:
    return f"{CDN}/{playlist.id}/{index + 1:02d}.m3u8"


def play_track(
    playlist: Playlist,
    index: int,
    *,
    offset_ms: int = 0,
    previous_token: str | None = None,
) -> dict[str, Any]:
    """``AudioPlayer.Play`` of one track, with progress reports and a Template1 screen."""
    track = playlist.tracks[index]
    return directives.play(
        track_url(playlist, index),
        make_token(playlist, index),
        offset_ms=offset_ms,
        expected_previous_token=previous_token,
        progress_report_delay_ms=PROGRESS_DELAY_MS,
        progress_report_interval_ms=PROGRESS_INTERVAL_MS,
        template=directives.template1(
            PLAY_TITLE,
            track.title,
            subtitle1=track.artist,
            subtitle2=f"{playlist.name} · {index + 1}/{len(playlist.tracks)}",
            image_url=f"{CDN}/{playlist.id}/cover.png",
            duration_sec=track.duration_sec,
        ),
    )


@play.action("music.play")
async def start_playlist(req: ActionRequest) -> Reply:
    """Start a playlist ("신나는 음악 틀어줘"); no playlist means the default one."""
    name = req.params["playlist"]
    playlist = DEFAULT_PLAYLIST if not name else find_playlist(name)
    if playlist is None:
        raise PlayError("UNKNOWN_PLAYLIST")
    return Reply(
        {"playlist": playlist.name, "title": playlist.tracks[0].title},
        [play_track(playlist, 0)],
    )


@play.action("music.pause")
async def pause(req: ActionRequest) -> Reply:
    return Reply(directives=[directives.pause()])


@play.action("music.continue")  # NUGU.INTENT.play ("틀어줘"): the same rules as resume
@play.action("music.resume")
async def resume(req: ActionRequest) -> Reply:
    """Continue where the user paused.

    - PLAYING: nothing to do; the ALREADY_PLAYING prompt says "이미 재생 중이에요".
    - PAUSED or STOPPED with one of our tokens: that track from the saved offset.
    - FINISHED (or IDLE) with one of our tokens: that track from the start.
    - no token, or a token that is not ours: the default playlist from its first track.
    """
    player = req.audio_player
    activity = player.player_activity if player is not None else PlayerActivity.IDLE
    if activity in (PlayerActivity.PLAYING, PlayerActivity.BUFFER_UNDERRUN):
        raise PlayError("ALREADY_PLAYING")
    where = parse_token(player.token if player is not None else None)
    if where is None:
        playlist, index, offset = DEFAULT_PLAYLIST, 0, 0
    else:
        playlist, index = where
        keep = activity in (PlayerActivity.PAUSED, PlayerActivity.STOPPED)
        offset = player.offset_in_milliseconds if keep and player is not None else 0
    return Reply(
        {"title": playlist.tracks[index].title},
        [play_track(playlist, index, offset_ms=max(offset, 0))],
    )


@play.action("music.stop")
async def stop(req: ActionRequest) -> Reply:
    return Reply(directives=[directives.stop()])


@play.action("music.next")
async def next_track(req: ActionRequest) -> Reply:
    """The next track of the playlist in the AudioPlayer context ("다음 곡")."""
    token = req.audio_player.token if req.audio_player is not None else None
    where = parse_token(token)
    if token is None or where is None:
        raise PlayError("NOTHING_PLAYING")
    playlist, index = where
    if index + 1 >= len(playlist.tracks):
        raise PlayError("NO_NEXT_TRACK")
    return Reply(
        {"title": playlist.tracks[index + 1].title},
        [play_track(playlist, index + 1, previous_token=token)],
    )


@play.action("music.finished", event=AudioPlayerEvent.PLAYBACK_FINISHED)
async def finished(req: ActionRequest) -> Reply:
    """A track played to its end: queue the next one, or stop after the last one."""
    token = req.event.token
    if token is None and req.audio_player is not None:
        token = req.audio_player.token
    where = parse_token(token)
    if token is None or where is None or where[1] + 1 >= len(where[0].tracks):
        return Reply(directives=[directives.stop()])
    playlist, index = where
    return Reply(
        {"title": playlist.tracks[index + 1].title},
        [play_track(playlist, index + 1, previous_token=token)],
    )
