"""The process-wide VAD scheduler: the turn detection of every session on an event loop, scored
in batches by one shared model (:class:`~rt_jupyter.local.engines.vad.SileroBatch`).

A session hands its input audio to :meth:`VadScheduler.submit`; once per loop iteration the
scheduler frames the audio of every session, scores the frames together and gives each session
its speech probabilities back through :meth:`VadClient.apply_turns`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import weakref
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Audio", "VadClient", "VadScheduler"]

log = logging.getLogger("rt_jupyter.local")

Samples = npt.NDArray[np.float32]
#: Input audio as submitted: float32 samples at 24 kHz, or ``(wire bytes, format)``.
Audio = Samples | tuple[bytes, str]


class VadClient(Hashable, Protocol):
    """What the scheduler needs of a session (:class:`~rt_jupyter.local.session.LocalSession`)."""

    def input_samples(self, raw: bytes, fmt: str) -> Samples:
        """Wire audio (``fmt``) as float32 samples at 24 kHz."""

    def apply_turns(self, detector: Any, probabilities: Sequence[float]) -> None:
        """Step ``detector`` with the speech probabilities of its frames, in order."""


#: A session and its turn detector (``frames(samples)``, ``vad.batch.run([(vad, frame)])``).
_Key = tuple[VadClient, Any]


class VadScheduler:
    """Runs the turn detection of every session on one event loop in batches: the audio
    submitted during a loop iteration is decoded, resampled and cut into VAD frames per session,
    the frames are scored together (one model call per round; a session with several frames
    takes part in several rounds, in order), then each session steps its detector.

    Small rounds run inline (a thread hop would cost more than the work). From
    :attr:`OFFLOAD_CHUNKS` chunks of audio on (a loaded service: ~100 streaming sessions), they
    run on the VAD thread: the model (onnxruntime) and the resampler (soxr) release the GIL, so
    the loop keeps serving sockets while they run, on the other core. The thread takes rounds in
    the order they were submitted (and while any is in flight, small rounds go there too), so
    each session's audio is framed and scored, and its turns stepped, in order."""

    OFFLOAD_CHUNKS = 24

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[_Key, list[Audio]] = {}
        self.scheduled = False
        self.in_flight = 0  # rounds submitted to the VAD thread and not yet applied
        self.batches = 0
        self.frames = 0
        self.offloaded = 0  # rounds scored on the VAD thread

    @classmethod
    def for_loop(cls) -> VadScheduler:
        """The scheduler of the running event loop (created when first needed)."""
        loop = asyncio.get_running_loop()
        scheduler = _SCHEDULERS.get(loop)
        if scheduler is None:
            scheduler = _SCHEDULERS[loop] = cls(loop)
        return scheduler

    def submit(self, client: VadClient, detector: Any, audio: Audio) -> None:
        """Queue input audio of ``client`` for ``detector``: float32 samples at 24 kHz, or
        ``(wire bytes, format)`` (decoded with :meth:`VadClient.input_samples`)."""
        self.pending.setdefault((client, detector), []).append(audio)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.tick)

    def tick(self) -> None:
        """Score what was submitted since the last tick (inline, or on the VAD thread)."""
        self.scheduled = False
        pending, self.pending = self.pending, {}
        if not pending:
            return
        if not self.in_flight and sum(map(len, pending.values())) < self.OFFLOAD_CHUNKS:
            self._apply(self._score(pending))
            return
        self.in_flight += 1
        self.offloaded += 1
        _vad_thread().submit(self._score, pending).add_done_callback(self._scored)

    def _scored(self, done: concurrent.futures.Future[Any]) -> None:  # on the VAD thread
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self._finish, done)

    def _finish(self, done: concurrent.futures.Future[Any]) -> None:
        self.in_flight -= 1
        self._apply(done.result())

    def _score(self, pending: dict[_Key, list[Audio]]) -> dict[_Key, list[float]]:
        queues: dict[_Key, collections.deque[Samples]] = {}
        for key, chunks in pending.items():
            client, detector = key
            try:
                pieces = [
                    c if isinstance(c, np.ndarray) else client.input_samples(*c) for c in chunks
                ]
                frames = detector.frames(pieces[0] if len(pieces) == 1 else np.concatenate(pieces))
            except Exception:  # one session's failure must not stop the others
                log.exception("input audio of a session could not be prepared for the VAD")
                continue
            if len(frames):
                queues[key] = collections.deque(frames)
        scores: dict[_Key, list[float]] = {key: [] for key in queues}
        while queues:
            by_batch: dict[Any, list[tuple[_Key, Samples]]] = {}
            for key, queue in list(queues.items()):
                by_batch.setdefault(key[1].vad.batch, []).append((key, queue.popleft()))
                if not queue:
                    del queues[key]
            for batch, entries in by_batch.items():
                probabilities = batch.run([(key[1].vad, frame) for key, frame in entries])
                self.batches += 1
                self.frames += len(entries)
                for (key, _), probability in zip(entries, probabilities, strict=True):
                    scores[key].append(probability)
        return scores

    def _apply(self, scores: dict[_Key, list[float]]) -> None:
        for (client, detector), probabilities in scores.items():
            try:
                client.apply_turns(detector, probabilities)
            except Exception:  # one session's failure must not stop the others
                log.exception("turn handling failed")


_VAD_THREAD: list[concurrent.futures.ThreadPoolExecutor] = []


def _vad_thread() -> concurrent.futures.ThreadPoolExecutor:
    """The thread large VAD batches run on (one for the process, created when first needed)."""
    if not _VAD_THREAD:
        _VAD_THREAD.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rtj-vad"))
    return _VAD_THREAD[0]


_SCHEDULERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VadScheduler] = (
    weakref.WeakKeyDictionary()
)
