"""Property-based tests (hypothesis) of rt_jupyter.audio."""

from __future__ import annotations

import base64
import io
import json
import wave

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rt_jupyter.audio import (
    MAX_EVENT_BYTES,
    SUPPORTED_RATES,
    alaw_decode,
    alaw_encode,
    chunk_audio_events,
    decode_audio,
    encode_audio,
    float32_to_pcm16,
    pcm16_bytes,
    pcm16_from_bytes,
    pcm16_to_float32,
    read_wav,
    resample,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

int16_arrays = hnp.arrays(np.int16, st.integers(0, 3000), elements=st.integers(-32768, 32767))
rates = st.sampled_from(SUPPORTED_RATES)


def ulaw_error_bound(x: np.ndarray) -> np.ndarray:
    mag = np.abs(x.astype(np.int64))
    bound: np.ndarray = np.maximum((mag + 132) / 32 + 4, mag - 32124)
    return bound


def alaw_error_bound(x: np.ndarray) -> np.ndarray:
    return np.abs(x.astype(np.int64)) / 32 + 8


@given(int16_arrays)
def test_g711_round_trip_within_quantisation_bound(x: np.ndarray) -> None:
    u = ulaw_decode(ulaw_encode(x))
    a = alaw_decode(alaw_encode(x))
    assert u.shape == a.shape == x.shape
    assert np.all(np.abs(u.astype(np.int64) - x) <= ulaw_error_bound(x))
    assert np.all(np.abs(a.astype(np.int64) - x) <= alaw_error_bound(x))


@given(int16_arrays)
def test_g711_encode_is_monotonic(x: np.ndarray) -> None:
    # Larger samples never decode to smaller values.
    order = np.argsort(x, kind="stable")
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = dec(enc(x))[order]
        assert np.all(np.diff(y.astype(np.int64)) >= 0)


@given(int16_arrays)
def test_pcm16_float32_round_trip_exact(x: np.ndarray) -> None:
    f = pcm16_to_float32(x)
    assert f.dtype == np.float32
    assert np.all((f >= -1.0) & (f < 1.0))
    np.testing.assert_array_equal(float32_to_pcm16(f), x)
    np.testing.assert_array_equal(pcm16_from_bytes(pcm16_bytes(x)), x)


@given(
    hnp.arrays(
        np.float32,
        st.integers(0, 500),
        elements=st.floats(-1.0, 32767 / 32768, width=32, allow_nan=False),
    )
)
def test_float32_to_pcm16_rounds_to_nearest(f: np.ndarray) -> None:
    y = float32_to_pcm16(f)
    assert np.all(np.abs(pcm16_to_float32(y).astype(np.float64) - f) <= 0.5 / 32768)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 20000), rates, rates)
def test_resample_length(n: int, src: int, dst: int) -> None:
    x = np.zeros(n, np.float32)
    y = resample(x, src, dst)
    assert abs(y.shape[0] - n * dst / src) <= 1


@settings(max_examples=25, deadline=None)
@given(rates, rates, st.floats(0.05, 0.4), st.floats(0.0, 6.28))
def test_resample_keeps_sine_frequency(src: int, dst: int, rel_freq: float, phase: float) -> None:
    freq = rel_freq * min(src, dst)  # below both Nyquist frequencies, away from the band edge
    t = np.arange(src // 2) / src
    x = (0.5 * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    y = resample(x, src, dst).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[0])))
    peak = np.argmax(spectrum) * dst / y.shape[0]
    assert abs(peak - freq) <= 2 * dst / y.shape[0]  # within two FFT bins


@settings(max_examples=30, deadline=None)
@given(int16_arrays, st.integers(1, 192000))
def test_wav_round_trip(x: np.ndarray, rate: int) -> None:
    buf = io.BytesIO()
    write_wav(buf, x, rate)
    y, got_rate = read_wav(buf.getvalue())
    assert got_rate == rate
    np.testing.assert_array_equal(y, pcm16_to_float32(x))


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(np.int16, st.tuples(st.integers(0, 500), st.integers(1, 6))),
    st.sampled_from([1, 2, 3, 4]),
)
def test_wav_multichannel_written_with_wave_is_averaged(frames: np.ndarray, width: int) -> None:
    channels = frames.shape[1]
    if width == 1:
        raw = ((frames >> 8) + 128).astype(np.uint8).tobytes()
        expected = (frames >> 8).astype(np.float64) / 128
    else:
        wide = frames.astype("<i4") << 16  # the int16 value in the top bytes of the sample
        raw = wide.view(np.uint8).reshape(-1, 4)[:, 4 - width :].tobytes()
        expected = frames.astype(np.float64) / 32768
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(16000)
        w.writeframes(raw)
    y, rate = read_wav(buf.getvalue())
    assert rate == 16000
    np.testing.assert_allclose(y, expected.mean(axis=1), atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 5000).flatmap(lambda n: st.binary(min_size=2 * n, max_size=2 * n)),
    st.integers(1, 3000).map(lambda k: 2 * k),
    st.one_of(st.none(), st.text(max_size=20)),
)
def test_chunking_round_trip(data: bytes, chunk_bytes: int, prefix: str | None) -> None:
    events = list(chunk_audio_events(data, chunk_bytes, event_id_prefix=prefix))
    assert len(events) == -(-len(data) // chunk_bytes)
    chunks = [base64.b64decode(e["audio"], validate=True) for e in events]
    assert b"".join(chunks) == data
    for i, (event, chunk) in enumerate(zip(events, chunks, strict=True)):
        assert event["type"] == "input_audio_buffer.append"
        assert len(chunk) % 2 == 0
        assert len(chunk) == chunk_bytes or i == len(events) - 1
        assert len(json.dumps(event).encode()) < MAX_EVENT_BYTES
        if prefix is None:
            assert "event_id" not in event
        else:
            assert event["event_id"] == f"{prefix}{i}"


@settings(max_examples=30, deadline=None)
@given(int16_arrays)
def test_encode_decode_audio_pcm16_round_trip(x: np.ndarray) -> None:
    wire = encode_audio(x, 24000, "pcm16")
    assert len(wire) == 2 * x.shape[0]
    np.testing.assert_array_equal(decode_audio(wire, "audio/pcm"), pcm16_to_float32(x))
