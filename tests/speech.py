"""Spoken test input synthesized with eSpeak NG, so tests need no committed recordings.

Audio is synthesized at 22,050 Hz by :class:`EspeakVoice`, resampled with soxr and padded
with digital silence. :func:`speech_clip` also returns the sample range where the
synthesized speech is non-zero (the ground truth for VAD/turn-detection timing); samples
below :data:`SPEECH_LEVEL` count as zero, since eSpeak's breathy variants leave a faint
(< -60 dBFS) noise tail in their end-of-sentence pause.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from rt_jupyter.local.engines import EspeakVoice

__all__ = [
    "QUESTION",
    "SPEECH_LEVEL",
    "SpeechClip",
    "speech_clip",
    "speech_samples",
    "synthesize_wav",
    "word_accuracy",
    "write_wav16",
]

#: The spoken question most tests use (the local responder calls a weather tool for it).
QUESTION = "what is the weather in paris"
_VOICE: EspeakVoice | None = None
#: Samples quieter than this (-60 dBFS, ~33 LSB of 16-bit PCM) are not speech.
SPEECH_LEVEL = 1e-3


def _voice() -> EspeakVoice:
    global _VOICE
    if _VOICE is None:
        _VOICE = EspeakVoice()
    return _VOICE


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
    engine = _voice()
    native = engine.synthesize_all(text, voice=voice, speed=speed)
    nonzero = np.flatnonzero(np.abs(native) >= SPEECH_LEVEL)
    if nonzero.size == 0:
        raise ValueError(f"no speech synthesized for {text!r}")
    rate = engine.sample_rate
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
