"""Voices of the local service: Piper (the ``voice`` extra) with eSpeak NG for the rest.

Checked by ear's stand-in: the Whisper recogniser must understand what the voice said.
"""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from rt_jupyter.audio import decode_audio
from rt_jupyter.local.engines import EspeakVoice, MixedVoice, PiperSpeech, WhisperTranscriber
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines, load_voice
from tests.local.conftest import ws_connect
from tests.speech import piper_samples, word_accuracy

pytestmark = pytest.mark.timeout(300)

SENTENCE = "Hello there, the weather in Paris is sunny."


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(cpu_threads=1)


@pytest.fixture(scope="module")
def mixed() -> MixedVoice:
    return MixedVoice()


def test_piper_speaks_intelligibly(whisper: WhisperTranscriber) -> None:
    voice = PiperSpeech()
    assert voice.sample_rate == voice.native_rate == 22050
    audio = piper_samples(SENTENCE)  # the same, seeded: Piper draws random noise
    assert audio.dtype == np.float32 and np.abs(audio).max() <= 1.0
    assert len(audio) > voice.sample_rate  # more than a second of speech
    heard = whisper.transcribe(audio, voice.sample_rate).text
    assert word_accuracy(SENTENCE, heard) >= 0.8, heard


def test_piper_speed_and_rate() -> None:
    """``speed`` shortens the speech; ``sample_rate`` resamples it (same duration)."""
    native = PiperSpeech()
    at_24k = PiperSpeech(sample_rate=24000)
    slow, normal, fast = (
        len(native.synthesize_all(SENTENCE, speed=s)) / native.sample_rate for s in (0.5, 1, 1.5)
    )
    assert slow > normal * 1.5 and fast < normal * 0.8, (slow, normal, fast)
    resampled = len(at_24k.synthesize_all(SENTENCE)) / 24000
    assert abs(resampled - normal) < 0.15 * normal, (resampled, normal)
    with pytest.raises(ValueError, match="finite"):
        native.synthesize_all(SENTENCE, speed=float("nan"))
    with pytest.raises(FileNotFoundError, match="needs"):
        PiperSpeech(Path("/nonexistent/voice.onnx"))


def test_mixed_voice_sends_other_names_to_espeak(mixed: MixedVoice) -> None:
    espeak = EspeakVoice()
    assert mixed.sample_rate == espeak.sample_rate
    assert "alloy" in mixed.voices() and "marin" in mixed.voices()
    # an eSpeak-only name: eSpeak's audio (its length; eSpeak never peaks at full scale)
    raw = mixed.synthesize_all("Hello there.", voice="en-gb+m3")
    reference = espeak.synthesize_all("Hello there.", voice="en-gb+m3")
    assert abs(len(raw) - len(reference)) < 0.02 * len(reference)
    assert np.abs(raw).max() < 0.99
    # an OpenAI name: Piper's (it normalises each sentence to full scale)
    piper = mixed.synthesize_all("Hello there.", voice="alloy")
    assert np.abs(piper).max() == pytest.approx(1.0)


def test_load_voice_choices_and_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(load_voice("espeak"), EspeakVoice)
    with pytest.raises(ValueError, match="unknown voice engine"):
        load_voice("festival")
    # without the voice extra: "auto" says how to get Piper and speaks with eSpeak NG
    (tmp_path / "piper").mkdir()
    (tmp_path / "piper" / "__init__.py").write_text("raise ImportError('No module named piper')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "piper" or m.startswith("piper.")]:
        monkeypatch.delitem(sys.modules, name)
    with caplog.at_level(logging.WARNING, logger="rt_jupyter.local"):
        assert isinstance(load_voice("auto"), EspeakVoice)
    assert "pip install 'rt_jupyter[voice]'" in caplog.text
    with pytest.raises(ImportError, match="piper-tts is not installed"):
        load_voice("piper")


@pytest.fixture(scope="module")
def piper_engines() -> Iterator[Engines]:
    engines = Engines.default(voice_engine="piper", asr_workers=1)
    yield engines
    engines.close()


@pytest_asyncio.fixture
async def piper_service(piper_engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=piper_engines) as svc:
        yield svc


@pytest.mark.parametrize(("fmt", "rate"), [("pcm16", 24000), ("g711_ulaw", 8000)])
async def test_service_speaks_with_piper_in_the_session_format(
    piper_service: LocalRealtimeService, whisper: WhisperTranscriber, fmt: str, rate: int
) -> None:
    """``voice_engine="piper"``: the answer's audio is Piper's, in the session's output format
    (resampled from 22,050 Hz), and says what the transcript says."""
    assert "MixedVoice" in piper_service.engines_summary
    client = await ws_connect(piper_service, beta=True)
    try:
        await client.send({"type": "session.update", "session": {"output_audio_format": fmt}})
        await client.until("session.updated")
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "the weather in Paris is sunny"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        await client.until("response.done", timeout=120)
    finally:
        await client.ws.close()
    raw = b"".join(
        base64.b64decode(e["delta"]) for e in client.events if e["type"] == "response.audio.delta"
    )
    transcript = "".join(
        e["delta"] for e in client.events if e["type"] == "response.audio_transcript.delta"
    )
    samples = decode_audio(raw, fmt)
    assert len(samples) > rate  # over a second of speech at the session's rate
    heard = whisper.transcribe(samples, rate).text
    assert word_accuracy(transcript, heard) >= 0.7, (transcript, heard)
