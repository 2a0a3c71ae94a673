"""Azure's ``?api-key=`` on the realtime WebSocket URL (Microsoft documents it for browsers, which
cannot set headers on a WebSocket), against the local service playing Azure over real sockets:
accepted like the header, refused like the header when wrong, refused when it disagrees with
another credential, never accepted on OpenAI's routes, never written to the access log; and our
own clients never put a key in a URL."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import websockets
from tornado.log import access_log

from rt_jupyter import ConfigurationError
from rt_jupyter.client import connect
from rt_jupyter.config import resolve_settings
from rt_jupyter.jupyter.mint import build_session, mint_remote
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.protocol.providers import Provider, ProviderError, redact_url
from tests.providers.conftest import AZ_KEY, DEPLOYMENT, PREVIEW, seen

WRONG = "azure-wrong-key-fedcba9876543210"


def _ws_urls(svc: LocalRealtimeService) -> dict[str, str]:
    base = svc.azure_endpoint.replace("http://", "ws://", 1)
    return {
        "v1": f"{base}/openai/v1/realtime?model={DEPLOYMENT}",
        "preview": f"{base}/openai/realtime?api-version={PREVIEW}&deployment={DEPLOYMENT}",
    }


async def _refusal(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(url, additional_headers=headers or {})
    response = info.value.response
    return response.status_code, json.loads(response.body or b"{}")


@pytest.mark.parametrize("api", ["v1", "preview"])
async def test_the_key_in_the_query_opens_a_session(
    azure_text: LocalRealtimeService, api: str
) -> None:
    async with websockets.connect(f"{_ws_urls(azure_text)[api]}&api-key={AZ_KEY}") as ws:
        created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        assert created["session"]["model"] == DEPLOYMENT
    assert seen(azure_text) == [AZ_KEY]


@pytest.mark.parametrize("api", ["v1", "preview"])
async def test_a_wrong_key_in_the_query_is_refused_like_a_wrong_header(
    azure_text: LocalRealtimeService, api: str
) -> None:
    url = _ws_urls(azure_text)[api]
    by_header = await _refusal(url, {"api-key": WRONG})
    by_query = await _refusal(f"{url}&api-key={WRONG}")
    assert by_query == by_header and by_query[0] == 401
    assert by_query[1]["error"]["code"] == "invalid_api_key"
    assert WRONG not in json.dumps(by_query[1])
    assert azure_text.keys.open_sessions() == 0


@pytest.mark.parametrize(
    "query, headers",
    [
        (AZ_KEY, {"api-key": WRONG}),  # right in the query, wrong in the header
        (WRONG, {"api-key": AZ_KEY}),  # wrong in the query, right in the header
        (WRONG, {"Authorization": f"Bearer {AZ_KEY}"}),
        (f"{AZ_KEY}&api-key={WRONG}", {}),  # two in the query
    ],
)
async def test_two_different_credentials_are_refused(
    azure_text: LocalRealtimeService, query: str, headers: dict[str, str]
) -> None:
    """The service never picks one of two credentials: a page that adds its own key to a URL
    that already carries one (or the other way round) gets no session."""
    for url in _ws_urls(azure_text).values():
        status, body = await _refusal(f"{url}&api-key={query}", headers)
        assert status == 401 and "more than one credential" in body["error"]["message"]
        assert AZ_KEY not in json.dumps(body) and WRONG not in json.dumps(body)
    assert azure_text.keys.open_sessions() == 0
    # the same key twice is one credential
    url = _ws_urls(azure_text)["v1"]
    async with websockets.connect(
        f"{url}&api-key={AZ_KEY}", additional_headers={"api-key": AZ_KEY}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_openai_routes_take_no_key_from_the_query(azure_text: LocalRealtimeService) -> None:
    """OpenAI's realtime WebSocket takes its key in a header (or the browser subprotocol): the
    local service's OpenAI routes ignore ``?api-key=`` as OpenAI does."""
    status, body = await _refusal(f"{azure_text.ws_base_url}/realtime?model=m&api-key={AZ_KEY}")
    assert status == 401 and body["error"]["code"] == "missing_api_key"


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The access log's lines. Matched by tornado's function, not the logger's name: a Jupyter
    server started in this process earlier renames tornado's loggers after itself."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == access_log.name and r.funcName == "log_request"
    ]


async def test_the_access_log_never_shows_a_key_from_the_url(
    azure_text: LocalRealtimeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")  # found by this key even when renamed
    urls = _ws_urls(azure_text)
    async with websockets.connect(f"{urls['v1']}&api-key={AZ_KEY}") as ws:
        await ws.recv()
    await _refusal(f"{urls['preview']}&api-key={WRONG}")
    await _refusal(f"{urls['v1']}&api-key={WRONG}", {"api-key": AZ_KEY})
    lines = _access_lines(caplog)
    assert len(lines) == 3, lines
    assert all("api-key=[secret]" in line for line in lines), lines
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert AZ_KEY not in text and WRONG not in text


async def test_our_clients_send_keys_in_headers_not_urls(
    azure_text: LocalRealtimeService, caplog: pytest.LogCaptureFixture
) -> None:
    """The kernel client (both Azure APIs) and the extension's mint: every request the service
    logs has no key in its URL, and the key still arrived (in a header)."""
    caplog.set_level(logging.INFO, logger="tornado.access")  # found by this key even when renamed
    for provider in (
        {"name": "azure", "endpoint": azure_text.azure_endpoint},
        {"name": "azure", "endpoint": azure_text.azure_endpoint, "api_version": PREVIEW},
    ):
        async with connect(
            provider=provider, api_key=AZ_KEY, model=DEPLOYMENT, output_modalities="text"
        ) as session:
            assert "api-key" not in session.url and AZ_KEY not in session.url
            assert (await session.say("hi")).text == "You said: hi."
        settings = resolve_settings(provider=provider, api_key=AZ_KEY)
        session_body = build_session({"output_modalities": ["text"]}, model=DEPLOYMENT)
        try:
            token = await mint_remote(
                settings=settings, session=session_body, model=DEPLOYMENT, ttl=60
            )
        except Exception as exc:  # the preview API without a region: no WebRTC URL to give
            assert "region" in str(exc)
        else:
            assert AZ_KEY not in json.dumps(token.to_json()).replace(token.value, "")
    lines = _access_lines(caplog)
    assert lines and not any("api-key" in line or AZ_KEY in line for line in lines), lines
    assert set(seen(azure_text)) == {AZ_KEY}


@pytest.mark.parametrize(
    "url",
    [
        "https://res.openai.azure.com/?api-key=abc",
        "https://res.openai.azure.com/openai/v1?token=abc",
        "https://user:secret@res.openai.azure.com",
    ],
)
def test_a_provider_url_may_not_carry_a_credential(url: str) -> None:
    with pytest.raises(ProviderError, match="a URL ends up in logs"):
        Provider("azure", url)
    with pytest.raises(ConfigurationError, match="a URL ends up in logs"):
        resolve_settings(provider={"name": "azure", "endpoint": url}, api_key=AZ_KEY)
    with pytest.raises(ProviderError, match="a URL ends up in logs"):
        Provider("azure", "https://res.openai.azure.com", webrtc_url=url)


def test_redact_url() -> None:
    url = f"/openai/realtime?api-version={PREVIEW}&deployment=d&api-key={AZ_KEY}&token=t"
    assert redact_url(url) == (
        f"/openai/realtime?api-version={PREVIEW}&deployment=d&api-key=[secret]&token=[secret]"
    )
    assert redact_url("/openai/v1/realtime?model=m") == "/openai/v1/realtime?model=m"
