"""Load (issue 7, part 3): the local service under concurrent real-time sessions, for correctness.

The service runs in a child process (``rt-jupyter serve``); the load generator (``tests.load``)
runs in this process: WebSocket sessions streaming 24 kHz audio in real time with server VAD and
WebRTC calls (aiortc peers) playing the question, each speaking, waiting for the spoken answer,
and speaking again. These tests assert what holds on any machine, however slow or busy
(:func:`tests.load.correctness_failures`: no errors, every spoken turn detected, every probe,
response and question answered, every session and call freed), with a drain of minutes after the
streams stop. How many sessions keep real time and how fast answers come are benchmarks
(``make load``: ``benchmarks/bench_load.py``, against the target of 100 + 10).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from rt_jupyter.audio import float32_to_pcm16
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.load import LoadReport, ServiceProcess, correctness_failures, run_load

pytestmark = pytest.mark.timeout(600)

#: Many sessions at once: a fifth of the target of issue 7 (100 + 10), which a 2-core machine of
#: this kind sustains with a wide margin (benchmarks/results.md: 80 + 8 on a slow one).
MANY_WS, MANY_RTC = 20, 2
#: A few conversations: the speech recogniser answers each from its transcript.
CONVERSATIONS_WS, CONVERSATIONS_RTC = 2, 1
SECONDS = 20.0
#: After the streams stop, each client waits this long at most for what is still on its way
#: (about 10x what a busy machine needs for the recogniser's backlog of 16 utterances).
DRAIN_S = 300.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    svc = ServiceProcess(tmp_path)
    yield svc
    svc.stop()


def _report(report: LoadReport) -> str:
    return json.dumps(report.summary())


def _run(service: ServiceProcess, ws: int, rtc: int) -> LoadReport:
    return asyncio.run(
        run_load(
            service,
            ws_sessions=ws,
            webrtc_calls=rtc,
            seconds=SECONDS,
            drain_s=DRAIN_S,
            answer_timeout_s=0.0,  # after the drain, a question still waiting is unanswered
        )
    )


def _assert_freed(service: ServiceProcess) -> None:
    """The service still runs and holds no session and no call once the clients hung up."""
    deadline = time.monotonic() + 60
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert service.proc.poll() is None, service.log_tail()
        health = httpx.get(service.base_url.removesuffix("/v1") + "/health", timeout=60).json()
        if health["sessions"] == 0 and health["calls"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"sessions or calls left after the clients hung up: {health}")


def test_conversations_are_answered_from_their_transcripts(service: ServiceProcess) -> None:
    """A few voice conversations (WebSocket and WebRTC): every question detected, answered from
    its transcript (never "I heard N seconds of audio", the recogniser's load shedding), every
    response completed; the sessions and calls freed at the end."""
    report = _run(service, CONVERSATIONS_WS, CONVERSATIONS_RTC)
    print("conversations:", _report(report))
    assert not correctness_failures(report), (correctness_failures(report), _report(report))
    summary = report.summary()
    detected, expected = report.turns
    assert detected == expected, summary
    assert all(c.turns_expected >= 1 for c in report.clients), summary  # everyone spoke
    assert summary["shed"] == 0, summary
    asked = sum(c.turns_detected for c in report.clients)
    assert summary["responses"] == {"completed": asked}, summary
    _assert_freed(service)


def test_many_sessions_lose_nothing(service: ServiceProcess) -> None:
    """20 WebSocket sessions + 2 WebRTC calls talking in turns: no errors, every spoken turn
    detected, every probe (an event through the service's loop) answered, every response done,
    every question answered (some without a transcript when the recogniser sheds load: that is
    its admission rule, not a loss), and every session and call freed."""
    report = _run(service, MANY_WS, MANY_RTC)
    print("many:", _report(report))
    assert not correctness_failures(report), (correctness_failures(report), _report(report))
    summary = report.summary()
    assert report.turns[1] >= MANY_WS + MANY_RTC, summary  # every client asked at least once
    assert summary["probes"] >= (MANY_WS + MANY_RTC) * SECONDS / 2, summary
    assert set(summary["responses"]) == {"completed"}, summary
    _assert_freed(service)


# --- found under load: a barge-in while a turn is being transcribed ------------------------------


class SlowTranscriber:
    """Takes ``delay`` seconds per utterance (as the recogniser does when it is busy)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def transcribe(self, samples: Any, sample_rate: int, **_: Any) -> str:
        time.sleep(self.delay)
        return "hello there"


async def test_barge_in_while_transcribing_keeps_the_session_answering(engines: Engines) -> None:
    from tests.speech import speech_samples

    base = engines
    engines = Engines(
        voice=base.voice,
        transcriber=SlowTranscriber(1.0),
        turn_detector_factory=base.turn_detector_factory,
    )
    question = speech_samples("hello there", 24000)
    silence = np.zeros(12000, np.float32)  # 500 ms: ends a turn (silence_duration_ms 200)
    first = float32_to_pcm16(np.concatenate([silence, question, silence])).tobytes()
    second = float32_to_pcm16(np.concatenate([question, silence, silence])).tobytes()
    async with LocalRealtimeService(engines=engines) as svc:
        ws = await websockets.connect(
            f"{svc.ws_base_url}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-barge-in"},
            max_size=2**26,
        )
        events: list[dict[str, Any]] = []
        try:
            for pcm in (first, second):  # faster than real time: VAD runs on audio time
                for i in range(0, len(pcm), 9600):
                    chunk = base64.b64encode(pcm[i : i + 9600]).decode()
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
                # the first answer is now waiting for its transcript when the user speaks again
                await asyncio.sleep(0.3)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except TimeoutError:
                    break
                event = json.loads(raw)
                events.append(event)
                done = [e for e in events if e["type"] == "response.done"]
                if len(done) == 2:
                    break
        finally:
            await ws.close()
    types = [e["type"] for e in events]
    assert types.count("input_audio_buffer.speech_stopped") == 2, types
    done = [e["response"] for e in events if e["type"] == "response.done"]
    statuses = [(r["status"], (r.get("status_details") or {}).get("reason")) for r in done]
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert statuses == [("cancelled", "turn_detected"), ("completed", None)], (statuses, errors)
    assert not errors, errors


async def test_recogniser_sheds_load_beyond_its_backlog() -> None:
    """Utterances submitted as LocalSession._transcribe submits them (``submit``: admission on
    the caller's side, work on the recogniser's own thread): beyond the backlog of 16 the rest
    are refused at once with TranscriberBusy, and the admitted ones are all transcribed."""
    from rt_jupyter.local.asr_pool import ProcessTranscriber, TranscriberBusy
    from tests.speech import speech_samples

    transcriber = ProcessTranscriber()
    utterance = speech_samples("hello", 24000)
    futures: list[Any] = []
    refused = 0
    try:
        for _ in range(24):
            try:
                futures.append(asyncio.wrap_future(transcriber.submit(utterance, 24000)))
            except TranscriberBusy:
                refused += 1
        assert transcriber.backlog == len(futures) == transcriber.max_backlog == 16
        results = await asyncio.gather(*futures)
    finally:
        transcriber.close()
    assert refused == 8
    assert transcriber.backlog == 0
    assert all("hello" in r.text.lower() for r in results), [r.text for r in results]
