"""One session of the local realtime service, independent of the transport.

:class:`LocalSession` owns a server-role :class:`RealtimeConnection` and the engines: it feeds input
audio to the turn detector, commits turns, transcribes them, asks the responder what to say, speaks
it with the voice engine and streams the events back through a :class:`Transport` (a WebSocket or a
WebRTC data channel). For WebRTC the audio goes to an :class:`AudioOutput` track instead of
``response.output_audio.delta`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..audio import decode_audio, encode_audio
from ..protocol import (
    Dialect,
    Event,
    ProtocolError,
    RealtimeConnection,
    ResponseBuilder,
    SessionConfig,
    estimate_usage,
    rate_limits_updated,
    server_event,
)
from ..protocol.conversation import Item
from ..protocol.formats import AUDIO_FORMATS, BYTES_PER_MS, PCM16
from .asr_pool import DEFAULT_LANGUAGE
from .engines.responder import Answer, EchoResponder, Responder
from .engines.vad import SileroStream
from .responding import response_context, spoken, words
from .vad_scheduler import VadScheduler

__all__ = [
    "VOICE_ENGINES",
    "AudioOutput",
    "EngineSettings",
    "Engines",
    "LocalSession",
    "SessionOptions",
    "Transport",
    "load_voice",
]

log = logging.getLogger("rt_jupyter.local")

Samples = npt.NDArray[np.float32]
#: Longest input audio kept for a manual (push-to-talk) WebRTC turn.
MAX_MANUAL_BUFFER_MS = 5 * 60 * 1000


class Transport(Protocol):
    """Where a session's events go (a WebSocket, or the ``oai-events`` data channel)."""

    def send_text(self, text: str) -> None:
        """Send one JSON message; must not block."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the transport."""

    def abort(self) -> None:
        """Drop the connection without a closing handshake (see :mod:`.faults`)."""


class AudioOutput(Protocol):
    """A real-time audio track (WebRTC): model audio is written here instead of sent as deltas."""

    sample_rate: int

    def write(self, samples: Samples) -> None:
        """Queue float32 mono samples at :attr:`sample_rate` for real-time playback."""

    def clear(self) -> float:
        """Drop everything not yet played; returns the milliseconds played of the current item."""

    @property
    def played_ms(self) -> float:
        """Milliseconds of the current item played so far."""

    @property
    def pending_ms(self) -> float:
        """Milliseconds queued and not yet played."""

    def reset_item(self) -> None:
        """Start counting played time for a new assistant item."""


def _env_str(name: str) -> str | None:
    """A setting from the environment, stripped (None when unset or blank)."""
    return os.environ.get(name, "").strip() or None


