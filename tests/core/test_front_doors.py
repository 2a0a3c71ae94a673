"""Both front doors drive the core's dispatcher: through the real local service, GA and beta
event names select the same events on a GA and on a beta session."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from rt_jupyter.client import connect
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

KEY = "sk-core-" + "tests"
DIALECTS = ["ga", "beta"]
NAMES = ["response.text.delta", "response.output_text.delta"]


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


def _connect(service: LocalRealtimeService, dialect: str, **kwargs: Any) -> Any:
    return connect(api_key=KEY, base_url=service.base_url, dialect=dialect, quiet=True, **kwargs)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", NAMES)
async def test_on_and_wait_for_take_either_name(
    service: LocalRealtimeService, dialect: str, name: str
) -> None:
    async with _connect(service, dialect, output_modalities="text") as session:
        deltas: list[str] = []
        session.on(name, lambda e: deltas.append(str(e.get("delta"))))
        waiter = asyncio.ensure_future(session.wait_for(name, timeout=60))
        reply = await session.say("hello there", timeout=60)
        first = await asyncio.wait_for(waiter, 60)
        assert reply.text and "".join(deltas) == reply.text
        assert first.kind == "response.output_text.delta"
        wire = "response.text.delta" if dialect == "beta" else "response.output_text.delta"
        assert first.type == wire
        again = await session.wait_for(
            name, since=0, predicate=lambda e: bool(e.get("delta")), timeout=1
        )
        assert again.get("delta") == first.get("delta")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_events_iterates_normalized_kinds_and_ends_on_close(
    service: LocalRealtimeService, dialect: str
) -> None:
    session = await _connect(service, dialect, output_modalities="text")
    kinds: list[str] = []

    async def consume() -> None:
        async for event in session.events():
            kinds.append(event.kind)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    await session.say("hello", timeout=60)
    await session.close()
    await asyncio.wait_for(consumer, 30)
    assert "response.output_text.delta" in kinds and "response.done" in kinds
    assert "response.text.delta" not in kinds


# --- tools: one run policy through the kernel client ---------------------------------------------

RELEASE = threading.Event()


def weather(city: str) -> dict[str, Any]:
    """Current weather in a city."""
    return {"city": city, "sky": "clear", "thread": threading.current_thread().name}


async def clock(city: str) -> str:
    """Local time in a city."""
    await asyncio.sleep(0.01)
    return f"It is noon in {city}."


def broken(city: str) -> str:
    """A tool that fails."""
    raise RuntimeError(f"no data for {city}")


def stuck(city: str) -> str:
    """A tool that never finishes in time."""
    RELEASE.wait(60)
    return "too late"


@pytest.fixture
def release_stuck() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_tools_sync_async_raising_and_slow(
    service: LocalRealtimeService, dialect: str, release_stuck: None
) -> None:
    tools = [weather, clock, broken, stuck]
    async with _connect(service, dialect, output_modalities="text", tools=tools) as session:
        session.tool_timeout = 0.5
        reply = await session.say("what is the weather in paris", timeout=60)
        (call,) = reply.tool_calls
        output = json.loads(call.output or "")
        assert call.name == "weather" and output["city"] == "paris" and call.error is None
        assert output["thread"].startswith("rtj-tool")  # a worker thread, not the event loop
        assert "clear" in reply.text and reply.previous
        reply = await session.say("what does the clock say in tokyo", timeout=60)
        assert reply.tool_calls[0].output == "It is noon in tokyo."
        assert "noon in tokyo" in reply.text
        reply = await session.say("use the broken tool for rome", timeout=60)
        call = reply.tool_calls[0]
        assert json.loads(call.output or "") == {"error": "RuntimeError: no data for rome"}
        assert call.error == "RuntimeError: no data for rome"
        assert "no data for rome" in reply.text  # the error went back to the model
        reply = await session.say("use the stuck tool for lima", timeout=60)
        call = reply.tool_calls[0]
        assert json.loads(call.output or "") == {
            "error": "TimeoutError: stuck did not finish within 0.5 s"
        }
        assert "did not finish" in reply.text
        assert session.log.count("rt.tool_error") == 2
        outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
        assert len(outputs) == 4
        requests = [r for r in session.log if r.direction == "out" and r.kind == "response.create"]
        assert len(requests) == 8  # one per say() and one follow-up per tool turn


async def test_tool_settings_are_checked(service: LocalRealtimeService) -> None:
    async with _connect(service, "ga", output_modalities="text") as session:
        with pytest.raises(ValueError, match="tool_timeout"):
            session.tool_timeout = -1
        with pytest.raises(TypeError, match=r"function_tool\(fn\) results, not int"):
            await session.update(tools=[5])
        with pytest.raises(ValueError, match="needs a 'name'"):
            await session.update(tools=[{"description": "nameless"}])
