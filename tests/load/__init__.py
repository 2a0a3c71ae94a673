"""The load generator of the load and soak tests and of ``benchmarks/bench_load.py``.

The local service runs in a child process (``rt-jupyter serve``, the installed console script);
this process plays the clients over real sockets, each a user in a voice conversation: it says
a question (~2.9 s), waits for the spoken answer to finish, pauses :data:`PAUSE_S` and asks
again. It never talks over an answer (a session still waiting after :data:`ANSWER_TIMEOUT_S`
counts as unanswered). Audio flows all the time, in real time (silence while listening):

* **WebSocket sessions** send 24 kHz pcm16 in 20 ms ``input_audio_buffer.append`` events with
  the service's default ``server_vad``; an answer has "finished" when its audio (the
  ``response.output_audio.delta`` bytes, played in real time from the first one) would have.
* **WebRTC calls** (aiortc peers, as OpenAI's browser snippet: ``oai-events`` created before the
  offer, SDP POSTed to ``/v1/realtime/calls`` with an ephemeral key) send the question on their
  microphone track (48 kHz, Opus) and hear the answer on theirs (``output_audio_buffer.stopped``).

Each client starts with a random pause, so turns do not come in lockstep. Measured: probe round
trips (a ``conversation.item.retrieve`` of a missing item every second per client, answered by an
``error`` carrying the probe's ``event_id``: one trip through the service's event loop), VAD end
of turn (``speech_stopped`` arrival minus the moment the last spoken sample was sent, minus
``silence_duration_ms``), ``response.created`` → first audio (WebSocket: first
``response.output_audio.delta``; WebRTC: first voiced RTP frame), end of speech → first audio,
answers that could not be transcribed (the recogniser sheds load beyond 16 waiting utterances:
"I heard N seconds of audio"), the generator's own lag, and the CPU of every process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fractions
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psutil  # type: ignore[import-untyped]  # (ipykernel's dependency)

__all__ = [
    "KEY",
    "ClientStats",
    "LoadReport",
    "ServiceProcess",
    "answer_failures",
    "correctness_failures",
    "failures",
    "percentile",
    "run_load",
    "stop_process",
    "stream_failures",
]

KEY = "sk-load-tests"
RATE = 24000
RTC_RATE = 48000
CHUNK_MS = 20
QUESTION = "hello there, what is the weather like in paris today"
#: Pause between the end of an answer and the next question.
PAUSE_S = 1.0
#: A question still unanswered after this long counts as unanswered.
ANSWER_TIMEOUT_S = 15.0
#: The service's default ``server_vad`` silence (``session.created``).
SILENCE_MS = 200
#: A turn counts as expected only if its speech ended at least this long before streaming stopped;
#: also the benchmarks' drain: how long a client waits after that for what is still on its way.
SETTLE_S = 1.5
PROBE_EVERY_S = 1.0
VOICED_RMS = 0.01


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank), NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# --- the spoken question -------------------------------------------------------------------------

_QUESTIONS: dict[int, npt.NDArray[np.int16]] = {}


def question(rate: int) -> npt.NDArray[np.int16]:
    """The question as int16 samples at ``rate``, trimmed to its speech."""
    if rate not in _QUESTIONS:
        import soxr

        from tests.speech import SPEECH_LEVEL, speech_samples

        speech = speech_samples(QUESTION, RATE)
        loud = np.flatnonzero(np.abs(speech) >= SPEECH_LEVEL)
        speech = speech[loud[0] : loud[-1] + 1]  # trim the synthesizer's own silences
        if rate != RATE:
            speech = np.asarray(soxr.resample(speech, RATE, rate), dtype=np.float32)
        _QUESTIONS[rate] = (np.clip(speech, -1, 1) * 32767).astype(np.int16)
    return _QUESTIONS[rate]


class Speaker:
    """One user's turn-taking: what the microphone sends in each 20 ms frame."""

    def __init__(
        self,
        rate: int,
        stats: ClientStats,
        stop_at: float,
        first_pause: float,
        pause_s: float = PAUSE_S,
    ) -> None:
        self.pause_s = pause_s
        self.samples = question(rate)
        self.frame = rate * CHUNK_MS // 1000
        self.stats = stats
        self.stop_at = stop_at
        self.position = -1  # < 0: not speaking
        self.resume_at = time.perf_counter() + first_pause
        self.listening_since: float | None = None
        self.ends: list[float] = []  # when each question's last sample was sent
        self.silence = np.zeros(self.frame, np.int16)

    def next_frame(self) -> npt.NDArray[np.int16]:
        now = time.perf_counter()
        if self.position < 0:
            if self.listening_since is None and now >= self.resume_at and now < self.stop_at:
                self.position = 0
            else:
                return self.silence
        chunk = self.samples[self.position : self.position + self.frame]
        self.position += self.frame
        if self.position >= len(self.samples):  # the question's last sample goes out now
            self.position = -1
            self.ends.append(now)
            self.listening_since = now
            if self.stop_at - now >= SETTLE_S:
                self.stats.turns_expected += 1
            chunk = np.concatenate([chunk, np.zeros(self.frame - len(chunk), np.int16)])
        return chunk

    def answered(self, at: float) -> None:
        """The answer finished (or will have finished playing) at ``at``."""
        if self.listening_since is not None:
            self.listening_since = None
            self.resume_at = at + self.pause_s


