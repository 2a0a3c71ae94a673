"""Tests of rt_jupyter.audio: G.711 (bit-exact vs audioop), PCM, resampling, WAV, formats,
chunking."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import struct
import subprocess
import sys
import warnings
import wave
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from rt_jupyter import audio
from rt_jupyter.audio import (
    AUDIO_FORMATS,
    MAX_EVENT_BYTES,
    SUPPORTED_RATES,
    AudioFormat,
    Resampler,
    alaw_decode,
    alaw_encode,
    bytes_for_ms,
    chunk_audio_events,
    decode_audio,
    duration_ms,
    encode_audio,
    float32_to_pcm16,
    get_format,
    max_chunk_bytes,
    pcm16_bytes,
    pcm16_from_bytes,
    pcm16_to_float32,
    read_wav,
    resample,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    """The C audioop module: stdlib on 3.11/3.12, the audioop-lts package on >= 3.13."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module: ModuleType = pytest.importorskip("audioop")
    return module


def sine(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.shape[0])))
    return float(np.argmax(spectrum) * rate / x.shape[0])


# --------------------------------------------------------------------------- public API


def test_all_names_exist() -> None:
    for name in audio.__all__:
        assert hasattr(audio, name), name
    assert len(set(audio.__all__)) == len(audio.__all__)


def test_tables_are_not_built_with_audioop() -> None:
    code = "import sys, rt_jupyter.audio; assert 'audioop' not in sys.modules, 'audioop imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- G.711


def test_g711_known_vectors() -> None:
    # Test vectors of aiortc's codec tests.
    assert alaw_decode(b"\xd5").tolist() == [8]
    assert ulaw_decode(b"\xff").tolist() == [0]
    zero = np.zeros(1, dtype=np.int16)
    assert ulaw_encode(zero).tolist() == [0xFF]
    assert alaw_encode(zero).tolist() == [0xD5]
    # Full-scale codes.
    assert ulaw_decode(b"\x80\x00").tolist() == [32124, -32124]
    assert alaw_decode(b"\xaa\x2a").tolist() == [32256, -32256]


@pytest.mark.parametrize(("ours", "name"), [(ulaw_encode, "lin2ulaw"), (alaw_encode, "lin2alaw")])
def test_g711_encode_bit_exact_all_int16(audioop: ModuleType, ours, name: str) -> None:
    expected = getattr(audioop, name)(ALL_INT16.astype("<i2").tobytes(), 2)
    got = ours(ALL_INT16)
    assert got.dtype == np.uint8
    assert got.shape == (65536,)
    assert got.tobytes() == expected


@pytest.mark.parametrize(("ours", "name"), [(ulaw_decode, "ulaw2lin"), (alaw_decode, "alaw2lin")])
def test_g711_decode_bit_exact_all_codes(audioop: ModuleType, ours, name: str) -> None:
    expected = np.frombuffer(getattr(audioop, name)(ALL_CODES, 2), "<i2")
    got = ours(ALL_CODES)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(ours(np.frombuffer(ALL_CODES, np.uint8)), expected)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 2047, 2048, 2049, 10_000, 10_001])
@pytest.mark.parametrize(("ours", "name"), [(ulaw_decode, "ulaw2lin"), (alaw_decode, "alaw2lin")])
def test_g711_decode_lengths_and_paths(audioop: ModuleType, ours, name: str, n: int) -> None:
    # Short inputs use the 256-entry table, long ones the pair table (odd tail separately).
    codes = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    expected = np.frombuffer(getattr(audioop, name)(codes, 2), "<i2")
    got = ours(codes)
    assert got.shape == (n,)
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expected)


def test_g711_decode_unaligned_and_strided_inputs(audioop: ModuleType) -> None:
    codes = np.random.default_rng(7).integers(0, 256, 9001, dtype=np.uint8)
    expected = np.frombuffer(audioop.ulaw2lin(codes[1:].tobytes(), 2), "<i2")
    np.testing.assert_array_equal(ulaw_decode(codes[1:]), expected)  # odd address
    np.testing.assert_array_equal(ulaw_decode(memoryview(codes.tobytes())[1:]), expected)
    np.testing.assert_array_equal(ulaw_decode(bytearray(codes[1:].tobytes())), expected)
    strided = np.frombuffer(audioop.alaw2lin(codes[::3].tobytes(), 2), "<i2")
    np.testing.assert_array_equal(alaw_decode(codes[::3]), strided)


