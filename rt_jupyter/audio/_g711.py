"""G.711 μ-law and A-law codecs, bit-exact with CPython's ``audioop`` module.

The tables are computed once at import from the closed-form G.711 algorithm (the
Sun reference code that ``audioop`` uses), never by calling ``audioop``:

* encode: a 65,536-entry uint8 table indexed by the int16 sample's bit pattern;
* decode: a 256-entry int16 table, expanded into a 65,536-entry "pair" table that
  decodes two codes per lookup (half as many gathers as a byte-by-byte lookup).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._pcm import BytesLike, as_pcm16, check_mono

_SEG_SHIFT = 4
_QUANT_MASK = 0x0F
_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
# Segment end points (the reference code's ``seg_uend`` / ``seg_aend``).
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int64)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int64)


def _all_int16() -> npt.NDArray[np.int64]:
    """All int16 values, ordered by their uint16 bit pattern (the encode-table index)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int64)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 2  # audioop feeds the 14-bit value to the encoder
    neg = pcm < 0
    mask = np.where(neg, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")  # first end point >= mag
    code = (seg << _SEG_SHIFT) | ((mag >> np.minimum(seg + 1, 8)) & _QUANT_MASK)
    out = np.where(seg >= 8, 0x7F ^ mask, code ^ mask)
    return out.astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 3  # audioop feeds the 13-bit value to the encoder
    neg = pcm < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -pcm - 1, pcm)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    shift = np.clip(seg, 1, 7)  # segments 0 and 1 both shift by one
    code = (seg << _SEG_SHIFT) | ((mag >> shift) & _QUANT_MASK)
    out = np.where(seg >= 8, 0x7F ^ mask, code ^ mask)
    return out.astype(np.uint8)


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int64) & 0xFF
    t = (((u & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((u >> _SEG_SHIFT) & 7)
    out = np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS)
    return out.astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int64) ^ 0x55
    seg = (a >> _SEG_SHIFT) & 7
    t = (a & _QUANT_MASK) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    out = np.where(a & 0x80, t, -t)
    return out.astype(np.int16)


def _pair_table(table: npt.NDArray[np.int16]) -> npt.NDArray[np.uint32]:
    """Decode table for two codes at once, indexed by the native uint16 view of a byte pair."""
    pairs = np.arange(65536, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
    return np.ascontiguousarray(table[pairs]).view(np.uint32).reshape(-1)


ULAW_ENCODE_TABLE = _ulaw_encode_table()
ALAW_ENCODE_TABLE = _alaw_encode_table()
ULAW_DECODE_TABLE = _ulaw_decode_table()
ALAW_DECODE_TABLE = _alaw_decode_table()
_ULAW_PAIRS = _pair_table(ULAW_DECODE_TABLE)
_ALAW_PAIRS = _pair_table(ALAW_DECODE_TABLE)
for _table in (
    ULAW_ENCODE_TABLE,
    ALAW_ENCODE_TABLE,
    ULAW_DECODE_TABLE,
    ALAW_DECODE_TABLE,
    _ULAW_PAIRS,
    _ALAW_PAIRS,
):
    _table.flags.writeable = False


_BYTES_TYPES = (bytes, bytearray, memoryview)
_PAIR_MIN = 2048  # below this, the pair table's extra views cost more than they save
_UINT8 = np.dtype(np.uint8)


def _as_codes(codes: object) -> npt.NDArray[np.uint8]:
    if type(codes) is bytes or isinstance(codes, _BYTES_TYPES):
        return np.frombuffer(codes, dtype=np.uint8)
    if not isinstance(codes, np.ndarray):
        raise TypeError(
            f"expected G.711 codes as bytes or a uint8 array, got {type(codes).__name__}"
        )
    if codes.dtype is not _UINT8 and codes.dtype != _UINT8:
        raise ValueError(
            f"expected G.711 codes as bytes or a uint8 array, got {codes.dtype}; "
            "G.711 audio is one byte per sample"
        )
    check_mono(codes)
    return np.ascontiguousarray(codes)


def _encode(x: object, table: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    pcm = as_pcm16(x)
    out: npt.NDArray[np.uint8] = table.take(pcm.view(np.uint16), mode="wrap")
    return out


def _decode(
    codes: object, pairs: npt.NDArray[np.uint32], table: npt.NDArray[np.int16]
) -> npt.NDArray[np.int16]:
    c = _as_codes(codes)
    n = c.shape[0]
    if n < _PAIR_MIN:
        small: npt.NDArray[np.int16] = table.take(c, mode="wrap")
        return small
    if not n & 1:
        # Two codes per gather: the uint16 view of each byte pair indexes the pair table,
        # whose uint32 entries are the two decoded int16 samples in memory order.
        decoded: npt.NDArray[np.uint32] = pairs.take(c.view(np.uint16), mode="wrap")
        return decoded.view(np.int16)
    out = np.empty(n, dtype=np.int16)
    pairs.take(c[:-1].view(np.uint16), out=out[:-1].view(np.uint32), mode="wrap")
    out[-1] = table[c[-1]]
    return out


def ulaw_encode(x: npt.NDArray[np.int16] | BytesLike) -> npt.NDArray[np.uint8]:
    """Encode mono int16 samples (or pcm16 bytes) to G.711 μ-law codes (= ``audioop.lin2ulaw``)."""
    return _encode(x, ULAW_ENCODE_TABLE)


def alaw_encode(x: npt.NDArray[np.int16] | BytesLike) -> npt.NDArray[np.uint8]:
    """Encode mono int16 samples (or pcm16 bytes) to G.711 A-law codes (= ``audioop.lin2alaw``)."""
    return _encode(x, ALAW_ENCODE_TABLE)


def ulaw_decode(codes: npt.NDArray[np.uint8] | BytesLike) -> npt.NDArray[np.int16]:
    """Decode G.711 μ-law codes (uint8 array or bytes) to int16 (= ``audioop.ulaw2lin``)."""
    return _decode(codes, _ULAW_PAIRS, ULAW_DECODE_TABLE)


def alaw_decode(codes: npt.NDArray[np.uint8] | BytesLike) -> npt.NDArray[np.int16]:
    """Decode G.711 A-law codes (uint8 array or bytes) to int16 (= ``audioop.alaw2lin``)."""
    return _decode(codes, _ALAW_PAIRS, ALAW_DECODE_TABLE)