# --- the service in a child process ------------------------------------------------------------


#: Niceness lowered by this much for the service and the load generator when allowed (root):
#: the machine is shared (other test runs, builds), and the load test measures the service, not
#: its neighbours. Each run reports the CPU the rest of the machine used meanwhile.
PRIORITY_BOOST = 5


def _boost() -> None:
    with contextlib.suppress(OSError):
        os.nice(-PRIORITY_BOOST)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Stop a child process: SIGTERM (a clean shutdown), SIGKILL if it takes over 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class ServiceProcess:
    """``rt-jupyter serve --port 0 --key KEY`` in a child process (stdout to a file)."""

    def __init__(self, workdir: Path, *, extra: list[str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.output = workdir / f"serve-{os.getpid()}-{time.monotonic_ns()}.log"
        command = [
            str(Path(sys.executable).parent / "rt-jupyter"),
            "serve",
            "--port",
            "0",
            "--key",
            KEY,
            *(extra or []),
        ]
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_boost,
            )
        deadline = time.monotonic() + 120
        text = ""
        while "Ctrl-C" not in text:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rt-jupyter serve did not start: {text}")
            time.sleep(0.05)
            text = self.output.read_text(errors="replace")
        match = re.search(r"REST\s+(http://\S+/v1)", text)
        assert match, text
        self.base_url = match.group(1)
        self.ws_url = self.base_url.replace("http://", "ws://", 1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def processes(self) -> list[Any]:
        """The service process and its children (the transcription worker)."""
        main = psutil.Process(self.proc.pid)
        return [main, *main.children(recursive=True)]

    def rss(self) -> int:
        """Resident memory of the service process, in bytes."""
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far: the service's event loop process and its workers."""
        out: dict[str, float] = {}
        for index, proc in enumerate(self.processes()):
            with contextlib.suppress(Exception):
                times = proc.cpu_times()
                name = "service" if index == 0 else f"worker:{' '.join(proc.cmdline()[-2:])}"
                out[name] = out.get(name, 0.0) + times.user + times.system
        return out

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_process(self.proc)


# --- what is measured ---------------------------------------------------------------------------


@dataclass
class ClientStats:
    """One session's or call's measurements."""

    kind: str  # "ws" or "webrtc"
    rtt: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, seconds)
    lost_probes: int = 0
    eot: list[float] = field(default_factory=list)  # ms past silence_duration_ms
    first_audio: list[float] = field(default_factory=list)  # response.created → audio, ms
    turn_to_audio: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, ms)
    turns_expected: int = 0
    turns_detected: int = 0
    unanswered: int = 0
    unfinished: int = 0  # responses created and never done
    responses: dict[str, int] = field(default_factory=dict)  # status → count
    shed: int = 0  # answers without a transcript ("I heard N seconds of audio")
    errors: list[str] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)  # seconds behind schedule
    frames: int = 0  # remote RTP audio frames (WebRTC)
    frame_seconds: float = 0.0  # over how long they were counted
    sessions: int = 1