def test_g711_encode_accepts_bytes_big_endian_and_strided(audioop: ModuleType) -> None:
    x = np.random.default_rng(3).integers(-32768, 32768, 5001).astype(np.int16)
    expected = ulaw_encode(x)
    assert expected.tobytes() == audioop.lin2ulaw(x.astype("<i2").tobytes(), 2)
    np.testing.assert_array_equal(ulaw_encode(x.astype("<i2").tobytes()), expected)
    np.testing.assert_array_equal(ulaw_encode(x.astype(">i2")), expected)
    np.testing.assert_array_equal(alaw_encode(x[::2]), alaw_encode(x[::2].copy()))


def ulaw_error_bound(x: np.ndarray) -> np.ndarray:
    """Half a μ-law step ((|x| + bias) / 32) plus audioop's 2-bit truncation; clips at 32124."""
    mag = np.abs(x.astype(np.int64))
    bound: np.ndarray = np.maximum((mag + 132) / 32 + 4, mag - 32124)
    return bound


def alaw_error_bound(x: np.ndarray) -> np.ndarray:
    """Half an A-law step (|x| / 32, at least 8) plus audioop's 3-bit truncation."""
    return np.abs(x.astype(np.int64)) / 32 + 8


def test_g711_round_trip_error_bound_exhaustive() -> None:
    x = ALL_INT16.astype(np.int64)
    u_err = np.abs(ulaw_decode(ulaw_encode(ALL_INT16)).astype(np.int64) - x)
    a_err = np.abs(alaw_decode(alaw_encode(ALL_INT16)).astype(np.int64) - x)
    assert np.all(u_err <= ulaw_error_bound(ALL_INT16))
    assert np.all(a_err <= alaw_error_bound(ALL_INT16))
    # The bounds are tight, not vacuous.
    assert u_err.max() == 32768 - 32124
    assert np.max(a_err - np.abs(x) / 32) == 8


def test_g711_decode_is_encode_fixed_point() -> None:
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        values = dec(ALL_CODES)
        np.testing.assert_array_equal(dec(enc(values)), values)


def test_g711_errors() -> None:
    with pytest.raises(ValueError) as exc:
        ulaw_encode(np.zeros(4))  # type: ignore[arg-type]
    assert str(exc.value) == (
        "expected int16 PCM samples, got float64; convert with float32_to_pcm16()"
    )
    with pytest.raises(ValueError, match=r"got int32; convert with x\.astype\(np\.int16\)"):
        alaw_encode(np.zeros(4, np.int32))
    with pytest.raises(ValueError) as exc:
        ulaw_encode(np.zeros((480, 2), np.int16))
    assert str(exc.value) == (
        "expected a 1-D mono array, got shape (480, 2); mix down with x.mean(axis=1)"
    )
    with pytest.raises(ValueError, match="even number of bytes"):
        ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(
        ValueError, match=r"expected G\.711 codes as bytes or a uint8 array, got int16"
    ):
        ulaw_decode(np.zeros(4, np.int16))
    with pytest.raises(ValueError, match="1-D mono"):
        alaw_decode(np.zeros((2, 2), np.uint8))
    with pytest.raises(TypeError, match="got list"):
        ulaw_decode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got list"):
        ulaw_encode([1, 2])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- PCM16


def test_pcm16_to_float32_values() -> None:
    x = np.array([-32768, -16384, -1, 0, 1, 32767], dtype=np.int16)
    y = pcm16_to_float32(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x.astype(np.float64) / 32768.0)
    assert y.min() == -1.0
    assert y.max() < 1.0
    np.testing.assert_array_equal(pcm16_to_float32(x.astype("<i2").tobytes()), y)
    np.testing.assert_array_equal(pcm16_to_float32(x.astype(">i2")), y)
    # Element-wise: any shape.
    assert pcm16_to_float32(np.zeros((3, 2), np.int16)).shape == (3, 2)


