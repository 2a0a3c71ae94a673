"""Kernel client benchmarks (issue 5).

* **Event consumption**: 50,000 small events recorded from the local service (a long text
  response: ``response.output_text.delta`` and friends) are replayed as fast as a WebSocket server
  can send them, once to our :class:`RealtimeSession` (parse, conversation mirror, event log) and
  once to the official ``openai`` SDK's ``client.realtime.connect()`` (parse into typed models).
  Baseline: the SDK, same run, same stream.
* **Memory per logged event**: a million realistic events in an :class:`EventLog`.
  Target: 1,000,000 events in under 1 GiB.
* **Resume after a drop**: the local service cuts the connection mid-response; time from the drop
  to the restored session (configuration re-applied, conversation replayed). Target: < 1 s.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

import websockets

from .common import Result

GROUP = "kernel client"
N_EVENTS = 50_000


class _ManyWords:
    """A responder whose answer is ``n`` words (one text delta each)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def respond(self, items: Sequence[Any], **_: Any) -> Any:
        from rt_jupyter.local.engines.responder import Answer

        return Answer(text=" ".join(f"w{i}" for i in range(self.n)))


async def _record_stream(n_events: int) -> list[str]:
    """Record a real event stream of ``n_events`` from the local service."""
    from rt_jupyter.local.service import LocalRealtimeService
    from rt_jupyter.local.session import Engines

    async with LocalRealtimeService(engines=Engines(responder=_ManyWords(n_events))) as svc:
        ws = await websockets.connect(
            f"{svc.ws_base_url}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-bench"},
            max_size=None,
        )
        out = [str(await ws.recv())]  # session.created
        await ws.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "output_modalities": ["text"]},
                }
            )
        )
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "go"}],
                    },
                }
            )
        )
        await ws.send(json.dumps({"type": "response.create"}))
        async for message in ws:
            out.append(str(message))
            if len(out) >= n_events and '"rate_limits.updated"' in str(message):
                break
        await ws.close()
    head, body = out[0], out[1:]
    return [head, *body[: n_events - 1]]


async def _replay_server(stream: list[str]) -> tuple[Any, int]:
    async def handler(ws: Any) -> None:
        await ws.send(stream[0])
        await ws.recv()  # wait for the client's first message (it is ready)
        for message in stream[1:]:
            await ws.send(message)
        await ws.wait_closed()

    server = await websockets.serve(handler, "127.0.0.1", 0, max_size=None)
    port = server.sockets[0].getsockname()[1]
    return server, port


async def _ours(stream: list[str]) -> float:
    from rt_jupyter.client import RealtimeSession
    from rt_jupyter.config import Settings
    from rt_jupyter.protocol import Dialect

    server, port = await _replay_server(stream)
    settings = Settings(
        api_key=None,
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        dialect=Dialect.GA,
        local=False,
    )
    session = RealtimeSession(settings, api_key="sk-bench", reconnect=False)
    await session.open()
    done = asyncio.Event()
    target = len(stream)
    session.log.subscribe(lambda i: done.set() if i + 1 >= target + 1 else None)
    t0 = time.perf_counter()
    session.send({"type": "input_audio_buffer.clear"})  # the go signal (logged as well)
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - t0
    await session.close()
    server.close()
    return (len(stream) - 1) / elapsed


async def _sdk(stream: list[str]) -> float:
    from openai import AsyncOpenAI

    server, port = await _replay_server(stream)
    client = AsyncOpenAI(
        api_key="sk-bench",
        base_url=f"http://127.0.0.1:{port}/v1",
        websocket_base_url=f"ws://127.0.0.1:{port}/v1",
    )
    async with client.realtime.connect(model="m") as conn:
        await conn.recv()  # session.created
        t0 = time.perf_counter()
        await conn.input_audio_buffer.clear()
        count = 0
        async for _event in conn:
            count += 1
            if count >= len(stream) - 1:
                break
        elapsed = time.perf_counter() - t0
    server.close()
    return count / elapsed


def _log_memory(n: int) -> float:
    """Bytes per event of an EventLog holding ``n`` distinct realistic events."""
    from rt_jupyter.log import EventLog
    from rt_jupyter.protocol import parse

    gc.collect()
    tracemalloc.start()
    log = EventLog()
    for i in range(n):
        text = (
            f'{{"type":"response.output_text.delta","event_id":"event_{i:021d}",'
            '"response_id":"resp_C9G5RJeJ2gF77mV7f2B1j","item_id":"item_C9G5RJeJ2gF77mV7f2B1k",'
            f'"output_index":0,"content_index":0,"delta":"word{i % 997} "}}'
        )
        log.add("in", parse(text), text=text)
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current / n


async def _resume_time(trials: int) -> list[float]:
    from rt_jupyter.client import connect
    from rt_jupyter.local.engines.responder import EchoResponder
    from rt_jupyter.local.faults import Faults
    from rt_jupyter.local.service import LocalRealtimeService
    from rt_jupyter.local.session import Engines

    out = []
    async with (
        LocalRealtimeService(engines=Engines(responder=EchoResponder())) as svc,
        connect(api_key="sk-bench", base_url=svc.base_url, output_modalities="text") as s,
    ):
        for i in range(trials):
            await s.say(f"turn {i} before the drop")
            svc.faults = Faults(drop_after_deltas=2)
            await s.say(f"turn {i} with a drop in the middle of the answer")
            note = s.log.of_kind("rt.reconnect")[-1]
            restored = s.log.of_kind("rt.restored")[-1]
            out.append((restored.t - note.t) * 1000)
    return out


def run(quick: bool = False) -> list[Result]:
    """Measure (the SDK and our client see the same recorded stream)."""
    return asyncio.run(_run(quick))


async def _run(quick: bool) -> list[Result]:
    n = 10_000 if quick else N_EVENTS
    stream = await _record_stream(n)
    ours, sdk = [], []
    for _ in range(2 if quick else 3):  # interleaved, best of
        ours.append(await _ours(stream))
        sdk.append(await _sdk(stream))
    results = [
        Result(
            GROUP,
            f"events consumed per second ({len(stream):,} small events)",
            max(ours),
            "events/s",
            baseline="openai SDK realtime.connect()",
            baseline_value=max(sdk),
            target="≥ 2× the openai SDK",
            met=max(ours) >= 2 * max(sdk),
            notes="ours: parse + conversation mirror + event log; SDK: typed models; "
            "stream recorded from the local service, replayed from a loopback server",
        )
    ]
    per_event = _log_memory(100_000 if quick else 1_000_000)
    results.append(
        Result(
            GROUP,
            "event log memory per event",
            per_event,
            "bytes",
            baseline="1 GiB per 1,000,000 events",
            baseline_value=2**30 / 1_000_000,
            higher_is_better=False,
            target="1,000,000 events < 1 GiB",
            met=per_event * 1_000_000 < 2**30,
            notes=f"{per_event * 1e6 / 2**20:.0f} MiB per million events (tracemalloc)",
        )
    )
    resume = await _resume_time(3 if quick else 10)
    p50 = statistics.median(resume)
    results.append(
        Result(
            GROUP,
            "resume after a dropped connection (p50)",
            p50,
            "ms",
            baseline="1 s target",
            baseline_value=1000.0,
            higher_is_better=False,
            target="< 1 s on loopback",
            met=max(resume) < 1000,
            notes=f"max {max(resume):.0f} ms; drop → reconnect → config + conversation replayed",
        )
    )
    return results
