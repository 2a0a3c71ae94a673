"""Sample-rate conversion with soxr (one-shot and streaming)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from ._pcm import check_mono

#: Sample rates :func:`resample` and :class:`Resampler` accept.
SUPPORTED_RATES: tuple[int, ...] = (8000, 16000, 24000, 44100, 48000)
#: soxr quality preset: "HQ" (20-bit, steep filter) is transparent for speech and fast.
DEFAULT_QUALITY = "HQ"
_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int16))


def check_rate(rate: object) -> int:
    """Return ``rate`` if it is one of :data:`SUPPORTED_RATES`, else raise ``ValueError``."""
    if isinstance(rate, int | np.integer) and not isinstance(rate, bool):
        value = int(rate)
        if value in SUPPORTED_RATES:
            return value
        shown = str(value)
    else:
        shown = repr(rate)
    supported = ", ".join(str(r) for r in SUPPORTED_RATES)
    raise ValueError(f"unsupported sample rate {shown}; supported: {supported}")


def _check_quality(quality: str) -> str:
    if quality not in _QUALITIES:
        raise ValueError(f"unknown resampling quality {quality!r}; expected one of {_QUALITIES}")
    return quality


def _check_dtype(dtype: np.dtype[Any]) -> None:
    if dtype.newbyteorder("=") not in _DTYPES:
        raise ValueError(
            f"expected float32, float64 or int16 samples, got {dtype}; "
            "convert with x.astype(np.float32)"
        )


def _check_samples(samples: object) -> npt.NDArray[Any]:
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"expected a numpy array of samples, got {type(samples).__name__}")
    _check_dtype(samples.dtype)
    check_mono(samples)
    return np.ascontiguousarray(samples, dtype=samples.dtype.newbyteorder("="))


def resample(
    samples: npt.NDArray[Any], from_rate: int, to_rate: int, *, quality: str = DEFAULT_QUALITY
) -> npt.NDArray[Any]:
    """Resample mono audio from ``from_rate`` to ``to_rate`` Hz with soxr.

    Accepts float32, float64 or int16 samples and returns the same dtype. The output
    has ``round(len(samples) * to_rate / from_rate)`` samples (soxr's length rule).
    """
    x = _check_samples(samples)
    src, dst = check_rate(from_rate), check_rate(to_rate)
    _check_quality(quality)
    if src == dst:
        return x.copy()
    if x.shape[0] == 0:
        return np.empty(0, dtype=x.dtype)
    out: npt.NDArray[Any] = soxr.resample(x, src, dst, quality=quality)
    return out


class Resampler:
    """Streaming resampler for real-time audio (wraps ``soxr.ResampleStream``).

    Feed chunks of any length with :meth:`process`; call :meth:`flush` at the end of
    the stream to get the filter's tail. After ``flush`` the resampler is reset and
    can be reused for a new stream. Chunks must have the resampler's ``dtype``.
    """

    def __init__(
        self,
        from_rate: int,
        to_rate: int,
        dtype: npt.DTypeLike = np.float32,
        *,
        quality: str = DEFAULT_QUALITY,
    ) -> None:
        self.from_rate = check_rate(from_rate)
        self.to_rate = check_rate(to_rate)
        self.dtype: np.dtype[Any] = np.dtype(dtype).newbyteorder("=")
        _check_dtype(self.dtype)
        self.quality = _check_quality(quality)
        self._stream: Any = None
        if self.from_rate != self.to_rate:
            self._stream = soxr.ResampleStream(
                self.from_rate, self.to_rate, 1, dtype=self.dtype.name, quality=quality
            )

    def __repr__(self) -> str:
        return (
            f"Resampler({self.from_rate}, {self.to_rate}, {self.dtype.name}, "
            f"quality={self.quality!r})"
        )

    def _check_chunk(self, chunk: object) -> npt.NDArray[Any]:
        if not isinstance(chunk, np.ndarray):
            raise TypeError(f"expected a numpy array chunk, got {type(chunk).__name__}")
        if chunk.dtype.newbyteorder("=") != self.dtype:
            raise ValueError(
                f"expected a {self.dtype} chunk (this Resampler's dtype), got {chunk.dtype}"
            )
        check_mono(chunk)
        return np.ascontiguousarray(chunk, dtype=self.dtype.newbyteorder("="))

    def process(self, chunk: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Resample the next chunk; returns the output available so far (may be empty)."""
        x = self._check_chunk(chunk)
        if self._stream is None:
            return x.copy()
        out: npt.NDArray[Any] = self._stream.resample_chunk(x)
        return out

    def flush(self) -> npt.NDArray[Any]:
        """End the stream: return the remaining output and reset for a new stream."""
        if self._stream is None:
            return np.empty(0, dtype=self.dtype)
        out: npt.NDArray[Any] = self._stream.resample_chunk(np.empty(0, self.dtype), last=True)
        self._stream.clear()
        return out
