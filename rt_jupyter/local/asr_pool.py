"""Speech recognition in a worker process, so decoding never stalls the service's event loop.

pocketsphinx holds the GIL while it decodes (about 0.2–0.3 s per second of speech), which would
freeze every session of the service for that long. :class:`ProcessTranscriber` runs the
transcriber in a child process (``python -m rt_jupyter.local.asr_pool``, at a lower priority),
talking over its stdin/stdout: no ``multiprocessing``, so scripts without a ``__main__`` guard are
safe. Under overload (more than ``max_backlog`` utterances waiting) it declines new work at once
instead of letting responses fall further behind; the session then reports a
``conversation.item.input_audio_transcription.failed`` for that turn.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import struct
import subprocess
import sys
import threading
from typing import IO, Any

import numpy as np
import numpy.typing as npt

__all__ = ["ProcessTranscriber", "TranscriberBusy"]

_HEADER = struct.Struct("<I")


class TranscriberBusy(RuntimeError):
    """Too many utterances are waiting for transcription."""


def _write(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("transcription worker closed")
    (size,) = _HEADER.unpack(head)
    return stream.read(size)


class ProcessTranscriber:
    """A transcriber whose work happens in a child process (one utterance at a time)."""

    def __init__(self, *, max_backlog: int = 16, nice: int = 19) -> None:
        self.max_backlog = max_backlog
        self.nice = nice
        self._pending = 0
        self._count_lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        # one utterance at a time, in order, on a thread of its own (never the service's pool)
        self._queue = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rtj-asr")
        self._start()

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "rt_jupyter.local.asr_pool", str(self.nice)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        ready = json.loads(_read(self._proc.stdout))  # the model is loaded
        if not ready.get("ready"):
            raise RuntimeError(f"transcription worker failed to start: {ready}")

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
        """Queue an utterance for the worker and return its future :class:`Transcript`.

        Admission happens here, when the work is submitted: with ``max_backlog`` utterances
        already waiting it raises :class:`TranscriberBusy` at once."""
        with self._count_lock:
            if self._pending >= self.max_backlog:
                raise TranscriberBusy(
                    f"{self._pending} utterances are waiting for transcription; try again later"
                )
            self._pending += 1
        try:
            future = self._queue.submit(self._run, samples, sample_rate, language, prompt)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

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
        """Transcribe in the worker; blocks the calling thread (not the GIL)."""
        return self.submit(samples, sample_rate, language=language, prompt=prompt).result()

    def _run(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        language: str | None,
        prompt: str | None,
    ) -> Any:
        from .engines import Segment, Transcript

        request = json.dumps({"rate": sample_rate, "language": language, "prompt": prompt}).encode()
        audio = np.ascontiguousarray(samples, dtype="<f4").tobytes()
        with self._io_lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                self._start()
                proc = self._proc
            assert proc is not None and proc.stdin is not None and proc.stdout is not None
            _write(proc.stdin, request)
            _write(proc.stdin, audio)
            reply = json.loads(_read(proc.stdout))
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return Transcript(
            text=reply["text"],
            segments=[Segment(**s) for s in reply["segments"]],
            duration_ms=reply["duration_ms"],
        )

    def close(self) -> None:
        """Stop the worker process."""
        self._queue.shutdown(wait=False, cancel_futures=True)
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(5)
            if proc.poll() is None:
                proc.kill()


def _serve(nice: int) -> None:
    """The worker: read (request, audio) pairs on stdin, answer on stdout."""
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    from dataclasses import asdict

    from .engines import PocketSphinxTranscriber

    transcriber = PocketSphinxTranscriber()
    transcriber.warm(1)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _write(stdout, json.dumps({"ready": True}).encode())
    while True:
        try:
            request = json.loads(_read(stdin))
            audio = np.frombuffer(_read(stdin), dtype="<f4")
        except EOFError:
            return
        try:
            result = transcriber.transcribe(
                audio,
                int(request["rate"]),
                language=request.get("language"),
                prompt=request.get("prompt"),
            )
            reply: dict[str, Any] = {
                "text": result.text,
                "segments": [asdict(s) for s in result.segments],
                "duration_ms": result.duration_ms,
            }
        except Exception as exc:  # report to the caller, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _write(stdout, json.dumps(reply).encode())


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
