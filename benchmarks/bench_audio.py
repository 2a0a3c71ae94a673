"""Audio benchmarks: G.711 codecs and resampling, ours (numpy tables, soxr) vs C ``audioop``.

Signal: 10 s of speech-like audio at 24 kHz (three sines under a 4 Hz syllable envelope,
plus noise), int16. Throughput is samples per second of wall time (best of N).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from rt_jupyter.audio import (
    Resampler,
    alaw_decode,
    alaw_encode,
    resample,
    ulaw_decode,
    ulaw_encode,
)

from .common import Result, autonumber, import_audioop, timeit_best

GROUP = "audio"
SECONDS = 10.0
BASELINE = "audioop (C)"
FRAME_MS = 20
DECODE_NOTE = (
    "wire bytes → int16 array; one np.take gather per code pair (65,536-entry table) "
    "plus the index cast: numpy's floor, at parity with audioop's C loop"
)


def make_signal(rate: int, seconds: float = SECONDS, seed: int = 0) -> npt.NDArray[np.int16]:
    """Speech-like test signal: mixed sines, a syllable-rate envelope and noise, as int16."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    tones = (
        0.30 * np.sin(2 * np.pi * 220.0 * t)
        + 0.20 * np.sin(2 * np.pi * 1370.0 * t + 1.0)
        + 0.10 * np.sin(2 * np.pi * 3100.0 * t + 2.0)
    )
    x = envelope * tones + 0.03 * rng.standard_normal(t.shape[0])
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def best_pair(
    ours: Callable[[], object], base: Callable[[], object] | None, rounds: int
) -> tuple[float, float | None]:
    """Best time per call of ``ours`` and ``base``, measured interleaved to share drift."""
    n_ours = autonumber(ours)
    n_base = autonumber(base) if base is not None else 1
    t_ours, t_base = np.inf, np.inf
    for _ in range(rounds):
        t_ours = min(t_ours, timeit_best(ours, repeat=1, number=n_ours, warmup=0))
        if base is not None:
            t_base = min(t_base, timeit_best(base, repeat=1, number=n_base, warmup=0))
    return float(t_ours), (float(t_base) if base is not None else None)


def _throughput_row(
    name: str,
    n_samples: int,
    rate: int,
    times: tuple[float, float | None],
    baseline: str | None,
    target: bool,
    notes: str = "",
) -> Result:
    t_ours, t_base = times
    value = n_samples / t_ours
    realtime = n_samples / rate / t_ours
    row = Result(
        GROUP,
        name,
        value,
        "samples/s",
        baseline=baseline if t_base is not None else None,
        baseline_value=(n_samples / t_base) if t_base is not None else None,
        target="ratio ≥ 1" if target else None,
        notes=f"{realtime:,.0f}× real time" + (f"; {notes}" if notes else ""),
    )
    if target and row.ratio is not None:
        row.met = row.ratio >= 1.0
    return row


def _codec_rows(audioop: ModuleType | None, rounds: int) -> list[Result]:
    rate = 24000
    x = make_signal(rate)
    pcm = x.astype("<i2").tobytes()
    n = x.shape[0]
    rows = []
    codecs: list[tuple[str, Any, Any, str, str]] = [
        ("μ-law", ulaw_encode, ulaw_decode, "lin2ulaw", "ulaw2lin"),
        ("A-law", alaw_encode, alaw_decode, "lin2alaw", "alaw2lin"),
    ]
    for law, encode, decode, base_enc, base_dec in codecs:
        codes = encode(x).tobytes()
        enc_base = partial(getattr(audioop, base_enc), pcm, 2) if audioop else None
        dec_base = partial(getattr(audioop, base_dec), codes, 2) if audioop else None
        for op, ours, base, note in (
            ("encode", partial(encode, x), enc_base, "int16 array → uint8 codes (table lookup)"),
            ("decode", partial(decode, codes), dec_base, DECODE_NOTE),
        ):
            rows.append(
                _throughput_row(
                    f"{law} {op} (10 s @ 24 kHz)",
                    n,
                    rate,
                    best_pair(ours, base, rounds),
                    BASELINE,
                    True,
                    note,
                )
            )
    # Real-time use: one 20 ms frame of G.711 at 8 kHz per call (per-call overhead).
    frame_x = make_signal(8000, FRAME_MS / 1000)
    frame_pcm = frame_x.astype("<i2").tobytes()
    frame_codes = ulaw_encode(frame_x).tobytes()
    for label, ours_fn, base_fn in (
        (
            "μ-law encode, one 20 ms frame @ 8 kHz",
            partial(ulaw_encode, frame_x),
            partial(audioop.lin2ulaw, frame_pcm, 2) if audioop else None,
        ),
        (
            "μ-law decode, one 20 ms frame @ 8 kHz",
            partial(ulaw_decode, frame_codes),
            partial(audioop.ulaw2lin, frame_codes, 2) if audioop else None,
        ),
    ):
        t_ours, t_base = best_pair(ours_fn, base_fn, rounds)
        rows.append(
            Result(
                GROUP,
                label,
                t_ours * 1e6,
                "µs/call",
                baseline=BASELINE if t_base is not None else None,
                baseline_value=None if t_base is None else t_base * 1e6,
                higher_is_better=False,
                notes=f"per-call overhead; {t_ours / (FRAME_MS / 1000) * 100:.3f}% of the frame",
            )
        )
    return rows


