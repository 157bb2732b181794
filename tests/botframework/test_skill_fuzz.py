"""Property test: any JSON object posted to the skill gets a 2xx/4xx/501, never a 500."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook import Settings, create_app
from voicehook.botframework.auth import BotAuthConfig
from voicehook.botframework.skill import BotFrameworkChannel
from voicehook.dialog import DialogEngine
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.play.context import AppContext
from voicehook.server.inprocess import call_asgi
from voicehook.server.routing import Route
from voicehook.store import MemoryStore

from ._play import make_play

PLAY = make_play()


def _engine(app: AppContext) -> DialogEngine:
    return DialogEngine(PLAY.definition, PlayCaller(PLAY, app), tokenizer=SimpleTokenizer())


LOOP = asyncio.new_event_loop()
APP = create_app(
    PLAY,
    Settings(deadline=0.2),
    store=MemoryStore(),
    routes=[
        Route(
            "/api/messages",
            BotFrameworkChannel(PLAY, BotAuthConfig(), engine=_engine),
            exact=True,
        )
    ],
)


def setup_module() -> None:
    global LOOP
    if LOOP.is_closed():  # a second pytest run in one process (mutmut runs several)
        LOOP = asyncio.new_event_loop()
    LOOP.run_until_complete(APP.startup())


def teardown_module() -> None:
    LOOP.run_until_complete(APP.shutdown())
    LOOP.close()


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
accounts = st.none() | st.fixed_dictionaries({}, optional={"id": scalars, "role": scalars}) | values
activities = st.fixed_dictionaries(
    {"deliveryMode": st.just("expectReplies")},
    optional={
        "type": st.sampled_from(["message", "event", "endOfConversation", "invoke", "typing"])
        | scalars,
        "id": scalars,
        "text": st.sampled_from(["피자 주문할래", "라지", "그만", ""]) | scalars,
        "name": st.sampled_from(["order.pizza", "x"]) | scalars,
        "value": values,
        "from": accounts,
        "conversation": st.fixed_dictionaries({"id": st.sampled_from(["c1", "c2"])}) | accounts,
        "locale": scalars,
        "entities": values,
        "relatesTo": values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activities)
def test_random_activities_never_500(activity: dict[str, Any]) -> None:
    body = json.dumps(activity).encode()
    status, _, raw = LOOP.run_until_complete(
        call_asgi(APP, "POST", "/api/messages", body, {"content-type": "application/json"})
    )
    assert status in (200, 400, 501), (status, raw)
    if status == 200:
        assert isinstance(json.loads(raw)["activities"], list)
