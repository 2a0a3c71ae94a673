"""Bad arguments to the Python API: ``rt_jupyter.connect``, ``RealtimeSession.update``/``say``/
``send_audio``, ``protocol.session_update``, ``rt_jupyter.audio``, ``function_tool``, the
``VoiceChat`` traits and ``EventLog.from_jsonl``.

Each must fail with ``ValueError`` or ``TypeError`` (``TraitError`` for traits, as traitlets
does) whose message names the parameter and says what to do, never with an obscure internal
error. Known bugs are strict xfails whose reason says what goes wrong and how to fix it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import enum
import inspect
import json
import math
import struct
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import anywidget
import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
import traitlets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rt_jupyter
from rt_jupyter import VoiceChat, audio
from rt_jupyter.client.errors import ServerError
from rt_jupyter.client.session import RealtimeSession
from rt_jupyter.jupyter.tools import ToolArgumentError, function_tool
from rt_jupyter.local.faults import Faults
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from rt_jupyter.protocol import session_update
from tests.conformance import validate_client_event


def hard_leaks(message: str) -> list[str]:
    """Internals in an API error message (the repr of the caller's own value is fine here)."""
    import re

    return re.findall(
        r"Traceback \(most recent|File \"[^\"]+\", line \d+|\brt_jupyter/\S+\.py", message
    )


SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    report_multiple_bugs=False,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Python values a notebook user may pass by mistake.
ODD = st.sampled_from(
    [
        object(),
        b"x",
        {1, 2},
        np.float32(1.0),
        np.int64(3),
        complex(1, 2),
        math.nan,
        math.inf,
        print,
        ("audio",),
        frozenset(),
        np.zeros(3),
        Path("x"),
    ]
)
ANY = JSON | ODD


def raises_naming(
    fn: Callable[[], Any],
    *words: str,
    kinds: tuple[type[BaseException], ...] = (ValueError, TypeError),
) -> str:
    """Call ``fn``; assert it raises one of ``kinds`` whose message contains every one of
    ``words`` (and no internals); returns the message."""
    try:
        fn()
    except kinds as exc:
        message = str(exc)
    except Exception as exc:  # the wrong kind of error: say which
        raise AssertionError(f"{type(exc).__name__}: {exc}") from None
    else:
        raise AssertionError("no error")
    missing = [w for w in words if w.lower() not in message.lower()]
    assert not missing, f"{message!r} does not mention {missing}"
    assert not hard_leaks(message), message
    return message


# --- protocol.session_update ---------------------------------------------------------------------

_PARAMS = tuple(inspect.signature(session_update).parameters)


@SETTINGS
@given(st.dictionaries(st.sampled_from(_PARAMS), ANY, max_size=4))
def test_session_update_random_kwargs(kwargs: dict[str, Any]) -> None:
    """Any values: ValueError/TypeError, or a session the official GA types accept."""
    try:
        session = session_update(**kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc) and not hard_leaks(str(exc))
        return
    session.pop("temperature", None)  # beta only: the connection drops it for GA servers
    validate_client_event({"type": "session.update", "session": session}, "ga")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"voice": 3}, ["voice", "string"]),
        ({"speed": 9}, ["speed", "0.25", "1.5"]),
        ({"speed": "fast"}, ["speed"]),
        ({"instructions": 5}, ["instructions", "string"]),
        ({"turn_detection": "always"}, ["turn_detection", "server_vad", "None"]),
        ({"turn_detection": {"threshold": 2}}, ["turn_detection", "threshold", "1.0"]),
        ({"modalities": ["video"]}, ["modalities", "audio", "text"]),
        ({"input_audio_format": "mp3"}, ["input_audio_format", "pcm16", "g711_ulaw"]),
        ({"input_audio_transcription": 5}, ["input_audio_transcription", "True"]),
        ({"max_output_tokens": 0}, ["max_output_tokens", "4096", "inf"]),
        ({"temperature": 3.0}, ["temperature", "0.6", "1.2"]),
        ({"tool_choice": 5}, ["tool_choice"]),
        ({"noise_reduction": "loud"}, ["noise_reduction"]),
        ({"session_type": "x"}, ["type", "realtime", "transcription"]),
        ({"bogus": 1}, ["bogus"]),
    ],
)
def test_session_update_errors_name_the_parameter(kwargs: dict[str, Any], words: list[str]) -> None:
    raises_naming(lambda: session_update(**kwargs), *words)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tools": 5}, "tools"),
        ({"tools": "abc"}, "tools"),
        ({"tools": [5]}, "tools"),
        ({"include": 5}, "include"),
        ({"modalities": 5}, "modalities"),
        ({"input_audio_format": {}}, "input_audio_format"),
    ],
)
def test_session_update_iterables_are_checked(kwargs: dict[str, Any], name: str) -> None:
    raises_naming(lambda: session_update(**kwargs), name)


