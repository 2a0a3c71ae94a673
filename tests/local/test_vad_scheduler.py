"""The VAD scheduler on its own, with fake detectors and a fake batched model: what is submitted
in one loop iteration is scored together, each session's frames in order, inline or on the VAD
thread, and one session's failure does not stop the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from rt_jupyter.local.vad_scheduler import Samples, VadScheduler

FRAME = 4  # samples per fake VAD frame


class FakeBatch:
    """Scores a frame as its first sample; records every call and the thread it ran on."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[Any, float]]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()  # off the loop's thread, rounds wait for it
        self.gate.set()

    def run(self, items: list[tuple[Any, Samples]]) -> list[float]:
        if threading.current_thread() is not threading.main_thread():
            assert self.gate.wait(30)
        self.calls.append([(stream, float(frame[0])) for stream, frame in items])
        self.threads.append(threading.current_thread().name)
        return [float(frame[0]) for _, frame in items]


class FakeStream:
    def __init__(self, batch: FakeBatch) -> None:
        self.batch = batch


class FakeDetector:
    """Cuts audio into frames of :data:`FRAME` samples (a partial tail is dropped)."""

    def __init__(self, batch: FakeBatch) -> None:
        self.vad = FakeStream(batch)

    def frames(self, samples: Samples) -> list[Samples]:
        n = len(samples) // FRAME
        return [samples[i * FRAME : (i + 1) * FRAME] for i in range(n)]


class FakeSession:
    """A :class:`~rt_jupyter.local.vad_scheduler.VadClient` recording what it was given."""

    def __init__(self, *, fail_input: bool = False, fail_turns: bool = False) -> None:
        self.fail_input = fail_input
        self.fail_turns = fail_turns
        self.applied: list[tuple[Any, list[float]]] = []
        self.decoded: list[tuple[bytes, str]] = []

    def input_samples(self, raw: bytes, fmt: str) -> Samples:
        if self.fail_input:
            raise ValueError("bad audio")
        self.decoded.append((raw, fmt))
        return np.frombuffer(raw, dtype=np.uint8).astype(np.float32)

    def apply_turns(self, detector: Any, probabilities: Sequence[float]) -> None:
        if self.fail_turns:
            raise RuntimeError("turn handling broke")
        self.applied.append((detector, [round(float(p), 6) for p in probabilities]))


def frames_of(*values: float) -> Samples:
    """Audio whose frames score ``values`` in order."""
    return np.repeat(np.asarray(values, dtype=np.float32), FRAME)


async def settle(scheduler: VadScheduler) -> None:
    """Let the scheduler tick and any round on the VAD thread come back (generous wait)."""
    for _ in range(1000):
        await asyncio.sleep(0.005)
        if not scheduler.scheduled and not scheduler.in_flight:
            return
    raise AssertionError("the scheduler did not settle")


async def test_one_loop_iteration_is_one_batch_per_round() -> None:
    batch = FakeBatch()
    scheduler = VadScheduler(asyncio.get_running_loop())
    a, b = FakeSession(), FakeSession()
    da, db = FakeDetector(batch), FakeDetector(batch)
    scheduler.submit(a, da, frames_of(0.1, 0.2))
    scheduler.submit(a, da, frames_of(0.3))  # same session, same iteration: appended in order
    scheduler.submit(b, db, frames_of(0.9))
    assert a.applied == [] and batch.calls == []  # nothing runs before the loop turns
    await settle(scheduler)
    assert a.applied == [(da, [0.1, 0.2, 0.3])]
    assert b.applied == [(db, [0.9])]
    # round 1 scores a's first frame with b's only frame; a's later frames follow in order
    assert [[s for s, _ in call] for call in batch.calls] == [[da.vad, db.vad], [da.vad], [da.vad]]
    assert scheduler.batches == 3 and scheduler.frames == 4
    assert scheduler.offloaded == 0
    assert set(batch.threads) == {threading.current_thread().name}


async def test_wire_audio_is_decoded_by_the_session() -> None:
    batch = FakeBatch()
    scheduler = VadScheduler(asyncio.get_running_loop())
    session, detector = FakeSession(), FakeDetector(batch)
    scheduler.submit(session, detector, (bytes([7, 7, 7, 7, 9, 9, 9, 9]), "g711_ulaw"))
    await settle(scheduler)
    assert session.decoded == [(bytes([7, 7, 7, 7, 9, 9, 9, 9]), "g711_ulaw")]
    assert session.applied == [(detector, [7.0, 9.0])]


async def test_large_rounds_run_on_the_vad_thread_in_order() -> None:
    batch = FakeBatch()
    scheduler = VadScheduler(asyncio.get_running_loop())
    sessions = [FakeSession() for _ in range(VadScheduler.OFFLOAD_CHUNKS)]
    detectors = [FakeDetector(batch) for _ in sessions]
    for i, (session, detector) in enumerate(zip(sessions, detectors, strict=True)):
        scheduler.submit(session, detector, frames_of(i, i + 0.5))
    batch.gate.clear()  # hold the first round on the thread until more audio is queued
    await asyncio.sleep(0)  # the first tick: a large round goes to the thread
    assert scheduler.in_flight == 1
    small = FakeSession()
    small_detector = FakeDetector(batch)
    scheduler.submit(sessions[0], detectors[0], frames_of(100))  # queued behind the first
    scheduler.submit(small, small_detector, frames_of(7))
    await asyncio.sleep(0)  # the second tick: small, but a round is in flight
    batch.gate.set()
    await settle(scheduler)
    assert scheduler.offloaded == 2  # while a round is in flight, small rounds follow it
    assert batch.threads and all(t.startswith("rtj-vad") for t in batch.threads)
    assert sessions[0].applied == [(detectors[0], [0.0, 0.5]), (detectors[0], [100.0])]
    for i, (session, detector) in enumerate(zip(sessions, detectors, strict=True)):
        assert session.applied[0] == (detector, [i, i + 0.5])
    assert small.applied == [(small_detector, [7.0])]


async def test_one_failing_session_does_not_stop_the_others() -> None:
    batch = FakeBatch()
    scheduler = VadScheduler(asyncio.get_running_loop())
    bad_input, bad_turns, good = (
        FakeSession(fail_input=True),
        FakeSession(fail_turns=True),
        FakeSession(),
    )
    detector = FakeDetector(batch)
    scheduler.submit(bad_input, FakeDetector(batch), (b"\x01\x01\x01\x01", "pcm16"))
    scheduler.submit(bad_turns, FakeDetector(batch), frames_of(0.4))
    scheduler.submit(good, detector, frames_of(0.6))
    await settle(scheduler)
    assert good.applied == [(detector, [0.6])]
    assert bad_input.applied == [] and bad_turns.applied == []


async def test_no_frames_no_model_call() -> None:
    batch = FakeBatch()
    scheduler = VadScheduler(asyncio.get_running_loop())
    session = FakeSession()
    scheduler.submit(session, FakeDetector(batch), np.zeros(FRAME - 1, dtype=np.float32))
    await settle(scheduler)
    assert batch.calls == [] and session.applied == []


async def test_one_scheduler_per_loop() -> None:
    here = VadScheduler.for_loop()
    assert VadScheduler.for_loop() is here and here.loop is asyncio.get_running_loop()

    def elsewhere() -> VadScheduler:
        async def get() -> VadScheduler:
            return VadScheduler.for_loop()

        return asyncio.run(get())

    other = await asyncio.to_thread(elsewhere)
    assert other is not here