@dataclass
class LoadReport:
    """The outcome of one :func:`run_load`."""

    ws_sessions: int
    webrtc_calls: int
    seconds: float
    clients: list[ClientStats]
    loop_lag: list[float]
    cpu: dict[str, float]  # CPU seconds per process during the run
    wall: float
    generator_cpu: float
    machine_busy: float  # CPU seconds of the whole machine during the run

    def values(self, name: str, kind: str | None = None) -> list[float]:
        out: list[float] = []
        for c in self.clients:
            if kind is not None and c.kind != kind:
                continue
            if name in ("rtt", "turn_to_audio"):
                out += [v for _, v in getattr(c, name)]
            else:
                out += list(getattr(c, name))
        return out

    def trend(self, name: str) -> tuple[float, float]:
        """Median of ``rtt`` or ``turn_to_audio`` in the first and the last third of the run."""
        points = [p for c in self.clients for p in getattr(c, name)]
        if not points:
            return float("nan"), float("nan")
        t0 = min(t for t, _ in points)
        t1 = max(t for t, _ in points)
        third = (t1 - t0) / 3
        early = [v for t, v in points if t <= t0 + third] or [float("nan")]
        late = [v for t, v in points if t >= t1 - third] or [float("nan")]
        return statistics.median(early), statistics.median(late)

    @property
    def turns(self) -> tuple[int, int]:
        """Questions detected (``speech_stopped``, at most one per question) and asked."""
        return (
            sum(min(c.turns_detected, c.turns_expected) for c in self.clients),
            sum(c.turns_expected for c in self.clients),
        )

    @property
    def errors(self) -> list[str]:
        return [e for c in self.clients for e in c.errors]

    def summary(self) -> dict[str, Any]:
        """The figures, as a JSON-ready dict (milliseconds)."""
        rtt = self.values("rtt")
        early, late = self.trend("rtt")
        a_early, a_late = self.trend("turn_to_audio")
        detected, expected = self.turns
        responses: dict[str, int] = {}
        for c in self.clients:
            for status, n in c.responses.items():
                responses[status] = responses.get(status, 0) + n
        rtc = [c for c in self.clients if c.kind == "webrtc"]
        frame_rate = [c.frames / c.frame_seconds for c in rtc if c.frame_seconds > 5]

        def pct(values: list[float], qs: tuple[int, ...], scale: float = 1.0) -> dict[str, float]:
            return {f"p{q}": round(percentile(values, q) * scale, 1) for q in qs}

        mine = sum(self.cpu.values()) + self.generator_cpu
        return {
            "ws_sessions": self.ws_sessions,
            "webrtc_calls": self.webrtc_calls,
            "seconds": self.seconds,
            "probe_rtt_ms": pct(rtt, (50, 95, 99), 1000),
            "probe_rtt_trend_ms": [round(early * 1000, 1), round(late * 1000, 1)],
            "probes": len(rtt),
            "lost_probes": sum(c.lost_probes for c in self.clients),
            "vad_eot_ms": pct(self.values("eot"), (50, 95, 99)),
            "first_audio_ms": pct(self.values("first_audio"), (50, 95, 99)),
            "first_audio_ws_ms": pct(self.values("first_audio", "ws"), (50, 95)),
            "first_audio_webrtc_ms": pct(self.values("first_audio", "webrtc"), (50, 95)),
            "turn_to_audio_ms": pct(self.values("turn_to_audio"), (50, 95, 99)),
            "turn_to_audio_trend_ms": [round(a_early, 1), round(a_late, 1)],
            "turns": [detected, expected],
            "unanswered": sum(c.unanswered for c in self.clients),
            "unfinished": sum(c.unfinished for c in self.clients),
            "responses": responses,
            "shed": sum(c.shed for c in self.clients),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "send_lag_ms": pct(self.values("send_lag"), (50, 99, 100), 1000),
            "loop_lag_ms": pct(self.loop_lag, (50, 99, 100), 1000),
            "webrtc_frame_rate": round(min(frame_rate), 1) if frame_rate else None,
            "cpu_cores": {k: round(v / self.wall, 2) for k, v in self.cpu.items()},
            "generator_cores": round(self.generator_cpu / self.wall, 2),
            "other_cores": round(max(0.0, self.machine_busy - mine) / self.wall, 2),
        }


