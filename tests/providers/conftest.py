"""Fixtures for the provider suites: local services that play OpenAI, Azure (v1 and preview)
and a beta-only gateway over real sockets, each recording every standard key offered to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
import tornado.httpserver
import tornado.netutil
import tornado.web

from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

AZ_KEY = "azure-key-0123456789abcdef"
OPENAI_KEY = "sk-openai-provider-tests"
DEPLOYMENT = "my-realtime"
PREVIEW = "2025-04-01-preview"


class Recording:
    """A key check that records every standard key offered."""

    def __init__(self, *accepted: str) -> None:
        self.accepted = set(accepted)
        self.seen: list[str] = []

    def __call__(self, key: str) -> bool:
        self.seen.append(key)
        return key in self.accepted


def azure_service(engines: Engines, *keys: str, **kw: Any) -> LocalRealtimeService:
    """A local service playing an Azure resource with one deployment."""
    return LocalRealtimeService(
        engines=engines, accept_keys=Recording(*(keys or (AZ_KEY,))), deployments=[DEPLOYMENT], **kw
    )


def seen(service: LocalRealtimeService) -> list[str]:
    accept = service.state.keys._accept
    assert isinstance(accept, Recording)
    return accept.seen


@pytest_asyncio.fixture
async def azure(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with azure_service(engines) as svc:
        yield svc


@pytest_asyncio.fixture
async def azure_text() -> AsyncIterator[LocalRealtimeService]:
    """Azure without the audio engines (text and tool turns)."""
    async with azure_service(Engines()) as svc:
        yield svc


@contextlib.asynccontextmanager
async def serving(app: tornado.web.Application) -> AsyncIterator[str]:
    """``app`` on a loopback port: its ``http://127.0.0.1:PORT``."""
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    try:
        yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        server.stop()


class _Redirect(tornado.web.RequestHandler):
    """Answers everything with a 307 to the same path at ``target`` (another origin)."""

    def initialize(self, target: str) -> None:
        self.target = target

    def get(self) -> None:
        target = self.target
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            target = target.replace("http://", "ws://", 1)
        self.redirect(target + (self.request.uri or "/"), status=307)

    post = get


@pytest_asyncio.fixture
async def redirecting(azure_text: LocalRealtimeService) -> AsyncIterator[str]:
    """An endpoint that redirects every request to ``azure_text``."""
    app = tornado.web.Application([(r"/.*", _Redirect, {"target": azure_text.azure_endpoint})])
    async with serving(app) as url:
        yield url


@pytest_asyncio.fixture
async def nowhere() -> AsyncIterator[str]:
    """A server that answers 404 to everything (a base URL that is no realtime service)."""
    async with serving(tornado.web.Application([])) as url:
        yield url + "/v1"