def test_float32_to_pcm16_scaling_rounding_clipping() -> None:
    q = 1 / 32768
    x = np.array(
        [-2.0, -1.0, -0.5, 0.4 * q, 0.6 * q, -0.6 * q, 0.5, 1.0, 2.0, np.nan, np.inf, -np.inf],
        dtype=np.float32,
    )
    y = float32_to_pcm16(x)
    assert y.dtype == np.int16
    assert y.tolist() == [-32768, -32768, -16384, 0, 1, -1, 16384, 32767, 32767, 0, 32767, -32768]
    # float64 and float16 input; exact inverse of pcm16_to_float32.
    np.testing.assert_array_equal(float32_to_pcm16(ALL_INT16 / 32768.0), ALL_INT16)
    np.testing.assert_array_equal(float32_to_pcm16(pcm16_to_float32(ALL_INT16)), ALL_INT16)
    assert float32_to_pcm16(np.array([0.5], np.float16)).tolist() == [16384]


def test_pcm16_bytes_helpers() -> None:
    x = np.array([1, -2, 32767, -32768], dtype=np.int16)
    b = pcm16_bytes(x)
    assert b == b"\x01\x00\xfe\xff\xff\x7f\x00\x80"  # little-endian
    assert pcm16_bytes(x.astype(">i2")) == b
    assert pcm16_bytes(pcm16_to_float32(x)) == b  # float input is converted
    y = pcm16_from_bytes(b)
    assert y.dtype == np.int16
    assert y.tolist() == x.tolist()
    y[0] = 5  # a writable copy
    assert pcm16_from_bytes(bytearray(b)).tolist() == x.tolist()
    assert pcm16_from_bytes(b"").shape == (0,)


def test_pcm16_errors() -> None:
    with pytest.raises(ValueError) as exc:
        pcm16_from_bytes(b"\x00\x01\x02")
    assert "even number of bytes" in str(exc.value)
    assert "got 3 bytes" in str(exc.value)
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm16_to_float32(b"\x00")
    with pytest.raises(ValueError, match="expected int16 PCM samples, got float32"):
        pcm16_to_float32(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="expected float samples in \\[-1, 1\\], got int16"):
        float32_to_pcm16(np.zeros(3, np.int16))
    with pytest.raises(ValueError, match="1-D mono"):
        pcm16_bytes(np.zeros((4, 2), np.int16))
    with pytest.raises(ValueError, match="1-D mono"):
        pcm16_bytes(np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError):
        pcm16_from_bytes("abcd")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("src", SUPPORTED_RATES)
@pytest.mark.parametrize("dst", SUPPORTED_RATES)
def test_resample_length_and_dtype(src: int, dst: int) -> None:
    n = 4801
    for dtype in (np.float32, np.int16):
        x = np.random.default_rng(0).standard_normal(n) * 0.1 * (32767 if dtype == np.int16 else 1)
        y = resample(x.astype(dtype), src, dst)
        assert y.dtype == dtype
        assert y.ndim == 1
        assert abs(y.shape[0] - n * dst / src) <= 1


