"""Fixtures for the local service suites: one service per test module, real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import websockets

from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

KEY = "sk-test-local-service"


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


class WsClient:
    """A plain WebSocket client that records every raw event it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any] | str) -> None:
        await self.ws.send(event if isinstance(event, str) else json.dumps(event))

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event: dict[str, Any] = json.loads(raw)
        self.events.append(event)
        return event

    async def until(self, event_type: str, timeout: float = 20.0) -> dict[str, Any]:
        """Receive until an event of ``event_type`` arrives (returns it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.recv(max(0.01, deadline - loop.time()))
            if event["type"] == event_type:
                return event

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def ws_connect(
    service: LocalRealtimeService,
    *,
    key: str = KEY,
    beta: bool = False,
    query: str = "model=gpt-realtime",
) -> WsClient:
    headers = {"Authorization": f"Bearer {key}"}
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    ws = await websockets.connect(
        f"{service.ws_base_url}/realtime?{query}",
        additional_headers=headers,
        max_size=64 * 2**20,
    )
    client = WsClient(ws)
    first = await client.recv()
    assert first["type"] == "session.created", first
    return client
