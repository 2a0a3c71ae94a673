"""The Realtime API session audio formats and conversion to/from their wire bytes.

The table of formats (:class:`AudioFormat`, :data:`AUDIO_FORMATS`) is
:mod:`rt_jupyter.protocol.formats`; this module adds the lookups and the numpy conversions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..protocol.formats import AUDIO_FORMATS, G711_ALAW, G711_ULAW, GA_TYPES, PCM16, AudioFormat
from ._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._pcm import (
    BytesLike,
    as_float_samples,
    as_pcm16,
    check_even,
    check_mono,
    float32_to_pcm16,
    pcm16_bytes,
    pcm16_to_float32,
)
from ._resample import check_rate, resample

__all__ = [
    "AUDIO_FORMATS",
    "G711_ALAW",
    "G711_ULAW",
    "PCM16",
    "AudioFormat",
    "FormatLike",
    "bytes_for_ms",
    "check_wire_bytes",
    "decode_audio",
    "duration_ms",
    "encode_audio",
    "get_format",
]

_BY_NAME: dict[str, AudioFormat] = {
    **AUDIO_FORMATS,
    **{mime: AUDIO_FORMATS[name] for name, mime in GA_TYPES.items()},
}

FormatLike = str | AudioFormat | Mapping[str, Any]


def get_format(fmt: FormatLike) -> AudioFormat:
    """Look up an audio format by beta name or GA MIME type.

    Accepts ``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``, ``"audio/pcm"``,
    ``"audio/pcmu"``, ``"audio/pcma"``, an :class:`AudioFormat`, or a GA format
    object such as ``{"type": "audio/pcm", "rate": 24000}``.
    """
    if isinstance(fmt, AudioFormat):
        if fmt not in AUDIO_FORMATS.values():
            raise ValueError(f"unknown audio format {fmt!r}; use one of AUDIO_FORMATS")
        return fmt
    rate: object = None
    if isinstance(fmt, Mapping):
        name, rate = fmt.get("type"), fmt.get("rate")
    else:
        name = fmt
    found = _BY_NAME.get(name.strip().lower()) if isinstance(name, str) else None
    if found is None:
        expected = ", ".join(repr(n) for n in _BY_NAME)
        raise ValueError(f"unknown audio format {fmt!r}; expected one of {expected}")
    if rate is not None and rate != found.sample_rate:
        raise ValueError(
            f"audio format {found.mime_type} is {found.sample_rate} Hz, got rate {rate!r}"
        )
    return found


def encode_audio(samples: npt.NDArray[Any], sample_rate: int, fmt: FormatLike) -> bytes:
    """Convert mono samples (float in [-1, 1] or int16) at ``sample_rate`` to wire bytes.

    Resamples to the format's rate (see :func:`resample` for the supported rates), then
    encodes as little-endian pcm16 or G.711 μ-law/A-law.
    """
    f = get_format(fmt)
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"expected a numpy array of samples, got {type(samples).__name__}")
    check_mono(samples)
    check_rate(sample_rate)
    if samples.dtype.kind == "f":
        x: npt.NDArray[Any] = as_float_samples(samples)
    else:
        x = as_pcm16(samples)
    if sample_rate != f.sample_rate:
        if x.dtype.kind != "f":
            x = pcm16_to_float32(x)  # resample in float, round to int16 once
        x = resample(x, sample_rate, f.sample_rate)
    pcm = float32_to_pcm16(x) if x.dtype.kind == "f" else x
    if f is G711_ULAW:
        return ulaw_encode(pcm).tobytes()
    if f is G711_ALAW:
        return alaw_encode(pcm).tobytes()
    return pcm16_bytes(pcm)


def decode_audio(data: BytesLike, fmt: FormatLike) -> npt.NDArray[np.float32]:
    """Decode wire bytes of format ``fmt`` to mono float32 at the format's own rate."""
    f = get_format(fmt)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes of {f.name} audio, got {type(data).__name__}")
    if f is G711_ULAW:
        return pcm16_to_float32(ulaw_decode(data))
    if f is G711_ALAW:
        return pcm16_to_float32(alaw_decode(data))
    return pcm16_to_float32(data)


def duration_ms(data: int | BytesLike | npt.NDArray[Any], fmt: FormatLike) -> float:
    """Duration in milliseconds of audio in format ``fmt``.

    ``data`` is a byte count (int), wire bytes, or an array of samples (its length).
    """
    f = get_format(fmt)
    if isinstance(data, np.ndarray):
        check_mono(data)
        n_samples = float(data.shape[0])
    elif isinstance(data, bytes | bytearray | memoryview):
        n_samples = memoryview(data).nbytes / f.bytes_per_sample
    elif isinstance(data, int | np.integer) and not isinstance(data, bool):
        if data < 0:
            raise ValueError(f"expected a non-negative byte count, got {data}")
        n_samples = int(data) / f.bytes_per_sample
    else:
        raise TypeError(
            f"expected a byte count, bytes or a sample array, got {type(data).__name__}"
        )
    return n_samples * 1000.0 / f.sample_rate


def bytes_for_ms(ms: float, fmt: FormatLike) -> int:
    """Number of wire bytes for ``ms`` milliseconds of ``fmt`` audio (whole samples, rounded)."""
    f = get_format(fmt)
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        raise TypeError(f"ms must be a number of milliseconds, not {type(ms).__name__}")
    try:
        if not 0 <= ms < float("inf"):
            raise OverflowError
        return round(ms * f.sample_rate / 1000.0) * f.bytes_per_sample
    except OverflowError:
        raise ValueError(
            f"expected a finite, non-negative duration in ms, got {ms!r:.40}"
        ) from None


def check_wire_bytes(data: BytesLike, fmt: FormatLike) -> AudioFormat:
    """Raise ``ValueError`` unless ``data`` is a whole number of ``fmt`` samples."""
    f = get_format(fmt)
    if f.bytes_per_sample == 2:
        check_even(memoryview(data).nbytes)
    return f