# --- rt_jupyter.audio ----------------------------------------------------------------------------

FORMATS = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw", "audio/pcm", "audio/pcmu"]) | ANY
RATES = st.sampled_from([8000, 16000, 24000, 44100, 48000]) | st.integers(-5, 10**6) | ANY
ARRAYS = hnp.arrays(
    dtype=st.sampled_from(
        [np.float32, np.float64, np.int16, np.int32, np.uint8, np.complex64, np.bool_, np.float16]
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=64),
)
SAMPLES = ARRAYS | ANY
BYTES = st.binary(max_size=200) | ANY


_REFUSED = object()


def result_or_refused(fn: Callable[[], Any]) -> Any:
    """``fn()``'s result, or ``_REFUSED`` for a ValueError/TypeError with a clean message."""
    try:
        return fn()
    except (ValueError, TypeError) as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        assert not hard_leaks(str(exc)), str(exc)
        return _REFUSED


#: (sample rate, bytes per sample) of each format, from the Realtime API reference.
_WIRE = {"pcm16": (24000, 2), "g711_ulaw": (8000, 1), "g711_alaw": (8000, 1)}
_MIME = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}


def _wire_name(fmt: Any) -> str:
    """The beta name of a format the code under test accepted."""
    name = fmt.get("type") if isinstance(fmt, Mapping) else fmt  # GA: {"type": "audio/pcm"}
    key = name.strip().lower() if isinstance(name, str) else None
    key = _MIME.get(key, key) if key is not None else None
    assert key is not None and key in _WIRE, f"accepted an unknown audio format {fmt!r}"
    return key


def _wire_of(fmt: Any) -> tuple[int, int]:
    """The (rate, width) of a format the code under test accepted."""
    return _WIRE[_wire_name(fmt)]


def _n_bytes(data: Any) -> int:
    return memoryview(data).nbytes


def _as_int16(samples: Any) -> npt.NDArray[np.int16]:
    """int16 samples as given: an array, or little-endian pcm16 bytes."""
    if isinstance(samples, bytes | bytearray | memoryview):
        return np.frombuffer(bytes(samples), dtype="<i2").astype(np.int16)
    assert isinstance(samples, np.ndarray)
    return samples


def _expected_length(n: int, from_rate: int, to_rate: int) -> float:
    """The resampled length, to be met within half a sample (the duration is kept)."""
    return n * to_rate / from_rate


# --- an ITU-T G.711 reference, written from the standard (not from rt_jupyter.audio) ------------


def g711_ulaw_linear(code: int) -> int:
    """G.711 μ-law decoding: the inverted code's segment ``s`` and mantissa ``m`` give the 14-bit
    magnitude ``(2m + 33) * 2**s - 33`` (negative when the inverted sign bit is set), as 16 bits."""
    u = ~code & 0xFF
    segment, mantissa = (u >> 4) & 7, u & 0x0F
    magnitude = ((2 * mantissa + 33) << segment) - 33
    return -4 * magnitude if u & 0x80 else 4 * magnitude


def g711_alaw_linear(code: int) -> int:
    """G.711 A-law decoding: the code XOR 0x55 gives segment ``s`` and mantissa ``m``; the 13-bit
    magnitude is ``2m + 1`` in segment 0, else ``(2m + 33) * 2**(s - 1)`` (sign bit set: positive),
    as 16 bits."""
    a = code ^ 0x55
    segment, mantissa = (a >> 4) & 7, a & 0x0F
    magnitude = 2 * mantissa + 1 if segment == 0 else (2 * mantissa + 33) << (segment - 1)
    return 8 * magnitude if a & 0x80 else -8 * magnitude


G711_LEVELS = {
    "g711_ulaw": np.array([g711_ulaw_linear(c) for c in range(256)], dtype=np.int64),
    "g711_alaw": np.array([g711_alaw_linear(c) for c in range(256)], dtype=np.int64),
}