def _alias_level(y: npt.NDArray[Any], ref_amplitude: float) -> float:
    """Amplitude of the strongest sinusoid in ``y``, relative to ``ref_amplitude``."""
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(y.shape[0])))
    amplitude = 4.0 * float(spectrum.max()) / y.shape[0]  # Hann coherent gain is 1/2
    return float(amplitude / ref_amplitude)


def _resample_rows(audioop: ModuleType | None, rounds: int) -> list[Result]:
    rows = []
    ratecv_note = "ratecv = linear interpolation without anti-alias filter; ours = soxr HQ"
    for src, dst in ((24000, 16000), (24000, 8000), (48000, 24000)):
        x = make_signal(src)
        pcm = x.astype("<i2").tobytes()
        base = partial(audioop.ratecv, pcm, 2, 1, src, dst, None) if audioop else None
        times = best_pair(partial(resample, x, src, dst), base, rounds)
        rows.append(
            _throughput_row(
                f"resample {src // 1000}k→{dst // 1000}k (10 s, int16)",
                x.shape[0],
                src,
                times,
                "audioop.ratecv (C)" if audioop else None,
                False,
                ratecv_note,
            )
        )

    # Streaming: 20 ms chunks through Resampler vs ratecv carrying its state.
    src, dst = 24000, 16000
    x = make_signal(src)
    chunk = src * FRAME_MS // 1000
    chunks = [x[i : i + chunk] for i in range(0, x.shape[0], chunk)]
    pcm_chunks = [c.astype("<i2").tobytes() for c in chunks]

    def ours_stream() -> None:
        r = Resampler(src, dst, np.int16)
        for c in chunks:
            r.process(c)
        r.flush()

    def base_stream(ratecv: Callable[..., tuple[bytes, Any]]) -> None:
        state = None
        for p in pcm_chunks:
            _, state = ratecv(p, 2, 1, src, dst, state)

    base = partial(base_stream, audioop.ratecv) if audioop else None
    times = best_pair(ours_stream, base, max(1, rounds // 2))
    rows.append(
        _throughput_row(
            "stream-resample 24k→16k (20 ms chunks)",
            x.shape[0],
            src,
            times,
            "audioop.ratecv (C)" if audioop else None,
            False,
            "Resampler.process per chunk",
        )
    )

    # Quality: a 7 kHz tone resampled 24k→8k must vanish (it is above the new Nyquist).
    t = np.arange(src) / src
    amplitude = 0.5 * 32767
    tone = np.round(amplitude * np.sin(2 * np.pi * 7000.0 * t)).astype(np.int16)
    ours_level = _alias_level(resample(tone, src, 8000)[800:-800], amplitude)
    base_level = None
    if audioop:
        aliased, _ = audioop.ratecv(tone.astype("<i2").tobytes(), 2, 1, src, 8000, None)
        base_level = _alias_level(np.frombuffer(aliased, "<i2")[800:-800], amplitude)
    db = " / ".join(
        f"{-20 * np.log10(max(v, 1e-12)):.0f} dB" for v in (ours_level, base_level) if v is not None
    )
    rows.append(
        Result(
            GROUP,
            "aliasing 24k→8k (7 kHz tone, relative amplitude)",
            ours_level,
            "",
            baseline="audioop.ratecv (C)" if audioop else None,
            baseline_value=base_level,
            higher_is_better=False,
            notes=f"above the 4 kHz output Nyquist, ideal is 0; rejection {db} (ours / ratecv)",
        )
    )
    return rows


def run(quick: bool) -> list[Result]:
    """Run the audio benchmarks (``quick``: fewer timing rounds, same inputs)."""
    audioop = import_audioop()
    rounds = 3 if quick else 9
    rows = _codec_rows(audioop, rounds) + _resample_rows(audioop, rounds)
    if audioop is None:
        for r in rows:
            r.notes += "; audioop unavailable (install audioop-lts on Python ≥ 3.13)"
    return rows
