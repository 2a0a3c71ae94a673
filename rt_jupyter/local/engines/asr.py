"""Speech recognition: the :class:`Transcriber` interface and a PocketSphinx implementation.

:class:`PocketSphinxTranscriber` uses PocketSphinx 5 with the US English acoustic model,
language model and CMU dictionary bundled in the ``pocketsphinx`` wheel. Accuracy on open
vocabulary is modest (roughly half to nine tenths of the words of clear synthesized
sentences, depending on the voice; worse on noisy or accented speech). With a phrase list
the decoder only considers those phrases (a JSGF grammar) and is exact on them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pocketsphinx
import soxr

__all__ = [
    "ASR_RATE",
    "PocketSphinxStream",
    "PocketSphinxTranscriber",
    "Segment",
    "StreamingTranscriber",
    "Transcriber",
    "Transcript",
    "TranscriptStream",
    "asr_input",
]

#: The sample rate recognisers work at.
ASR_RATE = 16000
#: Hypothesis words that are not words: sentence markers, silence, fillers ([NOISE], ...).
_NON_WORD = re.compile(r"^(<.*>|\[.*\])$")
_VARIANT = re.compile(r"\(\d+\)$")
_TOKEN = re.compile(r"[a-z0-9']+")
#: With a phrase list, utterances whose grammar search ends mid-phrase are re-scored by
#: forcing an alignment to each phrase (~0.013 x real time per phrase) up to this many.
_MAX_RESCORED_PHRASES = 32
_DECODER_OPTIONS: dict[str, str | int | float | bool] = {
    "samprate": ASR_RATE,
    "loglevel": "FATAL",
    "fwdflat": False,
    "maxhmmpf": 10000,
}


@dataclass(frozen=True, slots=True)
class Segment:
    """A recognized word (or phrase) with its time span in ms from the audio start."""

    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Transcript:
    """A transcription: full text, word segments and the audio duration in ms."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    duration_ms: int = 0


@runtime_checkable
class TranscriptStream(Protocol):
    """An utterance being transcribed incrementally."""

    def feed(self, samples: npt.NDArray[np.float32], sample_rate: int) -> str | None:
        """Add audio; return newly recognized text to append (a delta), if any."""
        ...

    def finish(self) -> Transcript:
        """End the utterance and return the final transcript (authoritative)."""
        ...


@runtime_checkable
class Transcriber(Protocol):
    """Turns a mono float32 utterance into text."""

    def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        """Transcribe a whole utterance."""
        ...


@runtime_checkable
class StreamingTranscriber(Transcriber, Protocol):
    """A :class:`Transcriber` that can also produce partial results while audio arrives."""

    def start_stream(
        self, *, language: str | None = None, prompt: str | None = None
    ) -> TranscriptStream:
        """Start an utterance; feed it audio and finish it."""
        ...


class _DecoderPool:
    """Idle PocketSphinx decoders of one configuration (decoders are not thread-safe)."""

    def __init__(self, factory: Callable[[], Any], max_idle: int) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self.max_idle = max_idle
        self.built = 0

    def acquire(self) -> Any:
        """A decoder whose feature state (cepstral mean normalization, which PocketSphinx
        carries from one utterance to the next) is reset: what one session's utterance is heard
        as never depends on what the decoder heard before, from this session or another."""
        decoder = None
        with self._lock:
            if self._idle:
                decoder = self._idle.pop()
        if decoder is None:
            decoder = self._factory()  # slow (~0.1-0.3 s): outside the lock
            with self._lock:
                self.built += 1
        decoder.reinit_feat()  # ~0.1 ms
        return decoder

    def release(self, decoder: Any) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(decoder)

    def warm(self, count: int) -> None:
        with self._lock:
            missing = count - len(self._idle)
        made = [self._factory() for _ in range(max(0, missing))]
        with self._lock:
            self.built += len(made)
        for decoder in made:
            self.release(decoder)

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)