def g711_error_bound(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Largest G.711 round-trip error for int16 samples ``x``: half a quantization step (1/32 of
    the segment's start, the 4-bit mantissa halving a segment 16 times) plus the bits the
    encoder drops (2 for μ-law, 3 for A-law); full scale is clipped to the top level, still
    within it (μ-law tops out at 32124, A-law at 32256)."""
    return np.abs(x.astype(np.float64)) / 32 + 8


def wire_to_float(wire: bytes, fmt: str) -> npt.NDArray[np.float64]:
    """Wire bytes to samples in [-1, 1) with the reference decoders (little-endian int16 for
    pcm16, the G.711 levels for the others)."""
    if fmt == "pcm16":
        return np.frombuffer(wire, dtype="<i2").astype(np.float64) / 32768
    return G711_LEVELS[fmt][np.frombuffer(wire, dtype=np.uint8)].astype(np.float64) / 32768


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # huge floats: clipped
@SETTINGS
@given(samples=SAMPLES, rate=RATES, fmt=FORMATS, data=BYTES, to_rate=RATES)
def test_audio_conversions_random_arguments(
    samples: Any, rate: Any, fmt: Any, data: Any, to_rate: Any
) -> None:
    """encode/decode/resample/G.711/PCM helpers with arbitrary arguments: a ValueError/TypeError
    with a message, or a result of the right type, length and content."""
    wire = result_or_refused(lambda: audio.encode_audio(samples, rate, fmt))
    if wire is not _REFUSED:
        fmt_rate, width = _wire_of(fmt)
        assert isinstance(wire, bytes) and len(wire) % width == 0, (len(wire), width)
        n_out = len(wire) // width
        assert abs(n_out - _expected_length(samples.shape[0], rate, fmt_rate)) <= 0.5, n_out

    decoded = result_or_refused(lambda: audio.decode_audio(data, fmt))
    if decoded is not _REFUSED:
        _, width = _wire_of(fmt)
        assert decoded.dtype == np.float32 and decoded.shape == (_n_bytes(data) // width,)
        assert ((decoded >= -1) & (decoded < 1)).all()
        expected = wire_to_float(bytes(data), _wire_name(fmt))
        assert np.array_equal(decoded.astype(np.float64), expected)

    resampled = result_or_refused(lambda: audio.resample(samples, rate, to_rate))
    if resampled is not _REFUSED:
        assert resampled.dtype == samples.dtype.newbyteorder("=") and resampled.ndim == 1
        n_expected = _expected_length(samples.shape[0], rate, to_rate)
        assert abs(resampled.shape[0] - n_expected) <= 0.5, (resampled.shape, n_expected)
        if rate == to_rate:
            assert np.array_equal(resampled, samples, equal_nan=samples.dtype.kind == "f")

    found = result_or_refused(lambda: audio.get_format(fmt))
    if found is not _REFUSED:
        assert (found.sample_rate, found.bytes_per_sample) == _wire_of(fmt)

    ulaw = result_or_refused(lambda: audio.ulaw_encode(samples))
    if ulaw is not _REFUSED:
        pcm = _as_int16(samples)
        assert ulaw.dtype == np.uint8 and ulaw.shape == pcm.shape
        error = np.abs(G711_LEVELS["g711_ulaw"][ulaw] - pcm.astype(np.int64))
        assert (error <= g711_error_bound(pcm)).all()

    alaw = result_or_refused(lambda: audio.alaw_decode(data))
    if alaw is not _REFUSED:
        codes = np.frombuffer(bytes(data), dtype=np.uint8)
        assert alaw.dtype == np.int16 and np.array_equal(alaw, G711_LEVELS["g711_alaw"][codes])

    pcm_bytes = result_or_refused(lambda: audio.pcm16_bytes(samples))
    if pcm_bytes is not _REFUSED:
        assert isinstance(pcm_bytes, bytes)
        if isinstance(samples, np.ndarray) and samples.dtype.kind == "f":
            assert len(pcm_bytes) == 2 * samples.shape[0]
        else:
            assert pcm_bytes == _as_int16(samples).astype("<i2").tobytes()

    pcm16 = result_or_refused(lambda: audio.float32_to_pcm16(samples))
    if pcm16 is not _REFUSED:
        assert pcm16.dtype == np.int16 and pcm16.shape == samples.shape
        scaled = np.nan_to_num(
            samples.astype(np.float64) * 32768, nan=0.0, posinf=32767.0, neginf=-32768.0
        )
        assert (np.abs(pcm16 - np.clip(scaled, -32768, 32767)) <= 0.5).all()

    floats = result_or_refused(lambda: audio.pcm16_to_float32(data))
    if floats is not _REFUSED:
        assert floats.dtype == np.float32
        assert np.array_equal(floats * 32768, np.frombuffer(bytes(data), dtype="<i2"))

    streamed = result_or_refused(lambda: audio.Resampler(rate, to_rate).process(samples))
    if streamed is not _REFUSED:
        assert streamed.dtype == np.float32
        if rate == to_rate:
            assert np.array_equal(streamed, samples, equal_nan=True)
        else:  # the filter holds some output back until flush()
            assert streamed.shape[0] <= _expected_length(samples.shape[0], rate, to_rate) + 0.5

    events = result_or_refused(lambda: list(audio.chunk_audio_events(data, rate, fmt=fmt)))
    if events is not _REFUSED:
        chunks = [base64.b64decode(e["audio"]) for e in events]
        assert all(e["type"] == "input_audio_buffer.append" for e in events)
        assert b"".join(chunks) == bytes(data) and all(len(c) <= rate for c in chunks)
        assert all(len(c) % _wire_of(fmt)[1] == 0 for c in chunks)

    ms = result_or_refused(lambda: audio.duration_ms(data, fmt))
    if ms is not _REFUSED:
        fmt_rate, width = _wire_of(fmt)
        if isinstance(data, np.ndarray):
            n_samples = float(data.shape[0])
        elif isinstance(data, bytes | bytearray | memoryview):
            n_samples = _n_bytes(data) / width
        else:
            n_samples = int(data) / width
        assert ms == pytest.approx(n_samples * 1000 / fmt_rate)


# Real round trips, each against a reference computed here (never by rt_jupyter.audio).
ROUND_TRIPS = settings(SETTINGS, max_examples=40)
WIRE_FORMATS = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"])
INT16 = hnp.arrays(np.int16, st.integers(0, 3000))


@ROUND_TRIPS
@given(x=INT16)
def test_pcm16_round_trip_is_exact(x: npt.NDArray[np.int16]) -> None:
    """int16 at 24 kHz to pcm16: little-endian int16 bytes, 2 per sample, decoded back exactly."""
    wire = audio.encode_audio(x, 24000, "pcm16")
    assert wire == x.astype("<i2").tobytes()
    back = audio.decode_audio(wire, "pcm16")
    assert back.dtype == np.float32 and back.shape == x.shape
    assert np.array_equal(back * 32768, x)


@ROUND_TRIPS
@given(
    x=hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        st.integers(0, 3000),
        elements=st.floats(-1, 1, width=32),
    )
)
def test_pcm16_float_round_trip_within_half_a_step(x: npt.NDArray[np.floating[Any]]) -> None:
    """Float samples in [-1, 1] to pcm16 and back: within half an LSB (1.0 clips to 32767)."""
    wire = audio.encode_audio(x, 24000, "pcm16")
    assert len(wire) == 2 * x.shape[0]
    target = np.clip(x.astype(np.float64) * 32768, -32768, 32767)
    assert (np.abs(np.frombuffer(wire, dtype="<i2") - target) <= 0.5).all()
    back = audio.decode_audio(wire, "pcm16").astype(np.float64)
    assert (np.abs(back - target / 32768) <= 0.5 / 32768).all()


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_decoding_matches_the_itu_levels(fmt: str) -> None:
    """Every code decodes to its G.711 level; long runs too (decoded two codes at a time)."""
    assert np.array_equal(audio.decode_audio(bytes(range(256)), fmt) * 32768, G711_LEVELS[fmt])
    codes = np.random.default_rng(11).integers(0, 256, 5001, dtype=np.uint8)
    for run in (codes, codes[:-1]):  # odd and even lengths
        decoded = audio.decode_audio(run.tobytes(), fmt)
        assert np.array_equal(decoded * 32768, G711_LEVELS[fmt][run])


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_encoding_of_every_int16_is_within_the_quantization_bound(fmt: str) -> None:
    """All 65,536 int16 values at 8 kHz: one byte each, decoded level within the G.711 bound,
    monotonic (a louder sample never gets a quieter level); every level encodes to its own code
    (μ-law's negative zero, 0x7F, encodes as positive zero, 0xFF)."""
    x = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    wire = audio.encode_audio(x, 8000, fmt)
    assert len(wire) == x.shape[0]
    level = G711_LEVELS[fmt][np.frombuffer(wire, dtype=np.uint8)]
    error = np.abs(level - x.astype(np.int64))
    worst = int(np.argmax(error - g711_error_bound(x)))
    assert (error <= g711_error_bound(x)).all(), (int(x[worst]), int(level[worst]))
    assert (np.diff(level) >= 0).all()
    assert (np.sign(level) * np.sign(x) >= 0).all()
    codes = np.frombuffer(
        audio.encode_audio(G711_LEVELS[fmt].astype(np.int16), 8000, fmt), np.uint8
    )
    expected = np.arange(256)
    if fmt == "g711_ulaw":
        expected[0x7F] = 0xFF
    assert np.array_equal(codes, expected)


@ROUND_TRIPS
@given(
    rate=st.sampled_from(audio.SUPPORTED_RATES),
    fmt=WIRE_FORMATS,
    freq=st.floats(100, 3400),
    amplitude=st.floats(0.05, 0.95),
    ms=st.integers(50, 400),
    dtype=st.sampled_from([np.float32, np.float64, np.int16]),
)
def test_encoding_a_sine_keeps_duration_frequency_and_energy(
    rate: int, fmt: str, freq: float, amplitude: float, ms: int, dtype: Any
) -> None:
    """A sine at any supported rate, encoded to a wire format (resampled to its rate when they
    differ): the duration within half a sample, and the waveform of the same sine sampled at the
    format's rate (frequency within 1%, RMS within 3%, samples within 5% RMS of the signal)."""
    fmt_rate, width = _WIRE[fmt]
    n = rate * ms // 1000
    sine = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)
    x = np.rint(sine * 32767).astype(np.int16) if dtype is np.int16 else sine.astype(dtype)
    wire = audio.encode_audio(x, rate, fmt)
    assert len(wire) % width == 0
    n_out = len(wire) // width
    assert abs(n_out - n * fmt_rate / rate) <= 0.5, (n_out, n * fmt_rate / rate)
    edge = fmt_rate // 100  # 10 ms at each end: the resampling filter's start and end
    y = wire_to_float(wire, fmt)[edge:-edge]
    ideal = amplitude * np.sin(2 * np.pi * freq * np.arange(n_out) / fmt_rate)[edge:-edge]
    rms = amplitude / math.sqrt(2)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[0]), 1 << 18))
    peak_hz = float(np.argmax(spectrum)) * fmt_rate / (1 << 18)
    assert peak_hz == pytest.approx(freq, rel=0.01), "frequency"
    assert float(np.sqrt(np.mean(y**2))) == pytest.approx(rms, rel=0.03), "energy"
    assert float(np.sqrt(np.mean((y - ideal) ** 2))) <= 0.05 * rms, "waveform"


