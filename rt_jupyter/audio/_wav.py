"""WAV reading (PCM 8/16/24/32-bit, IEEE float, WAVE_FORMAT_EXTENSIBLE, G.711) and writing."""

from __future__ import annotations

import io
import os
import struct
import wave
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeAlias

import numpy as np
import numpy.typing as npt

from ._g711 import alaw_decode, ulaw_decode
from ._pcm import BytesLike, pcm16_bytes

WavSource: TypeAlias = str | os.PathLike[str] | BytesLike | BinaryIO
WavDest: TypeAlias = str | os.PathLike[str] | BinaryIO

_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_ALAW = 0x0006
_MULAW = 0x0007
_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {_PCM: "PCM", _IEEE_FLOAT: "IEEE float", _ALAW: "A-law", _MULAW: "μ-law"}


@dataclass(frozen=True)
class _WavInfo:
    format_tag: int
    channels: int
    sample_rate: int
    sample_width: int  # bytes per sample of one channel (the container size)
    frames: bytes


def _read_source(source: WavSource) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            return f.read()
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(
            f"expected a path, bytes or a binary file object, got {type(source).__name__}"
        )
    data = read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError("expected a binary file object (opened with 'rb'), got a text stream")
    return bytes(data)


def _read_with_wave(data: bytes) -> _WavInfo:
    with wave.open(io.BytesIO(data), "rb") as w:
        return _WavInfo(
            _PCM,
            w.getnchannels(),
            w.getframerate(),
            w.getsampwidth(),
            w.readframes(w.getnframes()),
        )


def _parse_riff(data: bytes) -> _WavInfo:
    """Parse a RIFF/WAVE file ourselves (for the encodings the ``wave`` module refuses)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file: expected a RIFF/WAVE header")
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, container width
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise ValueError("malformed WAV file: 'fmt ' chunk shorter than 16 bytes")
            tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE:
                if len(body) < 40:
                    raise ValueError("malformed WAV file: WAVE_FORMAT_EXTENSIBLE 'fmt ' too short")
                (tag,) = struct.unpack_from("<H", body, 24)  # first 2 bytes of SubFormat GUID
            if channels < 1:
                raise ValueError(f"malformed WAV file: {channels} channels")
            width = block_align // channels if block_align else (bits + 7) // 8
            if width < 1:
                raise ValueError("malformed WAV file: 0-bit samples")
            fmt = (tag, channels, rate, width)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("malformed WAV file: 'data' chunk before 'fmt ' chunk")
            return _WavInfo(fmt[0], fmt[1], fmt[2], fmt[3], body)  # tolerate truncation
        pos += 8 + size + (size & 1)
    raise ValueError("malformed WAV file: no 'fmt ' and 'data' chunks found")


def _to_float32(info: _WavInfo) -> npt.NDArray[np.float32]:
    tag, width = info.format_tag, info.sample_width
    frame = width * info.channels
    raw = info.frames[: len(info.frames) - len(info.frames) % frame]
    x: npt.NDArray[Any]
    if tag == _PCM and width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _PCM and width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == _PCM and width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        padded = np.zeros((b.shape[0], 4), dtype=np.uint8)
        padded[:, 1:] = b  # 24-bit little-endian in the top bytes of an int32
        x = padded.view("<i4").reshape(-1).astype(np.float64) / 2.0**31
    elif tag == _PCM and width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / 2.0**31
    elif tag == _IEEE_FLOAT and width in (4, 8):
        # Float files may hold anything: NaN is silence, the rest is clipped to [-1, 1] as a
        # player would (and as PCM is), before a cast to float32 could overflow.
        x = np.frombuffer(raw, "<f4" if width == 4 else "<f8")
        x = np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    elif tag in (_ALAW, _MULAW) and width == 1:
        decode = alaw_decode if tag == _ALAW else ulaw_decode
        x = decode(np.frombuffer(raw, np.uint8)).astype(np.float32) / 32768.0
    else:
        name = _FORMAT_NAMES.get(tag, f"format tag 0x{tag:04X}")
        raise ValueError(
            f"unsupported WAV encoding: {name} with {8 * width}-bit samples; expected "
            "8/16/24/32-bit PCM, 32/64-bit IEEE float or 8-bit G.711"
        )
    if info.channels > 1:
        x = x.reshape(-1, info.channels).mean(axis=1, dtype=np.float64)
    return np.ascontiguousarray(x, dtype=np.float32)


def read_wav(source: WavSource) -> tuple[npt.NDArray[np.float32], int]:
    """Read a WAV file (path, bytes or binary file object) as mono float32 in [-1, 1].

    Supports 8/16/24/32-bit PCM, 32/64-bit IEEE float, WAVE_FORMAT_EXTENSIBLE and
    8-bit G.711 files at any sample rate; multichannel audio is averaged to mono.
    Returns ``(samples, sample_rate)``.
    """
    data = _read_source(source)
    try:
        info = _read_with_wave(data)
    except (wave.Error, EOFError, struct.error):
        info = _parse_riff(data)  # float / extensible / G.711, or a precise error
    return _to_float32(info), info.sample_rate


def write_wav(dest: WavDest, samples: npt.NDArray[Any], sample_rate: int) -> None:
    """Write mono samples (float in [-1, 1] or int16) as a 16-bit PCM WAV file.

    ``dest`` is a path or a binary file object (which is left open).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ValueError(f"expected an integer sample rate, got {sample_rate!r}")
    if not 0 < sample_rate < 2**32:
        raise ValueError(f"expected a positive sample rate, got {sample_rate}")
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"expected a numpy array of samples, got {type(samples).__name__}")
    frames = pcm16_bytes(samples)  # float -> float32_to_pcm16; checks dtype and mono
    if isinstance(dest, str | os.PathLike):
        with open(dest, "wb") as f:
            _write_frames(f, frames, int(sample_rate))
    else:
        _write_frames(dest, frames, int(sample_rate))


def _write_frames(f: BinaryIO, frames: bytes, sample_rate: int) -> None:
    with wave.open(f, "wb") as w:  # closing the writer leaves `f` open
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.setnframes(len(frames) // 2)
        w.writeframes(frames)
