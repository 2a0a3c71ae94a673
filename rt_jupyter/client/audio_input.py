"""Audio given to ``send_audio``/``transcribe``: numpy arrays, WAV files or bytes, encoded to the
session's input format and cut into ``input_audio_buffer.append`` chunks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio import encode_audio, get_format, read_wav

__all__ = ["LATENCY_PRESETS", "chunk_bytes", "progress_bar", "to_wire_audio", "vad_padding"]

#: Chunk durations of the latency presets (milliseconds of audio per append event).
LATENCY_PRESETS = {"low": 20, "balanced": 100, "high": 1000}


def to_wire_audio(
    audio: npt.NDArray[Any] | str | os.PathLike[str] | bytes,
    sample_rate: int | None,
    fmt: str,
) -> bytes:
    """Audio in the wire format ``fmt`` (``pcm16``, ``g711_ulaw``, ``g711_alaw``).

    ``audio`` is a mono numpy array (give ``sample_rate``), a WAV path, WAV file bytes, or raw bytes
    already in ``fmt``.
    """
    if isinstance(audio, str | os.PathLike):
        path = Path(audio)
        if not path.exists():
            raise ValueError(f"no such audio file: {path}")
        samples, rate = read_wav(path)
        return encode_audio(samples, rate, fmt)
    if isinstance(audio, bytes | bytearray | memoryview):
        raw = bytes(audio)
        if raw[:4] == b"RIFF":
            samples, rate = read_wav(raw)
            return encode_audio(samples, rate, fmt)
        return raw
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise ValueError(
                "sample_rate is required with a numpy array, e.g. send_audio(x, sample_rate=24000)"
            )
        samples = audio
        if samples.dtype == np.int16:
            samples = samples.astype(np.float32) / 32768.0
        return encode_audio(samples, int(sample_rate), fmt)
    raise ValueError(
        f"audio must be a numpy array, a WAV path or bytes, not {type(audio).__name__}"
    )


def chunk_bytes(chunk_size: int | str | None, fmt: str) -> int:
    """Bytes per append event from a byte count or a latency preset (``low``/``balanced``/
    ``high``); whole samples only."""
    info = get_format(fmt)
    if chunk_size is None:
        chunk_size = "balanced"
    if isinstance(chunk_size, str):
        if chunk_size not in LATENCY_PRESETS:
            raise ValueError(
                f"chunk_size={chunk_size!r}: use bytes per chunk (e.g. 1024, 2048, 4096) or one "
                f"of {sorted(LATENCY_PRESETS)}"
            )
        n = info.bytes_per_second * LATENCY_PRESETS[chunk_size] // 1000
    else:
        n = int(chunk_size)
        if n <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, got {chunk_size}")
    width = info.bytes_per_sample
    return max(width, n - n % width)


def vad_padding(fmt: str, turn_detection: Mapping[str, Any] | None) -> bytes:
    """Silence in ``fmt`` to append after speech so server VAD ends the turn: the turn
    detection's ``silence_duration_ms`` (default 500) plus 500 ms."""
    pad_ms = int(turn_detection.get("silence_duration_ms", 500)) + 500 if turn_detection else 700
    info = get_format(fmt)
    silence = b"\x00" * (info.bytes_per_second * pad_ms // 1000)
    if fmt != "pcm16":
        silence = encode_audio(np.zeros(len(silence), np.float32), 8000, fmt)
    return silence


def progress_bar(seconds: float, progress: bool | None) -> Any:
    """A tqdm bar for sending ``seconds`` of audio (``None``: no bar; by default only for more
    than 5 s)."""
    if progress is False or (progress is None and seconds <= 5.0):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(
        total=seconds,  # not rounded: the updates add up to exactly this
        unit="s",
        desc="sending audio",
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s",
    )