@SETTINGS
@given(ms=st.floats() | ANY, fmt=st.sampled_from(["pcm16", "g711_ulaw"]))
@example(ms="10", fmt="pcm16")
@example(ms=math.inf, fmt="pcm16")
def test_bytes_for_ms_random_arguments(ms: Any, fmt: str) -> None:
    try:
        audio.bytes_for_ms(ms, fmt)
    except (ValueError, TypeError) as exc:
        assert "ms" in str(exc) or "duration" in str(exc), str(exc)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from None


def _wav(tag: int, channels: int, rate: int, block_align: int, bits: int, data: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * max(block_align, 1), block_align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.filterwarnings("error::RuntimeWarning")  # (no overflow on the way either)
@SETTINGS
@given(
    tag=st.sampled_from([1, 3, 6, 7, 0xFFFE, 2]),
    channels=st.integers(0, 3),
    rate=st.integers(0, 100_000),
    block_align=st.integers(0, 9),
    bits=st.integers(0, 64),
    data=st.binary(max_size=64),
)
@example(tag=3, channels=1, rate=8000, block_align=0, bits=0, data=b"\x00\x00")
def test_read_wav_random_headers(
    tag: int, channels: int, rate: int, block_align: int, bits: int, data: bytes
) -> None:
    try:
        samples, _ = audio.read_wav(_wav(tag, channels, rate, block_align, bits, data))
    except (ValueError, TypeError) as exc:
        assert "WAV" in str(exc), str(exc)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from None
    else:
        assert samples.dtype == np.float32 and samples.ndim == 1


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: audio.encode_audio([0.0], 24000, "pcm16"), ["numpy array"]),  # type: ignore[arg-type]
        (
            lambda: audio.encode_audio(np.zeros(4, np.float32), 22050, "pcm16"),
            ["sample rate", "24000"],
        ),
        (
            lambda: audio.encode_audio(np.zeros(4, np.float32), 24000, "mp3"),
            ["audio format", "pcm16"],
        ),
        (
            lambda: audio.encode_audio(np.zeros((4, 2), np.float32), 24000, "pcm16"),
            ["mono", "mean"],
        ),
        (lambda: audio.decode_audio(b"abc", "pcm16"), ["even number of bytes"]),
        (lambda: audio.read_wav(b"not a wav"), ["WAV"]),
        (lambda: audio.read_wav(5), ["path", "bytes"]),  # type: ignore[arg-type]
        (lambda: audio.write_wav("/tmp/never.wav", np.zeros(3), 0), ["sample rate"]),
        (lambda: list(audio.chunk_audio_events(b"\x00\x00", 3)), ["chunk_bytes", "multiple"]),
        (lambda: audio.float32_to_pcm16(np.zeros(3, np.int32)), ["float", "astype"]),
    ],
)
def test_audio_errors_say_what_to_do(call: Callable[[], Any], words: list[str]) -> None:
    raises_naming(call, *words)


