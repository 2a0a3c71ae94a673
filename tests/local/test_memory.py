"""Ended sessions and calls are freed at once, by reference counting, not left to the cyclic GC.

A reference cycle through a session keeps it (its conversation, with the audio of every turn)
until one of the GC's rare full collections: in the soak, the service's RSS rose by ~180 MiB
over 400 s before one came. These tests run with the cyclic GC off, so only a cycle can keep
an ended session alive."""

from __future__ import annotations

import asyncio
import gc
import random
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import LocalSession
from tests.load import ClientStats, webrtc_call
from tests.local.conftest import ws_connect


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _watch(service: LocalRealtimeService) -> list[weakref.ref[LocalSession]]:
    refs: list[weakref.ref[LocalSession]] = []
    service.state.on_session = lambda session: refs.append(weakref.ref(session))
    return refs


async def _all_freed(refs: list[weakref.ref[Any]], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(ref() is not None for ref in refs) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return all(ref() is None for ref in refs)


async def test_closed_websocket_session_is_freed(service: LocalRealtimeService) -> None:
    refs = _watch(service)
    with no_cyclic_gc():
        client = await ws_connect(service)
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                },
            }
        )
        await client.send({"type": "response.create"})  # a spoken answer: the voice engine runs
        done = await client.until("response.done")
        assert done["response"]["status"] == "completed"
        await client.ws.close()
        assert len(refs) == 1
        assert await _all_freed(refs), gc.get_referrers(refs[0]())


async def test_ended_webrtc_call_is_freed(service: LocalRealtimeService) -> None:
    refs = _watch(service)
    stats = ClientStats("webrtc")
    with no_cyclic_gc():
        start = time.perf_counter()
        await webrtc_call(service.base_url, stats, start, start + 4.0, random.Random(3), 1.0)
        assert not stats.errors, stats.errors
        assert len(refs) == 1
        assert await _all_freed(refs), gc.get_referrers(refs[0]())
