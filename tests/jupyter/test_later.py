"""jupyter/later.py: the widget's coalescing one-shot timer."""

from __future__ import annotations

import asyncio

from rt_jupyter.jupyter.later import Later


def test_without_a_loop_the_call_happens_at_once() -> None:
    calls: list[int] = []
    later = Later(60.0, lambda: calls.append(1))
    later.schedule()
    later.schedule()
    assert calls == [1, 1] and not later.pending


async def test_requests_within_the_delay_coalesce_into_one_call() -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    later = Later(0.05, lambda: calls.append(loop.time()))
    start = loop.time()
    for _ in range(100):
        later.schedule()
    assert later.pending and calls == []
    await asyncio.sleep(0.3)
    assert len(calls) == 1 and calls[0] - start >= 0.05
    later.schedule()  # a new request after the call: a new call
    await asyncio.sleep(0.3)
    assert len(calls) == 2


async def test_flush_runs_the_pending_call_now_and_cancel_drops_it() -> None:
    calls: list[str] = []
    later = Later(60.0, lambda: calls.append("x"))
    later.flush()  # nothing pending: nothing runs
    assert calls == []
    later.schedule()
    later.flush()
    assert calls == ["x"] and not later.pending
    later.schedule()
    later.cancel()
    await asyncio.sleep(0)
    assert calls == ["x"] and not later.pending