# --- function_tool -------------------------------------------------------------------------------


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def forecast(
    city: str,
    days: int = 1,
    unit: Unit = Unit.C,
    mode: Literal["a", "b"] = "a",
    tags: list[str] | None = None,
) -> str:
    """A forecast.

    Args:
        city: The city.
        days: How many days.
    """
    return f"{city} {days} {unit.value} {mode} {tags}"


@SETTINGS
@given(arguments=JSON.map(json.dumps) | JSON | st.text(max_size=30) | st.none())
@example(arguments='{"city": "Paris", "days": "two"}')
@example(arguments='{"city": "Paris", "unit": "kelvin"}')
@example(arguments="[1]")
def test_tool_call_random_arguments(arguments: Any) -> None:
    """The model's arguments (JSON text or a dict, anything at all): a result, or a
    ToolArgumentError (a ValueError) that tells the model what was wrong."""
    tool = function_tool(forecast)
    if not isinstance(arguments, str | dict) and arguments is not None:
        return  # the API takes JSON text or a mapping
    try:
        result = tool.call(arguments)
    except ToolArgumentError as exc:
        assert str(exc) and not hard_leaks(str(exc))
    else:
        given_args: Any = json.loads(arguments) if isinstance(arguments, str) else arguments
        assert isinstance(result, str) and result.split()[0] == str(given_args["city"])


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: function_tool(5), ["function", "int"]),  # type: ignore[arg-type]
        (lambda: function_tool(lambda x: x), ["tool name", "name="]),
        (lambda: function_tool(forecast, name="a b"), ["tool name", "letters"]),
        (lambda: function_tool(_star_args), ["*args", "named parameter"]),
        (lambda: function_tool(_complex_arg), ["complex", "str, int"]),
        (lambda: function_tool(_positional), ["positional-only", "/"]),
    ],
)
def test_function_tool_bad_definitions(make: Callable[[], Any], words: list[str]) -> None:
    raises_naming(make, *words)


