"""Local service benchmarks (issue 3), against a service in its own process over real sockets.

* **Concurrent real-time sessions**: N WebSocket sessions each stream 24 kHz pcm16 speech in 20 ms
  chunks at real-time pace with server VAD (turns, responses with TTS and all). Each session sends
  a probe event every second; the service keeps real time when the probe round trip stays low
  (p95 < 250 ms) and every spoken turn is detected. Baseline: real time (1 s of audio per second).
* **VAD end-of-turn latency**: real-time speech, wall time from the last speech sample sent to
  ``input_audio_buffer.speech_stopped``, minus ``silence_duration_ms``. Target: within one
  20–32 ms frame.
* **First audio delta**: ``response.create`` → first ``response.output_audio.delta``.
  Target ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import websockets

from .common import Result

GROUP = "local service"
KEY = "sk-bench"
CHUNK_MS = 20
RATE = 24000


def _speech(text: str) -> npt.NDArray[np.float32]:
    import soxr

    from rt_jupyter.local.engines.tts import EspeakVoice

    voice = EspeakVoice()
    audio = np.asarray(
        soxr.resample(voice.synthesize_all(text), voice.sample_rate, RATE), dtype=np.float32
    )
    from tests.speech import SPEECH_LEVEL

    # trim the synthesizer's own silences: speech ends where the tests say it does (-60 dBFS)
    loud = np.flatnonzero(np.abs(audio) > SPEECH_LEVEL)
    return audio[loud[0] : loud[-1] + 1]


def _pcm(samples: npt.NDArray[np.float32]) -> bytes:
    from rt_jupyter.audio import float32_to_pcm16

    return float32_to_pcm16(samples).tobytes()


class _Service:
    """``rt-jupyter serve`` in a child process (so load and service don't share an interpreter)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", "--key", KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        deadline = time.time() + 120
        self.ws_url = ""
        for line in self.proc.stdout:
            match = re.search(r"(ws://\S+/v1)/realtime", line)
            if match:
                self.ws_url = match.group(1)
            if "Ctrl-C" in line or time.time() > deadline:
                break
        if not self.ws_url:
            self.close()
            raise RuntimeError("the service did not start")

    def close(self) -> None:
        from tests.load import stop_process

        stop_process(self.proc)


async def _open(ws_url: str, session: dict[str, Any]) -> Any:
    ws = await websockets.connect(
        f"{ws_url}/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {KEY}"},
        max_size=2**26,
    )
    await ws.recv()  # session.created
    await ws.send(json.dumps({"type": "session.update", "session": session}))
    while json.loads(await ws.recv())["type"] != "session.updated":
        pass
    return ws


async def _stream_session(
    ws_url: str,
    utterance: bytes,
    silence: bytes,
    seconds: float,
    start_delay: float,
    stats: dict[str, list[float]],
) -> None:
    ws = await _open(ws_url, {"type": "realtime"})
    chunk = RATE * 2 * CHUNK_MS // 1000
    loop_audio = utterance + silence
    probes: dict[str, float] = {}
    turns = 0
    stopped = 0

    async def reader() -> None:
        nonlocal stopped
        async for raw in ws:
            ev = json.loads(raw)
            t = ev["type"]
            if t == "error" and (ev["error"].get("event_id") or "") in probes:
                stats["rtt"].append(time.perf_counter() - probes.pop(ev["error"]["event_id"]))
            elif t == "input_audio_buffer.speech_stopped":
                stopped += 1

    task = asyncio.create_task(reader())
    await asyncio.sleep(start_delay)
    t0 = time.perf_counter()
    n = 0
    pos = 0
    next_probe = 1.0
    while True:
        due = t0 + n * CHUNK_MS / 1000
        now = time.perf_counter()
        if due - t0 > seconds:
            break
        if due > now:
            await asyncio.sleep(due - now)
        else:
            stats["send_lag"].append(now - due)
        piece = loop_audio[pos : pos + chunk]
        if len(piece) < chunk:
            turns += 1
            pos = 0
            piece = loop_audio[:chunk]
        pos += chunk
        await ws.send(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(piece).decode()}
            )
        )
        n += 1
        if due - t0 >= next_probe:
            probe = f"probe_{id(ws)}_{n}"
            probes[probe] = time.perf_counter()
            await ws.send(
                json.dumps(
                    {
                        "type": "conversation.item.retrieve",
                        "event_id": probe,
                        "item_id": "no_such_item",
                    }
                )
            )
            next_probe += 1.0
    await asyncio.sleep(1.5)
    stats["turns_expected"].append(turns)
    stats["turns_detected"].append(stopped)
    stats["lost_probes"].append(len(probes))
    task.cancel()
    await ws.close()


async def _sustain(ws_url: str, n: int, seconds: float) -> dict[str, Any]:
    utterance = _pcm(_speech("hello there, what is the weather like in paris today"))
    silence = bytes(RATE * 2 * 2)
    stats: dict[str, list[float]] = {
        "rtt": [],
        "send_lag": [],
        "turns_expected": [],
        "turns_detected": [],
        "lost_probes": [],
    }
    await asyncio.gather(
        *(_stream_session(ws_url, utterance, silence, seconds, i * 0.02, stats) for i in range(n))
    )
    rtt = sorted(stats["rtt"]) or [float("inf")]
    p95 = rtt[int(0.95 * (len(rtt) - 1))]
    expected = sum(stats["turns_expected"])
    detected = sum(stats["turns_detected"])
    lag = sorted(stats["send_lag"]) or [0.0]
    ok = p95 < 0.25 and detected >= expected and sum(stats["lost_probes"]) == 0
    return {
        "n": n,
        "p50": statistics.median(rtt),
        "p95": p95,
        "expected": expected,
        "detected": detected,
        "ok": ok,
        "send_lag_p95": lag[int(0.95 * (len(lag) - 1))],
    }


