"""Turn detection with the Realtime API's ``server_vad`` semantics.

:class:`ServerVadTurnDetector` is fed input audio (float32 mono, 24 kHz by default) in
chunks of any size, resamples it in streaming fashion to the VAD rate, cuts it into
VAD frames and reports :class:`TurnEvent` objects:

* ``speech_started``: the first frame whose speech probability is ``>= threshold``.
  ``audio_start_ms`` is the speech onset minus ``prefix_padding_ms``, i.e. it includes the
  prefix padding, like the API's ``input_audio_buffer.speech_started``; it is clamped at 0
  and at the previous turn's ``audio_end_ms`` (turns never overlap).
* ``speech_stopped``: emitted once ``silence_duration_ms`` of continuous non-speech
  follows the speech. A frame starts the silence when its probability is below
  ``max(threshold - 0.15, 0.01)`` (hysteresis, as in Silero's reference code); any frame
  ``>= threshold`` cancels it. ``audio_end_ms`` is the end of the speech (not including
  the trailing silence), and the silence is counted from there.

Onset and end are the frame boundaries where the probability crosses, moved earlier by
``lag_compensation_ms`` (default one 32 ms frame): Silero's probability trails the audio
(measured on 140 synthesized utterances: onsets +44 ms, ends +29 ms late on average
without compensation; with it, 90 % of onsets/ends are within 44/57 ms of the truth).
* ``timeout_triggered``: with ``idle_timeout_ms`` set, no speech started within that
  time after the idle clock was (re)started by :meth:`ServerVadTurnDetector.notify_response_done`
  or by the end of a turn. ``audio_start_ms`` is when the clock started and
  ``audio_end_ms`` is when the timeout fired. The clock then stays disarmed until the
  next response/turn end; it is not armed when the detector is created.

All times are integer milliseconds since the first audio fed (per session); internal
arithmetic is in VAD samples. Decisions are made per VAD frame (32 ms), so
``speech_stopped`` is reported once the input reaches between ``audio_end_ms +
silence_duration_ms`` and 32 ms later (the 24->16 kHz resampler adds < 0.1 ms).

No minimum speech duration is applied: Silero gives clicks and low-level white noise
probabilities of 0.01-0.09, far below any useful threshold.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from rt_jupyter.audio import Resampler

from .vad import SileroVad, VadEngine

__all__ = ["ServerVadTurnDetector", "TurnEvent", "TurnEventKind"]

TurnEventKind = Literal["speech_started", "speech_stopped", "timeout_triggered"]

#: Hysteresis: a frame counts as silence below ``threshold - _HYSTERESIS`` (>= _MIN_NEG).
_HYSTERESIS = 0.15
_MIN_NEG = 0.01
#: soxr "quick" (cubic) resampling: 1 sample of latency (HQ buffers ~20-30 ms, which would
#: delay every decision); plenty for a VAD.
_RESAMPLE_QUALITY = "QQ"


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """A turn-detection event; times in ms since the first audio fed this session."""

    kind: TurnEventKind
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None


class ServerVadTurnDetector:
    """Streaming ``server_vad`` turn detector (one instance per session, not thread-safe).

    Args:
        threshold: VAD probability (0..1) at which speech starts.
        prefix_padding_ms: audio included before the detected speech onset.
        silence_duration_ms: continuous non-speech that ends the speech.
        idle_timeout_ms: ``None`` or the idle time after which ``timeout_triggered`` fires.
        sample_rate: rate of the audio given to :meth:`feed` (8, 16, 24, 44.1 or 48 kHz).
        vad: the VAD engine; a new :class:`SileroVad` at 16 kHz by default.
        lag_compensation_ms: how much the VAD's probabilities trail the audio; onsets
            and ends are moved this much earlier (32 ms suits Silero).
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 200,
        idle_timeout_ms: int | None = None,
        sample_rate: int = 24000,
        vad: VadEngine | None = None,
        lag_compensation_ms: int = 32,
    ) -> None:
        self._vad: VadEngine = vad if vad is not None else SileroVad(16000)
        self._in_rate = int(sample_rate)
        self._vad_rate = int(self._vad.sample_rate)
        self._frame = int(self._vad.frame_samples)
        lag_ms = _non_negative_ms("lag_compensation_ms", lag_compensation_ms)
        self._lag = self._ms_to_samples(lag_ms)
        self._resampler = Resampler(
            self._in_rate, self._vad_rate, np.float32, quality=_RESAMPLE_QUALITY
        )
        self.threshold = 0.5
        self.prefix_padding_ms = 300
        self.silence_duration_ms = 200
        self.idle_timeout_ms: int | None = None
        self.update(
            threshold=threshold,
            prefix_padding_ms=prefix_padding_ms,
            silence_duration_ms=silence_duration_ms,
            idle_timeout_ms=idle_timeout_ms,
        )
        self._reset_state(keep_clock=False)

    # -- configuration -------------------------------------------------------------------

    def update(
        self,
        *,
        threshold: float | None = None,
        prefix_padding_ms: int | None = None,
        silence_duration_ms: int | None = None,
        idle_timeout_ms: int | _Unset | None = _UNSET,
    ) -> None:
        """Change parameters while running (``session.update``); ``None`` keeps a value.

        ``idle_timeout_ms=None`` disables the idle timeout; omit it to keep the current one.
        """
        if threshold is not None:
            value = float(threshold)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold must be within 0.0..1.0, got {threshold}")
            self.threshold = value
        if prefix_padding_ms is not None:
            self.prefix_padding_ms = _non_negative_ms("prefix_padding_ms", prefix_padding_ms)
        if silence_duration_ms is not None:
            self.silence_duration_ms = _non_negative_ms("silence_duration_ms", silence_duration_ms)
        if not isinstance(idle_timeout_ms, _Unset):
            self.idle_timeout_ms = (
                None
                if idle_timeout_ms is None
                else _non_negative_ms("idle_timeout_ms", idle_timeout_ms)
            )
        self._neg_threshold = max(self.threshold - _HYSTERESIS, _MIN_NEG)
        self._silence_samples = self._ms_to_samples(self.silence_duration_ms)
        self._idle_samples = (
            None if self.idle_timeout_ms is None else self._ms_to_samples(self.idle_timeout_ms)
        )

    # -- state -----------------------------------------------------------------------------

    def reset(self, *, keep_clock: bool = False) -> None:
        """Forget the stream: VAD state, speech state and idle clock.

        With ``keep_clock=True`` the time base (``total_ms``) and the resampler's partial
        frame are kept, e.g. to drop an ongoing speech when the input buffer is cleared.
        """
        self._vad.reset()
        self._reset_state(keep_clock=keep_clock)

    def _reset_state(self, *, keep_clock: bool) -> None:
        if not keep_clock:
            self._resampler.flush()
            self._pending: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
            self._in_samples = 0  # input samples fed (input rate)
            self._pos = 0  # VAD samples consumed by whole frames (VAD rate)
            self._last_end_ms = 0  # audio_end_ms of the previous turn
        self._in_speech = False
        self._speech_start = 0  # VAD sample of the speech onset
        self._silence_start: int | None = None  # VAD sample where the silence began
        self._idle_start: int | None = None  # VAD sample where the idle clock started

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not yet stopped."""
        return self._in_speech

    @property
    def total_ms(self) -> int:
        """Milliseconds of audio fed so far."""
        return self._in_samples * 1000 // self._in_rate

    @property
    def processed_ms(self) -> int:
        """Milliseconds of audio the turn state machine has stepped through (:meth:`advance`);
        behind :attr:`total_ms` while frames wait to be scored."""
        return self._samples_to_ms(self._pos)

    @property
    def sample_rate(self) -> int:
        """Sample rate expected by :meth:`feed`."""
        return self._in_rate

    @property
    def vad(self) -> VadEngine:
        """The VAD engine in use."""
        return self._vad

    def notify_response_done(self, at_ms: int | None = None) -> None:
        """(Re)start the idle clock: a response finished (its audio played) at ``at_ms``.

        ``at_ms`` defaults to now (:attr:`total_ms`); it is ignored while speech is ongoing.
        """
        if self._in_speech:
            return
        if at_ms is None:
            self._idle_start = self._in_samples * self._vad_rate // self._in_rate
        else:
            self._idle_start = self._ms_to_samples(max(0, int(at_ms)))

    # -- processing ------------------------------------------------------------------------

    def feed(self, samples: npt.NDArray[np.float32]) -> list[TurnEvent]:
        """Feed float32 mono audio at :attr:`sample_rate`; return the events it caused."""
        frames = self.frames(samples)
        return self.advance([self._vad.speech_probability(frame) for frame in frames])

    def frames(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """First half of :meth:`feed`: resample and cut ``samples`` into whole VAD frames
        (shape ``(n, frame_samples)``, possibly ``n == 0``). Pass the frames' speech
        probabilities to :meth:`advance`, in order — e.g. computed in a batch with other
        sessions' frames (:class:`~rt_jupyter.local.engines.vad.SileroBatch`)."""
        x = np.asarray(samples)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono (1-D) samples, got shape {x.shape}")
        self._in_samples += x.shape[0]
        y = self._resampler.process(x)
        if self._pending.shape[0]:
            y = np.concatenate((self._pending, y))
        frame = self._frame
        n = y.shape[0] // frame
        self._pending = y[n * frame :].copy()
        return y[: n * frame].reshape(n, frame)

    def advance(self, probabilities: Iterable[float]) -> list[TurnEvent]:
        """Second half of :meth:`feed`: step the turn state machine with the speech probability
        of each frame returned by :meth:`frames`; return the events."""
        events: list[TurnEvent] = []
        for prob in probabilities:
            self._step(float(prob), events)
        return events

    def _step(self, prob: float, events: list[TurnEvent]) -> None:
        start = self._pos
        end = start + self._frame
        self._pos = end
        if not self._in_speech:
            if prob >= self.threshold:
                self._in_speech = True
                self._speech_start = max(0, start - self._lag)
                self._silence_start = None
                self._idle_start = None
                onset_ms = self._samples_to_ms(self._speech_start)
                start_ms = max(0, onset_ms - self.prefix_padding_ms, self._last_end_ms)
                events.append(TurnEvent("speech_started", audio_start_ms=start_ms))
            elif (
                self._idle_start is not None
                and self._idle_samples is not None
                and end - self._idle_start >= self._idle_samples
            ):
                events.append(
                    TurnEvent(
                        "timeout_triggered",
                        audio_start_ms=self._samples_to_ms(self._idle_start),
                        audio_end_ms=self._samples_to_ms(end),
                    )
                )
                self._idle_start = None
            return
        if prob >= self.threshold:
            self._silence_start = None
            return
        if self._silence_start is None:
            if prob >= self._neg_threshold:
                return
            self._silence_start = max(self._speech_start, start - self._lag)
        if end - self._silence_start >= self._silence_samples:
            self._in_speech = False
            self._idle_start = self._silence_start
            self._last_end_ms = self._samples_to_ms(self._silence_start)
            events.append(TurnEvent("speech_stopped", audio_end_ms=self._last_end_ms))
            self._silence_start = None

    # -- helpers ---------------------------------------------------------------------------

    def _ms_to_samples(self, ms: int) -> int:
        return ms * self._vad_rate // 1000

    def _samples_to_ms(self, samples: int) -> int:
        return samples * 1000 // self._vad_rate


def _non_negative_ms(name: str, value: int) -> int:
    ms = int(value)
    if ms < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return ms