def _star_args(*args: int) -> None:
    """Bad: *args."""


def _complex_arg(x: complex) -> None:
    """Bad: complex."""


def _positional(x: int, /) -> None:
    """Bad: positional-only."""


def test_function_tool_checks_name_and_description_types() -> None:
    raises_naming(lambda: function_tool(forecast, name=5), "name")  # type: ignore[arg-type]
    raises_naming(lambda: function_tool(forecast, description=5), "description")  # type: ignore[arg-type]


@dataclasses.dataclass
class Place:
    city: str
    country: str


def where(place: Place) -> str:
    """Where."""
    return place.city


def test_tool_call_missing_dataclass_field_is_a_tool_argument_error() -> None:
    tool = function_tool(where)
    raises_naming(
        lambda: tool.call('{"place": {"country": "FR"}}'), "city", kinds=(ToolArgumentError,)
    )
    raises_naming(lambda: tool.call('{"place": {}}'), "city", "country", kinds=(ToolArgumentError,))


# --- VoiceChat traits ----------------------------------------------------------------------------


def _own_synced_traits() -> tuple[str, ...]:
    """Every synced trait VoiceChat adds to anywidget's (its settings and its state), so a new
    trait is fuzzed too. The base widget's own (``_model_*``, ``_view_*``, ``layout``,
    ``tabbable``, ``tooltip``...) are ipywidgets' plumbing, not this widget's API."""
    base = set(anywidget.AnyWidget.class_trait_names(sync=True))
    return tuple(sorted(n for n in VoiceChat.class_trait_names(sync=True) if n not in base))


_TRAITS = _own_synced_traits()
#: The read-only ones (``session``, ``browser``) must refuse every value; the others are reset
#: to their defaults after each example.
_WRITABLE = tuple(n for n in _TRAITS if not VoiceChat.class_traits()[n].read_only)


def test_fuzzed_traits_are_the_widgets_own() -> None:
    """The derived list holds every session setting and no ipywidgets plumbing."""
    from rt_jupyter.jupyter.widget import _SESSION_TRAITS

    assert set(_SESSION_TRAITS) <= set(_TRAITS), set(_SESSION_TRAITS) - set(_TRAITS)
    assert {"session", "codec", "camera", "status"} <= set(_TRAITS)
    assert not {"layout", "tooltip", "_model_name", "_view_name", "_esm"} & set(_TRAITS)
    assert "session" not in _WRITABLE and "model" in _WRITABLE