@pytest.mark.parametrize(
    ("src", "dst"), [(24000, 16000), (24000, 8000), (48000, 24000), (44100, 24000), (8000, 24000)]
)
def test_resample_keeps_sine_frequency_and_level(src: int, dst: int) -> None:
    x = sine(1000.0, src)
    y = resample(x, src, dst)
    assert abs(peak_hz(y, dst) - 1000.0) <= 2.0
    rms = float(np.sqrt(np.mean(y[dst // 10 : -dst // 10].astype(np.float64) ** 2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_removes_content_above_new_nyquist() -> None:
    # 7 kHz cannot exist at 8 kHz; naive decimation would alias it to 1 kHz.
    y = resample(sine(7000.0, 24000), 24000, 8000)
    assert float(np.max(np.abs(y[800:-800]))) < 1e-3


def test_resample_int16_and_float64_and_identity() -> None:
    x16 = float32_to_pcm16(sine(440.0, 24000))
    y16 = resample(x16, 24000, 16000)
    yf = resample(pcm16_to_float32(x16), 24000, 16000)
    assert np.max(np.abs(pcm16_to_float32(y16) - yf)) < 2 / 32768
    assert resample(x16.astype(np.float64) / 32768, 24000, 16000).dtype == np.float64
    same = resample(x16, 24000, 24000)
    np.testing.assert_array_equal(same, x16)
    assert same is not x16
    assert resample(np.zeros(0, np.float32), 24000, 8000).shape == (0,)
    # Any byte order and strides; the result is native.
    xf = pcm16_to_float32(x16)
    np.testing.assert_array_equal(
        resample(xf.astype(">f4"), 24000, 8000), resample(xf, 24000, 8000)
    )
    np.testing.assert_array_equal(
        resample(xf[::2], 24000, 8000), resample(xf[::2].copy(), 24000, 8000)
    )
    r = Resampler(24000, 16000, ">f4")
    assert r.process(xf.astype(">f4")).dtype == np.float32


def test_resample_errors() -> None:
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError) as exc:
        resample(x, 11025, 16000)
    assert str(exc.value) == (
        "unsupported sample rate 11025; supported: 8000, 16000, 24000, 44100, 48000"
    )
    with pytest.raises(ValueError, match="unsupported sample rate 22050"):
        resample(x, 24000, 22050)
    with pytest.raises(ValueError, match=r"unsupported sample rate 16000\.0"):
        resample(x, 16000.0, 24000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported sample rate True"):
        resample(x, True, 24000)
    with pytest.raises(ValueError, match="expected float32, float64 or int16 samples, got int32"):
        resample(np.zeros(10, np.int32), 24000, 16000)
    with pytest.raises(ValueError, match=r"got shape \(10, 2\); mix down"):
        resample(np.zeros((10, 2), np.float32), 24000, 16000)
    with pytest.raises(ValueError, match="quality"):
        resample(x, 24000, 16000, quality="best")
    with pytest.raises(TypeError):
        resample([0.0, 1.0], 24000, 16000)  # type: ignore[arg-type]


@pytest.mark.parametrize(("src", "dst"), [(24000, 16000), (48000, 24000), (8000, 24000)])
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_resampler_streaming_matches_one_shot(src: int, dst: int, dtype: type) -> None:
    x = sine(300.0, src, 0.5) + sine(2500.0, src, 0.5, amp=0.2)
    if dtype is np.int16:
        x = float32_to_pcm16(x)
    one_shot = resample(x, src, dst)
    r = Resampler(src, dst, dtype)
    rng = np.random.default_rng(1)
    for _round in range(2):  # the resampler is reusable after flush()
        parts, i = [], 0
        while i < x.shape[0]:
            k = int(rng.integers(1, 700))
            parts.append(r.process(x[i : i + k]))
            i += k
        parts.append(r.flush())
        assert all(p.dtype == dtype for p in parts)
        streamed = np.concatenate(parts)
        assert streamed.shape == one_shot.shape
        # soxr dithers int16 output, so int16 streams differ from one-shot by a few LSBs.
        np.testing.assert_allclose(streamed, one_shot, atol=4 if dtype is np.int16 else 1e-6)


def test_resampler_passthrough_and_errors() -> None:
    r = Resampler(24000, 24000, np.int16)
    chunk = np.arange(10, dtype=np.int16)
    np.testing.assert_array_equal(r.process(chunk), chunk)
    assert r.flush().shape == (0,)
    assert "Resampler(24000, 24000, int16" in repr(r)
    r = Resampler(24000, 16000)
    with pytest.raises(ValueError, match=r"expected a float32 chunk .* got int16"):
        r.process(chunk)
    with pytest.raises(ValueError, match="1-D mono"):
        r.process(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="unsupported sample rate 11025"):
        Resampler(11025, 16000)
    with pytest.raises(ValueError, match="got int32"):
        Resampler(24000, 16000, np.int32)


# --------------------------------------------------------------------------- WAV


def riff(fmt_body: bytes, data: bytes, before_data: bytes = b"") -> bytes:
    """A RIFF/WAVE file from a 'fmt ' chunk body and the sample bytes."""
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + before_data
    chunks += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def fmt_chunk(tag: int, channels: int, rate: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def fmt_extensible(subformat: int, channels: int, rate: int, bits: int) -> bytes:
    guid = (
        struct.pack("<H", subformat) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    )
    return fmt_chunk(0xFFFE, channels, rate, bits) + struct.pack("<HHI", 22, bits, 0) + guid


def wave_bytes(frames: bytes, channels: int, width: int, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def test_wav_round_trip_mono(tmp_path: Path) -> None:
    x = float32_to_pcm16(sine(440.0, 16000, 0.25) + 0.01)
    path = tmp_path / "a.wav"
    write_wav(path, x, 16000)
    y, rate = read_wav(path)
    assert rate == 16000
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, pcm16_to_float32(x))
    # str path, bytes, file object; float input is quantised to 16 bits.
    f = sine(100.0, 44100, 0.1)
    buf = io.BytesIO()
    write_wav(buf, f, 44100)
    assert not buf.closed
    data = buf.getvalue()
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 44100)
        assert w.getnframes() == f.shape[0]
    for source in (data, io.BytesIO(data), memoryview(data)):
        y, rate = read_wav(source)
        assert rate == 44100
        assert np.max(np.abs(y - f)) <= 0.5 / 32768 + 1e-9
    write_wav(str(tmp_path / "b.wav"), np.zeros(0, np.int16), 8000)
    y, rate = read_wav(str(tmp_path / "b.wav"))
    assert (y.shape, rate) == ((0,), 8000)


def test_wav_stereo_written_with_wave_is_averaged() -> None:
    left = float32_to_pcm16(sine(300.0, 22050, 0.2))
    right = float32_to_pcm16(sine(1200.0, 22050, 0.2, amp=0.25))
    frames = np.stack([left, right], axis=1).astype("<i2").tobytes()
    y, rate = read_wav(wave_bytes(frames, 2, 2, 22050))
    assert rate == 22050
    assert y.shape == left.shape
    expected = (left.astype(np.float64) + right) / 2 / 32768
    np.testing.assert_allclose(y, expected, atol=1e-7)


def test_wav_8_24_32_bit_pcm() -> None:
    v = np.array([-1.0, -0.5, 0.0, 0.25, 0.5 - 2**-7], dtype=np.float64)
    u8 = (np.round(v * 128) + 128).astype(np.uint8).tobytes()
    y, _ = read_wav(wave_bytes(u8, 1, 1, 8000))
    np.testing.assert_allclose(y, v, atol=1e-7)
    i32 = np.round(v * 2**31).astype("<i4")
    y, _ = read_wav(wave_bytes(i32.tobytes(), 1, 4, 8000))
    np.testing.assert_allclose(y, v, atol=1e-7)
    i24 = (i32 >> 8).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    y, rate = read_wav(wave_bytes(i24, 1, 3, 48000))
    assert rate == 48000
    np.testing.assert_allclose(y, v, atol=1e-7)
    # Stereo 24-bit: channels averaged.
    st = np.stack([i32 >> 8, np.zeros_like(i32)], axis=1).astype("<i4")
    i24_stereo = st.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    y, _ = read_wav(wave_bytes(i24_stereo, 2, 3, 8000))
    np.testing.assert_allclose(y, v / 2, atol=1e-7)


def test_wav_ieee_float_and_extensible() -> None:
    v = np.array([-1.0, -0.25, 0.0, 0.125, 0.999], dtype=np.float32)
    data = riff(fmt_chunk(3, 1, 24000, 32), v.astype("<f4").tobytes())
    y, rate = read_wav(data)
    assert rate == 24000
    np.testing.assert_array_equal(y, v)
    y, _ = read_wav(riff(fmt_chunk(3, 1, 24000, 64), v.astype("<f8").tobytes()))
    np.testing.assert_array_equal(y, v)
    # Stereo float with an odd-sized chunk (and its pad byte) before the data.
    stereo = np.stack([v, -v / 2], axis=1).astype("<f4").tobytes()
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    y, _ = read_wav(riff(fmt_chunk(3, 2, 32000, 32), stereo, before_data=extra))
    np.testing.assert_allclose(y, v / 4, atol=1e-7)
    # WAVE_FORMAT_EXTENSIBLE: float and 24-bit PCM subformats.
    y, _ = read_wav(riff(fmt_extensible(3, 1, 48000, 32), v.astype("<f4").tobytes()))
    np.testing.assert_array_equal(y, v)
    i24 = (np.round(v.astype(np.float64) * 2**23).astype("<i4")).view(np.uint8).reshape(-1, 4)
    y, rate = read_wav(riff(fmt_extensible(1, 1, 96000, 24), i24[:, :3].tobytes()))
    assert rate == 96000
    np.testing.assert_allclose(y, v, atol=2**-23)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_wav_float_samples_out_of_range_are_clipped_and_nan_is_silence() -> None:
    """What float WAVs may hold beyond [-1, 1]: huge values (beyond float32), infinities and NaN
    read as full scale and silence, with no overflow on the way."""
    v = np.array([2.0, -3.0, np.nan, np.inf, -np.inf, 1e300, 0.5], dtype="<f8")
    y, _ = read_wav(riff(fmt_chunk(3, 1, 24000, 64), v.tobytes()))
    np.testing.assert_array_equal(y, np.array([1, -1, 0, 1, -1, 1, 0.5], dtype=np.float32))
    stereo = np.array([[np.nan, 1.0], [5.0, -5.0]], dtype="<f4")
    y, _ = read_wav(riff(fmt_chunk(3, 2, 24000, 32), stereo.tobytes()))
    np.testing.assert_array_equal(y, np.array([0.5, 0.0], dtype=np.float32))


def test_wav_g711_and_truncated_data() -> None:
    codes = ulaw_encode(float32_to_pcm16(sine(500.0, 8000, 0.1)))
    y, rate = read_wav(riff(fmt_chunk(7, 1, 8000, 8), codes.tobytes()))
    assert rate == 8000
    np.testing.assert_array_equal(y, pcm16_to_float32(ulaw_decode(codes)))
    y, _ = read_wav(riff(fmt_chunk(6, 1, 8000, 8), codes.tobytes()))
    np.testing.assert_array_equal(y, pcm16_to_float32(alaw_decode(codes)))
    # A data chunk whose header claims more than the file holds (a cut-off recording).
    full = riff(fmt_chunk(3, 1, 8000, 32), np.ones(10, "<f4").tobytes())
    y, _ = read_wav(full[:-9])  # 7 whole samples and 3 stray bytes
    np.testing.assert_array_equal(y, np.ones(7, np.float32))


def test_wav_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a WAV file"):
        read_wav(b"ID3\x03 this is an mp3")
    with pytest.raises(ValueError, match="unsupported WAV encoding: format tag 0x0002"):
        read_wav(riff(fmt_chunk(2, 1, 8000, 4), b"\x00" * 10))
    with pytest.raises(ValueError, match="unsupported WAV encoding: IEEE float with 16-bit"):
        read_wav(riff(fmt_chunk(3, 1, 8000, 16), b"\x00" * 10))
    with pytest.raises(ValueError, match="no 'fmt ' and 'data' chunks"):
        read_wav(b"RIFF\x04\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match=r"got shape \(10, 2\)"):
        write_wav(tmp_path / "x.wav", np.zeros((10, 2), np.float32), 8000)
    with pytest.raises(ValueError, match="positive sample rate"):
        write_wav(tmp_path / "x.wav", np.zeros(10, np.int16), 0)
    with pytest.raises(ValueError, match="integer sample rate"):
        write_wav(tmp_path / "x.wav", np.zeros(10, np.int16), 8000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected int16 PCM samples, got int32"):
        write_wav(tmp_path / "x.wav", np.zeros(10, np.int32), 8000)
    with pytest.raises(TypeError):
        read_wav(12345)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- formats


def test_formats_and_names() -> None:
    assert set(AUDIO_FORMATS) == {"pcm16", "g711_ulaw", "g711_alaw"}
    assert AUDIO_FORMATS["pcm16"] == AudioFormat("pcm16", 24000, 2)
    assert AUDIO_FORMATS["g711_ulaw"] == AudioFormat("g711_ulaw", 8000, 1)
    assert AUDIO_FORMATS["g711_alaw"] == AudioFormat("g711_alaw", 8000, 1)
    pairs = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
    for beta, mime in pairs.items():
        assert get_format(beta) is AUDIO_FORMATS[beta]
        assert get_format(mime) is AUDIO_FORMATS[beta]
        assert get_format(mime.upper()) is AUDIO_FORMATS[beta]
        assert get_format(AUDIO_FORMATS[beta]) is AUDIO_FORMATS[beta]
        assert AUDIO_FORMATS[beta].mime_type == mime
    assert get_format({"type": "audio/pcm", "rate": 24000}).name == "pcm16"
    assert get_format({"type": "audio/pcmu"}).name == "g711_ulaw"
    assert AUDIO_FORMATS["pcm16"].bytes_per_second == 48000
    with pytest.raises(dataclasses.FrozenInstanceError):
        AUDIO_FORMATS["pcm16"].sample_rate = 16000  # type: ignore[misc]
    with pytest.raises(TypeError):
        AUDIO_FORMATS["x"] = AUDIO_FORMATS["pcm16"]  # type: ignore[index]


def test_format_errors() -> None:
    with pytest.raises(ValueError) as exc:
        get_format("opus")
    assert "unknown audio format 'opus'" in str(exc.value)
    assert "'pcm16'" in str(exc.value)
    assert "'audio/pcmu'" in str(exc.value)
    with pytest.raises(ValueError, match="unknown audio format"):
        get_format(AudioFormat("pcm16", 16000, 2))
    with pytest.raises(ValueError, match="24000 Hz, got rate 16000"):
        get_format({"type": "audio/pcm", "rate": 16000})
    with pytest.raises(ValueError, match="unknown audio format"):
        get_format({"rate": 24000})
    with pytest.raises(ValueError, match="unknown audio format"):
        encode_audio(np.zeros(10, np.int16), 24000, "mp3")


def test_encode_audio_pcm16() -> None:
    x = float32_to_pcm16(sine(440.0, 24000, 0.1))
    assert encode_audio(x, 24000, "pcm16") == pcm16_bytes(x)
    assert encode_audio(pcm16_to_float32(x), 24000, "audio/pcm") == pcm16_bytes(x)
    wire = encode_audio(sine(440.0, 48000, 0.1), 48000, "pcm16")
    assert len(wire) == 2400 * 2
    y = decode_audio(wire, "pcm16")
    assert y.dtype == np.float32
    assert y.shape == (2400,)
    assert abs(peak_hz(y, 24000) - 440.0) <= 10.0


@pytest.mark.parametrize(
    ("fmt", "enc", "dec"),
    [("g711_ulaw", ulaw_encode, ulaw_decode), ("audio/pcma", alaw_encode, alaw_decode)],
)
def test_encode_decode_audio_g711(fmt: str, enc, dec) -> None:
    x8 = float32_to_pcm16(sine(700.0, 8000, 0.2))
    assert encode_audio(x8, 8000, fmt) == enc(x8).tobytes()  # no resampling at 8 kHz
    wire = encode_audio(sine(700.0, 24000, 0.2), 24000, fmt)
    assert len(wire) == 1600
    y = decode_audio(wire, fmt)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, pcm16_to_float32(dec(wire)))
    ref = resample(sine(700.0, 24000, 0.2), 24000, 8000)
    noise = y[200:-200] - ref[200:-200]
    snr = 10 * np.log10(np.sum(ref[200:-200] ** 2) / np.sum(noise**2))
    assert snr > 30  # G.711 gives ~38 dB on a half-scale sine


def test_encode_decode_audio_errors() -> None:
    with pytest.raises(ValueError, match="unsupported sample rate 11025"):
        encode_audio(np.zeros(10, np.float32), 11025, "pcm16")
    with pytest.raises(ValueError, match="1-D mono"):
        encode_audio(np.zeros((10, 2), np.float32), 24000, "pcm16")
    with pytest.raises(ValueError, match="got int32"):
        encode_audio(np.zeros(10, np.int32), 24000, "pcm16")
    with pytest.raises(ValueError, match="even number of bytes"):
        decode_audio(b"\x00\x00\x00", "pcm16")
    assert decode_audio(b"\x00\x00\x00", "g711_ulaw").shape == (3,)
    with pytest.raises(TypeError):
        decode_audio(np.zeros(4, np.uint8), "pcm16")  # type: ignore[arg-type]


def test_duration_and_bytes_for_ms() -> None:
    assert duration_ms(48000, "pcm16") == 1000.0
    assert duration_ms(8000, "g711_ulaw") == 1000.0
    assert duration_ms(b"\x00" * 960, "audio/pcm") == 20.0
    assert duration_ms(np.zeros(2400, np.int16), "pcm16") == 100.0
    assert duration_ms(np.zeros(160, np.uint8), "audio/pcma") == 20.0
    assert bytes_for_ms(20, "pcm16") == 960
    assert bytes_for_ms(20, "g711_ulaw") == 160
    assert bytes_for_ms(0.03, "pcm16") == 2  # 0.72 samples rounds to one whole sample
    assert bytes_for_ms(0, "pcm16") == 0
    for ms in (1, 7.5, 20, 100, 1234.5):
        n = bytes_for_ms(ms, "pcm16")
        assert n % 2 == 0
        assert abs(duration_ms(n, "pcm16") - ms) <= 1000 / 24000 / 2 + 1e-9
    with pytest.raises(ValueError, match="non-negative"):
        duration_ms(-2, "pcm16")
    with pytest.raises(ValueError, match="non-negative"):
        bytes_for_ms(-1, "pcm16")
    with pytest.raises(ValueError, match="non-negative"):
        bytes_for_ms(float("nan"), "pcm16")


# --------------------------------------------------------------------------- chunking


def decode_events(events: list[dict[str, str]]) -> bytes:
    return b"".join(base64.b64decode(e["audio"]) for e in events)


def test_chunk_audio_events_basic() -> None:
    data = np.random.default_rng(0).integers(0, 256, 100_002, dtype=np.uint8).tobytes()
    events = list(chunk_audio_events(data, chunk_bytes=4096))
    assert len(events) == 25
    assert all(e == {"type": "input_audio_buffer.append", "audio": e["audio"]} for e in events)
    assert decode_events(events) == data
    sizes = [len(base64.b64decode(e["audio"])) for e in events]
    assert sizes[:-1] == [4096] * 24
    assert sizes[-1] == 100_002 - 24 * 4096
    assert all(s % 2 == 0 for s in sizes)
    with_ids = list(chunk_audio_events(data, 48_000, event_id_prefix="evt_audio_"))
    assert [e["event_id"] for e in with_ids] == ["evt_audio_0", "evt_audio_1", "evt_audio_2"]
    assert decode_events(with_ids) == data
    assert list(chunk_audio_events(b"")) == []
    # Default chunk: 1 s of pcm16 at 24 kHz.
    assert [len(base64.b64decode(e["audio"])) for e in chunk_audio_events(data)] == [48000] * 2 + [
        4002
    ]


def test_chunk_audio_events_g711_allows_odd_sizes() -> None:
    data = bytes(range(256)) * 4 + b"\x01"
    events = list(chunk_audio_events(data, chunk_bytes=333, fmt="g711_ulaw"))
    assert decode_events(events) == data
    assert len(events) == 4


def test_chunk_audio_events_limit() -> None:
    biggest = max_chunk_bytes()
    assert biggest % 2 == 0
    assert biggest > 11_000_000
    # The largest allowed chunk really serialises to less than 15 MiB ...
    data = b"\x00" * biggest
    (event,) = chunk_audio_events(data, chunk_bytes=biggest, event_id_prefix=None)
    size = len(json.dumps(event).encode())
    assert size < MAX_EVENT_BYTES
    assert size > MAX_EVENT_BYTES - 16
    # ... and one more sample is rejected eagerly, before iterating.
    with pytest.raises(ValueError) as exc:
        chunk_audio_events(b"\x00\x00", chunk_bytes=biggest + 2)
    assert "15 MiB" in str(exc.value)
    assert f"use chunk_bytes <= {biggest}" in str(exc.value)
    # A long event id leaves room for less audio.
    prefix = "x" * 1000
    assert max_chunk_bytes("pcm16", prefix + "0") < biggest
    with pytest.raises(ValueError, match="15 MiB"):
        chunk_audio_events(b"\x00\x00", chunk_bytes=biggest, event_id_prefix=prefix)
    assert max_chunk_bytes("g711_ulaw") >= biggest


def test_chunk_audio_events_errors() -> None:
    with pytest.raises(ValueError, match=r"multiple of 2 .* got 4095"):
        chunk_audio_events(b"\x00" * 10, chunk_bytes=4095)
    with pytest.raises(ValueError, match="even number of bytes"):
        chunk_audio_events(b"\x00" * 11)
    with pytest.raises(ValueError, match="positive integer chunk_bytes"):
        chunk_audio_events(b"\x00" * 10, chunk_bytes=0)
    with pytest.raises(ValueError, match="positive integer chunk_bytes"):
        chunk_audio_events(b"\x00" * 10, chunk_bytes=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown audio format"):
        chunk_audio_events(b"\x00" * 10, fmt="flac")
    with pytest.raises(TypeError, match="pcm16_bytes"):
        chunk_audio_events(np.zeros(10, np.int16))  # type: ignore[arg-type]
