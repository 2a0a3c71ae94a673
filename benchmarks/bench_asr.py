"""Speech recognition benchmark (issue 14): Whisper tiny.en against pocketsphinx, through the
local service's WebSocket path, on an evaluation set generated here (no recordings committed).

The set: :data:`SENTENCES` (numbers, names and tool requests) spoken by :data:`VOICES` (three
eSpeak NG variants and Piper's joe voice when the ``voice`` extra is installed), 48 utterances,
with 300 ms of silence around each. For each recogniser a service runs with one recogniser
worker; one WebSocket session (manual commits, ``input_audio_transcription`` on) sends the
utterances one by one. Measured:

* **Word error rate**, the standard way: jiwer's word edits over reference words, both sides
  through Whisper's English normalizer (:func:`normalize`, :func:`wer`), overall and per voice.
* **Recognition CPU per second of audio**: the worker process's CPU time over the audio's
  duration (lower is better).
* **First-transcript latency**: ``input_audio_buffer.commit`` sent → first transcription event
  (``...delta``) received, median and p95.

The default decoding (beam search of 5, no timestamp tokens, a 15 s encoder window) is compared
with the same on the 30 s window and with the former default (greedy, with timestamps, 30 s) by
calling the model directly on the set.

The same set also goes through a WebRTC call (an aiortc peer playing each utterance in real time
on its 48 kHz Opus microphone track, push to talk) for the word error rate there. Sessions name
the language ("en"). With the ``asr-base`` extra installed, Whisper base (``--asr-model base``)
goes through both paths too. Not measured here: conversations whose answers keep up
(``bench_load``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.util
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rt_jupyter.local.engines.whisper import base_extra_installed

from .common import Result

GROUP = "recognition"
RATE = 24000

#: Sentences of the evaluation set, as a person would say them.
SENTENCES = (
    "what is the weather in Paris today",
    "set a timer for twenty five minutes",
    "call Alice Johnson on her mobile phone",
    "remind me to buy milk at seven thirty",
    "book a table for four people at eight",
    "how far is it from London to Berlin",
    "turn the living room lights down to forty percent",
    "send a message to Maria saying I will be late",
    "what is the capital of Japan",
    "play the latest album by Taylor Swift",
    "convert three hundred grams to ounces",
    "schedule a meeting with David on Friday afternoon",
)
#: (engine, voice) pairs: eSpeak NG variants of three OpenAI voice names, and Piper's joe.
VOICES = (("espeak", "alloy"), ("espeak", "ash"), ("espeak", "shimmer"), ("piper", "joe"))


def normalize(text: str) -> str:
    """Text for scoring, the standard way (Whisper paper, Open ASR leaderboard): Whisper's
    ``EnglishTextNormalizer`` (lower case, no punctuation, spelled-out numbers as numerals so
    "forty percent" and "40%" agree, British spellings as American), from the
    ``whisper-normalizer`` package (OpenAI's code, MIT)."""
    return str(_english_normalizer()(text))


@functools.cache
def _english_normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus word error rate: word edits (jiwer's alignment) over reference words, both sides
    through :func:`normalize`."""
    import jiwer

    return float(jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses]))


@dataclass
class Utterance:
    """One utterance of the evaluation set: text, voice and 24 kHz float32 samples."""

    text: str
    voice: str
    samples: npt.NDArray[np.float32]

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def evaluation_set() -> list[Utterance]:
    """The generated set: every sentence in every available voice (Piper's if installed)."""
    from tests.speech import piper_samples, speech_samples

    with_piper = importlib.util.find_spec("piper") is not None  # (the voice extra)
    pad = np.zeros(RATE * 3 // 10, dtype=np.float32)
    out: list[Utterance] = []
    for engine, voice in VOICES:
        for text in SENTENCES:
            if engine == "espeak":
                samples = speech_samples(
                    text, RATE, voice=voice, lead_silence_ms=300, tail_silence_ms=300
                )
            elif with_piper:
                samples = np.concatenate([pad, piper_samples(text, RATE), pad])
            else:
                continue
            out.append(Utterance(text, f"{engine}:{voice}", samples))
    return out


@dataclass
class EngineRun:
    """What one recogniser did with the set."""

    engine: str
    transcripts: list[str] = field(default_factory=list)
    first_event_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    audio_s: float = 0.0

    def wer(self, utterances: list[Utterance], voice: str | None = None) -> float:
        chosen = [i for i, u in enumerate(utterances) if voice is None or u.voice == voice]
        if not chosen:
            return float("nan")
        return wer([utterances[i].text for i in chosen], [self.transcripts[i] for i in chosen])

    def errors(self, utterances: list[Utterance]) -> list[str]:
        """Each utterance heard with a word error, as "reference -> transcript"."""
        return [
            f"{u.text!r} -> {t!r}"
            for u, t in zip(utterances, self.transcripts, strict=True)
            if wer([u.text], [t]) > 0
        ]


#: The session's transcription settings in every run: English named, as OpenAI advises for
#: speech whose language is known (English-only models and pocketsphinx ignore it; a
#: multilingual model would otherwise detect a language per utterance).
TRANSCRIPTION = {"model": "whisper-1", "language": "en"}


async def _run_engine(
    engine: str, utterances: list[Utterance], model: str | None = None
) -> EngineRun:
    import psutil  # type: ignore[import-untyped]  # (ipykernel's dependency)
    import websockets

    from rt_jupyter.audio import encode_audio
    from rt_jupyter.local.service import LocalRealtimeService

    run = EngineRun(engine)
    service = LocalRealtimeService(
        asr=engine, asr_model=model, asr_workers=1, voice_engine="espeak"
    )
    async with service:
        workers = [
            p
            for p in psutil.Process().children()
            if "rt_jupyter.local.asr_pool" in " ".join(p.cmdline())
        ]
        ws = await websockets.connect(
            f"{service.ws_base_url}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-bench-asr"},
            max_size=2**26,
        )
        try:
            session = {
                "type": "realtime",
                "audio": {"input": {"transcription": TRANSCRIPTION, "turn_detection": None}},
            }
            await ws.send(json.dumps({"type": "session.update", "session": session}))
            while json.loads(await ws.recv())["type"] != "session.updated":
                pass
            cpu0 = sum(sum(p.cpu_times()[:2]) for p in workers)
            for u in utterances:
                audio = base64.b64encode(encode_audio(u.samples, RATE, "pcm16")).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
                first: float | None = None
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    kind = event["type"]
                    if first is None and kind.startswith("conversation.item.input_audio_trans"):
                        first = (time.perf_counter() - t0) * 1000
                    if kind == "conversation.item.input_audio_transcription.completed":
                        run.transcripts.append(event["transcript"])
                        break
                    if kind == "conversation.item.input_audio_transcription.failed":
                        run.transcripts.append("")
                        break
                run.first_event_ms.append(first if first is not None else float("nan"))
                run.audio_s += u.seconds
            run.cpu_s = sum(sum(p.cpu_times()[:2]) for p in workers) - cpu0
        finally:
            await ws.close()
            service.state.engines.transcriber.close()
    return run


async def _run_engine_webrtc(
    engine: str, utterances: list[Utterance], model: str | None = None
) -> EngineRun:
    """The set through a WebRTC call (Opus at 48 kHz, played in real time, push to talk)."""
    from rt_jupyter.audio import resample
    from rt_jupyter.local.service import LocalRealtimeService
    from tests.local.test_webrtc import RATE as RTC_RATE
    from tests.local.test_webrtc import SK, client, mint_ek

    run = EngineRun(engine)
    service = LocalRealtimeService(
        asr=engine, asr_model=model, asr_workers=1, voice_engine="espeak", accept_keys=[SK]
    )
    async with service, client() as peer:
        await peer.connect(f"{service.base_url}/realtime/calls", await mint_ek(service))
        await peer.wait_for("session.created", timeout=30)
        session = {
            "type": "realtime",
            "audio": {"input": {"transcription": TRANSCRIPTION, "turn_detection": None}},
        }
        peer.send({"type": "session.update", "session": session})
        await peer.wait_for("session.updated", timeout=30)
        for u in utterances:
            after = len(peer.events)
            peer.send({"type": "input_audio_buffer.clear"})
            peer.mic.play(resample(u.samples, RATE, RTC_RATE), silence_before=0.2)
            await asyncio.wait_for(peer.mic.idle.wait(), u.seconds + 30)
            await asyncio.sleep(0.3)  # the last packets' way through the jitter buffer
            t0 = time.perf_counter()
            peer.send({"type": "input_audio_buffer.commit"})
            done = await peer.wait_for(
                "conversation.item.input_audio_transcription.completed", timeout=120, after=after
            )
            run.first_event_ms.append((time.perf_counter() - t0) * 1000)
            run.transcripts.append(str(done["transcript"]))
            run.audio_s += u.seconds
        service.state.engines.transcriber.close()
    return run


#: Whisper decoding settings compared on the set: the default, and the former default.
DECODINGS: dict[str, dict[str, Any]] = {
    "beam 5, no timestamps, 15 s window (default)": {},
    "beam 5, no timestamps, 30 s window": {"window_s": None},
    "greedy with timestamps, 30 s window (former default)": {
        "beam_size": 1,
        "without_timestamps": False,
        "window_s": None,
    },
}


def _decodings(utterances: list[Utterance]) -> dict[str, tuple[EngineRun, float]]:
    """Whisper (bundled tiny.en, 2 threads as one worker uses here) called directly on the set
    with each of :data:`DECODINGS`: (the run, CPU seconds of this process)."""
    from rt_jupyter.local.engines.whisper import WhisperTranscriber

    out: dict[str, tuple[EngineRun, float]] = {}
    for name, settings in DECODINGS.items():
        transcriber = WhisperTranscriber(cpu_threads=2, **settings)
        transcriber.transcribe(utterances[0].samples, RATE)  # warm up
        run = EngineRun(f"whisper, {name}")
        cpu0 = time.process_time()
        for u in utterances:
            run.transcripts.append(transcriber.transcribe(u.samples, RATE).text)
            run.audio_s += u.seconds
        out[name] = (run, time.process_time() - cpu0)
    return out


def _batches(utterances: list[Utterance], size: int = 4) -> tuple[float, float, int]:
    """Whisper's CPU seconds for the set one utterance at a time and in batches of ``size``
    (interleaved, best of two each), and how many utterances the two heard differently."""
    from rt_jupyter.local.engines.whisper import WhisperTranscriber

    transcriber = WhisperTranscriber(cpu_threads=2)
    clips = [u.samples for u in utterances]
    transcriber.transcribe_batch(clips[:size], RATE)  # warm up
    one_cpu, batch_cpu = [], []
    alone: list[Any] = []
    together: list[Any] = []
    for _ in range(2):
        cpu0 = time.process_time()
        alone = [transcriber.transcribe(c, RATE) for c in clips]
        one_cpu.append(time.process_time() - cpu0)
        cpu0 = time.process_time()
        together = []
        for i in range(0, len(clips), size):
            together += transcriber.transcribe_batch(clips[i : i + size], RATE)
        batch_cpu.append(time.process_time() - cpu0)
    differ = sum(a != b for a, b in zip(alone, together, strict=True))
    return min(one_cpu), min(batch_cpu), differ


def _base_rows(utterances: list[Utterance], tiny: EngineRun, tiny_rtc: EngineRun) -> list[Result]:
    """Whisper base (``--asr-model base``, the ``asr-base`` extra) on the same set and paths,
    against tiny.en's runs of this benchmark."""
    base = asyncio.run(_run_engine("whisper", utterances, model="base"))
    base_rtc = asyncio.run(_run_engine_webrtc("whisper", utterances, model="base"))
    voices = sorted({u.voice for u in utterances})
    n = len(utterances)

    def by_voice(run: EngineRun, other: EngineRun) -> str:
        return "; ".join(
            f"{v}: base {run.wer(utterances, v):.1%}, tiny.en {other.wer(utterances, v):.1%}"
            for v in voices
        )

    errors = base.errors(utterances)
    return [
        Result(
            GROUP,
            f"word error rate, Whisper base (asr-base extra), WebSocket path ({n} utterances)",
            base.wer(utterances) * 100,
            "%",
            baseline="Whisper tiny.en (the default), same run",
            baseline_value=tiny.wer(utterances) * 100,
            higher_is_better=False,
            target="whisper ≤ 5 %",
            met=base.wer(utterances) <= 0.05,
            notes=f"--asr-model base, read from the extra with no network; {by_voice(base, tiny)}"
            f"; CPU {base.cpu_s / base.audio_s:.3f} s per s of audio against tiny.en's "
            f"{tiny.cpu_s / tiny.audio_s:.3f}; commit → first transcription event p50 "
            f"{statistics.median(base.first_event_ms):.0f} ms (tiny.en "
            f"{statistics.median(tiny.first_event_ms):.0f} ms); base's errors: "
            + (" | ".join(errors[:6]) or "none"),
        ),
        Result(
            GROUP,
            f"word error rate, Whisper base (asr-base extra), WebRTC call with Opus ({n} "
            "utterances)",
            base_rtc.wer(utterances) * 100,
            "%",
            baseline="Whisper tiny.en (the default), same run",
            baseline_value=tiny_rtc.wer(utterances) * 100,
            higher_is_better=False,
            target="whisper ≤ 8 %",
            met=base_rtc.wer(utterances) <= 0.08,
            notes=f"the same call as above; {by_voice(base_rtc, tiny_rtc)}",
        ),
    ]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(quick: bool = False) -> list[Result]:
    """Whisper and pocketsphinx on the evaluation set, through the service's WebSocket path."""
    utterances = evaluation_set()
    if quick:
        utterances = utterances[::4]
    runs = {e: asyncio.run(_run_engine(e, utterances)) for e in ("pocketsphinx", "whisper")}
    rtc = {e: asyncio.run(_run_engine_webrtc(e, utterances)) for e in ("pocketsphinx", "whisper")}
    decodings = _decodings(utterances)
    one_cpu, batch_cpu, differ = _batches(utterances)
    base, ours = runs["pocketsphinx"], runs["whisper"]
    voices = sorted({u.voice for u in utterances})
    per_voice = "; ".join(
        f"{v}: whisper {ours.wer(utterances, v):.1%}, pocketsphinx {base.wer(utterances, v):.1%}"
        for v in voices
    )
    errors = ours.errors(utterances)
    n = len(utterances)
    audio_s = ours.audio_s
    rows = [
        Result(
            GROUP,
            f"word error rate, WebSocket path ({n} utterances, {len(voices)} voices)",
            ours.wer(utterances) * 100,
            "%",
            baseline="pocketsphinx",
            baseline_value=base.wer(utterances) * 100,
            higher_is_better=False,
            target="whisper ≤ 5 %",
            met=ours.wer(utterances) <= 0.05,
            notes=f"{per_voice}; {audio_s:.0f} s of audio; whisper's errors: "
            + (" | ".join(errors[:6]) or "none"),
        ),
        Result(
            GROUP,
            f"word error rate, WebRTC call with Opus ({n} utterances, {len(voices)} voices)",
            rtc["whisper"].wer(utterances) * 100,
            "%",
            baseline="pocketsphinx",
            baseline_value=rtc["pocketsphinx"].wer(utterances) * 100,
            higher_is_better=False,
            target="whisper ≤ 8 %",
            met=rtc["whisper"].wer(utterances) <= 0.08,
            notes="aiortc peer, 48 kHz Opus microphone track played in real time, manual "
            "commits; "
            + "; ".join(
                f"{v}: whisper {rtc['whisper'].wer(utterances, v):.1%}, "
                f"pocketsphinx {rtc['pocketsphinx'].wer(utterances, v):.1%}"
                for v in voices
            ),
        ),
        Result(
            GROUP,
            "recognition CPU per second of audio",
            ours.cpu_s / audio_s,
            "s/s",
            baseline="pocketsphinx",
            baseline_value=base.cpu_s / base.audio_s,
            higher_is_better=False,
            notes="the worker process's CPU time (user + system) over the audio's duration; "
            "one worker per recogniser",
        ),
        Result(
            GROUP,
            "commit → first transcription event, p50",
            statistics.median(ours.first_event_ms),
            "ms",
            baseline="pocketsphinx",
            baseline_value=statistics.median(base.first_event_ms),
            higher_is_better=False,
            notes=f"p95 whisper {_p95(ours.first_event_ms):.0f} ms, pocketsphinx "
            f"{_p95(base.first_event_ms):.0f} ms; one utterance at a time",
        ),
    ]
    rows.append(
        Result(
            GROUP,
            "Whisper CPU per second of audio, batches of 4",
            batch_cpu / audio_s,
            "s/s",
            baseline="one utterance at a time",
            baseline_value=one_cpu / audio_s,
            higher_is_better=False,
            notes=f"tiny.en called directly on the same {n} utterances, 2 threads, best of two "
            f"each; transcripts that differ between the two: {differ} of {n} (the recogniser "
            "pool batches utterances that wait together, up to 8)",
        )
    )
    if base_extra_installed():
        rows += _base_rows(utterances, ours, rtc["whisper"])
    (new, _), *_, (old, _) = decodings.values()
    rows.append(
        Result(
            GROUP,
            "word error rate, Whisper's default decoding against the former one",
            new.wer(utterances) * 100,
            "%",
            baseline="greedy with timestamps, 30 s window (the former default)",
            baseline_value=old.wer(utterances) * 100,
            higher_is_better=False,
            notes=f"tiny.en called directly on the same {n} utterances, 2 threads; "
            + "; ".join(
                f"{name}: {run.wer(utterances):.1%}, CPU {cpu / run.audio_s:.3f} s per s of "
                f"audio (" + ", ".join(f"{v} {run.wer(utterances, v):.1%}" for v in voices) + ")"
                for name, (run, cpu) in decodings.items()
            ),
        )
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