# --- criteria ------------------------------------------------------------------------------------

#: Probe round trip p95 bound. The service's default ``silence_duration_ms`` is 200 ms: a service
#: that takes longer than that to get one event through its loop delays every end of turn by more
#: than the VAD's own silence window (doubling the end-of-turn latency); it is also ten 20 ms
#: audio frames of backlog.
RTT_P95_MS = 200.0
#: Growth of the median probe round trip from the first to the last third of the run.
RTT_GROWTH_MS = 50.0
#: End of speech → first audio of the answer (p95): silence_duration_ms (200) + transcription
#: of the ~2.9 s question (pocketsphinx, ~0.25× real time: ~0.8 s) + the first synthesized
#: sentence, with room for queueing; beyond it the conversation no longer feels live.
TURN_TO_AUDIO_P95_MS = 2000.0
#: The generator itself must keep real time, or what it measures is its own backlog.
GENERATOR_LAG_P99_MS = 100.0


def failures(report: LoadReport) -> list[str]:
    """Why the sessions did not keep real time (empty when they did): the streaming criteria
    (:func:`stream_failures`) and the answers' (:func:`answer_failures`)."""
    return stream_failures(report) + answer_failures(report)


def _stream_errors(report: LoadReport) -> list[str]:
    """Errors, spoken turns not detected and probes never answered."""
    s = report.summary()
    out: list[str] = []
    if s["errors"]:
        out.append(f"{s['errors']} errors, e.g. {s['error_samples']}")
    detected, expected = report.turns
    if detected < expected:
        out.append(f"turns detected {detected}/{expected}")
    if s["lost_probes"]:
        out.append(f"{s['lost_probes']} probes never answered")
    return out


def correctness_failures(report: LoadReport) -> list[str]:
    """What went wrong whatever the machine's speed (empty when nothing did): errors, spoken
    turns not detected, probes never answered, responses never done, questions never answered.
    The tests assert only these (with a generous drain, see :func:`run_load`); the speed
    criteria are the benchmarks'."""
    s = report.summary()
    out = _stream_errors(report)
    if s["unfinished"]:
        out.append(f"{s['unfinished']} responses created and never done")
    if s["unanswered"]:
        out.append(f"{s['unanswered']} questions unanswered")
    return out


def stream_failures(report: LoadReport) -> list[str]:
    """Why the audio streams did not keep real time (empty when they did): errors, turns not
    detected, lost probes, probe round trip p95 over :data:`RTT_P95_MS`, a growing probe
    backlog, WebRTC audio slower than real time, or a load generator that fell behind."""
    s = report.summary()
    out = _stream_errors(report)
    if not s["probe_rtt_ms"]["p95"] <= RTT_P95_MS:
        out.append(f"probe p95 {s['probe_rtt_ms']['p95']} ms > {RTT_P95_MS:.0f} ms")
    early, late = s["probe_rtt_trend_ms"]
    if not late <= early + RTT_GROWTH_MS:
        out.append(f"probe median grew {early} → {late} ms (backlog)")
    rate = s["webrtc_frame_rate"]
    if report.webrtc_calls and (rate is None or rate < 0.95 * 50):
        out.append(f"WebRTC audio at {rate} frames/s < 47.5 (not real time)")
    if not s["send_lag_ms"]["p99"] <= GENERATOR_LAG_P99_MS:
        out.append(
            f"generator lag p99 {s['send_lag_ms']['p99']} ms: the load generator fell behind"
        )
    return out


