"""Both front doors drive the core's dispatcher: through the real local service, GA and beta
event names select the same events on a GA and on a beta session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from rt_jupyter.client import connect
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

KEY = "sk-core-" + "tests"
DIALECTS = ["ga", "beta"]
NAMES = ["response.text.delta", "response.output_text.delta"]


@pytest.fixture(scope="module")
def engines() -> Engines:
    return Engines.default()


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
    async with _connect(service, dialect, modalities="text") as session:
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
    session = await _connect(service, dialect, modalities="text")
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
