"""The voice widget in a real JupyterLab with headless Chromium: speech in through the fake
microphone, WebRTC to the local service mounted in the Jupyter server, events to the kernel."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from .conftest import FOLLOW_UP, WEATHER_CELL, ask_by_voice
from .harness import (
    FrameLog,
    Lab,
    connect,
    copy_artifact,
    kernel_json,
    lab_command,
    notebook,
    open_notebook,
    run_all_cells,
    run_in_kernel,
    start_lab,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def first(rows: list[dict[str, Any]], kind: str, direction: str = "in", after: int = -1) -> int:
    for row in rows:
        if row["i"] > after and row["kind"] == kind and row["dir"] == direction:
            return int(row["i"])
    raise AssertionError(f"no {direction} {kind} after {after}: {[r['kind'] for r in rows]}")


def test_voice_turn_with_python_tool(lab: Lab, context: Any) -> None:
    page, kc, report = ask_by_voice(context, lab, "weather.ipynb")
    rows = report["rows"]

    # the spoken turn that made the model call the tool, in protocol order, as the kernel got it
    # (the fake microphone repeats the question; offline recognition may miss a repetition)
    by_index = {r["i"]: r for r in rows}
    args_done = first(rows, "response.function_call_arguments.done")
    committed = max(
        r["i"] for r in rows if r["kind"] == "input_audio_buffer.committed" and r["i"] < args_done
    )
    item_id = by_index[committed]["event"]["item_id"]

    def of_item(kind: str) -> int:
        found = (r for r in rows if r["kind"] == kind and r["event"].get("item_id") == item_id)
        return int(next(found)["i"])

    started = of_item("input_audio_buffer.speech_started")
    stopped = of_item("input_audio_buffer.speech_stopped")
    heard = of_item("conversation.item.input_audio_transcription.completed")
    call_done = first(rows, "response.done", after=args_done)
    call_id = by_index[args_done]["event"]["call_id"]
    output_sent = next(
        r["i"]
        for r in rows
        if r["kind"] == "conversation.item.create"
        and r["dir"] == "out"
        and r["event"]["item"].get("call_id") == call_id
    )
    follow_up = first(rows, "response.create", "out", after=output_sent)
    created = first(rows, "response.created", after=follow_up)
    # the answer: the first response after the tool's output that speaks it (the looping fake
    # microphone may start another turn in between on a slow machine)
    answer = next(
        r["i"]
        for r in rows
        if r["i"] > created and r["kind"] == "response.done" and FOLLOW_UP in json.dumps(r["event"])
    )
    assert first(rows, "session.created") < started < stopped < committed < args_done
    assert committed < heard
    assert call_done < output_sent < follow_up < created < answer
    spoken = by_index[heard]["event"]["transcript"]
    assert "weather" in spoken.lower() and "paris" in spoken.lower()
    call = by_index[args_done]["event"]
    assert call["name"] == "get_weather"
    # the words' case is kept, as a model would: the tool gets "Paris" (issue 14)
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert by_index[output_sent]["event"]["item"]["output"] == f"{FOLLOW_UP} in Paris"
    assert FOLLOW_UP in json.dumps(by_index[answer]["event"])
    assert report["calls"][0] == "Paris"

    # browser arrival times never go backwards: nothing was reordered on the way
    walls = [r["wall"] for r in rows if r["dir"] == "in"]
    assert walls == sorted(walls)
    assert not [r for r in rows if r["kind"] in ("rt.relay_gap", "rt.bad_message")]

    # traits: transcript, status, usage; the log as a DataFrame
    assert report["status"] == "connected" and report["error"] == ""
    assert report["upstream"] == "local" and report["dialect"] == "ga"
    users = [e for e in report["transcript"] if e["role"] == "user"]
    assistants = [e for e in report["transcript"] if e["role"] == "assistant"]
    assert {"role": "user", "text": spoken, "item_id": item_id} in users
    assert any(FOLLOW_UP in e["text"] for e in assistants)
    assert report["usage"]["responses"] >= 2
    assert {"t", "wall", "direction", "kind", "event"} <= set(report["frame_columns"])
    timing = next(r for r in rows if r["kind"] == "rt.timing")["event"]
    assert timing["click_to_open_ms"] < 10_000

    # the DOM shows both sides and the tool call
    page.wait_for_function(
        f"() => document.querySelector('.rtj-transcript').innerText.includes({FOLLOW_UP!r})",
        timeout=30_000,
    )
    text = page.inner_text(".rtj-transcript")
    assert spoken in text
    assert f'get_weather(city="Paris") → {FOLLOW_UP} in Paris' in text
    shot = Path(lab.root) / "voicechat.png"
    page.locator(".rtj").screenshot(path=str(shot))
    copy_artifact(shot, "voicechat.png")

    # a camera picture (Chromium's fake camera) goes out as an input_image item under 60 KB
    page.click(".rtj-camera")
    page.wait_for_function(
        "() => document.querySelector('.rtj-transcript').innerText.includes('[picture]')",
        timeout=30_000,
    )
    image = kernel_json(
        kc,
        "import json\n"
        "await chat.wait_for('conversation.item.added', since=0, timeout=30, "
        "predicate=lambda e: 'input_image' in json.dumps(e.data))\n"
        "sent = [r.event for r in chat.log if r.direction == 'out' and "
        "'input_image' in json.dumps(r.event)]\n"
        "url = sent[0]['item']['content'][0]['image_url']\n"
        "print(json.dumps([len(json.dumps(sent[0])), url[:27]]))",
    )
    assert image[1] == "data:image/jpeg;base64,/9j/" and image[0] < 60_000
    page.click(".rtj-hangup")
    page.wait_for_selector(".rtj[data-status=closed]")


def test_kernel_fallback_and_reconnect(lab: Lab, context: Any) -> None:
    """key_source='kernel': the kernel mints from its own local service (loopback, CORS). When
    that service goes away the call drops; Reconnect restores the session settings."""
    page = open_notebook(context, lab, "fallback.ipynb")
    kernel_id = lab.wait_for_kernel()
    run_all_cells(page)
    connect(page)
    kc = lab.kernel_client(kernel_id)
    page.fill(".rtj-text", "hello from the text box")
    page.press(".rtj-text", "Enter")
    run_in_kernel(
        kc,
        "import json\n"
        'await chat.wait_for("response.done", since=0, timeout=60, '
        'predicate=lambda e: "hello from the text box" in json.dumps(e.data))',
        timeout=90,
    )
    first_call = kernel_json(kc, "import json; print(json.dumps([chat.upstream, chat.status]))")
    assert first_call == ["local", "connected"]
    run_in_kernel(
        kc, "from rt_jupyter.local.default import stop_local_service\nstop_local_service()"
    )
    page.wait_for_selector(".rtj[data-status=dropped]", timeout=30_000)
    assert page.is_visible(".rtj-reconnect")
    assert "dropped" in page.inner_text(".rtj-error-text")
    connect(page, ".rtj-reconnect")
    sessions = kernel_json(
        kc,
        "import asyncio, json\n"
        "for _ in range(300):\n"
        "    if len(chat.log.of_kind('session.created')) >= 2: break\n"
        "    await asyncio.sleep(0.1)\n"
        "print(json.dumps([r.event['session'] for r in chat.log.of_kind('session.created')]))",
    )
    assert len(sessions) == 2
    for session in sessions:
        assert session["instructions"] == "Answer briefly."
        assert session["audio"]["input"]["turn_detection"] is None


def test_mint_endpoint_refuses_strangers(lab: Lab) -> None:
    url = f"{lab.url}rt-jupyter/session"

    def post(opener: Any, headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
        try:
            with opener.open(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    anonymous = urllib.request.build_opener()
    assert post(anonymous, {"Content-Type": "application/json"}) in (401, 403)
    assert post(anonymous, {"Authorization": "token wrong-token"}) in (401, 403)
    # a logged-in browser session (cookie from the token login) without the XSRF header
    jar = CookieJar()
    browser_like = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser_like.open(f"{lab.url}lab?token={lab.token}", timeout=30) as response:
        assert response.status == 200
    cookies = {c.name: str(c.value) for c in jar}
    assert "_xsrf" in cookies
    assert post(browser_like, {"Content-Type": "application/json"}) == 403
    assert post(browser_like, {"X-XSRFToken": "not-the-cookie"}) == 403
    assert post(browser_like, {"X-XSRFToken": cookies["_xsrf"]}) == 200
    status, body = lab.api("rt-jupyter/status")
    assert status == 200 and body["mode"] == "local" and body["key_configured"] is False
    assert body["counts"]["refused_by_reason"].get("unauthenticated", 0) >= 3


def test_no_standard_key_in_notebook_or_comm(
    tmp_path_factory: pytest.TempPathFactory, chromium: Any
) -> None:
    """The extension holds an sk- key and mints upstream from a separately started service that
    plays OpenAI's part. Neither the saved notebook nor any WebSocket frame of the page contains
    the key, and the widget works through that path."""
    from rt_jupyter.local.service import LocalRealtimeService

    secret = "sk-proj-" + secrets.token_urlsafe(32)
    upstream = LocalRealtimeService(accept_keys=[secret]).start_in_thread()
    lab = start_lab(
        tmp_path_factory.mktemp("lab-secret"),
        notebooks={"secret.ipynb": notebook(WEATHER_CELL)},
        extension_config={"api_key": secret, "base_url": upstream.base_url},
    )
    frames = FrameLog()
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    try:
        page, _kc, report = ask_by_voice(context, lab, "secret.ipynb", frames)
        assert report["upstream"] == "remote"
        assert report["calls"][0] == "Paris"
        assert upstream.keys.open_sessions() == 1
        page.fill(".rtj-text", "thanks")
        page.press(".rtj-text", "Enter")
        page.wait_for_function(
            "() => document.querySelector('.rtj-transcript').innerText"
            ".includes('You said: thanks')",
            timeout=30_000,
        )
        page.click(".rtj-hangup")
        page.wait_for_selector(".rtj[data-status=closed]")
        lab_command(page, "docmanager:save")
        saved = lab.root / "secret.ipynb"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "widget-state" not in saved.read_text():
            time.sleep(0.2)
        text = saved.read_text()
        state = json.loads(text)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
        models = [m["state"] for m in state["state"].values() if "transcript" in m["state"]]
        assert models and any("Paris" in json.dumps(m["transcript"]) for m in models)
        assert secret not in text and "ek_" not in text
        assert frames.frames and frames.contains("session.created")
        assert not frames.contains(secret)
        assert not frames.contains(secret[8:30])
        assert secret not in lab.log_path.read_text(errors="replace")
    finally:
        context.close()
        lab.stop()
        upstream.stop_thread()


def test_beta_dialect_voice_turn(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> None:
    """``c.RealtimeExtension.dialect = "beta"`` with the local service mounted: the widget mints
    through the beta ``sessions`` route, posts its SDP to ``/v1/realtime?model=``, receives beta
    events (``conversation.item.created``, ``response.audio_transcript.delta``...) and the kernel
    sees them under the same normalized kinds, with the tool run as in GA."""
    lab = start_lab(
        tmp_path_factory.mktemp("lab-beta"),
        notebooks={"beta.ipynb": notebook(WEATHER_CELL)},
        extension_config={"dialect": "beta"},
    )
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    try:
        page, _kc, report = ask_by_voice(context, lab, "beta.ipynb")
        assert report["dialect"] == "beta" and report["upstream"] == "local"
        assert report["status"] == "connected" and report["error"] == ""
        assert report["calls"][0] == "Paris"
        incoming = [r for r in report["rows"] if r["dir"] == "in"]
        types = {r["event"].get("type") for r in incoming}
        kinds = {r["kind"] for r in incoming}
        # the wire speaks beta ...
        assert "conversation.item.created" in types and "conversation.item.added" not in types
        assert "response.audio_transcript.delta" in types
        ga_only = ("response.output_text.", "response.output_audio.", "response.output_audio_tr")
        assert not {t for t in types if str(t).startswith(ga_only)}
        # ... and the kernel's vocabulary is the GA one, whatever the dialect
        assert {"conversation.item.added", "response.output_audio_transcript.delta"} <= kinds
        # the fake microphone loops the question: a turn may catch only part of it
        heard = [
            r["event"]["transcript"]
            for r in incoming
            if r["kind"] == "conversation.item.input_audio_transcription.completed"
        ]
        assert any("weather" in s.lower() and "paris" in s.lower() for s in heard), heard
        assert any(FOLLOW_UP in e["text"] for e in report["transcript"] if e["role"] == "assistant")
        page.click(".rtj-hangup")
        page.wait_for_selector(".rtj[data-status=closed]")
    finally:
        context.close()
        lab.stop()