def answer_failures(report: LoadReport) -> list[str]:
    """Why the answers did not keep up (empty when they did): a response backlog (responses
    created and not done :data:`ANSWER_TIMEOUT_S` later, turns unanswered that long), answers
    made without a transcript, or end of speech → first audio p95 over
    :data:`TURN_TO_AUDIO_P95_MS` or growing."""
    s = report.summary()
    out: list[str] = []
    if s["unfinished"]:
        out.append(f"{s['unfinished']} responses created and never done (backlog)")
    if s["unanswered"]:
        out.append(f"{s['unanswered']} turns unanswered after {ANSWER_TIMEOUT_S:g} s")
    if s["shed"]:
        out.append(f"{s['shed']} answers without a transcript (the recogniser shed load)")
    early, late = s["turn_to_audio_trend_ms"]
    if not late <= early + 500:
        out.append(f"end of speech → first audio median grew {early} → {late} ms (backlog)")
    if not s["turn_to_audio_ms"]["p95"] <= TURN_TO_AUDIO_P95_MS:
        out.append(
            f"end of speech → first audio p95 {s['turn_to_audio_ms']['p95']} ms "
            f"> {TURN_TO_AUDIO_P95_MS:.0f} ms"
        )
    return out


# --- the clients -----------------------------------------------------------------------------


def _probe_event(probe_id: str) -> str:
    return json.dumps(
        {"type": "conversation.item.retrieve", "event_id": probe_id, "item_id": "item_no_such"}
    )


class _Turns:
    """What the service said, matched with the questions asked."""

    def __init__(self, stats: ClientStats, speaker: Speaker, t_start: float) -> None:
        self.stats = stats
        self.speaker = speaker
        self.t_start = t_start
        self.stopped = 0
        self.created: dict[str, float] = {}
        self.waiting_audio: dict[str, float] = {}
        self.probes: dict[str, float] = {}

    def speech_stopped(self, now: float) -> None:
        ends = self.speaker.ends
        if self.stopped < len(ends):
            self.stats.eot.append((now - ends[self.stopped]) * 1000 - SILENCE_MS)
        self.stopped += 1
        self.stats.turns_detected += 1

    def response_created(self, rid: str, now: float) -> None:
        self.created[rid] = now
        self.waiting_audio[rid] = now

    def first_audio(self, rid: str | None, now: float) -> None:
        if rid is None:  # WebRTC: the newest response (older ones were cancelled or silent)
            rid = next(reversed(self.waiting_audio), None)
        created = self.waiting_audio.pop(rid, None) if rid is not None else None
        if created is None:
            return
        self.waiting_audio.clear()
        self.stats.first_audio.append((now - created) * 1000)
        ends = self.speaker.ends
        if ends:
            self.stats.turn_to_audio.append((now - self.t_start, (now - ends[-1]) * 1000))

    def response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        status = str(response.get("status"))
        self.stats.responses[status] = self.stats.responses.get(status, 0) + 1
        self.created.pop(str(response.get("id")), None)
        for item in response.get("output") or []:
            for part in item.get("content") or []:
                said = str(part.get("transcript") or part.get("text") or "")
                if said.startswith("I heard"):
                    self.stats.shed += 1

    def error(self, event: dict[str, Any], now: float) -> None:
        error = event.get("error") or {}
        sent = self.probes.pop(str(error.get("event_id") or ""), None)
        if sent is not None:
            self.stats.rtt.append((sent - self.t_start, now - sent))
        else:
            self.stats.errors.append(f"{error.get('code')}: {error.get('message')}")

    def settled(self) -> bool:
        """Nothing on its way: every question heard (``speech_stopped``) and answered, every
        response done, every probe answered."""
        return (
            self.stopped >= len(self.speaker.ends)
            and self.speaker.listening_since is None
            and not self.created
            and not self.probes
        )

    def finish(self, end: float, answer_timeout_s: float) -> None:
        self.stats.lost_probes += len(self.probes)
        waiting = self.speaker.listening_since
        if waiting is not None and end - waiting > answer_timeout_s:
            self.stats.unanswered += 1
        self.stats.unfinished += sum(1 for t in self.created.values() if t < end - answer_timeout_s)


