"""Speech recognition in worker processes, so decoding never stalls the service's event loop.

pocketsphinx holds the GIL while it decodes (about 0.2–0.3 s per second of speech) and Whisper
keeps a core busy for about half a second per utterance, which would freeze every session of
the service for that long. :class:`ProcessTranscriber` runs the recogniser in child processes
(``python -m rt_jupyter.local.asr_pool``, at a lower priority; by default one per core but one,
at least one), talking over their stdin/stdout: no ``multiprocessing``, so scripts without a
``__main__`` guard are safe. Under overload (more than ``max_backlog`` utterances waiting) it
declines new work at once instead of letting responses fall further behind; the session then
reports a ``conversation.item.input_audio_transcription.failed`` for that turn. Utterances
waiting together are transcribed together (Whisper's batches: the same words for less CPU).

Which recogniser (:data:`RECOGNISERS`): ``"whisper"`` (faster-whisper, the ``asr`` extra),
``"pocketsphinx"``, or ``"auto"``: Whisper when it loads, else pocketsphinx with a note that
says how to get better recognition.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import json
import logging
import os
import re
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "RECOGNISERS",
    "ProcessTranscriber",
    "RecogniserSettingsError",
    "TranscriberBusy",
    "default_workers",
    "load_recogniser",
]

log = logging.getLogger("rt_jupyter.local")

_HEADER = struct.Struct("<I")
#: The recogniser choices: Whisper if it loads, else pocketsphinx; or either one explicitly.
RECOGNISERS = ("auto", "whisper", "pocketsphinx")


class TranscriberBusy(RuntimeError):
    """Too many utterances are waiting for transcription."""


class RecogniserSettingsError(ValueError):
    """The recogniser settings contradict each other or name no recogniser (a mistake of the
    user's, reported without a traceback by ``rt-jupyter serve``)."""


def check_settings(engine: str, model: str | None) -> None:
    """Refuse an unknown recogniser, and a model with pocketsphinx: the model is a Whisper
    setting, and running pocketsphinx while the user believes their model is loaded would be
    worse than stopping (the same reason ``"whisper"`` never falls back)."""
    if engine not in RECOGNISERS:
        raise RecogniserSettingsError(
            f"unknown recogniser {engine!r}; expected one of {RECOGNISERS}"
        )
    if model is not None and engine == "pocketsphinx":
        raise RecogniserSettingsError(
            f"a model is a Whisper setting, and the recogniser is pocketsphinx (model {model!r}):"
            " use the recogniser 'whisper' or 'auto' with it, or name no model (--asr and "
            "--asr-model, RT_JUPYTER_ASR and RT_JUPYTER_ASR_MODEL, or LocalRealtimeService's "
            "asr and asr_model)"
        )


#: The language of utterances whose session names none (see :class:`ProcessTranscriber`).
DEFAULT_LANGUAGE = "en"
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def check_language(language: str | None) -> str | None:
    """A recogniser language setting: an ISO-639-1 code ("en", "fr", ...), or ``None``/"auto"
    (returned as ``None``) to detect the language of each utterance."""
    if language is None or language == "auto":
        return None
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise RecogniserSettingsError(
            f"the recogniser language must be an ISO-639-1 code such as 'en' or 'auto' (detect "
            f"per utterance), got {language!r} (--asr-language, RT_JUPYTER_ASR_LANGUAGE or "
            "LocalRealtimeService's asr_language)"
        )
    return language


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("transcription worker closed")
    (size,) = _HEADER.unpack(head)
    return stream.read(size)


def available_cores() -> int:
    """CPU cores this process may use: the machine's, limited by its CPU affinity (taskset,
    cpusets) and by a cgroup CPU quota (a container's limit: Kubernetes, Docker ``--cpus``,
    a JupyterHub spawner's ``cpu_limit``), at least 1. loky's ``cpu_count`` reads them all
    (cgroup v1 and v2), where ``os.cpu_count()`` counts the whole machine's: on a shared
    JupyterHub node that would start a recogniser per host core in every user's server."""
    from loky import cpu_count  # type: ignore[import-untyped]

    return max(1, int(cpu_count()))


def default_workers() -> int:
    """Recogniser processes by default: the available cores but one (one for the event
    loop), >= 1."""
    return max(1, available_cores() - 1)


def load_recogniser(
    engine: str = "auto", model: str | None = None, *, cpu_threads: int = 0
) -> tuple[Any, str, str]:
    """Build a recogniser: ``(transcriber, engine used, note)``; the note is non-empty when
    ``"auto"`` fell back to pocketsphinx and says why and how to get Whisper.

    ``model`` (a faster-whisper model name or directory) implies Whisper: with a model named,
    or ``engine="whisper"``, a failure to load raises instead of falling back."""
    check_settings(engine, model)
    note = ""
    if engine != "pocketsphinx":
        from .engines.whisper import ASR_EXTRA_HINT, WhisperTranscriber

        try:
            return WhisperTranscriber(model, cpu_threads=cpu_threads), "whisper", ""
        except Exception as exc:  # ImportError without the extra, a damaged model, ...
            if engine == "whisper" or model is not None:
                raise
            reason = str(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}"
            note = f"using pocketsphinx, Whisper did not load ({reason})"
            if ASR_EXTRA_HINT not in note:
                note += f"; {ASR_EXTRA_HINT}"
    from .engines import PocketSphinxTranscriber

    transcriber = PocketSphinxTranscriber()
    transcriber.warm(1)
    return transcriber, "pocketsphinx", note


class _Worker:
    """One recogniser process and the lock on its pipes."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def wait_ready(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            ready: dict[str, Any] = json.loads(_read(self.proc.stdout))  # the model is loaded
        except EOFError:
            ready = {"error": f"the worker exited with code {self.proc.wait()}"}
        if not ready.get("ready"):
            self.close()
            raise RuntimeError(f"transcription worker failed to start: {ready.get('error', ready)}")
        return ready

    def request(self, header: bytes, clips: list[bytes]) -> list[dict[str, Any]]:
        """Send a request and its clips; one reply per clip."""
        if self.proc is None or self.proc.poll() is not None:
            self.spawn()
            self.wait_ready()
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        _write(proc.stdin, header)
        for clip in clips:
            _write(proc.stdin, clip)
        reply: dict[str, Any] = json.loads(_read(proc.stdout))
        if "error" in reply:
            raise RuntimeError(reply["error"])
        results: list[dict[str, Any]] = reply["results"]
        return results

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(5)
            if proc.poll() is None:
                proc.kill()


@dataclass(eq=False)  # (compared by identity: the deque removes a job by ==)
class _Job:
    """One utterance waiting for a worker."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    language: str | None
    prompt: str | None
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)

    @property
    def key(self) -> tuple[int, str | None, str | None]:
        """Utterances with the same key can be transcribed in one batch."""
        return (self.sample_rate, self.language, self.prompt)


