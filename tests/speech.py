"""Spoken test input synthesized with eSpeak NG, so tests need no committed recordings.

Audio is synthesized at 22,050 Hz by :class:`EspeakVoice`, resampled with soxr and padded
with digital silence. :func:`speech_clip` also returns the sample range where the
synthesized speech is non-zero (the ground truth for VAD/turn-detection timing); samples
below :data:`SPEECH_LEVEL` count as zero, since eSpeak's breathy variants leave a faint
(< -60 dBFS) noise tail in their end-of-sentence pause.

The same text always gives the same samples, whatever was synthesized before. eSpeak NG does
not: its wave generator keeps state from one utterance to the next (pitch flutter, the phase of
the glottal cycle), so an utterance depends on everything the process said before, and a test's
clip on which tests ran first (Whisper heard one clip as "watching the weather in Paris" after
other tests, "what is the weather in Paris" alone). So clips are made by a helper process
(``python -m tests.speech``) that loads eSpeak once and forks a child per clip: every child
starts from the same state, with eSpeak's own random numbers seeded (its breathy variants, such
as alloy's, draw noise from a generator it seeds from the clock: without the seed a clip
differed from one process to the next). :func:`piper_samples` does the same for Piper, whose
voice draws random noise, with a seeded ONNX Runtime session per clip.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import soxr

from rt_jupyter.local.engines import EspeakVoice

__all__ = [
    "QUESTION",
    "SPEECH_LEVEL",
    "SpeechClip",
    "piper_samples",
    "speech_clip",
    "speech_samples",
    "synthesize_wav",
    "word_accuracy",
    "write_wav16",
]

#: The spoken question most tests use (the local responder calls a weather tool for it).
QUESTION = "what is the weather in paris"
#: Samples quieter than this (-60 dBFS, ~33 LSB of 16-bit PCM) are not speech.
SPEECH_LEVEL = 1e-3
#: eSpeak NG's seed in the helper (its breath noise is otherwise seeded from the clock).
ESPEAK_SEED = 20261207
#: ONNX Runtime's seed for :func:`piper_samples`.
PIPER_SEED = 20261207
_ROOT = Path(__file__).resolve().parents[1]


class _Synthesizer:
    """The client of the forking eSpeak helper process (started on first use, shared by the
    threads of this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.sample_rate = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_ROOT), *sys.path])}
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.speech"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=_ROOT,
                env=env,
            )
            assert self._proc.stdout is not None
            ready = json.loads(self._proc.stdout.readline() or b"{}")
            if "rate" not in ready:
                raise RuntimeError(f"the eSpeak helper did not start: {ready}")
            self.sample_rate = int(ready["rate"])
        return self._proc

    def synthesize(self, text: str, voice: str, speed: float) -> npt.NDArray[np.float32]:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            request = {"text": text, "voice": voice, "speed": speed}
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            head = json.loads(proc.stdout.readline() or b'{"error": "the helper exited"}')
            if "error" in head:
                raise RuntimeError(f"eSpeak could not say {text!r}: {head['error']}")
            return np.frombuffer(proc.stdout.read(int(head["bytes"])), dtype=np.float32)


_SYNTH = _Synthesizer()


