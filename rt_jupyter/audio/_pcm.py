"""PCM16 <-> float32 conversion and the input checks shared by the audio helpers."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

BytesLike: TypeAlias = bytes | bytearray | memoryview

#: Little-endian int16, the byte layout of ``pcm16`` audio on the wire.
_LE_INT16 = np.dtype("<i2")
_INT16 = np.dtype(np.int16)
_BYTES_TYPES = (bytes, bytearray, memoryview)


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return str(x.dtype)
    return type(x).__name__


def check_mono(x: npt.NDArray[Any]) -> None:
    """Raise ``ValueError`` unless ``x`` is a 1-D (mono) array."""
    if x.ndim == 1:
        return
    if x.ndim == 2:
        shape = f"({x.shape[0]}, {x.shape[1]})"
        raise ValueError(
            f"expected a 1-D mono array, got shape {shape}; mix down with x.mean(axis=1)"
        )
    raise ValueError(f"expected a 1-D mono array, got shape {x.shape}")


def check_even(n_bytes: int) -> None:
    """Raise ``ValueError`` unless ``n_bytes`` is a whole number of pcm16 samples."""
    if n_bytes % 2:
        raise ValueError(
            f"pcm16 audio needs an even number of bytes (2 bytes per sample), got {n_bytes} bytes"
        )


def _int16_dtype_error(x: object) -> ValueError:
    got = _describe(x)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        hint = "convert with float32_to_pcm16()"
    elif isinstance(x, np.ndarray) and x.dtype.kind in "iub":
        hint = "convert with x.astype(np.int16) if the values fit in 16 bits"
    else:
        hint = "pass a numpy int16 array or little-endian pcm16 bytes"
    return ValueError(f"expected int16 PCM samples, got {got}; {hint}")


def as_pcm16(x: object, *, mono: bool = True) -> npt.NDArray[np.int16]:
    """Return ``x`` as a native-endian, C-contiguous int16 array (no copy when possible).

    ``x`` is an int16 array (any byte order) or little-endian pcm16 bytes.
    """
    if (
        type(x) is np.ndarray
        and x.dtype is _INT16
        and (x.ndim == 1 or not mono)
        and x.flags.c_contiguous
    ):
        return x  # fast path for the common case (small real-time frames)
    if isinstance(x, _BYTES_TYPES):
        return pcm16_from_bytes(x, copy=False)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected int16 PCM samples (numpy array or bytes), got {_describe(x)}")
    if x.dtype.kind != "i" or x.dtype.itemsize != 2:
        raise _int16_dtype_error(x)
    if mono:
        check_mono(x)
    return np.ascontiguousarray(x, dtype=np.int16)


def as_float_samples(x: object, *, mono: bool = True) -> npt.NDArray[np.floating[Any]]:
    """Return a floating-point array ``x`` (float32/float64 kept, float16 widened)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected a numpy array of float samples, got {_describe(x)}")
    if x.dtype.kind != "f":
        if x.dtype.kind == "i" and x.dtype.itemsize == 2:
            hint = "it already is pcm16; convert with pcm16_to_float32() if you need floats"
        else:
            hint = "convert with x.astype(np.float32) and scale to [-1, 1]"
        raise ValueError(f"expected float samples in [-1, 1], got {x.dtype}; {hint}")
    if mono:
        check_mono(x)
    if x.dtype.itemsize < 4:
        return x.astype(np.float32)
    return x


def pcm16_from_bytes(data: BytesLike, *, copy: bool = True) -> npt.NDArray[np.int16]:
    """Decode little-endian pcm16 bytes into a native int16 array.

    With ``copy=False`` the result may be a read-only view of ``data``.
    Raises ``ValueError`` for an odd number of bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes of pcm16 audio, got {_describe(data)}")
    check_even(memoryview(data).nbytes)
    arr = np.frombuffer(data, dtype=_LE_INT16)
    if arr.dtype != np.int16:  # big-endian host: byte-swap into a native array
        return arr.astype(np.int16)
    return arr.copy() if copy else arr.view(np.int16)


def pcm16_bytes(x: npt.NDArray[Any]) -> bytes:
    """Encode mono samples as little-endian pcm16 bytes (the ``pcm16`` wire format).

    int16 input is used as is; float input is converted with :func:`float32_to_pcm16`.
    """
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        x = float32_to_pcm16(as_float_samples(x))
    pcm = as_pcm16(x)
    return pcm.astype(_LE_INT16, copy=False).tobytes()


def pcm16_to_float32(x: npt.NDArray[np.int16] | BytesLike) -> npt.NDArray[np.float32]:
    """Convert int16 samples (or little-endian pcm16 bytes) to float32 in [-1, 1).

    Each sample is divided by 32768, so the conversion is exact and invertible.
    Any array shape is accepted (the conversion is element-wise).
    """
    pcm = as_pcm16(x, mono=False)
    out = np.empty(pcm.shape, dtype=np.float32)
    np.multiply(pcm, np.float32(1.0 / 32768.0), out=out)
    return out


def float32_to_pcm16(x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.int16]:
    """Convert float samples in [-1, 1] to int16: scale by 32768, round to nearest, clip.

    Values outside [-1, 1) are clipped to [-32768, 32767]; NaN becomes 0.
    Any array shape is accepted (the conversion is element-wise).
    """
    f = as_float_samples(x, mono=False)
    y: npt.NDArray[np.floating[Any]] = np.multiply(f, f.dtype.type(32768.0))
    np.nan_to_num(y, copy=False, nan=0.0, posinf=32767.0, neginf=-32768.0)
    np.rint(y, out=y)
    np.clip(y, -32768.0, 32767.0, out=y)
    return y.astype(np.int16)
