"""Speech synthesis: the :class:`Voice` interface and an eSpeak NG implementation.

:class:`EspeakVoice` drives the ``libespeak-ng`` shipped in the ``espeakng-loader`` wheel
through ``ctypes`` (synchronous mode, 22,050 Hz int16). eSpeak NG is a formant
synthesizer: robotic but intelligible, and very fast (a sentence in a few ms).
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import espeakng_loader
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_VOICE",
    "ESPEAK_VOICES",
    "EspeakVoice",
    "Voice",
    "clamp_speed",
    "split_sentences",
]


@runtime_checkable
class Voice(Protocol):
    """Text to float32 mono speech at ``sample_rate``."""

    @property
    def sample_rate(self) -> int:
        """Sample rate (Hz) of the produced audio."""
        ...

    def synthesize(
        self, text: str, *, voice: str = "alloy", speed: float = 1.0
    ) -> Iterator[npt.NDArray[np.float32]]:
        """Yield float32 chunks as they are produced (streaming)."""
        ...

    def synthesize_all(
        self, text: str, *, voice: str = "alloy", speed: float = 1.0
    ) -> npt.NDArray[np.float32]:
        """Return the whole utterance as one float32 array."""
        ...


#: OpenAI voice name -> (eSpeak NG voice+variant, pitch 0..100 with 50 the variant's own).
#: All US English (the variants recognized best by the bundled PocketSphinx model).
ESPEAK_VOICES: dict[str, tuple[str, int]] = {
    "alloy": ("en-us+f2", 50),
    "ash": ("en-us+m5", 50),
    "ballad": ("en-us+edward", 40),
    "coral": ("en-us+f5", 50),
    "echo": ("en-us+klatt4", 50),
    "sage": ("en-us+f1", 50),
    "shimmer": ("en-us+steph", 55),
    "verse": ("en-us+adam", 60),
    "marin": ("en-us+klatt", 80),
    "cedar": ("en-us+m6", 35),
}
DEFAULT_VOICE = "alloy"

#: eSpeak's defaults: 175 words per minute, accepted range 80..450.
_BASE_WPM = 175
_MIN_WPM, _MAX_WPM = 80, 450
_MIN_SPEED, _MAX_SPEED = 0.25, 1.5

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_RATE, _PITCH = 1, 3
_EE_OK = 0

#: Sentence ends: . ! ? ; : or a newline, followed by whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\s*\n\s*")
_CLAUSE_END = re.compile(r"(?<=[,])\s+")
_MAX_PIECE_CHARS = 200

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Espeak:
    """The process-wide eSpeak NG library (global state: every call under ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({rate}) with data at {data!r}")
        self.sample_rate = int(rate)
        self._lib = lib
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: called from C
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _on_audio(self, wav: Any, count: int, events: Any) -> int:
        if count > 0 and wav:
            # string_at, not np.ctypeslib.as_array: its ctypes.cast makes each callback's
            # pointer a reference cycle, garbage for the cyclic GC
            self._chunks.append(np.frombuffer(ctypes.string_at(wav, 2 * count), dtype=np.int16))
        return 0  # continue

    def set_voice(self, name: str) -> bool:
        """Select a voice by eSpeak name (caller holds the lock); False if unknown."""
        if name == self._voice:
            return True
        if self._lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            return False
        self._voice = name
        return True

    def seed(self, value: int) -> None:
        """Seed eSpeak NG's own random numbers (the breath noise of the breathy variants,
        seeded from the clock at start): the same seed, the same samples in any process."""
        with self.lock:
            self._lib.espeak_ng_SetRandSeed(value)

    def synth(self, text: str, wpm: int, pitch: int) -> npt.NDArray[np.int16]:
        """Synthesize one piece of text (caller holds the lock)."""
        self._lib.espeak_SetParameter(_RATE, wpm, 0)
        self._lib.espeak_SetParameter(_PITCH, pitch, 0)
        data = text.encode() + b"\0"
        self._chunks = []
        err = self._lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
        )
        chunks, self._chunks = self._chunks, []
        if err != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with error {err}")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


_ENGINE: _Espeak | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Espeak:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Espeak()
        return _ENGINE


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (and over-long sentences at commas) for streaming."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= _MAX_PIECE_CHARS:
            pieces.append(sentence)
            continue
        current = ""
        for clause in _CLAUSE_END.split(sentence):
            if current and len(current) + len(clause) + 1 > _MAX_PIECE_CHARS:
                pieces.append(current)
                current = clause
            else:
                current = f"{current} {clause}" if current else clause
        if current:
            pieces.append(current)
    return pieces


def clamp_speed(speed: float) -> float:
    """The API's ``speed`` clamped to 0.25..1.5 (``ValueError`` if not a finite number)."""
    value = float(speed)
    if not np.isfinite(value):
        raise ValueError(f"speed must be a finite number, got {speed}")
    return min(max(value, _MIN_SPEED), _MAX_SPEED)


class EspeakVoice:
    """eSpeak NG speech at 22,050 Hz; OpenAI voice names map to distinct variants.

    ``synthesize`` streams one chunk per sentence: each sentence is synthesized under a
    process-wide lock (eSpeak NG has global state) and yielded after the lock is released,
    so concurrent sessions interleave sentence by sentence. ``speed`` is clamped to the
    API's 0.25..1.5 and maps to ``175 * speed`` words per minute, which eSpeak clamps to
    80..450 (so speeds below ~0.46 all sound the same). Unknown voice names fall back to
    eSpeak voice names (e.g. ``"en-gb+m3"``), then to :data:`DEFAULT_VOICE`.
    """

    def __init__(self, *, base_wpm: int = _BASE_WPM) -> None:
        self._engine = _engine()
        self.base_wpm = int(base_wpm)

    @property
    def sample_rate(self) -> int:
        """22,050 Hz."""
        return self._engine.sample_rate

    @staticmethod
    def voices() -> list[str]:
        """The OpenAI voice names with a dedicated eSpeak NG variant."""
        return list(ESPEAK_VOICES)

    def synthesize(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> Iterator[npt.NDArray[np.float32]]:
        """Yield float32 audio, one chunk per sentence, as each one is synthesized."""
        wpm = self._wpm(speed)
        for piece in split_sentences(text):
            audio = self._synth_piece(piece, voice, wpm)
            if audio.shape[0]:
                yield audio

    def synthesize_all(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> npt.NDArray[np.float32]:
        """Return the whole utterance as one float32 array."""
        chunks = list(self.synthesize(text, voice=voice, speed=speed))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def _wpm(self, speed: float) -> int:
        return min(max(round(self.base_wpm * clamp_speed(speed)), _MIN_WPM), _MAX_WPM)

    def _synth_piece(self, text: str, voice: str, wpm: int) -> npt.NDArray[np.float32]:
        engine = self._engine
        name, pitch = ESPEAK_VOICES.get(voice, (voice, 50))
        with engine.lock:
            if not engine.set_voice(name):
                name, pitch = ESPEAK_VOICES[DEFAULT_VOICE]
                if not engine.set_voice(name):
                    raise RuntimeError(f"eSpeak NG voice {name!r} is missing")
            pcm = engine.synth(text, wpm, pitch)
        return pcm.astype(np.float32) * np.float32(1.0 / 32768.0)