@functools.lru_cache(maxsize=256)
def _espeak(text: str, voice: str, speed: float) -> npt.NDArray[np.float32]:
    samples = _SYNTH.synthesize(text, voice, speed)
    samples.setflags(write=False)
    return samples


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The helper: eSpeak loaded (and never used) here, each clip synthesized in a fork."""
    from rt_jupyter.local.engines.tts import _engine

    voice = EspeakVoice()
    _engine()  # load the library and its data before forking; say nothing here
    stdout.write(json.dumps({"rate": voice.sample_rate}).encode() + b"\n")
    stdout.flush()
    for line in stdin:
        request = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one clip, then exit
            os.close(read)
            _engine().seed(ESPEAK_SEED)
            try:
                audio = voice.synthesize_all(
                    request["text"], voice=request["voice"], speed=request["speed"]
                )
                payload = np.ascontiguousarray(audio, dtype=np.float32).tobytes()
                head: dict[str, object] = {"bytes": len(payload)}
            except Exception as exc:
                payload, head = b"", {"error": f"{type(exc).__name__}: {exc}"}
            with os.fdopen(write, "wb") as out:
                out.write(json.dumps(head).encode() + b"\n" + payload)
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as got:
            reply = got.read()
        _, status = os.waitpid(pid, 0)
        if not reply:
            reply = json.dumps({"error": f"the synthesis process ended ({status})"}).encode()
            reply += b"\n"
        stdout.write(reply)
        stdout.flush()


def piper_samples(text: str, sample_rate: int | None = None) -> npt.NDArray[np.float32]:
    """``text`` in Piper's bundled voice at ``sample_rate`` (its own if None), the same every
    time: a fresh ONNX Runtime session made after seeding its random generator (~0.4 s)."""
    import onnxruntime

    from rt_jupyter.local.engines import PiperSpeech

    onnxruntime.set_seed(PIPER_SEED)
    return PiperSpeech(sample_rate=sample_rate).synthesize_all(text)


@dataclass(frozen=True)
class SpeechClip:
    """Synthesized speech with its ground-truth speech span (sample indices, end exclusive)."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    speech_start: int
    speech_end: int

    @property
    def speech_start_ms(self) -> float:
        return self.speech_start * 1000 / self.sample_rate

    @property
    def speech_end_ms(self) -> float:
        return self.speech_end * 1000 / self.sample_rate

    @property
    def duration_ms(self) -> float:
        return float(self.samples.shape[0] * 1000 / self.sample_rate)


def speech_clip(
    text: str,
    sample_rate: int = 24000,
    *,
    voice: str = "alloy",
    speed: float = 1.0,
    lead_silence_ms: int = 0,
    tail_silence_ms: int = 0,
) -> SpeechClip:
    """Synthesize ``text`` at ``sample_rate`` with silence around it."""
    native = _espeak(text, voice, float(speed))
    nonzero = np.flatnonzero(np.abs(native) >= SPEECH_LEVEL)
    if nonzero.size == 0:
        raise ValueError(f"no speech synthesized for {text!r}")
    rate = _SYNTH.sample_rate
    audio = native
    if sample_rate != rate:
        audio = np.asarray(soxr.resample(native, rate, sample_rate), dtype=np.float32)
    lead = lead_silence_ms * sample_rate // 1000
    tail = tail_silence_ms * sample_rate // 1000
    samples = np.concatenate(
        [np.zeros(lead, np.float32), audio.astype(np.float32), np.zeros(tail, np.float32)]
    )
    start = lead + round(int(nonzero[0]) * sample_rate / rate)
    end = lead + round((int(nonzero[-1]) + 1) * sample_rate / rate)
    return SpeechClip(samples, sample_rate, start, end)


def speech_samples(
    text: str,
    sample_rate: int = 24000,
    *,
    voice: str = "alloy",
    speed: float = 1.0,
    lead_silence_ms: int = 0,
    tail_silence_ms: int = 0,
) -> npt.NDArray[np.float32]:
    """Float32 mono samples of ``text`` spoken at ``sample_rate``."""
    return speech_clip(
        text,
        sample_rate,
        voice=voice,
        speed=speed,
        lead_silence_ms=lead_silence_ms,
        tail_silence_ms=tail_silence_ms,
    ).samples


def write_wav16(path: str | Path, samples: npt.NDArray[np.float32], sample_rate: int) -> Path:
    """Write float32 mono samples as a 16-bit mono WAV file."""
    out = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return out


def synthesize_wav(
    text: str,
    path: str | Path,
    sample_rate: int = 24000,
    *,
    voice: str = "alloy",
    speed: float = 1.0,
    lead_silence_ms: int = 500,
    tail_silence_ms: int = 1000,
) -> Path:
    """Speak ``text`` into a 16-bit mono WAV file at ``path``; returns the path."""
    samples = speech_samples(
        text,
        sample_rate,
        voice=voice,
        speed=speed,
        lead_silence_ms=lead_silence_ms,
        tail_silence_ms=tail_silence_ms,
    )
    return write_wav16(path, samples, sample_rate)


def word_accuracy(reference: str, hypothesis: str) -> float:
    """1 - word error rate (jiwer's, over lower-case letter words), clamped at 0."""
    import jiwer

    ref = " ".join(re.findall(r"[a-z']+", reference.lower()))
    hyp = " ".join(re.findall(r"[a-z']+", hypothesis.lower()))
    return max(0.0, 1.0 - float(jiwer.wer(ref, hyp)))


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
