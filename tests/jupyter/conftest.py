"""Fixtures for the Jupyter integration tests: pytest-jupyter's server fixtures (without its
collection hooks, which would fight pytest-asyncio) and an upstream service on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_jupyter.jupyter_core as _jp_core
import pytest_jupyter.jupyter_server as _jp_server
import pytest_jupyter.pytest_tornasync as _jp_tornasync
from traitlets.config import Config

from rt_jupyter.config import PROVIDER_ENV

for _module in (_jp_core, _jp_tornasync, _jp_server):
    for _name, _value in vars(_module).items():
        if _name.startswith(("jp_", "http_server", "io_loop", "send_request", "echo_kernel")):
            globals()[_name] = _value

#: Environment variables a lab or a test server never inherits (every provider's).
SECRET_ENV = PROVIDER_ENV


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key from the environment."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """The extension enabled; ``RealtimeExtension`` settings from indirect parametrization."""
    extra: dict[str, Any] = dict(getattr(request, "param", {}))
    if extra.get("base_url") == "upstream":
        extra["base_url"] = request.getfixturevalue("upstream").base_url
    elif extra.get("base_url") == "unreachable":
        extra["base_url"] = f"http://127.0.0.1:{unused_port()}/v1"
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"rt_jupyter": True}},
            "RealtimeExtension": {"local_engines": "text", **extra},
        }
    )


GOOD_KEY = "sk-test-upstream-" + "a1b2c3d4e5f6g7h8"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Any]:
    """A local realtime service on loopback playing OpenAI's part (accepts ``GOOD_KEY`` only)."""
    from rt_jupyter.local.service import LocalRealtimeService
    from rt_jupyter.local.session import Engines

    service = LocalRealtimeService(accept_keys=[GOOD_KEY], engines=Engines()).start_in_thread()
    yield service
    service.stop_thread()


@pytest.fixture
def run(jp_asyncio_loop: Any) -> Any:
    """Run a coroutine on the server's loop (tests stay synchronous)."""
    return jp_asyncio_loop.run_until_complete


def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


__all__ = ["GOOD_KEY", "unused_port"]
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