async def ws_session(
    ws_url: str,
    stats: ClientStats,
    t_start: float,
    stop_at: float,
    rng: random.Random,
    pause_s: float = PAUSE_S,
    drain_s: float = SETTLE_S,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> None:
    """One WebSocket session: turns spoken in real time, answers "played" in real time; after
    ``stop_at`` it streams silence until nothing is on its way (:meth:`_Turns.settled`) or
    ``drain_s`` has passed."""
    import websockets

    speaker = Speaker(RATE, stats, stop_at, rng.uniform(0, max(4.0, pause_s)), pause_s)
    turns = _Turns(stats, speaker, t_start)
    audio_bytes: dict[str, int] = {}
    first_delta: dict[str, float] = {}
    ws = await websockets.connect(
        f"{ws_url}/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {KEY}"},
        max_size=2**26,
        compression=None,
        open_timeout=60,
        ping_interval=None,
    )

    async def reader() -> None:
        async for raw in ws:
            now = time.perf_counter()
            text = raw if isinstance(raw, str) else raw.decode()
            if '"response.output_audio.delta"' in text[:60]:
                delta = json.loads(text)
                rid = str(delta.get("response_id"))
                audio_bytes[rid] = audio_bytes.get(rid, 0) + len(delta.get("delta") or "") * 3 // 4
                if rid not in first_delta:
                    first_delta[rid] = now
                    turns.first_audio(rid, now)
                continue
            event = json.loads(text)
            kind = event["type"]
            if kind == "input_audio_buffer.speech_stopped":
                turns.speech_stopped(now)
            elif kind == "response.created":
                turns.response_created(event["response"]["id"], now)
            elif kind == "response.done":
                turns.response_done(event)
                rid = str(event["response"]["id"])
                played = first_delta.pop(rid, now) + audio_bytes.pop(rid, 0) / (RATE * 2)
                speaker.answered(max(now, played))
            elif kind == "error":
                turns.error(event, now)

    task = asyncio.ensure_future(reader())
    start = time.perf_counter()
    n = 0
    next_probe = start + rng.uniform(0, PROBE_EVERY_S)
    drain_until = stop_at + drain_s
    try:
        while True:
            due = start + n * CHUNK_MS / 1000
            if due >= stop_at and (due >= drain_until or turns.settled()):
                break
            if task.done():  # the connection closed
                task.result()
                raise ConnectionError("the service closed the session")
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
                now = time.perf_counter()
            stats.send_lag.append(max(0.0, now - due))
            piece = speaker.next_frame().tobytes()
            await ws.send(
                '{"type":"input_audio_buffer.append","audio":"'
                + base64.b64encode(piece).decode()
                + '"}'
            )
            n += 1
            if now >= next_probe and due < stop_at:
                probe_id = f"probe_{id(stats)}_{n}"
                turns.probes[probe_id] = time.perf_counter()
                await ws.send(_probe_event(probe_id))
                next_probe += PROBE_EVERY_S
    except Exception as exc:  # a dropped connection is an error of the run
        stats.errors.append(f"ws: {type(exc).__name__}: {exc}")
    finally:
        turns.finish(time.perf_counter(), answer_timeout_s)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        with contextlib.suppress(Exception):
            await ws.close()


def _microphone(speaker: Speaker) -> Any:
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class Microphone(MediaStreamTrack):
        """The speaker's frames, paced in real time (20 ms, 48 kHz mono)."""

        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.start: float | None = None
            self.pts = 0

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            now = time.perf_counter()
            if self.start is None:
                self.start = now
            due = self.start + self.pts / RTC_RATE
            if due > now:
                await asyncio.sleep(due - now)
            speaker.stats.send_lag.append(max(0.0, time.perf_counter() - due))
            samples = speaker.next_frame()
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RTC_RATE
            frame.pts = self.pts
            frame.time_base = fractions.Fraction(1, RTC_RATE)
            self.pts += len(samples)
            return frame

    return Microphone()


