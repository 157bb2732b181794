"""``voicehook console examples/weather`` in headless Chromium: a real browser, a real server.

``VOICEHOOK_SCREENSHOTS=docs`` makes the first test write docs/images/console.png (the
picture docs/console.md shows); otherwise it goes to the test's temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.console.conftest import ROOT, Console

SLOT_PROMPT = "어느 지역 날씨를 알려드릴까요?"


def say(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def user_bubbles(page: Any) -> int:
    count: int = page.locator(".bubble.user").count()
    return count


def test_chat_slot_prompt_json_and_saved_transcript(
    console: Console, page: Any, tmp_path: Path
) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    say(page, "날씨 알려줘")
    page.locator(".bubble.prompt", has_text=SLOT_PROMPT).wait_for()
    turn = page.locator(".turn").first
    assert "ask.weather" in turn.inner_text()
    assert "slot filling: location" in page.inner_text("#summary")

    say(page, "부산")
    answer = page.locator(".bubble.prompt", has_text="부산 오늘 날씨는")
    answer.wait_for()
    assert "end" in answer.inner_text()
    call = page.locator("details.call").first
    assert "answer.weather" in call.inner_text()
    assert "resultCode OK" in call.locator(":scope > summary").inner_text()
    call.locator(":scope > summary").click()  # open it: request and response JSON
    request = call.locator("pre.json").nth(0).inner_text()
    response = call.locator("pre.json").nth(1).inner_text()
    assert '"action"' in request and '"LOCATION"' in request
    assert '"resultCode": "OK"' in response and '"location": "부산"' in response

    page.evaluate("document.getElementById('log').scrollTop = 1e9")
    shot = (
        ROOT / "docs" / "images" / "console.png"
        if os.environ.get("VOICEHOOK_SCREENSHOTS") == "docs"
        else tmp_path / "console.png"
    )
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # Save as transcript, then run `voicehook test` on the file as it was written.
    page.fill("#save-name", "saved.yaml")
    page.click("#save")
    page.locator("#notice", has_text="saved").wait_for()
    saved = console.folder / "saved.yaml"
    assert saved.is_file()
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "test", str(saved)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1/1 conversations passed" in run.stdout


def test_enter_does_not_send_during_ime_composition(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    page.focus("#text")

    # 1. A real composition in Chromium (CDP): the Enter that ends it has isComposing.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "서울", "selectionStart": 2, "selectionEnd": 2})
    page.keyboard.press("Enter")
    page.wait_for_timeout(400)
    assert user_bubbles(page) == 0
    cdp.send("Input.insertText", {"text": "서울"})  # the IME commits the text

    # 2. Dispatched composition events: a keydown between compositionstart and
    #    compositionend must not send, even when the browser does not set isComposing.
    page.evaluate(
        """() => {
        const t = document.getElementById('text');
        t.value = '서울 날씨 알려줘';
        t.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
        t.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        t.dispatchEvent(new KeyboardEvent('keydown',
            {key: 'Enter', isComposing: true, bubbles: true}));
    }"""
    )
    page.wait_for_timeout(400)
    assert user_bubbles(page) == 0
    assert page.input_value("#text") == "서울 날씨 알려줘"

    # 3. After compositionend, Enter sends.
    page.evaluate(
        """() => {
        const t = document.getElementById('text');
        t.dispatchEvent(new CompositionEvent('compositionend', {data: '요'}));
        t.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
    }"""
    )
    page.locator(".bubble.prompt", has_text="서울 오늘 날씨는").wait_for()
    assert user_bubbles(page) == 1


def test_replay_a_transcript_file_and_device_events(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    page.set_input_files("#replay", str(console.folder / "transcripts.yaml"))
    page.locator("#notice", has_text="replayed").wait_for()
    heads = page.locator(".conv-head").all_inner_texts()
    assert any("서울 날씨" in h and "replayed" in h for h in heads)
    assert page.locator(".bubble.prompt", has_text="서울 오늘 날씨는").count() >= 1

    page.click("#reset")
    page.click("#events button[data-event=PlaybackStarted]")
    page.locator(".bubble.event", has_text="PlaybackStarted").wait_for()
    page.locator("#audio", has_text="PLAYING").wait_for()


def test_live_reload_shows_the_error_and_keeps_the_last_good_play(
    console: Console, page: Any
) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    play_yaml = console.folder / "play.yaml"
    good = play_yaml.read_text(encoding="utf-8")
    bad = good.replace("    backend: true\n", "    backend: true\n    requried: true\n", 1)
    assert bad != good
    play_yaml.write_text(bad, encoding="utf-8")
    problems = page.locator("#problems")
    problems.wait_for(state="visible")
    text = problems.inner_text()
    line = bad.splitlines().index("    requried: true") + 1
    assert f"play.yaml:{line}:5" in text and "requried" in text

    say(page, "서울 날씨 알려줘")  # the last good play still answers
    page.locator(".bubble.prompt", has_text="서울 오늘 날씨는").wait_for()

    fixed = good.replace("안녕하세요, 날씨 알리미예요.", "반가워요, 날씨 알리미예요.")
    time.sleep(0.05)
    play_yaml.write_text(fixed, encoding="utf-8")
    problems.wait_for(state="hidden")
    page.locator("#reload-note", has_text="play reloaded").wait_for()
    say(page, "날씨 알리미 열어줘")
    page.locator(".bubble.prompt", has_text="반가워요, 날씨 알리미예요.").wait_for()


def select_channel(page: Any, name: str, note: str) -> None:
    page.select_option("#channel", name)
    page.locator("#channel-note", has_text=note).wait_for()


def open_exchange(page: Any, index: int) -> str:
    """Open the channel JSON of the index-th turn card; its request and response text."""
    box = page.locator("details.exchange").nth(index)
    box.locator(":scope > summary").click()
    text: str = box.inner_text()
    return text


def test_clova_in_the_browser_with_the_cek_json(
    console: Console, page: Any, tmp_path: Path
) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    select_channel(page, "clova", "CEK request signed")
    assert page.locator("#events button", has_text="PlayFinished").count() == 1

    say(page, "내일 부산 날씨 알려줘")
    answer = page.locator(".bubble.prompt", has_text="부산 내일 날씨는")
    answer.wait_for()
    assert "end" in answer.inner_text()
    card = page.locator(".turn").first.inner_text()
    assert "IntentRequest ask.weather" in card and "LOCATION=부산" in card
    assert "shouldEndSession: true" in card
    text = open_exchange(page, 0)
    assert '"type": "IntentRequest"' in text and '"value": "부산"' in text
    assert '"shouldEndSession": true' in text and '"outputSpeech"' in text

    say(page, "날씨 알려줘")  # slot filling: the CEK session stays open
    page.locator(".bubble.prompt", has_text=SLOT_PROMPT).wait_for()
    assert "slot filling: location" in page.inner_text("#summary")
    assert "shouldEndSession: false" in page.locator(".turn").nth(1).inner_text()
    say(page, "광주")
    page.locator(".bubble.prompt", has_text="광주 오늘 날씨는").wait_for()
    open_exchange(page, 2)

    page.evaluate("document.getElementById('log').scrollTop = 1e9")
    shot = (
        ROOT / "docs" / "images" / "console-clova.png"
        if os.environ.get("VOICEHOOK_SCREENSHOTS") == "docs"
        else tmp_path / "console-clova.png"
    )
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    page.fill("#save-name", "clova-saved.yaml")
    page.click("#save")
    page.locator("#notice", has_text="saved").wait_for()
    saved = console.folder / "clova-saved.yaml"
    assert "--channel clova" in saved.read_text(encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "test", str(saved), "--channel", "clova"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1/1 conversations passed" in run.stdout


def test_botframework_in_the_browser_with_the_activities(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    select_channel(page, "botframework", "anonymous mode")
    assert not page.is_disabled("#save")
    assert "voicehook test --channel botframework" in page.get_attribute("#save", "title")
    assert page.locator("#events button", has_text="endOfConversation").count() == 1
    assert "no AudioPlayer" in page.inner_text("#audio")

    say(page, "날씨 알려줘")
    page.locator(".bubble.prompt", has_text=SLOT_PROMPT).wait_for()
    assert "expectingInput" in page.locator(".turn").first.inner_text()
    say(page, "부산")
    page.locator(".bubble.prompt", has_text="부산 오늘 날씨는").wait_for()
    card = page.locator(".turn").nth(1).inner_text()
    assert "message “부산”" in card and "endOfConversation completedSuccessfully" in card
    text = open_exchange(page, 1)
    assert '"deliveryMode": "expectReplies"' in text and '"text": "부산"' in text
    assert '"type": "endOfConversation"' in text and '"location": "부산"' in text

    page.fill("#save-name", "bf-saved.yaml")
    page.click("#save")
    page.locator("#notice", has_text="--channel botframework").wait_for()
    saved = console.folder / "bf-saved.yaml"
    assert "--channel botframework" in saved.read_text(encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "test", str(saved), "--channel", "botframework"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1/1 conversations passed" in run.stdout


def test_live_reload_keeps_the_conversation(console: Console, page: Any) -> None:
    page.goto(console.url)
    page.wait_for_selector("text=weather")
    say(page, "날씨 알려줘")
    page.locator(".bubble.prompt", has_text=SLOT_PROMPT).wait_for()

    play_yaml = console.folder / "play.yaml"
    good = play_yaml.read_text(encoding="utf-8")
    edited = good.replace("기온은 {{temperature}}도예요.", "기온은 {{temperature}}도랍니다.")
    assert edited != good
    time.sleep(0.05)
    play_yaml.write_text(edited, encoding="utf-8")
    page.locator("#reload-note", has_text="goes on").wait_for()
    page.locator(".mark", has_text="the conversation goes on").wait_for()
    assert "slot filling: location" in page.inner_text("#summary")

    say(page, "부산")  # answers the slot prompt asked before the reload
    page.locator(".bubble.prompt", has_text="도랍니다.").wait_for()
    assert page.locator(".conv-head", has_text="대화").count() == 1  # the same conversation

    # The action it waits in vanishes: the page says so and starts fresh.
    say(page, "2월 31일 서울 날씨 알려줘")
    page.locator(".bubble.prompt", has_text="없는 날짜예요").wait_for()
    block = (
        "      INVALID_DATE:\n        prompts:\n          - 날짜를 이해하지 못했어요. "
        "다음에 다시 물어봐 주세요.\n          - 없는 날짜예요. 날짜를 다시 말씀해 주세요.\n"
    )
    assert block in edited
    time.sleep(0.05)
    play_yaml.write_text(edited.replace(block, "", 1), encoding="utf-8")
    note = page.locator("#reload-note", has_text="cannot go on")
    note.wait_for()
    assert "INVALID_DATE" in note.inner_text() and "new conversation" in note.inner_text()
    page.locator(".mark", has_text="cannot go on").wait_for()
    assert "no session" in page.inner_text("#summary")
