"""Audio helpers for the Realtime API: PCM16, G.711, resampling, WAV files and event chunking.

All functions work on mono numpy arrays: float32 samples in [-1, 1] or int16 PCM.
The wire formats are described by :class:`AudioFormat` (see :data:`AUDIO_FORMATS`).
"""

from __future__ import annotations

from ._chunk import (
    DEFAULT_CHUNK_BYTES,
    MAX_EVENT_BYTES,
    append_event_size,
    chunk_audio_events,
    max_chunk_bytes,
)
from ._formats import (
    AUDIO_FORMATS,
    G711_ALAW,
    G711_ULAW,
    PCM16,
    AudioFormat,
    FormatLike,
    bytes_for_ms,
    decode_audio,
    duration_ms,
    encode_audio,
    get_format,
)
from ._g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._pcm import float32_to_pcm16, pcm16_bytes, pcm16_from_bytes, pcm16_to_float32
from ._resample import SUPPORTED_RATES, Resampler, resample
from ._wav import read_wav, write_wav

__all__ = [
    "AUDIO_FORMATS",
    "DEFAULT_CHUNK_BYTES",
    "G711_ALAW",
    "G711_ULAW",
    "MAX_EVENT_BYTES",
    "PCM16",
    "SUPPORTED_RATES",
    "AudioFormat",
    "FormatLike",
    "Resampler",
    "alaw_decode",
    "alaw_encode",
    "append_event_size",
    "bytes_for_ms",
    "chunk_audio_events",
    "decode_audio",
    "duration_ms",
    "encode_audio",
    "float32_to_pcm16",
    "get_format",
    "max_chunk_bytes",
    "pcm16_bytes",
    "pcm16_from_bytes",
    "pcm16_to_float32",
    "read_wav",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