class ProcessTranscriber:
    """A transcriber whose work happens in ``workers`` child processes.

    ``engine`` and ``model``: see :func:`load_recogniser` (``RT_JUPYTER_ASR`` and
    ``RT_JUPYTER_ASR_MODEL`` are read by :meth:`.EngineSettings.resolve`, not here).
    ``workers``: how many processes (default :func:`default_workers`); Whisper in each uses
    ``cpu_threads`` threads (default: the cores shared out between the workers). Starting
    blocks until every worker has loaded its model; a worker that fails to start raises
    ``RuntimeError``.
    :attr:`engine` says which recogniser runs and :attr:`note` why it is not Whisper.

    ``language`` (ISO-639-1) is the language of utterances whose session names none: by default
    "en", like the rest of the service (its voices and answers are English); ``None`` (or
    "auto") lets a multilingual model detect one per utterance, which on short utterances
    sometimes picks a wrong one (English-only models and pocketsphinx ignore it).

    Utterances are taken in order of arrival. A worker that becomes free takes the oldest one
    and, up to ``batch_size`` in all and its share of what waits (idle workers take the rest),
    the others waiting with the same sample rate, language and prompt: Whisper transcribes them
    in one batch (the same words as one at a time, for less CPU; see
    :meth:`WhisperTranscriber.transcribe_batch`), pocketsphinx one after the other. Nothing
    waits for a batch to fill: a lone utterance goes at once.
    """

    def __init__(
        self,
        *,
        engine: str = "auto",
        model: str | None = None,
        workers: int | None = None,
        cpu_threads: int | None = None,
        max_backlog: int = 16,
        batch_size: int = 8,
        nice: int = 19,
        language: str | None = DEFAULT_LANGUAGE,
    ) -> None:
        check_settings(engine, model)  # before any worker starts
        self.language = check_language(language)
        count = default_workers() if workers is None else int(workers)
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if cpu_threads is None:
            cpu_threads = max(1, available_cores() // count)
        self.max_backlog = max_backlog
        self.batch_size = int(batch_size)
        self.nice = nice
        self.workers = count
        #: Whisper's threads in each worker process.
        self.cpu_threads = int(cpu_threads)
        self._pending = 0
        self._count_lock = threading.Lock()
        self._jobs: collections.deque[_Job] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._idle = 0  # threads waiting for work (each feeds one worker)
        #: How many requests of each size the workers were sent (size 1: no batch).
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        config = {"nice": nice, "engine": engine, "model": model, "cpu_threads": cpu_threads}
        argv = [sys.executable, "-m", "rt_jupyter.local.asr_pool", json.dumps(config)]
        self._workers = [_Worker(argv) for _ in range(count)]
        try:
            for worker in self._workers:  # load the models in parallel
                worker.spawn()
            ready = [worker.wait_ready() for worker in self._workers]
        except BaseException:
            self.close()
            raise
        self.engine: str = ready[0]["engine"]
        self.note: str = ready[0].get("note", "")
        #: The Whisper model the workers loaded (None for pocketsphinx).
        self.model_name: str | None = ready[0].get("model")
        if self.note:
            log.warning("rt_jupyter local service: %s", self.note)
        # one thread per worker process (never the service's pool) hands it its work
        for number, worker in enumerate(self._workers):
            threading.Thread(
                target=self._feed, args=(worker,), name=f"rtj-asr-{number}", daemon=True
            ).start()

    @property
    def backlog(self) -> int:
        """Utterances submitted and not finished."""
        return self._pending

    def submit(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> concurrent.futures.Future[Any]:
        """Queue an utterance for the workers and return its future :class:`Transcript`.

        Admission happens here, when the work is submitted: with ``max_backlog`` utterances
        already waiting it raises :class:`TranscriberBusy` at once."""
        if self._closed:
            raise RuntimeError("the recogniser pool is closed")
        with self._count_lock:
            if self._pending >= self.max_backlog:
                raise TranscriberBusy(
                    f"{self._pending} utterances are waiting for transcription; try again later"
                )
            self._pending += 1
        samples = np.ascontiguousarray(samples, dtype="<f4")
        job = _Job(samples, int(sample_rate), language or self.language, prompt)
        job.future.add_done_callback(self._done)
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
        return job.future

    def _done(self, _: object) -> None:
        with self._count_lock:
            self._pending -= 1

    def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Any:
        """Transcribe in a worker; blocks the calling thread (not the GIL)."""
        return self.submit(samples, sample_rate, language=language, prompt=prompt).result()

    def _take(self) -> list[_Job] | None:
        """The oldest waiting utterance and the others it can be batched with (None: closed)."""
        with self._ready:
            self._idle += 1
            try:
                while not self._jobs and not self._closed:
                    self._ready.wait()
            finally:
                self._idle -= 1
            if self._closed:
                return None
            # a share of what waits, so that idle workers take the rest at the same time
            limit = min(self.batch_size, -(-len(self._jobs) // (self._idle + 1)))
            first = self._jobs.popleft()
            batch = [first]
            for job in list(self._jobs):
                if len(batch) >= limit:
                    break
                if job.key == first.key:
                    self._jobs.remove(job)
                    batch.append(job)
        return [job for job in batch if job.future.set_running_or_notify_cancel()]

    def _feed(self, worker: _Worker) -> None:
        while (batch := self._take()) is not None:
            try:
                self._send(worker, batch)
            except BaseException as exc:  # never leave a future pending, nor end this thread
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _send(self, worker: _Worker, batch: list[_Job]) -> None:
        """One request to ``worker`` for ``batch``; each job's future gets its transcript (a
        dead worker raises here, and is started again for the next request)."""
        from .engines import Segment, Transcript

        if not batch:
            return
        first = batch[0]
        request = {
            "rate": first.sample_rate,
            "language": first.language,
            "prompt": first.prompt,
            "count": len(batch),
        }
        with self._count_lock:
            self.batch_sizes[len(batch)] += 1
        replies = worker.request(
            json.dumps(request).encode(), [job.samples.tobytes() for job in batch]
        )
        for job, reply in zip(batch, replies, strict=True):
            if "error" in reply:
                job.future.set_exception(RuntimeError(reply["error"]))
            else:
                job.future.set_result(
                    Transcript(
                        text=reply["text"],
                        segments=[Segment(**s) for s in reply["segments"]],
                        duration_ms=reply["duration_ms"],
                    )
                )

    def close(self) -> None:
        """Stop the worker processes; utterances still waiting are cancelled."""
        with self._ready:
            self._closed = True
            waiting, self._jobs = list(self._jobs), collections.deque()
            self._ready.notify_all()
        for job in waiting:  # (notified too, as concurrent.futures.wait expects)
            if job.future.cancel():
                job.future.set_running_or_notify_cancel()
        for worker in self._workers:
            worker.close()


def _serve(config: dict[str, Any]) -> None:
    """The worker: read requests (a header, then its clips) on stdin, answer on stdout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a library's print() must not corrupt the replies
    if config.get("nice"):
        with contextlib.suppress(OSError):
            os.nice(int(config["nice"]))
    try:
        transcriber, engine, note = load_recogniser(
            config.get("engine", "auto"),
            config.get("model"),
            cpu_threads=int(config.get("cpu_threads") or 0),
        )
    except Exception as exc:
        _write(stdout, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        return
    model = getattr(transcriber, "model_name", None)
    ready = {"ready": True, "engine": engine, "model": model, "note": note}
    _write(stdout, json.dumps(ready).encode())
    while True:
        try:
            request = json.loads(_read(stdin))
            clips = [np.frombuffer(_read(stdin), dtype="<f4") for _ in range(request["count"])]
        except EOFError:
            return
        try:
            results = _transcribe_all(transcriber, clips, request)
            reply: dict[str, Any] = {"results": results}
        except Exception as exc:  # report to the caller, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _write(stdout, json.dumps(reply).encode())


def _transcribe_all(
    transcriber: Any, clips: list[npt.NDArray[np.float32]], request: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each clip's transcript (or error) as the worker replies it: in one batch where the
    recogniser has batches, else (or if the batch fails) one clip at a time, so that one bad
    clip fails alone."""
    from dataclasses import asdict

    settings = {"language": request.get("language"), "prompt": request.get("prompt")}
    rate = int(request["rate"])
    results: list[Any] = []
    if len(clips) > 1 and hasattr(transcriber, "transcribe_batch"):
        try:
            results = transcriber.transcribe_batch(clips, rate, **settings)
        except Exception:
            log.exception("rt_jupyter local service: a batch failed; one at a time")
            results = []
    if not results:
        for clip in clips:
            try:
                results.append(transcriber.transcribe(clip, rate, **settings))
            except Exception as exc:
                results.append({"error": f"{type(exc).__name__}: {exc}"})
    return [
        r
        if isinstance(r, dict)
        else {
            "text": r.text,
            "segments": [asdict(x) for x in r.segments],
            "duration_ms": r.duration_ms,
        }
        for r in results
    ]


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
