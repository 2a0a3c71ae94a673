"""Batched VAD: one shared model scoring many sessions' frames gives the same turns as one
model per session, in fewer model calls."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from rt_jupyter.audio import float32_to_pcm16
from rt_jupyter.local.engines import ServerVadTurnDetector, SileroVad
from rt_jupyter.local.engines.vad import SileroBatch
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.local.vad_scheduler import VadScheduler
from tests.local.conftest import ws_connect
from tests.speech import speech_clip


def test_batch_scores_equal_single_model_scores() -> None:
    clip = speech_clip(
        "hello there, what is the weather", 16000, lead_silence_ms=200, tail_silence_ms=300
    )
    frames = [clip.samples[i : i + 512] for i in range(0, len(clip.samples) - 512, 512)]
    single = SileroVad()
    batch = SileroBatch()
    one, two = batch.stream(), batch.stream()
    for frame in frames:
        expected = single.speech_probability(frame)
        got = batch.run([(one, frame), (two, frame)])
        assert abs(got[0] - expected) < 1e-5 and abs(got[1] - expected) < 1e-5


def test_reset_during_a_batch_wins() -> None:
    """A stream reset while its batch is being scored (on the VAD thread) stays reset."""
    clip = speech_clip("hello there", 16000, lead_silence_ms=100, tail_silence_ms=100)
    batch = SileroBatch()
    stream = batch.stream()
    frame = clip.samples[4096 : 4096 + 512]
    batch.run([(stream, frame)])
    assert stream.state.any()
    real_run = batch._session.run

    def run_with_reset(*args: object) -> object:
        stream.reset()  # what the loop thread may do meanwhile
        return real_run(*args)

    batch._session = type("S", (), {"run": staticmethod(run_with_reset)})()
    batch.run([(stream, frame)])
    assert not stream.state.any() and not stream.context.any()


def test_split_feed_equals_feed() -> None:
    clip = speech_clip(
        "what is the weather in paris", 24000, lead_silence_ms=400, tail_silence_ms=800
    )
    plain = ServerVadTurnDetector(vad=SileroVad())
    split = ServerVadTurnDetector(vad=SileroBatch().stream())
    a, b = [], []
    for i in range(0, len(clip.samples), 2400):
        chunk = clip.samples[i : i + 2400]
        a += plain.feed(chunk)
        frames = split.frames(chunk)
        b += split.advance([split.vad.speech_probability(f) for f in frames])
    assert [e.kind for e in a] == ["speech_started", "speech_stopped"]
    assert a == b


@pytest.mark.parametrize("count", [6, 30])
async def test_sessions_share_batches(engines: Engines, count: int) -> None:
    """Six sessions score inline; thirty make rounds large enough for the VAD thread, and
    every session must still see the same turn, its frames scored in order."""
    async with LocalRealtimeService(engines=engines) as svc:
        clip = speech_clip(
            "what is the weather in paris", 24000, lead_silence_ms=300, tail_silence_ms=800
        )
        pcm = float32_to_pcm16(clip.samples).tobytes()
        clients = [await ws_connect(svc) for _ in range(count)]
        for client in clients:
            await client.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "audio": {
                            "input": {
                                "turn_detection": {"type": "server_vad", "create_response": False}
                            }
                        },
                    },
                }
            )
            await client.until("session.updated")
        scheduler = VadScheduler.for_loop()
        before_batches, before_frames = scheduler.batches, scheduler.frames
        before_offloaded = scheduler.offloaded
        for offset in range(0, len(pcm), 9600):  # all sessions interleaved, 200 ms chunks
            chunk = base64.b64encode(pcm[offset : offset + 9600]).decode()
            for client in clients:
                await client.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        stops = await asyncio.gather(
            *(c.until("input_audio_buffer.speech_stopped") for c in clients)
        )
        ends = {s["audio_end_ms"] for s in stops}
        assert len(ends) == 1  # every session saw the same turn
        assert abs(ends.pop() - clip.speech_end_ms) < 100
        frames = scheduler.frames - before_frames
        batches = scheduler.batches - before_batches
        assert frames >= count * (len(clip.samples) // 768)  # every frame of every session scored
        assert batches < frames / 2  # ... several sessions per model call
        if count >= VadScheduler.OFFLOAD_CHUNKS:
            assert scheduler.offloaded > before_offloaded
        for client in clients:
            await client.ws.close()