_POOLS: dict[tuple[str | None, ...], _DecoderPool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(key: tuple[str | None, ...], factory: Callable[[], Any], max_idle: int) -> _DecoderPool:
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = _DecoderPool(factory, max_idle)
        else:
            pool.max_idle = max(pool.max_idle, max_idle)
        return pool


def _normalize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def _clean_word(word: str) -> str | None:
    if _NON_WORD.match(word):
        return None
    return _VARIANT.sub("", word)


class PocketSphinxTranscriber:
    """Offline English ASR with PocketSphinx (batch and streaming partials).

    Args:
        phrases: optional phrase list; when given, recognition is restricted to exactly
            one of these phrases per utterance (a JSGF grammar; when the search ends
            mid-phrase, the phrase with the best forced alignment is chosen) and the
            original phrase text is returned. Every word must be in the CMU dictionary
            (``ValueError`` otherwise; spell numbers out).
        max_idle_decoders: decoders kept ready per configuration; building one costs
            ~0.3 s and ~95 MB with the language model (~0.1 s with a phrase list), so they
            are pooled process-wide and shared by all transcribers with the same setup.
        noise_floor: RMS of deterministic white noise added before decoding (0 disables).
            PocketSphinx's features degrade badly on digital silence (TTS output, browser
            noise suppression); a -54 dBFS floor restores accuracy and is inaudible on
            real microphone input.
        partial_interval_ms: how often a stream recomputes its partial hypothesis.
        decoder_options: PocketSphinx configuration overrides (see its ``Config``). The
            defaults disable the second "flat lexicon" pass and cap active HMMs per frame
            (``fwdflat=False, maxhmmpf=10000``): measured 0.16 x real time instead of 0.26
            with no loss of accuracy on synthesized sentences.

    ``language`` and ``prompt`` are accepted for interface compatibility; the bundled
    model is US English and cannot use a prompt. Thread-safe (each call uses its own
    decoder from the pool), but PocketSphinx holds the GIL while decoding (~0.18 s per
    second of audio), so run it in a worker process to keep an event loop responsive.
    """

    def __init__(
        self,
        phrases: Sequence[str] | None = None,
        *,
        max_idle_decoders: int = 2,
        noise_floor: float = 0.002,
        partial_interval_ms: int = 300,
        decoder_options: Mapping[str, str | int | float | bool] | None = None,
    ) -> None:
        self._phrases: dict[tuple[str, ...], str] | None = None
        self.noise_floor = float(noise_floor)
        self.partial_interval_ms = int(partial_interval_ms)
        grammar: str | None = None
        if phrases is not None:
            self._phrases = {}
            for phrase in phrases:
                words = tuple(_normalize(phrase))
                if words:
                    self._phrases.setdefault(words, phrase.strip())
            if not self._phrases:
                raise ValueError("phrases must contain at least one phrase with words")
            alternatives = " | ".join(f"( {' '.join(words)} )" for words in self._phrases)
            grammar = f"#JSGF V1.0;\ngrammar phrases;\npublic <phrase> = {alternatives};\n"
        options = {**_DECODER_OPTIONS, **(decoder_options or {})}
        key = ("jsgf" if grammar else "lm", grammar, repr(sorted(options.items())))
        self._pool = _pool(key, self._factory(grammar, options), max_idle_decoders)
        if grammar is not None:
            decoder = self._pool.acquire()  # validates the words (and warms the pool)
            self._pool.release(decoder)

    @staticmethod
    def _factory(
        grammar: str | None, options: Mapping[str, str | int | float | bool]
    ) -> Callable[[], Any]:
        def make() -> Any:
            if grammar is None:
                return pocketsphinx.Decoder(**options)
            decoder = pocketsphinx.Decoder(lm=None, **options)
            words = set(_TOKEN.findall(grammar.split("=", 1)[1]))
            unknown = sorted(w for w in words if decoder.lookup_word(w) is None)
            if unknown:
                raise ValueError(f"words not in the pronunciation dictionary: {unknown}")
            decoder.add_jsgf_string("phrases", grammar)
            decoder.activate_search("phrases")
            return decoder

        return make

    def warm(self, count: int = 1) -> None:
        """Build decoders now so that the next ``count`` concurrent uses do not wait."""
        self._pool.warm(count)

    @property
    def idle_decoders(self) -> int:
        """Decoders ready in this configuration's pool."""
        return self._pool.idle

    @property
    def decoders_built(self) -> int:
        """Decoders built so far for this configuration (process-wide)."""
        return self._pool.built

    # -- batch -----------------------------------------------------------------------------

    def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        """Transcribe a whole utterance (float32 mono at any ``sample_rate``)."""
        x, duration_ms = asr_input(samples, sample_rate)
        if x.shape[0] == 0:
            return Transcript("", [], 0)
        data = self._pcm16(x, np.random.default_rng(0)).tobytes()
        decoder = self._pool.acquire()
        # On an exception the decoder may be mid-utterance: it is dropped, not pooled.
        decoder.start_utt()
        decoder.process_raw(data, False, True)
        decoder.end_utt()
        result = self._result(decoder, duration_ms, data)
        self._pool.release(decoder)
        return result

    # -- streaming -------------------------------------------------------------------------

    def start_stream(
        self, *, language: str | None = None, prompt: str | None = None
    ) -> PocketSphinxStream:
        """Start an utterance; the stream holds a decoder until ``finish()``/``close()``."""
        return PocketSphinxStream(self)

    # -- helpers ---------------------------------------------------------------------------

    def _pcm16(self, x: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.int16]:
        if self.noise_floor > 0:
            x = x + rng.standard_normal(x.shape[0], dtype=np.float32) * np.float32(self.noise_floor)
        return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)

    def _result(self, decoder: Any, duration_ms: int, pcm: bytes | None) -> Transcript:
        result = self._segments(decoder, duration_ms)
        phrases = self._phrases
        if (
            phrases is not None
            and pcm is not None
            and result.segments
            and tuple(s.text for s in result.segments) not in phrases
            and len(phrases) <= _MAX_RESCORED_PHRASES
        ):
            result = self._rescore(decoder, duration_ms, pcm, phrases) or result
        return result

    def _rescore(
        self, decoder: Any, duration_ms: int, pcm: bytes, phrases: Iterable[tuple[str, ...]]
    ) -> Transcript | None:
        """The grammar search ended inside a phrase: pick the best forced alignment."""
        best: tuple[float, str] | None = None
        try:
            for words in phrases:
                text = " ".join(words)
                decoder.set_align_text(text)
                decoder.start_utt()
                decoder.process_raw(pcm, False, True)
                decoder.end_utt()
                hyp = decoder.hyp()
                if hyp is not None and (best is None or hyp.best_score > best[0]):
                    best = (hyp.best_score, text)
            if best is None:
                return None
            decoder.set_align_text(best[1])
            decoder.start_utt()
            decoder.process_raw(pcm, False, True)
            decoder.end_utt()
            return self._segments(decoder, duration_ms)
        finally:
            decoder.activate_search("phrases")

    def _segments(self, decoder: Any, duration_ms: int) -> Transcript:
        frate = int(decoder.config["frate"])
        segments: list[Segment] = []
        for seg in decoder.seg() or ():
            word = _clean_word(seg.word)
            if word is None:
                continue
            start = seg.start_frame * 1000 // frate
            end = min((seg.end_frame + 1) * 1000 // frate, duration_ms)
            segments.append(Segment(word, start, max(start, end)))
        words = tuple(s.text for s in segments)
        text = " ".join(words)
        if self._phrases is not None and words:
            text = self._phrases.get(words, text)
        return Transcript(text, segments, duration_ms)


class PocketSphinxStream:
    """Incremental decoding of one utterance; deltas are words that look stable.

    Partial hypotheses get revised, so a word is emitted only once two consecutive
    partials (``partial_interval_ms`` apart) agree on it and it is not the last word
    ("local agreement"), and only while it extends what was already emitted. The text of
    :meth:`finish` is authoritative and may still differ from the concatenated deltas.
    """

    def __init__(self, owner: PocketSphinxTranscriber) -> None:
        """Use :meth:`PocketSphinxTranscriber.start_stream`."""
        self._owner = owner
        self._decoder: Any = owner._pool.acquire()
        self._decoder.start_utt()
        self._rng = np.random.default_rng(0)
        self._rate: int | None = None
        self._resampler: Any = None
        self._samples = 0  # input samples at self._rate
        self._since_partial = 0  # 16 kHz samples since the last hypothesis
        self._emitted: list[str] = []
        self._previous: list[str] = []  # the previous partial hypothesis
        # with a phrase list, keep the audio for the re-scoring fallback
        self._pcm: list[bytes] | None = [] if owner._phrases is not None else None
        self._result: Transcript | None = None

    def feed(self, samples: npt.NDArray[np.float32], sample_rate: int) -> str | None:
        """Add audio (same ``sample_rate`` for the whole stream); return new text or None."""
        if self._result is not None:
            raise RuntimeError("stream already finished")
        x = _mono_float32(samples)
        if self._rate is None:
            self._rate = _check_rate(sample_rate)
            if self._rate != ASR_RATE:
                self._resampler = soxr.ResampleStream(
                    self._rate, ASR_RATE, 1, dtype="float32", quality="HQ"
                )
        elif sample_rate != self._rate:
            raise ValueError(f"sample rate changed from {self._rate} to {sample_rate}")
        self._samples += x.shape[0]
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        self._process(x)
        if self._since_partial * 1000 < self._owner.partial_interval_ms * ASR_RATE:
            return None
        self._since_partial = 0
        hyp = self._decoder.hyp()
        if hyp is None:
            return None
        words = [w for w in (_clean_word(t) for t in hyp.hypstr.split()) if w]
        stable: list[str] = []
        for current, previous in zip(words[:-1], self._previous, strict=False):
            if current != previous:
                break
            stable.append(current)
        self._previous = words
        emitted = self._emitted
        if len(stable) <= len(emitted) or stable[: len(emitted)] != emitted:
            return None
        new = stable[len(emitted) :]
        emitted.extend(new)
        return (" " if len(emitted) > len(new) else "") + " ".join(new)

    def _process(self, x: npt.NDArray[np.float32]) -> None:
        if x.shape[0]:
            pcm = self._owner._pcm16(x, self._rng).tobytes()
            self._decoder.process_raw(pcm, False, False)
            if self._pcm is not None:
                self._pcm.append(pcm)
            self._since_partial += x.shape[0]

    def finish(self) -> Transcript:
        """End the utterance, release the decoder and return the final transcript."""
        if self._result is not None:
            return self._result
        if self._decoder is None:
            raise RuntimeError("stream failed")
        if self._resampler is not None:
            self._process(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        duration_ms = self._samples * 1000 // self._rate if self._rate else 0
        decoder, self._decoder = self._decoder, None
        decoder.end_utt()
        pcm = b"".join(self._pcm) if self._pcm is not None else None
        self._result = self._owner._result(decoder, duration_ms, pcm)
        self._owner._pool.release(decoder)  # not on an exception: it may be mid-utterance
        return self._result

    def close(self) -> None:
        """Abandon the utterance (if not finished) and release the decoder."""
        if self._result is None and self._decoder is not None:
            self.finish()

    @property
    def emitted_text(self) -> str:
        """The concatenation of the deltas returned so far."""
        return " ".join(self._emitted)


def asr_input(
    samples: npt.NDArray[np.float32], sample_rate: int
) -> tuple[npt.NDArray[np.float32], int]:
    """A whole utterance (mono float32 at any rate) as 16 kHz float32, with its duration in ms."""
    x = _mono_float32(samples)
    sample_rate = _check_rate(sample_rate)
    duration_ms = x.shape[0] * 1000 // sample_rate
    if x.shape[0] and sample_rate != ASR_RATE:
        x = np.asarray(soxr.resample(x, sample_rate, ASR_RATE), dtype=np.float32)
    return x, duration_ms


def _check_rate(sample_rate: int) -> int:
    rate = int(sample_rate)
    if rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return rate


def _mono_float32(samples: Iterable[float] | npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono (1-D) samples, got shape {x.shape}")
    return x
