"""The server extension with ``c.RealtimeExtension.provider``: minting at Azure (the local
service playing it) and a clear refusal for a provider that cannot work."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from traitlets.config import Config

from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AZ_KEY = "azure-key-for-the-extension"
DEPLOYMENT = "my-realtime"


@pytest.fixture(autouse=True)
def _forget_extension_marker() -> Iterator[None]:
    yield
    os.environ.pop("RT_JUPYTER_SERVER_EXTENSION", None)


@pytest.fixture(scope="module")
def azure_upstream() -> Iterator[LocalRealtimeService]:
    service = LocalRealtimeService(
        accept_keys=[AZ_KEY], engines=Engines(), deployments=[DEPLOYMENT]
    ).start_in_thread()
    yield service
    service.stop_thread()


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    extra: dict[str, Any] = dict(getattr(request, "param", {}))
    if extra.get("provider") == "azure-upstream":
        svc = request.getfixturevalue("azure_upstream")
        extra["provider"] = {"name": "azure", "endpoint": svc.azure_endpoint}
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"rt_jupyter": True}},
            "RealtimeExtension": {"local_engines": "text", **extra},
        }
    )


def _post(run: Any, jp_fetch: Any) -> tuple[int, dict[str, Any]]:
    response = run(jp_fetch("rt-jupyter", "session", method="POST", body="{}", raise_error=False))
    return response.code, json.loads(response.body or b"{}")


def _status(run: Any, jp_fetch: Any) -> dict[str, Any]:
    return dict(json.loads(run(jp_fetch("rt-jupyter", "status")).body))


AZURE = {"provider": "azure-upstream", "api_key": AZ_KEY, "model": DEPLOYMENT}


@pytest.mark.parametrize("jp_server_config", [AZURE], indirect=True)
def test_mints_at_azure(run: Any, jp_fetch: Any, azure_upstream: LocalRealtimeService) -> None:
    code, body = _post(run, jp_fetch)
    assert code == 200, body
    assert body["model"] == DEPLOYMENT and body["dialect"] == "ga"
    assert body["sdp_url"] == f"{azure_upstream.azure_endpoint}/openai/v1/realtime/calls"
    assert AZ_KEY not in json.dumps(body)
    status = _status(run, jp_fetch)
    assert status["provider"] == "azure" and status["provider_shape"] == "azure-v1"
    assert status["provider_auth"] == "api-key" and status["key_configured"] is True
    assert AZ_KEY not in json.dumps(status)


@pytest.mark.parametrize("jp_server_config", [{"provider": "azure"}], indirect=True)
def test_a_provider_that_cannot_work_is_refused_clearly(run: Any, jp_fetch: Any) -> None:
    code, body = _post(run, jp_fetch)
    assert code == 500
    assert body["error"]["code"] == "provider_misconfigured"
    assert "AZURE_OPENAI_ENDPOINT" in body["error"]["message"]
    assert "AZURE_OPENAI_ENDPOINT" in _status(run, jp_fetch)["config_error"]
