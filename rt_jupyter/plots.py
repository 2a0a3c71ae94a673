"""Static pictures of a session (matplotlib, the ``plot`` extra): they survive in saved notebooks
and on GitHub.

* :func:`timeline` — per turn: the user's speech, the response, first audio, truncation, tools.
* :func:`latency` — distributions of the turn and response latencies.
* :func:`waveforms` — input and output audio of a kernel session, aligned with the transcript.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .log import EventLog

__all__ = ["latency", "timeline", "waveforms"]

_USER = "#4c78a8"
_MODEL = "#f58518"
_AUDIO = "#54a24b"
_CUT = "#e45756"


def _pyplot() -> Any:
    try:
        import matplotlib

        if matplotlib.get_backend().lower() in ("", "agg") or not _interactive():
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install 'rt_jupyter[plot]' (or pip install matplotlib)"
        ) from None
    return plt


def _interactive() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:
        return False


def _log_of(source: Any) -> EventLog:
    from .log import EventLog

    if isinstance(source, EventLog):
        return source
    log = getattr(source, "log", None)
    if isinstance(log, EventLog):
        return log
    raise TypeError(
        f"expected an EventLog, a RealtimeSession, a VoiceChat or a Recording, not "
        f"{type(source).__name__}"
    )


def timeline(source: Any, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """One row per turn: user speech (blue), the response from created to done (orange),
    first audio (green tick), truncation (red), tool calls (labels). Times in seconds."""
    from .frames import responses, turns

    plt = _pyplot()
    log = _log_of(source)
    frame = turns(log)
    resp = responses(log).set_index("response_id")
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(len(frame), 1)))
    else:
        fig = ax.figure
    ends = [v for v in frame["done"].tolist() + frame["committed"].tolist() if _is(v)]
    span = (max(ends) - min(ends)) if len(ends) > 1 else 1.0
    min_width = max(span * 0.006, 0.005)  # keep fast events visible
    for row_index, (_, turn) in enumerate(frame.iterrows()):
        y = len(frame) - row_index
        start = turn["speech_start"] if turn["kind"] == "speech" else turn["committed"]
        end = turn["speech_end"] if turn["kind"] == "speech" else turn["committed"]
        if start is not None and end is not None and not (np.isnan(start) or np.isnan(end)):
            ax.barh(
                y,
                max(end - start, min_width),
                left=start,
                height=0.35,
                color=_USER,
                label="user speaks" if row_index == 0 else None,
            )
        created = turn["response_created"]
        done = turn["done"]
        if _is(created) and _is(done):
            ax.barh(
                y - 0.3,
                max(done - created, min_width),
                left=created,
                height=0.25,
                color=_MODEL,
                label="response" if row_index == 0 else None,
            )
        if _is(turn["first_audio"]):
            ax.plot(
                [turn["first_audio"]] * 2,
                [y - 0.45, y - 0.15],
                color=_AUDIO,
                lw=2,
                label="first audio" if row_index == 0 else None,
            )
        rid = turn["response_id"]
        if _is(turn["truncated_ms"]) and rid in resp.index and _is(turn["first_audio"]):
            cut = turn["first_audio"] + float(turn["truncated_ms"]) / 1000
            ax.plot(
                [cut],
                [y - 0.3],
                marker="x",
                color=_CUT,
                ms=9,
                label="truncated" if row_index == 0 else None,
            )
        if turn["tool_calls"]:
            ax.annotate(
                "tool: " + ", ".join(turn["tool_calls"]),
                (done if _is(done) else 0, y - 0.3),
                xytext=(4, -3),
                textcoords="offset points",
                fontsize=8,
            )
        text = str(turn["transcript"] or "")[:40]
        ax.annotate(text, (start if _is(start) else 0, y + 0.22), fontsize=8, color="#333")
    ax.set_yticks(range(1, len(frame) + 1))
    ax.set_yticklabels([f"turn {len(frame) - i}" for i in range(len(frame))])
    ax.set_xlabel("seconds since the first event")
    ax.set_title(title or "Turns")
    if len(frame):
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig  # type: ignore[no-any-return]


def _is(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def latency(source: Any, *, ax: Axes | None = None) -> Figure:
    """Box plot of each latency (ms): end of speech → first audio, request → first audio/text,
    response.created → first text/audio."""
    import pandas as pd

    from .frames import responses, turns

    plt = _pyplot()
    log = _log_of(source)
    t = turns(log)
    r = responses(log)
    series = {
        "speech end → first audio": t["speech_end_to_first_audio_ms"],
        "request → first output": t["request_to_first_audio_ms"],
        "created → first text": r["ttft_ms"],
        "created → first audio": r["ttfa_ms"],
    }
    data = {k: pd.to_numeric(v, errors="coerce").dropna() for k, v in series.items()}
    data = {k: v for k, v in data.items() if len(v)}
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 1 + 0.6 * max(len(data), 1)))
    else:
        fig = ax.figure
    if data:
        ax.boxplot(list(data.values()), orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(data) + 1))
        ax.set_yticklabels([f"{k} (n={len(v)})" for k, v in data.items()])
    ax.set_xlabel("milliseconds")
    ax.set_title("Latency")
    fig.tight_layout()
    return fig  # type: ignore[no-any-return]


def waveforms(session: Any, *, gap_s: float = 0.3) -> Figure:
    """The user's audio (top) and the model's (bottom) in conversation order on one time axis,
    each part labelled with its text. Takes a kernel :class:`RealtimeSession` (it keeps both)."""
    from .audio import decode_audio, get_format

    plt = _pyplot()
    inputs = getattr(session, "inputs", None)
    replies = getattr(session, "replies", None)
    if inputs is None or replies is None:
        raise TypeError("waveforms() takes a kernel RealtimeSession (it keeps the audio)")
    parts: list[tuple[float, str, Any]] = [(e["t"], "user", e) for e in inputs]
    parts += [(r.t_request, "model", r) for r in replies if r.done]
    parts.sort(key=lambda p: p[0])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 4), sharex=True)
    cursor = 0.0
    for _, who, part in parts:
        if who == "user":
            if part["kind"] == "audio":
                rate = get_format(part["format"]).sample_rate
                samples = decode_audio(part["audio"], part["format"])
            else:
                rate, samples = 24000, np.zeros(int(24000 * 0.5), np.float32)
            axis, color, text = top, _USER, part.get("text", "")
            reply_text = None
        else:
            rate, samples = part.sample_rate, part.audio
            axis, color, text = bottom, _MODEL, ""
            reply_text = part.text
        x = cursor + np.arange(len(samples)) / rate
        if len(samples):
            axis.plot(x[::4], samples[::4], color=color, lw=0.5)
        label = text or reply_text or ""
        if label:
            axis.annotate(label[:60], (cursor, 0.82), fontsize=8, color="#333")
        cursor += len(samples) / rate + gap_s
    top.set_ylabel("user")
    bottom.set_ylabel("model")
    bottom.set_xlabel("seconds of audio, in conversation order")
    for axis in (top, bottom):
        axis.set_ylim(-1, 1)
    fig.suptitle("Audio")
    fig.tight_layout()
    return fig  # type: ignore[no-any-return]
