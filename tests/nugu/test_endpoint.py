"""The NUGU endpoint through the real ASGI path: contract, tolerance, auth, bad input."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from voicehook import ActionRequest, Play, PlayError, Reply, Settings, create_app, directives
from voicehook.play import parse_definition
from voicehook.server.routing import Route, RouteConflict
from voicehook.testing import NuguTestClient

PLAY_YAML = """
name: weather
actions:
  answer.weather:
    backend: true
    parameters:
      location: {type: LOCATION}
      day: {type: BID_DT_DAY}
      status: backend
    exceptions:
      date_not_found: {prompts: [날짜를 모르겠어요.]}
  music.finished:
    trigger: {event: AudioPlayer.PlaybackFinished}
    backend: true
entities:
  LOCATION: {values: {명동: [], 서울: []}}
"""

# The spec's E1: a device request with an AudioPlayer context and an access token.
DEVICE_REQUEST: dict[str, Any] = {
    "version": "2.0",
    "action": {
        "actionName": "answer.weather",
        "parameters": {
            "day": {"type": "BID_DT_DAY", "value": "TODAY"},
            "location": {"type": "LOCATION", "value": "명동"},
        },
    },
    "event": {"type": "..."},
    "context": {
        "session": {
            "id": "85964e40-cf9c-4eae-841b-d736d5ef9060",
            "isNew": True,
            "accessToken": "EiIvr59Q02vBi2CJRJOLRxGopq0U",
        },
        "device": {"type": "speaker.nugu.nu200", "state": {}},
        "supportedInterfaces": {
            "AudioPlayer": {"playerActivity": "IDLE", "offsetInMilliseconds": 0}
        },
    },
}

# The spec's E2: the shape Play Builder's test chat really sends.
PLAY_BUILDER_REQUEST: dict[str, Any] = {
    "version": "2.0",
    "action": {
        "actionName": "answer.weather",
        "parameters": {"location": {"type": "LOCATION", "value": "서울"}},
    },
    "context": {
        "device": {"state": {}, "type": "speaker"},
        "session": {
            "id": "26b83325-1ca9-4bfc-9a78-6ba803c85dd8",
            "isNew": True,
            "isPlayBuilderRequest": True,
        },
        "supportedInterfaces": None,
    },
}

# The spec's E4 and E7.
EVENT_REQUEST: dict[str, Any] = {
    "version": "2.0",
    "action": {"actionName": "music.finished", "parameters": {}},
    "event": {
        "type": "AudioPlayer.PlaybackFinished",
        "token": "album42_track07",
        "offsetInMilliseconds": 213000,
    },
    "context": {
        "session": {"id": "s", "isNew": False},
        "device": {"type": "speaker.nugu.nu200", "state": {}},
        "supportedInterfaces": {
            "AudioPlayer": {
                "playerActivity": "FINISHED",
                "token": "album42_track07",
                "offsetInMilliseconds": 213000,
            }
        },
    },
    "profile": {
        "privatePlay": {
            "deviceUniqueId": "NU200_XXXXXX",
            "userKey": "user.0.A3JF",
            "deviceKey": "device.0.6L27",
            "enrolledUser": {"name": "홍길동", "phoneNo": "01011112222", "tag": "율도국"},
        }
    },
}

seen: dict[str, ActionRequest] = {}


def make_play() -> Play:
    play = Play(parse_definition(PLAY_YAML))

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, str]:
        seen["weather"] = req
        if req.params["day"] == "NOWHEN":
            raise PlayError("date_not_found")
        return {"status": "맑겠습니다"}

    @play.action("music.finished")
    async def finished(req: ActionRequest) -> Reply:
        seen["finished"] = req
        return Reply(
            directives=[
                directives.play(
                    "https://cdn.example.com/a42/t08.m3u8",
                    "album42_track08",
                    expected_previous_token=req.event.token,
                )
            ]
        )

    return play


@pytest.fixture
async def client() -> Any:
    async with NuguTestClient(make_play()) as c:
        yield c


async def test_device_request_gets_every_key_as_a_string(client: NuguTestClient) -> None:
    answer = await client.post("/answer.weather", DEVICE_REQUEST)
    assert answer.status == 200
    assert answer.json == {
        "version": "2.0",
        "resultCode": "OK",
        "output": {"location": "명동", "day": "TODAY", "status": "맑겠습니다"},
        "directives": [],
    }
    req = seen["weather"]
    assert req.session.id == "85964e40-cf9c-4eae-841b-d736d5ef9060"
    assert req.session.is_new and req.session.access_token == "EiIvr59Q02vBi2CJRJOLRxGopq0U"
    assert req.device.type == "speaker.nugu.nu200"
    assert req.audio_player is not None and req.audio_player.player_activity == "IDLE"
    assert req.param_types == {"day": "BID_DT_DAY", "location": "LOCATION"}
    assert "x-request-id" not in answer.headers  # sent back only when the caller sends one


async def test_a_callers_request_id_is_used_and_sent_back(client: NuguTestClient) -> None:
    answer = await client.post("/answer.weather", DEVICE_REQUEST, {"x-request-id": "trace-42.a_b"})
    assert answer.headers["x-request-id"] == "trace-42.a_b"
    assert seen["weather"].request_id == "trace-42.a_b"
    unsafe = await client.post("/answer.weather", DEVICE_REQUEST, {"x-request-id": "a b\n"})
    assert unsafe.headers["x-request-id"] != "a b\n"
    assert seen["weather"].request_id == unsafe.headers["x-request-id"]


async def test_play_builder_shape_is_tolerated(client: NuguTestClient) -> None:
    answer = await client.post("/answer.weather", PLAY_BUILDER_REQUEST)
    assert answer.status == 200
    assert answer.output == {"location": "서울", "day": None, "status": "맑겠습니다"}
    req = seen["weather"]
    assert req.session.is_play_builder_request
    assert req.event.type is None and req.audio_player is None


async def test_event_call_with_private_play_profile(client: NuguTestClient) -> None:
    answer = await client.post("/music.finished", EVENT_REQUEST)
    assert answer.status == 200
    (directive,) = answer.directives
    stream = directive["audioItem"]["stream"]
    assert stream["token"] == "album42_track08"
    assert stream["expectedPreviousToken"] == "album42_track07"
    req = seen["finished"]
    assert req.is_event("PlaybackFinished")
    assert req.event.offset_in_milliseconds == 213000
    assert req.user_key == "user.0.A3JF"
    assert req.profile is not None and req.profile.enrolled_user is not None
    assert req.profile.enrolled_user.name == "홍길동"


@pytest.mark.parametrize(
    "parameters",
    [
        {"location": {"type": None, "value": None}},
        {"location": None},
        {},
        {"location": {"value": 3}},
        {"location": {"type": "LOCATION", "value": ["서울", "부산"]}},
    ],
)
async def test_parameter_forms_are_tolerated(
    client: NuguTestClient, parameters: dict[str, Any]
) -> None:
    body = {"version": "2.0", "action": {"actionName": "answer.weather", "parameters": parameters}}
    answer = await client.post("/answer.weather", body)
    assert answer.status == 200
    out = answer.output
    assert set(out) == {"location", "day", "status"}
    assert all(v is None or isinstance(v, str) for v in out.values())


async def test_unknown_fields_and_nulls_everywhere(client: NuguTestClient) -> None:
    body = json.loads(json.dumps(DEVICE_REQUEST))
    body["brandNew"] = {"x": 1}
    body["action"]["extra"] = [1, 2]
    body["context"]["session"]["more"] = True
    body["context"]["device"]["state"] = None
    body["context"]["supportedInterfaces"] = {"AudioPlayer": None, "Future": {"a": 1}}
    body["event"] = None
    body["version"] = None
    answer = await client.post("/answer.weather", body)
    assert answer.status == 200
    assert answer.json["version"] == "2.0"


async def test_version_is_echoed(client: NuguTestClient) -> None:
    body = dict(PLAY_BUILDER_REQUEST, version="1.0")
    assert (await client.post("/answer.weather", body)).json["version"] == "1.0"


async def test_exception_code(client: NuguTestClient) -> None:
    answer = await client.call("answer.weather", {"location": "명동", "day": "NOWHEN"})
    assert answer.result_code == "date_not_found"
    assert answer.output["location"] == "명동"


async def test_unknown_action_is_answered_and_logged(
    client: NuguTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"version": "2.0", "action": {"actionName": "answer.weathr", "parameters": {}}}
    with caplog.at_level(logging.ERROR, "voicehook.nugu"):
        answer = await client.post("/answer.weathr", body)
    assert answer.status == 200
    assert answer.result_code == "UNKNOWN_ACTION"
    assert "answer.weather" in caplog.text  # the nearest known name


async def test_action_comes_from_the_url_under_a_prefix() -> None:
    async with NuguTestClient(make_play(), Settings(prefix="/nugu")) as c:
        answer = await c.call("answer.weather", {"location": "서울"}, prefix="/nugu")
        assert answer.result_code == "OK"
        assert (await c.request("GET", "/nugu/health")).status == 200
        assert (await c.request("GET", "/health")).status == 200
        missing = await c.call("answer.weather", {"location": "서울"})
        assert missing.status == 404


# ----------------------------------------------------------------------------- bad input

MARKER = "SECRET-MARKER-9f3a"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'{"version": "2.0", "action": ', None, 400, "invalid_json"),
        (b"\xff\xfe\x00", None, 400, "invalid_utf8"),
        (b'{"x": "\xff"}', None, 400, "invalid_utf8"),
        (b"[1, 2]", None, 400, "invalid_request"),
        (b'{"action": {"actionName": 7}}', None, 400, "invalid_request"),
        (b'{"action": {}}', None, 400, "missing_field"),
        (b"{}", None, 400, "missing_field"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (
            b"{}",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        (b"{}", {"content-length": "abc"}, 400, "invalid_content_length"),
    ],
)
async def test_bad_input_gets_a_precise_4xx(
    client: NuguTestClient,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
    code: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hdrs = {"content-type": "application/json", **(headers or {})}
    with caplog.at_level(logging.WARNING, "voicehook.server"):
        answer = await client.request("POST", "/answer.weather", body, hdrs)
    assert answer.status == status
    assert answer.json["error"]["code"] == code
    assert answer.headers["content-type"] == "application/json"
    assert code in caplog.text


async def test_errors_never_echo_the_body(client: NuguTestClient) -> None:
    for body in (
        f'{{"action": {{"actionName": ["{MARKER}"]}}}}',
        f'{{"action": "{MARKER}"',
        f'["{MARKER}"]',
    ):
        answer = await client.request(
            "POST", "/answer.weather", body.encode(), {"content-type": "application/json"}
        )
        assert answer.status == 400
        assert MARKER not in answer.body.decode()
        assert "Traceback" not in answer.body.decode()


async def test_body_over_the_cap_is_413_by_header_and_by_stream() -> None:
    async with NuguTestClient(make_play(), Settings(max_body=100)) as c:
        big = b'{"pad": "' + b"x" * 200 + b'"}'
        declared = await c.request(
            "POST",
            "/answer.weather",
            big,
            {"content-type": "application/json", "content-length": str(len(big))},
        )
        assert declared.status == 413
        streamed = await c.request(
            "POST", "/answer.weather", big, {"content-type": "application/json"}, chunk_size=16
        )
        assert streamed.status == 413
        assert streamed.json["error"]["code"] == "body_too_large"


async def test_wrong_method_and_paths(client: NuguTestClient) -> None:
    get = await client.request("GET", "/answer.weather")
    assert get.status == 405 and get.headers["allow"] == "POST"
    post_health = await client.request("POST", "/health")
    assert post_health.status == 405
    nested = await client.post("/a/b", PLAY_BUILDER_REQUEST)
    assert nested.status == 404
    # Without a prefix any path may be an action: GET is the wrong method for it.
    assert (await client.request("GET", "/nothing")).status == 405
    async with NuguTestClient(make_play(), Settings(prefix="/nugu")) as c:
        assert (await c.request("GET", "/other")).status == 404
        assert (await c.request("POST", "/other/answer.weather")).status == 404


async def test_server_error_never_leaks_a_traceback() -> None:
    class Broken:
        name = "broken"
        methods = frozenset({"POST"})

        async def handle(self, request: Any) -> Any:
            raise RuntimeError(f"internal {MARKER}")

        async def startup(self, app: Any) -> None:
            pass

        async def shutdown(self, app: Any) -> None:
            pass

    app = create_app(make_play(), routes=[Route("/broken", Broken(), exact=True)])
    client = NuguTestClient(app)
    answer = await client.post("/broken", PLAY_BUILDER_REQUEST)
    assert answer.status == 500
    assert MARKER not in answer.body.decode()
    assert answer.json["error"]["code"] == "internal_error"


# ----------------------------------------------------------------------------- auth


@pytest.fixture
async def secured() -> Any:
    async with NuguTestClient(make_play(), Settings(api_keys=("old-key", "new-key"))) as c:
        yield c


@pytest.mark.parametrize("header", ["token new-key", "token old-key", "Bearer new-key", "new-key"])
async def test_valid_keys_pass(secured: NuguTestClient, header: str) -> None:
    answer = await secured.post("/answer.weather", DEVICE_REQUEST, {"authorization": header})
    assert answer.status == 200


@pytest.mark.parametrize("header", ["token wrong", "token new-key extra", "token ", "token new-ke"])
async def test_invalid_keys_get_401(secured: NuguTestClient, header: str) -> None:
    answer = await secured.post("/answer.weather", DEVICE_REQUEST, {"authorization": header})
    assert answer.status == 401
    assert answer.json["error"]["code"] == "unauthorized"


async def test_missing_key_is_401_even_for_play_builder_by_default(
    secured: NuguTestClient,
) -> None:
    assert (await secured.post("/answer.weather", DEVICE_REQUEST)).status == 401
    assert (await secured.post("/answer.weather", PLAY_BUILDER_REQUEST)).status == 401


async def test_play_builder_policy_allow() -> None:
    settings = Settings(api_keys=("k",), play_builder="allow")  # type: ignore[arg-type]
    async with NuguTestClient(make_play(), settings) as c:
        assert (await c.post("/answer.weather", PLAY_BUILDER_REQUEST)).status == 200
        # Without the flag the key is still required.
        assert (await c.post("/answer.weather", DEVICE_REQUEST)).status == 401
        bad = await c.post("/answer.weather", PLAY_BUILDER_REQUEST, {"authorization": "token x"})
        assert bad.status == 401


def test_keys_with_whitespace_are_refused() -> None:
    from voicehook.nugu.auth import TokenAuth

    with pytest.raises(ValueError):
        TokenAuth(["a b"])
    with pytest.raises(ValueError):
        TokenAuth([])


# ----------------------------------------------------------------------------- health, metrics


async def test_health_fails_with_a_failing_check() -> None:
    play = make_play()
    healthy = {"ok": True}

    @play.health_check("upstream")
    async def check(app: Any) -> bool:
        return healthy["ok"]

    async with NuguTestClient(play) as c:
        ok = await c.request("GET", "/health")
        assert (ok.status, ok.body) == (200, b"OK")
        healthy["ok"] = False
        bad = await c.request("GET", "/health")
        assert bad.status == 503
        assert "upstream" in bad.json["error"]["message"]


async def test_metrics_count_by_action_and_code(client: NuguTestClient) -> None:
    await client.call("answer.weather", {"location": "서울"})
    await client.call("answer.weather", {"day": "NOWHEN"})
    await client.post("/no.such", {"action": {"actionName": "no.such"}})
    await client.request("POST", "/answer.weather", b"{", {"content-type": "application/json"})
    text = (await client.request("GET", "/metrics")).body.decode()
    assert (
        'voicehook_requests_total{action="answer.weather",result_code="OK",status="200"} 1' in text
    )
    assert 'result_code="date_not_found"' in text
    assert 'action="(unknown)"' in text and "no.such" not in text
    assert 'voicehook_rejected_total{code="invalid_json",status="400"} 1' in text
    assert "voicehook_in_flight 0" in text
    assert 'voicehook_request_duration_seconds_count{action="answer.weather"} 2' in text


# ----------------------------------------------------------------------------- routes


class _Named:
    """A channel that answers its name and the path tail it was given."""

    methods = frozenset({"POST", "GET"})

    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, request: Any) -> Any:
        from voicehook.http import Answer

        return Answer(
            json.dumps({"channel": self.name, "tail": request.path}).encode(), label=self.name
        )

    async def startup(self, app: Any) -> None:
        pass

    async def shutdown(self, app: Any) -> None:
        pass


async def test_exact_routes_win_over_the_nugu_catch_all() -> None:
    app = create_app(make_play(), routes=[Route("/clova", _Named("clova"), exact=True)])
    async with NuguTestClient(app) as client:
        answer = await client.post("/clova", {})
        assert answer.json == {"channel": "clova", "tail": ""}
        got = await client.request("GET", "/clova")
        assert got.json == {"channel": "clova", "tail": ""}
        # Everything else stays NUGU's.
        nugu = await client.call("answer.weather", {"location": "서울"})
        assert nugu.result_code == "OK"
        assert (await client.request("PUT", "/clova")).status == 405


async def test_prefix_routes_pass_the_tail_and_longest_prefix_wins() -> None:
    app = create_app(
        make_play(),
        Settings(prefix="/nugu"),
        routes=[Route("/api/skills", _Named("skills")), Route("/api", _Named("api"))],
    )
    async with NuguTestClient(app) as client:
        assert (await client.post("/api/skills/x", {})).json == {"channel": "skills", "tail": "x"}
        assert (await client.post("/api/y", {})).json == {"channel": "api", "tail": "y"}
        nested = await client.post("/api/skills/a/b", {})
        assert nested.status == 404
        assert "skills" in nested.json["error"]["message"]


def test_an_action_named_like_a_channel_path_is_a_start_up_error() -> None:
    play = make_play()

    @play.action("clova", code_only=True)
    async def clova(req: ActionRequest) -> None:
        return None

    with pytest.raises(RouteConflict, match=r"'clova'.*clova channel at /clova"):
        create_app(play, routes=[Route("/clova", _Named("clova"), exact=True)])
    # Under a NUGU prefix the action's URL is /nugu/clova: no collision.
    create_app(
        play, Settings(prefix="/nugu"), routes=[Route("/clova", _Named("clova"), exact=True)]
    )


def test_two_channels_on_one_path_are_refused() -> None:
    with pytest.raises(RouteConflict, match="both claim /clova"):
        create_app(
            make_play(),
            routes=[
                Route("/clova", _Named("a"), exact=True),
                Route("/clova", _Named("b"), exact=True),
            ],
        )


async def test_serving_a_play_does_not_change_it() -> None:
    play = make_play()
    before = play.settings
    async with NuguTestClient(play, Settings(deadline=0.5, failure_code="OOPS")) as client:
        assert client.app.runtime.deadline == 0.5
        assert client.app.runtime.failure_code == "OOPS"
    assert play.settings is before


async def test_two_authorization_headers_are_a_400() -> None:
    async with NuguTestClient(make_play(), Settings(api_keys=("k",))) as client:
        body = json.dumps(PLAY_BUILDER_REQUEST).encode()
        status, _, out = await call_asgi_twice_auth(client.app, body)
        assert status == 400
        assert json.loads(out)["error"]["code"] == "duplicate_header"


async def call_asgi_twice_auth(app: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One POST with two Authorization headers (call_asgi takes a mapping: one of each)."""
    import asyncio

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/answer.weather",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", b"token k"),
            (b"authorization", b"token bad"),
        ],
    }
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Any:
        if sent:
            return sent.pop()
        await asyncio.Event().wait()

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, {}, b"".join(chunks)