async def webrtc_call(
    base_url: str,
    stats: ClientStats,
    t_start: float,
    stop_at: float,
    rng: random.Random,
    pause_s: float = PAUSE_S,
    drain_s: float = SETTLE_S,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> None:
    """One WebRTC call: questions on the microphone track, answers heard on the remote one;
    after ``stop_at`` the microphone sends silence until nothing is on its way or ``drain_s``
    has passed."""
    import httpx
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from rt_jupyter.local.webrtc import frame_to_mono, ice_host_addresses

    speaker = Speaker(RTC_RATE, stats, stop_at, rng.uniform(0, max(4.0, pause_s)), pause_s)
    turns = _Turns(stats, speaker, t_start)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    opened = asyncio.Event()
    closed = asyncio.Event()
    pc.addTrack(_microphone(speaker))
    consumers: list[asyncio.Task[None]] = []
    first_frame: list[float] = []
    counted = [0, 0.0]  # frames received before stop_at, over how many seconds

    def on_message(message: str | bytes) -> None:
        now = time.perf_counter()
        event = json.loads(message)
        kind = event["type"]
        if kind == "input_audio_buffer.speech_stopped":
            turns.speech_stopped(now)
        elif kind == "response.created":
            turns.response_created(event["response"]["id"], now)
        elif kind == "response.done":
            turns.response_done(event)
            if event["response"]["status"] != "completed":
                speaker.answered(now)
        elif kind == "output_audio_buffer.stopped":
            speaker.answered(now)
        elif kind == "error":
            turns.error(event, now)

    def on_track(track: Any) -> None:
        async def consume() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                now = time.perf_counter()
                if not first_frame:
                    first_frame.append(now)
                if now < stop_at:
                    counted[0] += 1
                    counted[1] = now - first_frame[0]
                if turns.waiting_audio:
                    samples, _ = frame_to_mono(frame)
                    if len(samples) and float(np.sqrt(np.mean(samples**2))) > VOICED_RMS:
                        turns.first_audio(None, now)

        consumers.append(asyncio.ensure_future(consume()))

    channel.on("open", opened.set)
    channel.on("message", on_message)
    channel.on("close", closed.set)
    pc.on("track", on_track)
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            minted = await http.post(
                f"{base_url}/realtime/client_secrets",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"session": {"type": "realtime"}},
            )
            minted.raise_for_status()
            key = minted.json()["value"]
            with ice_host_addresses("127.0.0.1"):
                await pc.setLocalDescription(await pc.createOffer())
            answer = await http.post(
                f"{base_url}/realtime/calls",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
                content=pc.localDescription.sdp,
            )
            if answer.status_code != 201:
                raise RuntimeError(f"SDP answer {answer.status_code}: {answer.text[:200]}")
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await asyncio.wait_for(opened.wait(), 60)
        n = 0
        while time.perf_counter() < stop_at and not closed.is_set():
            await asyncio.sleep(PROBE_EVERY_S * rng.uniform(0.9, 1.1))
            n += 1
            probe_id = f"probe_{id(stats)}_{n}"
            turns.probes[probe_id] = time.perf_counter()
            channel.send(_probe_event(probe_id))
        drain_until = stop_at + drain_s
        while not closed.is_set() and time.perf_counter() < drain_until and not turns.settled():
            await asyncio.sleep(0.05)
        if closed.is_set():
            stats.errors.append("webrtc: the data channel closed during the run")
    except Exception as exc:
        stats.errors.append(f"webrtc: {type(exc).__name__}: {exc}")
    finally:
        turns.finish(time.perf_counter(), answer_timeout_s)
        stats.frames += int(counted[0])
        stats.frame_seconds += counted[1]
        for task in consumers:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pc.close(), 10)