@pytest.fixture(scope="module")
def chat() -> Any:
    widget = VoiceChat()
    yield widget
    widget.close()


@SETTINGS
@given(name=st.sampled_from(_TRAITS), value=ANY | st.sampled_from([["video"], [{"name": 5}]]))
def test_voicechat_traits_random_values(chat: VoiceChat, name: str, value: Any) -> None:
    """Any value for any setting: accepted (and the session stays valid) or refused with a
    TraitError naming the setting; a refused value changes nothing."""
    before = (getattr(chat, name), dict(chat.session))
    try:
        setattr(chat, name, value)
    except traitlets.TraitError as exc:
        assert name in str(exc), str(exc)
        assert (getattr(chat, name), dict(chat.session)) == before
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from None
    finally:
        session = dict(chat.session)
        session.pop("temperature", None)
        validate_client_event({"type": "session.update", "session": session}, "ga")
        for trait in _WRITABLE:  # back to the defaults for the next example
            chat.set_trait(trait, chat.trait_defaults(trait))


def test_voicechat_constructor_errors_name_the_setting() -> None:
    raises_naming(lambda: VoiceChat(voise="marin"), "voise", "voice")
    raises_naming(lambda: VoiceChat(codec="mp3"), "codec", kinds=(traitlets.TraitError,))
    raises_naming(
        lambda: VoiceChat(turn_detection="always"), "turn_detection", kinds=(traitlets.TraitError,)
    )
    raises_naming(
        lambda: VoiceChat(tools=[{"description": "x"}]),
        "tools",
        "name",
        kinds=(traitlets.TraitError,),
    )


def test_voicechat_tools_must_be_a_list() -> None:
    raises_naming(lambda: VoiceChat(tools=5), "tools")  # type: ignore[arg-type]


# --- EventLog.from_jsonl -------------------------------------------------------------------------


def test_eventlog_from_jsonl_skips_a_torn_last_line(tmp_path: Path) -> None:
    log = EventLog()
    log.add("out", {"type": "response.create", "event_id": "e1"})
    log.add("in", {"type": "response.created", "response": {"id": "resp_1"}})
    path = log.to_jsonl(tmp_path / "log.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"t": 1.0, "wall": 2.0, "dir": "in", "ev')  # a crash mid-line
    again = EventLog.from_jsonl(path)
    assert [r.type for r in again] == ["response.create", "response.created"]


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2]\n",
        b"{}\n",
        b'{"t": 0, "wall": 0, "dir": "sideways", "event": {}}\n',
        b'{"t": 0, "wall": 0, "dir": "in", "event": 5}\n',
        b'{"t": "x", "wall": 0, "dir": "in", "event": {}}\n',
        b"\xff\xfe not text\n",
        b"this is not an event log\nat all\n",
    ],
)
def test_eventlog_from_jsonl_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(content)
    raises_naming(lambda: EventLog.from_jsonl(path), "garbage.jsonl", kinds=(ValueError,))


# --- the kernel client ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def service() -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=Engines()) as svc:
        yield svc


@pytest_asyncio.fixture
async def session(service: LocalRealtimeService) -> AsyncIterator[RealtimeSession]:
    async with rt_jupyter.connect(
        api_key="sk-api-fuzz",
        base_url=service.base_url,
        output_modalities="text",
        turn_detection=None,
    ) as s:
        yield s


async def test_connect_refuses_bad_arguments_before_connecting() -> None:
    raises_naming(lambda: rt_jupyter.connect(dialect="gaa"), "dialect", "ga", "beta")
    raises_naming(lambda: rt_jupyter.connect(intent="chat"), "intent", "transcription")
    raises_naming(lambda: rt_jupyter.connect(voise="marin"), "voise")


async def test_connect_refuses_bad_settings(service: LocalRealtimeService) -> None:
    kw: dict[str, Any] = {"api_key": "sk-api-fuzz", "base_url": service.base_url}
    cases: list[tuple[Any, ...]] = [
        ({"voice": 5}, ["voice"]),
        ({"turn_detection": "always"}, ["turn_detection"]),
        ({"output_modalities": ["video"]}, ["modalities"]),
        ({"speed": 3.0}, ["speed", "1.5"]),
        ({"tools": [5]}, ["function_tool", "int"]),
    ]
    for settings_, words in cases:
        try:
            await rt_jupyter.connect(**kw, **settings_)
        except (ValueError, TypeError) as exc:
            assert all(w in str(exc) for w in words), (settings_, str(exc))
        else:
            raise AssertionError(f"connect({settings_}) was accepted")


