"""Frames benchmark (issue 6): the session as DataFrames from 1,000,000 logged events.

The log is real traffic: spoken turns (server VAD, input transcription, spoken answers with
their transcripts) and typed turns recorded from the local service by the kernel client, then
repeated with fresh ids and times until the log holds a million events (about 20,000 turns).

* **All frames** (``events``, ``turns``, ``responses``, ``transcript``, ``usage``,
  ``latency``) built from that log, against the way one would do it without rt_jupyter:
  ``pandas.json_normalize`` of the events (which gives one flat row per event and none of the
  per-turn answers). Target: seconds, not minutes (≤ 10 s).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

from .common import Result

GROUP = "frames"
N_EVENTS = 1_000_000


async def _record() -> list[tuple[str, float, str]]:
    """One recorded conversation: (direction, seconds since start, wire JSON) per event."""
    from rt_jupyter.client import connect
    from rt_jupyter.local.service import LocalRealtimeService
    from tests.speech import speech_clip

    clip = speech_clip(
        "what is the weather in paris", 24000, lead_silence_ms=300, tail_silence_ms=900
    )
    async with (
        LocalRealtimeService() as svc,
        connect(api_key="sk-bench", base_url=svc.base_url, input_transcription=True) as session,
    ):
        await session.send_audio(clip.samples, 24000)
        await session.say("and what about tomorrow?")
        await session.send_audio(clip.samples, 24000)
    records = [r for r in session.log if r.direction in ("in", "out")]
    t0 = records[0].t
    return [(r.direction, r.t - t0, json.dumps(r.event)) for r in records]


def _big_log(recorded: list[tuple[str, float, str]], n: int) -> Any:
    """A log of ``n`` events: the recording again and again, ids renamed per copy."""
    import re

    from rt_jupyter.log import EventLog

    wire = "".join(text for _, _, text in recorded)
    ids = set(re.findall(r'"((?:item|resp|event|call|evt|sess)_[A-Za-z0-9]{8,})"', wire))
    pattern = re.compile("|".join(f'"{re.escape(i)}"' for i in ids)) if ids else None
    span = recorded[-1][1] + 1.0
    log = EventLog()
    copy = 0
    while len(log) < n:
        suffix = f"x{copy}"
        for direction, t, text in recorded:
            if len(log) >= n:
                break
            if pattern is not None:
                text = pattern.sub(lambda m: m.group(0)[:-1] + suffix + '"', text)  # noqa: B023
            log.add(direction, json.loads(text), text=text, t=copy * span + t)
        copy += 1
    return log


def _time(fn: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(quick: bool = False) -> list[Result]:
    import pandas as pd

    from rt_jupyter import frames

    n = 100_000 if quick else N_EVENTS
    recorded = asyncio.run(_record())
    log = _big_log(recorded, n)
    timings: dict[str, float] = {}
    shapes: dict[str, int] = {}
    for name, build in (
        ("events", lambda: frames.events(log)),
        ("turns", lambda: frames.turns(log)),
        ("responses", lambda: frames.responses(log)),
        ("transcript", lambda: frames.transcript(log)),
        ("usage", lambda: frames.usage(log)),
        ("latency", lambda: frames.latency(log)),
    ):
        seconds, frame = _time(build)
        timings[name] = seconds
        shapes[name] = len(frame)
    total = sum(timings.values())
    naive, flat = _time(lambda: pd.json_normalize([r.event for r in log]))
    detail = ", ".join(f"{k} {v:.2f} s ({shapes[k]:,} rows)" for k, v in timings.items())
    return [
        Result(
            GROUP,
            f"all frames from {n:,} logged events",
            total,
            "s",
            baseline="pandas.json_normalize of the events",
            baseline_value=naive,
            higher_is_better=False,
            target="≤ 10 s (seconds, not minutes)",
            met=total <= 10.0,
            notes=f"{detail}; json_normalize: {len(flat):,} flat rows, {flat.shape[1]} columns "
            f"and no turns; recorded conversation of {len(recorded)} events repeated",
        )
    ]


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row.to_dict()))