async def _end_of_turn(ws_url: str, trials: int) -> list[float]:
    """End-of-turn delays (ms beyond ``silence_duration_ms``) measured from the speech end as
    the tests define it (the last sample above -60 dBFS)."""
    speech = _pcm(_speech("what is the weather in paris"))
    silence_ms = 500
    out: list[float] = []
    ws = await _open(
        ws_url,
        {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "silence_duration_ms": silence_ms,
                        "create_response": False,
                    }
                }
            },
        },
    )
    chunk = RATE * 2 * CHUNK_MS // 1000
    tail = bytes(RATE * 2 * 2)
    for trial in range(trials):
        # where the speech ends inside a 32 ms VAD frame decides up to one frame of the delay:
        # the lead silence (500 ms + trial/trials of a frame) spreads the trials over the phases
        lead = bytes(2 * ((RATE // 2) + (trial * RATE * 32 // 1000) // trials))
        audio = lead + speech
        t0 = time.perf_counter()
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def reader(fut: asyncio.Future[float] = done) -> None:
            async for raw in ws:
                if json.loads(raw)["type"] == "input_audio_buffer.speech_stopped":
                    fut.set_result(time.perf_counter())
                    return

        task = asyncio.create_task(reader())
        stream = audio + tail
        for i in range(0, len(stream), chunk):
            due = t0 + (i // chunk) * CHUNK_MS / 1000
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(
                json.dumps(
                    {
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(stream[i : i + chunk]).decode(),
                    }
                )
            )
            if done.done():
                break
        t_stop = await asyncio.wait_for(done, 5)
        task.cancel()
        # the speech end in wall time: real-time pacing puts sample k at t0 + k / rate
        speech_end_wall = t0 + len(audio) / (RATE * 2)
        out.append((t_stop - speech_end_wall) * 1000 - silence_ms)
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        await asyncio.sleep(0.3)
    await ws.close()
    return out


async def _first_audio(ws_url: str, trials: int) -> list[float]:
    ws = await _open(ws_url, {"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    out: list[float] = []
    for i in range(trials):
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": f"tell me about number {i}"}],
                    },
                }
            )
        )
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "response.create"}))
        first = None
        async for raw in ws:
            t = json.loads(raw)["type"]
            if t == "response.output_audio.delta" and first is None:
                first = time.perf_counter() - t0
            if t == "response.done":
                break
        assert first is not None
        out.append(first * 1000)
    await ws.close()
    return out


def run(quick: bool = False) -> list[Result]:
    """Start the service in a child process and measure."""
    service = _Service()
    try:
        return asyncio.run(_run(service.ws_url, quick))
    finally:
        service.close()


async def _run(ws_url: str, quick: bool) -> list[Result]:
    results: list[Result] = []
    levels = [10, 50] if quick else [10, 25, 50, 75, 100, 125]
    seconds = 6.0 if quick else 12.0
    sustained = 0
    notes = []
    for n in levels:
        r = await _sustain(ws_url, n, seconds)
        notes.append(
            f"{n}: p95 rtt {r['p95'] * 1000:.0f} ms, turns {r['detected']}/{r['expected']}"
            f"{'' if r['ok'] else ' ✗'}"
        )
        if not r["ok"]:
            break
        sustained = n
    results.append(
        Result(
            GROUP,
            "concurrent real-time 24 kHz sessions with VAD",
            sustained,
            "sessions",
            baseline="real time",
            baseline_value=50,
            target="≥ 50 sessions",
            met=sustained >= 50,
            notes="load generator in another process on the same 2 cores; " + "; ".join(notes),
        )
    )
    eot = await _end_of_turn(ws_url, 4 if quick else 16)
    med = statistics.median(eot)
    results.append(
        Result(
            GROUP,
            "VAD end of turn − silence_duration_ms (p50)",
            med,
            "ms",
            target="|p50| within one 32 ms VAD frame",
            met=abs(med) <= 32,
            notes="real-time 20 ms chunks, silence_duration_ms=500, 16 trials over the frame "
            f"phases {[round(x) for x in eot]}; speech end = last sample above -60 dBFS (the "
            "tests' definition; the synthesizer's faint tail counts as speech, the VAD ends "
            "before it, hence the negative values)",
        )
    )
    first = await _first_audio(ws_url, 5 if quick else 20)
    p50 = statistics.median(first)
    results.append(
        Result(
            GROUP,
            "response.create → first audio delta (p50)",
            p50,
            "ms",
            baseline="50 ms target",
            baseline_value=50.0,
            higher_is_better=False,
            target="≤ 50 ms",
            met=p50 <= 50,
            notes=f"p95 {sorted(first)[int(0.95 * (len(first) - 1))]:.1f} ms, espeak-ng + soxr",
        )
    )
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