# --- running -------------------------------------------------------------------------------------


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        samples.append(time.perf_counter() - t - 0.05)


def _raise_priority() -> bool:
    try:
        os.nice(-PRIORITY_BOOST)
    except OSError:
        return False
    return True


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0))


async def run_load(
    service: ServiceProcess,
    *,
    ws_sessions: int,
    webrtc_calls: int,
    seconds: float,
    ramp_s: float = 3.0,
    seed: int = 7,
    sample: Callable[[float], None] | None = None,
    sample_every_s: float = 10.0,
    session_s: float | None = None,
    pause_s: float = PAUSE_S,
    drain_s: float = SETTLE_S,
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> LoadReport:
    """Run the clients against ``service`` for ``seconds`` after a ``ramp_s`` ramp-up (client
    starts spread over it); ``sample(elapsed)`` is called every ``sample_every_s``. With
    ``session_s`` each client closes its session after that long and opens a new one (churn);
    ``pause_s`` is each user's pause between an answer and the next question.

    When streaming stops, each client keeps its audio flowing (silence) for up to ``drain_s``
    until nothing is on its way: the tests give it minutes, so that a slow machine delays the
    last answers but loses none; a question still waiting for its answer ``answer_timeout_s``
    after it ended counts as unanswered (the tests: 0, whatever was still waiting)."""
    question(RATE), question(RTC_RATE)  # synthesize before the clock starts
    rng = random.Random(seed)
    clients: list[ClientStats] = []
    t_start = time.perf_counter()
    stop_at = t_start + ramp_s + seconds
    total = max(1, webrtc_calls + ws_sessions)
    tasks = []
    for i in range(webrtc_calls + ws_sessions):
        kind = "webrtc" if i < webrtc_calls else "ws"
        stats = ClientStats(kind)
        clients.append(stats)
        client = _sessions(
            service,
            kind,
            stats,
            t_start,
            stop_at,
            rng,
            session_s,
            pause_s,
            drain_s,
            answer_timeout_s,
        )
        tasks.append(_delayed(ramp_s * i / total, client))
    lag: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_loop_lag(lag, stop))
    sampler: asyncio.Task[None] | None = None
    if sample is not None:
        sampler = asyncio.ensure_future(_sampler(sample, sample_every_s, t_start, stop))
    boosted = _raise_priority()
    cpu_before = service.cpu_seconds()
    busy_before = _machine_busy()
    own_before = time.process_time()
    wall_before = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall_before
    cpu_after = service.cpu_seconds()
    own = time.process_time() - own_before
    busy = _machine_busy() - busy_before
    if boosted:
        os.nice(PRIORITY_BOOST)  # back to where this process was
    stop.set()
    await ticker
    if sampler is not None:
        await sampler
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
    return LoadReport(ws_sessions, webrtc_calls, seconds, clients, lag, cpu, wall, own, busy)


async def _sessions(
    service: ServiceProcess,
    kind: str,
    stats: ClientStats,
    t_start: float,
    stop_at: float,
    rng: random.Random,
    session_s: float | None,
    pause_s: float,
    drain_s: float,
    answer_timeout_s: float,
) -> None:
    """One client: a session until ``stop_at``, or back-to-back sessions of ``session_s``."""
    while True:
        now = time.perf_counter()
        end = stop_at if session_s is None else min(stop_at, now + session_s)
        client = webrtc_call if kind == "webrtc" else ws_session
        url = service.base_url if kind == "webrtc" else service.ws_url
        await client(url, stats, t_start, end, rng, pause_s, drain_s, answer_timeout_s)
        if session_s is None or stop_at - time.perf_counter() < 5.0:
            return
        stats.sessions += 1


async def _delayed(delay: float, coro: Any) -> None:
    await asyncio.sleep(delay)
    await coro


async def _sampler(
    sample: Callable[[float], None], every: float, t_start: float, stop: asyncio.Event
) -> None:
    next_at = t_start
    while not stop.is_set():
        sample(time.perf_counter() - t_start)
        next_at += every
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.perf_counter()))