def _env_int(name: str) -> int | None:
    """A whole-number setting from the environment (None when unset or blank)."""
    value = _env_str(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


@dataclass(frozen=True)
class EngineSettings:
    """The offline engines' settings, as :meth:`Engines.default` and ``rt_jupyter.check()``
    read them (:meth:`resolve`).

    ``asr``: ``"auto"`` (Whisper when the ``asr`` extra loads, else pocketsphinx),
    ``"whisper"`` or ``"pocketsphinx"``. ``asr_model``: a faster-whisper model name or
    directory (``None``: the bundled tiny.en). ``asr_workers``: recogniser processes
    (``None``: the usable cores - 1, at least 1). ``asr_batch``: at most this many waiting
    utterances transcribed together (1 for none). ``asr_language``: the language of
    utterances whose session names none ("auto" to detect per utterance). ``voice_engine``:
    ``"espeak"``, ``"piper"`` (Piper's natural voice, the ``voice`` extra; eSpeak NG for the
    voice names Piper lacks) or ``"auto"`` (Piper when installed)."""

    asr: str = "auto"
    asr_model: str | None = None
    asr_workers: int | None = None
    asr_batch: int = 8
    asr_language: str = DEFAULT_LANGUAGE
    voice_engine: str = "espeak"

    @classmethod
    def resolve(
        cls,
        *,
        asr: str | None = None,
        asr_model: str | None = None,
        asr_workers: int | None = None,
        asr_batch: int | None = None,
        asr_language: str | None = None,
        voice_engine: str | None = None,
    ) -> EngineSettings:
        """Each setting left ``None`` from the environment (``RT_JUPYTER_ASR``,
        ``RT_JUPYTER_ASR_MODEL``, ``RT_JUPYTER_ASR_WORKERS``, ``RT_JUPYTER_ASR_BATCH``,
        ``RT_JUPYTER_ASR_LANGUAGE``, ``RT_JUPYTER_VOICE_ENGINE``; blank counts as unset), else
        its default. Values are checked where they are used."""
        workers = asr_workers if asr_workers is not None else _env_int("RT_JUPYTER_ASR_WORKERS")
        batch = asr_batch if asr_batch is not None else _env_int("RT_JUPYTER_ASR_BATCH")
        default = cls()
        return cls(
            asr=asr or _env_str("RT_JUPYTER_ASR") or default.asr,
            asr_model=asr_model or _env_str("RT_JUPYTER_ASR_MODEL"),
            asr_workers=workers,
            asr_batch=default.asr_batch if batch is None else batch,
            asr_language=asr_language
            or _env_str("RT_JUPYTER_ASR_LANGUAGE")
            or default.asr_language,
            voice_engine=voice_engine
            or _env_str("RT_JUPYTER_VOICE_ENGINE")
            or default.voice_engine,
        )


@dataclass
class Engines:
    """The engines a session uses; each is swappable (see :mod:`rt_jupyter.local.engines`)."""

    responder: Responder = field(default_factory=EchoResponder)
    voice: Any = None  # engines.tts.Voice
    transcriber: Any = None  # engines.asr.Transcriber
    turn_detector_factory: Callable[..., Any] | None = None  # engines.turns.ServerVadTurnDetector

    @classmethod
    def default(
        cls,
        *,
        asr: str | None = None,
        asr_model: str | None = None,
        asr_workers: int | None = None,
        voice_engine: str | None = None,
        asr_batch: int | None = None,
        asr_language: str | None = None,
    ) -> Engines:
        """The offline engines: silero VAD, a recogniser pool, a voice and
        :class:`EchoResponder`, with the settings :meth:`EngineSettings.resolve` gives (each
        one left ``None`` from the environment, else its default)."""
        return cls.from_settings(
            EngineSettings.resolve(
                asr=asr,
                asr_model=asr_model,
                asr_workers=asr_workers,
                asr_batch=asr_batch,
                asr_language=asr_language,
                voice_engine=voice_engine,
            )
        )

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Engines:
        """The offline engines with these settings (see :meth:`default`)."""
        from .asr_pool import ProcessTranscriber
        from .engines import ServerVadTurnDetector
        from .engines.vad import SileroBatch

        voice = load_voice(settings.voice_engine)
        transcriber = ProcessTranscriber(
            engine=settings.asr,
            model=settings.asr_model,
            workers=settings.asr_workers,
            batch_size=settings.asr_batch,
            language=settings.asr_language,
        )

        try:  # one shared model scored in batches; per-session models without onnxruntime
            batch: SileroBatch | None = SileroBatch()
        except ImportError:
            batch = None

        def turn_detector(**options: Any) -> ServerVadTurnDetector:
            vad = batch.stream() if batch is not None else None
            return ServerVadTurnDetector(sample_rate=24000, vad=vad, **options)

        return cls(
            responder=EchoResponder(),
            voice=voice,
            transcriber=transcriber,
            turn_detector_factory=turn_detector,
        )

    @property
    def summary(self) -> str:
        """Which recogniser and voice run, and why not the best ones (a second line)."""
        transcriber = self.transcriber
        if transcriber is None:
            asr = "none (text only)"
        else:
            asr = getattr(transcriber, "engine", type(transcriber).__name__)
            workers = getattr(transcriber, "workers", None)
            if workers is not None:
                batch = getattr(transcriber, "batch_size", 1)
                batches = f", batches of up to {batch}" if asr == "whisper" and batch > 1 else ""
                model = getattr(transcriber, "model_name", None)
                model = f"{model}; " if model else ""
                asr += f" ({model}{workers} worker{'s' if workers != 1 else ''}{batches})"
        voice = "none" if self.voice is None else type(self.voice).__name__
        summary = f"recognition {asr}, voice {voice}"
        note = getattr(transcriber, "note", "")
        return f"{summary}\n  note: {note}" if note else summary

    def close(self) -> None:
        """Stop what holds processes or threads (the recogniser pool). Engines passed to several
        services are closed by their owner, once."""
        close = getattr(self.transcriber, "close", None)
        if callable(close):
            close()


#: The voice engines: eSpeak NG, Piper (eSpeak NG for the voices it lacks), or Piper if it loads.
VOICE_ENGINES = ("espeak", "piper", "auto")


def load_voice(engine: str) -> Any:
    """The voice for ``engine`` (one of :data:`VOICE_ENGINES`); ``"auto"`` falls back to
    eSpeak NG, logging how to get Piper, and ``"piper"`` raises if Piper cannot load."""
    from .engines import EspeakVoice

    if engine not in VOICE_ENGINES:
        raise ValueError(f"unknown voice engine {engine!r}; expected one of {VOICE_ENGINES}")
    if engine == "espeak":
        return EspeakVoice()
    from .engines.piper import VOICE_EXTRA_HINT, MixedVoice

    try:
        return MixedVoice()
    except Exception as exc:
        if engine == "piper":
            raise
        hint = "" if VOICE_EXTRA_HINT in str(exc) else f"; {VOICE_EXTRA_HINT}"
        log.warning(
            "rt_jupyter local service: using eSpeak NG, Piper did not load (%s)%s", exc, hint
        )
        return EspeakVoice()


@dataclass
class SessionOptions:
    """Per-session limits and behaviour chosen by the service."""

    max_duration_s: float = 3600.0
    webrtc: bool = False
    on_close: Callable[[], None] | None = None
    executor: Executor | None = None


class LocalSession:
    """The local service's side of one realtime session."""

    def __init__(
        self,
        transport: Transport,
        *,
        dialect: Dialect,
        session: SessionConfig,
        engines: Engines,
        options: SessionOptions | None = None,
    ) -> None:
        self.transports: list[Transport] = [transport]
        self.engines = engines
        self.options = options or SessionOptions()
        self.conn = RealtimeConnection("server", dialect, session=session)
        self.dialect = dialect
        self.audio_out: AudioOutput | None = None
        self.created_at = time.monotonic()
        self.closed = False
        self._responses: dict[str, tuple[ResponseBuilder, asyncio.Task[None] | None]] = {}
        self._heard: dict[str, asyncio.Future[str]] = {}
        self._speech_item: str | None = None
        self._speech_start_ms = 0.0
        self._detector: Any = None
        self._detector_config: tuple[Any, ...] | None = None
        self._detector_offset_ms = 0.0
        self._vad_scheduler: VadScheduler | None = None
        self._input_resampler: Any = None
        self._playing: tuple[str, str] | None = None  # (response_id, item_id) on the audio track
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry: asyncio.TimerHandle | None = None
        self.events_in = 0
        self.events_out = 0

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Send ``session.created`` and start the session clock."""
        self.conn.session_created()
        self._configure_turns()
        self.flush()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(self.options.max_duration_s, self.expire)

    def expire(self) -> None:
        """End the session at its maximum duration (``session_expired``)."""
        minutes = self.options.max_duration_s / 60
        shown = f"{minutes:g} minutes" if minutes >= 1 else f"{self.options.max_duration_s:g} s"
        self.conn.send_error(
            ProtocolError(
                f"Your session hit the maximum duration of {shown}.",
                code="session_expired",
            )
        )
        self.flush()
        self.close(1000, "session expired")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Stop everything and close the transport (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._expiry is not None:
            self._expiry.cancel()
        for task in list(self._tasks):
            task.cancel()
        # a cancelled task keeps its CancelledError, whose traceback holds the task's frames and
        # so this session: forget the tasks here, or session -> task -> frame -> session is a
        # cycle that only the cyclic GC frees (a call hung up while its answer awaited a transcript)
        self._responses.clear()
        self._heard.clear()
        for transport in self.transports:
            with contextlib.suppress(Exception):
                transport.close(code, reason)
        if self.options.on_close is not None:
            self.options.on_close()

    def transport_closed(self) -> None:
        """The peer went away."""
        self.close()

    def flush(self) -> None:
        """Send whatever the connection queued."""
        if self.closed:
            self.conn.data_to_send()
            return
        for text in self.conn.data_to_send():
            self.events_out += 1
            for transport in self.transports:
                transport.send_text(text)

    def add_transport(self, transport: Transport) -> None:
        """Also send this session's events to ``transport`` (a WebRTC call's sideband socket)."""
        self.transports.append(transport)

    def remove_transport(self, transport: Transport) -> None:
        """Stop sending to ``transport``."""
        if transport in self.transports:
            self.transports.remove(transport)

    def _emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        for event in events:
            self.conn.send(event)
        self.flush()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("local session task failed: %r", exc, exc_info=exc)
            if not self.closed:
                self.conn.send_error(
                    ProtocolError(
                        "The server had an error while processing your request.",
                        code="server_error",
                        type="server_error",
                    )
                )
                self.flush()

    # --- input -----------------------------------------------------------------------------------

    def receive(self, message: str | bytes) -> None:
        """Handle one client message (never raises for bad input)."""
        if self.closed:
            return
        self.events_in += 1
        event: Event | None = None
        try:
            for event in self.conn.receive(message):
                self._dispatch(event)
        except ProtocolError as exc:
            if exc.event_id is None and event is not None:
                exc.event_id = event.event_id
            self.conn.send_error(exc)
        except Exception as exc:  # an engine failed: report it, keep the session
            log.exception("error handling a client event")
            self.conn.send_error(
                ProtocolError(
                    "The server had an error while processing your request "
                    f"({type(exc).__name__}).",
                    code="server_error",
                    type="server_error",
                )
            )
        self.flush()

    def _dispatch(self, ev: Event) -> None:
        kind = ev.kind
        if kind in ("session.update", "transcription_session.update"):
            self._configure_turns()
        elif kind == "input_audio_buffer.append":
            self._on_append()
        elif kind == "input_audio_buffer.commit":
            self._commit(None, None)
        elif kind == "input_audio_buffer.clear":
            self._speech_item = None
            if self._detector is not None:
                self._detector.reset(keep_clock=True)
        elif kind == "response.create":
            self.create_response(dict(ev.get("response") or {}))
        elif kind == "response.cancel":
            rid = ev.get("response_id")
            target = rid or (r.id if (r := self.conn.conversation.active_response) else None)
            if target:
                self.cancel_response(str(target), "client_cancelled")
        elif kind == "output_audio_buffer.clear":
            if self.audio_out is None:
                raise ProtocolError(
                    "output_audio_buffer.clear is only supported for WebRTC connections.",
                    code="invalid_value",
                    param="type",
                )
            self._clear_output(truncate=False)

    # --- turns -----------------------------------------------------------------------------------

    def _configure_turns(self) -> None:
        """Create, retune or drop the turn detector after the session's turn detection changed.

        ``semantic_vad`` runs the same detector with a silence that follows its eagerness
        (low 800 ms, auto/medium 500 ms, high 300 ms): there is no semantic model offline."""
        td = self.conn.session.turn_detection
        if td is None or self.engines.turn_detector_factory is None:
            self._detector = None
            self._detector_config = None
            return
        if td.get("type") == "semantic_vad":
            silence = {"low": 800, "high": 300}.get(str(td.get("eagerness")), 500)
            settings = {
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": silence,
                "idle_timeout_ms": None,
            }
        else:
            settings = {
                "threshold": float(td.get("threshold", 0.5)),
                "prefix_padding_ms": int(td.get("prefix_padding_ms", 300)),
                "silence_duration_ms": int(td.get("silence_duration_ms", 200)),
                "idle_timeout_ms": td.get("idle_timeout_ms"),
            }
        config = tuple(settings.values())
        if config == self._detector_config:
            return
        if self._detector is not None:
            self._detector.update(**settings)
        else:
            self._detector = self.engines.turn_detector_factory(**settings)
            # the detector counts from 0: offset its times to the session's audio clock
            self._detector_offset_ms = self.conn.input_buffer.total_ms
        self._detector_config = config

    def _on_append(self) -> None:
        raw = self.conn.input_buffer.unread()
        if self._detector is None or not raw:
            return
        self.feed_input((raw, self.conn.input_buffer.format))

    def input_samples(self, raw: bytes, fmt: str) -> Samples:
        """Appended wire audio (``fmt``) as float32 samples at 24 kHz, for the turn detector."""
        samples = decode_audio(raw, fmt)
        rate = AUDIO_FORMATS[fmt].sample_rate
        if rate != PCM16.sample_rate:
            from ..audio import Resampler

            if self._input_resampler is None:
                self._input_resampler = Resampler(rate, PCM16.sample_rate, np.dtype(np.float32))
            samples = self._input_resampler.process(samples)
        return samples

    def push_input_audio(self, samples: Samples) -> None:
        """Microphone audio from a WebRTC track (float32, 24 kHz): into the input buffer (as
        pcm16, the format it is committed and transcribed in) and the turn detector."""
        from ..audio import float32_to_pcm16

        buffer = self.conn.input_buffer
        buffer.format = PCM16.name
        self.conn.conversation.input_format = PCM16.name
        buffer.append(float32_to_pcm16(samples).tobytes())
        buffer.unread()
        if self._detector is None and buffer.ms > MAX_MANUAL_BUFFER_MS:
            # push-to-talk with the button up: keep only the last few minutes of the microphone
            buffer.discard_before(buffer.total_ms - MAX_MANUAL_BUFFER_MS)
        self.feed_input(samples)

    def feed_input(self, audio: Samples | tuple[bytes, str]) -> None:
        """Input audio for the turn detector: float32 samples at 24 kHz (the WebRTC track) or
        ``(wire bytes, format)`` (WebSocket appends).

        With a batched VAD (:class:`~rt_jupyter.local.engines.vad.SileroBatch`) the audio of
        every session on this event loop is decoded, framed and scored together once per loop
        iteration (see :class:`VadScheduler`)."""
        detector = self._detector
        if detector is None:
            return
        if isinstance(getattr(detector, "vad", None), SileroStream):
            if self._vad_scheduler is None:
                self._vad_scheduler = VadScheduler.for_loop()
            self._vad_scheduler.submit(self, detector, audio)
            return
        samples = audio if isinstance(audio, np.ndarray) else self.input_samples(*audio)
        frames = detector.frames(samples)
        self.apply_turns(detector, [detector.vad.speech_probability(f) for f in frames])

    def apply_turns(self, detector: Any, probabilities: Sequence[float]) -> None:
        """Step ``detector`` with the speech probabilities of its frames and act on the turns."""
        if detector is not self._detector or self.closed:
            return  # the turn detection changed meanwhile
        offset = self._detector_offset_ms
        for turn in detector.advance(probabilities):
            start = (turn.audio_start_ms or 0) + offset
            end = (turn.audio_end_ms or 0) + offset
            if turn.kind == "speech_started":
                self._speech_started(start)
            elif turn.kind == "speech_stopped":
                self._speech_stopped(end)
            elif turn.kind == "timeout_triggered":
                self._timeout(start, end)
        if self._speech_item is None:
            td = self.conn.session.turn_detection or {}
            keep = float(td.get("prefix_padding_ms", 300)) + 2000
            # counted from the audio judged so far, not the buffer's end: scores can come back
            # after later audio was appended (a batch on the VAD thread), and that audio may hold
            # the start of the next turn
            buffer = self.conn.input_buffer
            judged = getattr(detector, "processed_ms", None)
            end = buffer.total_ms if judged is None else min(buffer.total_ms, judged + offset)
            buffer.discard_before(end - keep)
        self.flush()

    def _speech_started(self, start_ms: float) -> None:
        from ..protocol import ids

        self._speech_item = ids.item_id()
        self._speech_start_ms = start_ms
        self.conn.send(
            server_event(
                "input_audio_buffer.speech_started",
                audio_start_ms=int(start_ms),
                item_id=self._speech_item,
            )
        )
        td = self.conn.session.turn_detection or {}
        if td.get("interrupt_response", True):
            active = self.conn.conversation.active_response
            if active is not None:
                self.cancel_response(active.id, "turn_detected")
            if self.audio_out is not None and self._playing is not None:
                self._clear_output(truncate=True)

    def _speech_stopped(self, end_ms: float) -> None:
        item_id = self._speech_item
        if item_id is None:
            return
        self._speech_item = None
        self.conn.send(
            server_event(
                "input_audio_buffer.speech_stopped", audio_end_ms=int(end_ms), item_id=item_id
            )
        )
        self._commit(self._speech_start_ms, end_ms, item_id=item_id, respond=True)

    def _timeout(self, start_ms: float, end_ms: float) -> None:
        from ..protocol import ids

        item_id = ids.item_id()
        self.conn.send(
            server_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(start_ms),
                audio_end_ms=int(end_ms),
                item_id=item_id,
            )
        )
        self._commit(start_ms, end_ms, item_id=item_id, respond=True)

    def _commit(
        self,
        start_ms: float | None,
        end_ms: float | None,
        *,
        item_id: str | None = None,
        respond: bool = False,
    ) -> None:
        item, raw = self.conn.commit_input(start_ms, end_ms, item_id)
        self._transcribe(item, raw)
        td = self.conn.session.turn_detection or {}
        if (
            respond
            and td.get("create_response", True)
            and self.conn.session.type == "realtime"
            and self.conn.conversation.active_response is None
        ):
            self.create_response({})

    def _transcribe(self, item: Item, raw: bytes) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._heard[item.id] = future
        transcriber = self.engines.transcriber
        if transcriber is None or not raw:
            future.set_result("")
            return
        samples = decode_audio(raw, self.conn.input_buffer.format)
        rate = AUDIO_FORMATS[self.conn.input_buffer.format].sample_rate
        settings = self.conn.session.transcription
        language = (settings or {}).get("language")
        prompt = (settings or {}).get("prompt")

        def work() -> Any:
            return transcriber.transcribe(samples, rate, language=language, prompt=prompt)

        async def run() -> None:
            enabled = self.conn.session.transcription is not None
            try:
                submit = getattr(transcriber, "submit", None)
                if submit is not None:  # queues on its own worker; refuses work when overloaded
                    result = await asyncio.wrap_future(
                        submit(samples, rate, language=language, prompt=prompt)
                    )
                else:
                    result = await loop.run_in_executor(self.options.executor, work)
            except Exception as exc:  # report, never crash the session
                if not future.done():
                    future.set_result("")
                if enabled and not self.closed:
                    self._emit(
                        [
                            server_event(
                                "conversation.item.input_audio_transcription.failed",
                                item_id=item.id,
                                content_index=0,
                                error={
                                    "type": "transcription_error",
                                    "code": "audio_unintelligible",
                                    "message": f"Transcription failed: {exc}",
                                    "param": None,
                                },
                            )
                        ]
                    )
                return
            text = str(getattr(result, "text", result) or "")
            if not future.done():
                future.set_result(text)
            if enabled and not self.closed:
                events: list[dict[str, Any]] = []
                for word in words(text):
                    events.append(
                        server_event(
                            "conversation.item.input_audio_transcription.delta",
                            item_id=item.id,
                            content_index=0,
                            delta=word,
                        )
                    )
                events.append(
                    server_event(
                        "conversation.item.input_audio_transcription.completed",
                        item_id=item.id,
                        content_index=0,
                        transcript=text,
                        usage={"type": "duration", "seconds": round(len(samples) / rate, 3)},
                    )
                )
                self._emit(events)

        async def run_and_settle() -> None:
            try:
                await run()
            finally:  # cancelled (service closing): responses waiting on it must not hang
                if not future.done():
                    future.set_result("")

        self._spawn(run_and_settle())

    # --- responses -------------------------------------------------------------------------------

    def _response_config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        s = self.conn.session
        out_audio = dict(((params.get("audio") or {}).get("output")) or {})
        return {
            "output_modalities": list(params.get("output_modalities") or s.output_modalities),
            "audio": {
                "output": {
                    "format": out_audio.get("format")
                    or ((s.data.get("audio") or {}).get("output") or {}).get("format")
                    or PCM16.ga(),
                    "voice": out_audio.get("voice", s.voice),
                }
            },
            "max_output_tokens": params.get("max_output_tokens", s.max_output_tokens),
            "metadata": params.get("metadata"),
        }

    def create_response(self, params: dict[str, Any]) -> str:
        """Start a response (``response.create`` or an automatic turn); returns its id."""
        in_conversation = params.get("conversation", "auto") != "none"
        builder = ResponseBuilder(
            self.conn.conversation, self._response_config(params), in_conversation=in_conversation
        )
        self._emit(builder.created())
        task = self._spawn(self._respond(builder, params))
        self._responses[builder.id] = (builder, task)
        return builder.id

    def cancel_response(self, response_id: str, reason: str) -> None:
        """Cancel a running response now: pending ``*.done`` events, then ``response.done``."""
        entry = self._responses.get(response_id)
        if entry is None:
            return
        builder, task = entry
        if not builder.finished:
            self._emit(builder.cancel(reason))
            self._emit([rate_limits_updated()])
        if task is not None:
            task.cancel()

    async def _respond(self, builder: ResponseBuilder, params: Mapping[str, Any]) -> None:
        session = self.conn.session
        context = await response_context(self.conn.conversation, params, self._heard)
        responder = self.engines.responder
        decide = functools.partial(
            responder.respond,
            context,
            instructions=str(params.get("instructions", session.instructions)),
            tools=list(params.get("tools", session.tools)),
            tool_choice=params.get("tool_choice", session.tool_choice),
        )
        try:
            if isinstance(responder, EchoResponder):
                answer: Answer = decide()  # instant and pure: no thread hop
            else:  # may block (a network call): keep the event loop free
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(self.options.executor, decide)
        except Exception as exc:  # the response fails; the session goes on
            log.exception("the responder failed")
            error = {
                "type": "server_error",
                "code": "responder_error",
                "message": f"The responder failed ({type(exc).__name__}).",
            }
            self._emit(builder.done("failed", error=error))
            self._emit([rate_limits_updated()])
            return
        status, reason = "completed", None
        text = answer.text
        limit = builder.config.get("max_output_tokens", "inf")
        if isinstance(limit, int) and len(text) > limit * 4:
            text, status, reason = text[: limit * 4], "incomplete", "max_output_tokens"
        if text:
            self._emit(builder.begin_message())
            if builder.audio:
                await self._speak(builder, text)
            else:
                for word in words(text):
                    self._emit(builder.text_delta(word))
                    await asyncio.sleep(0)
            self._emit(builder.end_message())
        if status == "completed":
            for call in answer.tool_calls:
                self._emit(builder.function_call(call.name, call.arguments))
        in_text = sum(len(c.text) for c in context)
        in_audio = sum(c.audio_ms for c in context)
        usage = estimate_usage(
            input_text_chars=in_text + len(session.instructions),
            input_audio_ms=in_audio,
            output_text_chars=builder.total_text_chars,
            output_audio_ms=builder.total_audio_ms,
        )
        self._emit(builder.done(status, reason=reason, usage=usage))
        self._emit([rate_limits_updated()])
        if self._detector is not None:
            self._detector.notify_response_done()
        if self.audio_out is not None and builder.audio and text:
            self._spawn(self._await_drain(builder.id))

    async def _speak(self, builder: ResponseBuilder, text: str) -> None:
        voice_engine = self.engines.voice
        item_id = builder.item["id"] if builder.item else ""
        if self.audio_out is not None:
            self.audio_out.reset_item()
            self._playing = (builder.id, item_id)
            self._emit([server_event("output_audio_buffer.started", response_id=builder.id)])
        voice = str(((builder.config.get("audio") or {}).get("output") or {}).get("voice"))
        speed = self.conn.session.speed
        fmt = builder.output_format
        if voice_engine is None:
            for word in words(text):
                self._emit(builder.text_delta(word))
            return
        target = (
            self.audio_out.sample_rate
            if self.audio_out is not None
            else AUDIO_FORMATS[fmt].sample_rate
        )
        speech = spoken(
            voice_engine,
            text,
            voice=voice,
            speed=speed,
            rate=target,
            executor=self.options.executor,
        )
        async for sentence, samples in speech:
            if sentence:
                self._emit(builder.text_delta(sentence))
            if not len(samples):
                continue
            if self.audio_out is not None:
                self.audio_out.write(samples)
                n_ms = len(samples) / target * 1000
                self._track_webrtc_audio(builder, item_id, n_ms, fmt)
            else:
                self._emit(builder.audio_delta(encode_audio(samples, target, fmt)))
            await asyncio.sleep(0)

    def _track_webrtc_audio(
        self, builder: ResponseBuilder, item_id: str, n_ms: float, fmt: str
    ) -> None:
        """Account WebRTC audio on the item (no deltas are sent) so truncation can be checked."""
        n_bytes = int(n_ms * BYTES_PER_MS[fmt])
        builder.audio_bytes += n_bytes
        builder.total_audio_ms += n_ms
        item = self.conn.conversation.get(item_id)
        if item is not None:
            item.audio_bytes[0] = item.audio_bytes.get(0, 0) + n_bytes

    async def _await_drain(self, response_id: str) -> None:
        out = self.audio_out
        while out is not None and out.pending_ms > 0 and self._playing is not None:
            if self._playing[0] != response_id:
                return
            await asyncio.sleep(min(out.pending_ms / 1000, 0.05))
        if self._playing is not None and self._playing[0] == response_id and not self.closed:
            self._playing = None
            self._emit([server_event("output_audio_buffer.stopped", response_id=response_id)])

    def _clear_output(self, *, truncate: bool) -> None:
        """Stop the audio track; on barge-in truncate the item at what was heard."""
        assert self.audio_out is not None
        played = self.audio_out.clear()
        playing = self._playing
        self._playing = None
        if playing is None:
            return
        response_id, item_id = playing
        events: list[dict[str, Any]] = [
            server_event("output_audio_buffer.cleared", response_id=response_id)
        ]
        item = self.conn.conversation.get(item_id)
        if truncate and item is not None and item_id in self.conn.conversation:
            fmt = self.conn.conversation.output_format
            end_ms = int(min(played, item.audio_ms(0, fmt)))
            events.append(
                server_event(
                    "conversation.item.truncated",
                    item_id=item_id,
                    content_index=0,
                    audio_end_ms=end_ms,
                )
            )
        self._emit(events)