async def test_refused_connect_closes_its_session(service: LocalRealtimeService) -> None:
    for _ in range(3):
        with pytest.raises(ValueError, match="voice"):
            await rt_jupyter.connect(api_key="sk-api-fuzz", base_url=service.base_url, voice=5)
    await asyncio.sleep(0.2)
    assert service.keys.open_sessions() == 0, (
        f"{service.keys.open_sessions()} sessions left open by refused connect() calls"
    )


async def test_connect_checks_base_url_and_api_key() -> None:
    cases: list[tuple[Any, ...]] = [
        ({"base_url": 5, "api_key": "sk-x"}, "base_url"),
        ({"base_url": "ftp://example.com/v1", "api_key": "sk-x"}, "base_url"),
        ({"base_url": "not a url", "api_key": "sk-x"}, "base_url"),
        ({"api_key": 5, "base_url": "http://127.0.0.1:9/v1"}, "api_key"),
    ]
    for kwargs, name in cases:
        try:
            await rt_jupyter.connect(**kwargs)
        except (ValueError, TypeError) as exc:
            assert name in str(exc), (kwargs, str(exc))
        except Exception as exc:
            raise AssertionError(f"{kwargs}: {type(exc).__name__}: {exc}") from None
        else:
            raise AssertionError(f"{kwargs} was accepted")


async def test_update_refuses_bad_settings(session: RealtimeSession) -> None:
    cases: list[tuple[Any, ...]] = [
        ({"voice": 5}, ["voice"]),
        ({"bogus": 1}, ["bogus", "known"]),
        ({"turn_detection": "always"}, ["turn_detection", "server_vad"]),
        ({"speed": 9}, ["speed", "0.25", "1.5"]),
        ({"max_output_tokens": -1}, ["max_output_tokens"]),
        ({"tools": [5]}, ["function_tool"]),
    ]
    for kwargs, words in cases:
        try:
            await session.update(**kwargs)
        except (ValueError, TypeError) as exc:
            assert all(w in str(exc) for w in words), (kwargs, str(exc))
        else:
            raise AssertionError(f"update({kwargs}) was accepted")
    reply = await session.say("still fine?", timeout=20)
    assert reply.status == "completed"


async def test_update_tools_must_be_a_list(session: RealtimeSession) -> None:
    try:
        await session.update(tools=5)  # type: ignore[arg-type]
    except TypeError as exc:
        assert "tools" in str(exc), str(exc)


async def test_send_audio_refuses_bad_audio_before_sending(session: RealtimeSession) -> None:
    before = len(session.log)
    cases: list[tuple[Any, ...]] = [
        ((5,), {}, ["audio", "numpy array"]),
        (([0.0] * 10, 24000), {}, ["audio", "numpy array"]),
        ((np.zeros(10, np.float32),), {}, ["sample_rate"]),
        ((np.zeros(10, np.float32), 5), {}, ["sample rate", "24000"]),
        ((np.zeros((10, 2), np.float32), 24000), {}, ["mono", "mean"]),
        (("/nonexistent/question.wav",), {}, ["no such audio file"]),
        ((b"RIFFxxxxWAVE",), {}, ["WAV"]),
        ((np.zeros(10, np.float32), 24000), {"chunk_size": -1}, ["chunk_size", "positive"]),
        ((np.zeros(10, np.float32), 24000), {"chunk_size": "fast"}, ["chunk_size", "low"]),
    ]
    for args, kwargs, words in cases:
        try:
            await session.send_audio(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            assert all(w in str(exc) for w in words), (args, kwargs, str(exc))
        else:
            raise AssertionError(f"send_audio{args} was accepted")
    assert len(session.log) == before, "a refused send_audio() sent events"


async def test_say_with_bad_text_leaves_the_session_usable(
    service: LocalRealtimeService, session: RealtimeSession
) -> None:
    note = "say(5) raised TypeError"
    try:
        await session.say(5)  # type: ignore[arg-type]
    except TypeError as exc:
        assert "text" in str(exc), str(exc)
    except Exception as exc:  # noted, then the session must still recover from a drop
        note = f"{type(exc).__name__}: {exc}"
    else:
        raise AssertionError("say(5) was accepted")
    service.faults = Faults(drop_after_deltas=1)  # the next reply is cut: reconnect, restore
    try:
        reply = await session.say("hello there my friend", timeout=60)
    except (TimeoutError, ServerError) as exc:
        raise AssertionError(f"after {note!r} and a drop: {type(exc).__name__} {exc}") from None
    assert reply.status == "completed" and session.reconnects == 1
