"""A browser running OpenAI's documented WebRTC snippet against the local service (issue 7).

A plain HTML page, served by a tiny HTTP server on another loopback port (so another origin: the
service's CORS must let it call), runs the snippet of ``realtime-protocol.md`` §5.2 as OpenAI
documents it — ``new RTCPeerConnection()`` (``iceServers: []``, the local case), ``ontrack`` →
``<audio>``, ``getUserMedia({audio: true})`` → ``addTrack``, ``createDataChannel("oai-events")``
*before* ``createOffer``, POST of ``offer.sdp`` as ``application/sdp`` with ``Bearer`` + the
ephemeral key, ``setRemoteDescription({type: "answer", sdp})`` — in headless Chromium whose fake
microphone plays a spoken WAV. The GA flavour mints with ``POST /v1/realtime/client_secrets`` and
posts to ``/v1/realtime/calls``; the beta one mints with ``POST /v1/realtime/sessions`` and posts
to ``/v1/realtime?model=…``.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from rt_jupyter.local.service import LocalRealtimeService
from tests.conformance import validate_server_event
from tests.e2e.harness import browser, have_browser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not have_browser(), reason="needs Playwright and /usr/bin/chromium"),
]

SK = "sk-snippet-tests"
SPOKEN = "what is the weather in paris"

# The snippet as OpenAI's WebRTC guide writes it (GA: /v1/realtime/calls; beta:
# /v1/realtime?model=), plus what the test reads back: every data-channel message, the SDP
# response's status and Location, and the remote audio's level through an AnalyserNode.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>realtime snippet</title></head>
<body>
<script>
window.rtj = { events: [], levels: [], errors: [], opened: null, status: null, location: null };

function measure(stream) {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    window.rtj.levels.push([performance.now(), Math.sqrt(sum / buf.length)]);
  }, 50);
}

async function init(baseUrl, EPHEMERAL_KEY, dialect, model) {
  // Create a peer connection
  const pc = new RTCPeerConnection({ iceServers: [] });

  // Set up to play remote audio from the model
  const audioElement = document.createElement("audio");
  audioElement.autoplay = true;
  document.body.appendChild(audioElement);
  pc.ontrack = (e) => {
    audioElement.srcObject = e.streams[0];
    measure(e.streams[0]);
  };

  // Add local audio track for microphone input in the browser
  const ms = await navigator.mediaDevices.getUserMedia({ audio: true });
  pc.addTrack(ms.getTracks()[0]);

  // Set up data channel for sending and receiving events
  const dc = pc.createDataChannel("oai-events");
  dc.addEventListener("open", () => { window.rtj.opened = performance.now(); });
  dc.addEventListener("message", (e) => { window.rtj.events.push(e.data); });

  // Start the session using the Session Description Protocol (SDP)
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);

  const url = dialect === "ga" ? `${baseUrl}/realtime/calls` : `${baseUrl}/realtime?model=${model}`;
  const sdpResponse = await fetch(url, {
    method: "POST",
    body: offer.sdp,
    headers: {
      Authorization: `Bearer ${EPHEMERAL_KEY}`,
      "Content-Type": "application/sdp",
    },
  });
  window.rtj.status = sdpResponse.status;
  window.rtj.location = sdpResponse.headers.get("Location");
  const answer = { type: "answer", sdp: await sdpResponse.text() };
  await pc.setRemoteDescription(answer);
  window.rtj.audioElement = audioElement;
  window.rtj.pc = pc;
}
</script>
</body></html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The snippet's page, on its own loopback port (another origin than the service)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def service() -> Iterator[LocalRealtimeService]:
    svc = LocalRealtimeService().start_in_thread()  # standalone, CORS on (the default)
    yield svc
    svc.stop_thread()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium whose fake microphone loops the spoken question."""
    from tests.speech import synthesize_wav

    wav = tmp_path_factory.mktemp("snippet") / "question.wav"
    # 20 s of silence before the question comes round again: the answer is played out (and
    # output_audio_buffer.stopped sent) long before, however busy the machine; with 4 s, one core
    # kept busy let the repeated question barge in first (output_audio_buffer.cleared instead)
    synthesize_wav(SPOKEN, wav, 48000, lead_silence_ms=800, tail_silence_ms=20000)
    with browser(wav) as instance:
        yield instance


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {SK}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _mint(service: LocalRealtimeService, dialect: str, model: str) -> str:
    if dialect == "ga":
        body = _post_json(
            f"{service.base_url}/realtime/client_secrets",
            {"session": {"type": "realtime", "model": model}},
        )
        return str(body["value"])
    body = _post_json(f"{service.base_url}/realtime/sessions", {"model": model, "voice": "verse"})
    return str(body["client_secret"]["value"])


def _index(types: list[str], kind: str, after: int = -1) -> int:
    for i, t in enumerate(types):
        if i > after and t == kind:
            return i
    raise AssertionError(f"no {kind} after index {after}: {types}")


@pytest.mark.parametrize(
    ("dialect", "model"),
    [("ga", "gpt-realtime"), ("beta", "gpt-4o-realtime-preview")],
)
def test_documented_webrtc_snippet(
    service: LocalRealtimeService, page_origin: str, chromium: Any, dialect: str, model: str
) -> None:
    key = _mint(service, dialect, model)
    assert key.startswith("ek_")
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_origin}/", wait_until="load")
        assert page.evaluate("location.origin") != service.http_url  # another origin: CORS
        try:
            page.evaluate(
                "([b, k, d, m]) => init(b, k, d, m)", [service.base_url, key, dialect, model]
            )
        except Exception as exc:  # playwright's Error: the snippet threw in the page
            raise AssertionError(f"the snippet failed in the page: {exc}") from None
        assert page.evaluate("window.rtj.status") == 201
        location = page.evaluate("window.rtj.location")
        if dialect == "ga":  # the call id, readable across origins (Access-Control-Expose-Headers)
            assert location.startswith("/v1/realtime/calls/rtc_")
        page.wait_for_function("() => window.rtj.opened !== null", timeout=15_000)
        page.wait_for_function(
            "() => window.rtj.events.some(e => JSON.parse(e).type === 'response.done')",
            timeout=60_000,
        )
        # the answer is spoken on the remote track: wait until the service has played it out
        page.wait_for_function(
            "() => window.rtj.events.some("
            "e => JSON.parse(e).type === 'output_audio_buffer.stopped')",
            timeout=30_000,
        )
        page.wait_for_timeout(300)  # the jitter buffer's last frames reach the analyser
        playing = page.evaluate(
            "() => { const a = window.rtj.audioElement;"
            " return [a.paused, a.currentTime, a.srcObject.getAudioTracks().length]; }"
        )
        texts: list[str] = page.evaluate("window.rtj.events")
        levels: list[list[float]] = page.evaluate("window.rtj.levels")
    finally:
        context.close()

    events = [json.loads(text) for text in texts]
    types = [e["type"] for e in events]
    assert types[0] == "session.created"
    assert events[0]["session"]["model"] == model
    started = _index(types, "input_audio_buffer.speech_started")
    stopped = _index(types, "input_audio_buffer.speech_stopped", started)
    committed = _index(types, "input_audio_buffer.committed", stopped)
    created = _index(types, "response.created", committed)
    done = _index(types, "response.done", created)
    item_id = events[stopped]["item_id"]
    assert events[started]["item_id"] == item_id == events[committed]["item_id"]
    assert events[done]["response"]["status"] == "completed"
    transcript_delta = (
        "response.output_audio_transcript.delta"
        if dialect == "ga"
        else "response.audio_transcript.delta"
    )
    assert created < _index(types, transcript_delta, created) < done
    assert "output_audio_buffer.started" in types[created:]
    # WebRTC sends no audio deltas on the channel: the audio came over RTP
    assert not [t for t in types if t.endswith("audio.delta")]
    for event in events:
        validate_server_event(event, dialect)
    paused, current_time, tracks = playing
    assert not paused and current_time > 0 and tracks == 1
    loud = [rms for _, rms in levels if rms > 0.01]
    assert len(loud) >= 5  # a spoken answer, not a click
    assert max(loud) < 1.0


def test_snippet_page_is_refused_without_a_key(
    service: LocalRealtimeService, page_origin: str, chromium: Any
) -> None:
    """The same page with a wrong key: the SDP POST is refused (401) and readable by the page
    (CORS headers on errors too), no call is created."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_origin}/", wait_until="load")
        calls = len(service.state.calls)
        with pytest.raises(Exception, match=r"setRemoteDescription|SessionDescription|answer"):
            page.evaluate(
                "([b, k]) => init(b, k, 'ga', '')", [service.base_url, "ek_not_a_real_key"]
            )
        assert page.evaluate("window.rtj.status") == 401
        assert len(service.state.calls) == calls
    finally:
        context.close()


def test_page_template_is_the_documented_snippet() -> None:
    """Guard against drifting from the documented flow: the calls the doc names are all there,
    and the data channel is created before the offer."""
    for needle in (
        "new RTCPeerConnection(",
        "pc.ontrack",
        "getUserMedia({ audio: true })",
        "pc.addTrack(",
        'createDataChannel("oai-events")',
        "createOffer()",
        "setLocalDescription(offer)",
        "body: offer.sdp",
        '"Content-Type": "application/sdp"',
        "setRemoteDescription(answer)",
    ):
        assert needle in PAGE, needle
    assert PAGE.index('createDataChannel("oai-events")') < PAGE.index("createOffer()")
