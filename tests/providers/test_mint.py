"""Ephemeral keys for the browser minted at each provider (the extension's and the kernel's
``mint_remote``) against the local service, then used the way the widget's browser uses them:
an SDP offer POSTed to the token's ``sdp_url`` with the key as a bearer (aiortc plays the
browser)."""

from __future__ import annotations

import pytest

from rt_jupyter import ConfigurationError
from rt_jupyter.config import resolve_settings
from rt_jupyter.jupyter.mint import MintError, build_session, mint_remote
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.local.test_webrtc import client
from tests.providers.conftest import (
    AZ_KEY,
    DEPLOYMENT,
    OPENAI_KEY,
    PREVIEW,
    Recording,
    azure_service,
    seen,
)

SESSION = build_session({"output_modalities": ["text"]}, model=DEPLOYMENT)


async def _call_and_say_hello(sdp_url: str, key: str, dialect: str) -> None:
    async with client(audio=False, dialect=dialect) as peer:
        await peer.connect(sdp_url, key)
        created = await peer.wait_for("session.created", timeout=15)
        assert created["session"]["model"] == DEPLOYMENT
        peer.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
        )
        peer.send({"type": "response.create"})
        done = await peer.wait_for("response.done", timeout=15)
        assert done["response"]["status"] == "completed"
        if dialect == "ga":  # the SDK's beta models list model names, not deployment names
            peer.check_conformance()


async def test_azure_v1_mint_and_call(azure_text: LocalRealtimeService) -> None:
    settings = resolve_settings(
        provider={"name": "azure", "endpoint": azure_text.azure_endpoint}, api_key=AZ_KEY
    )
    token = await mint_remote(settings=settings, session=SESSION, model=DEPLOYMENT, ttl=60)
    assert token.dialect == "ga" and token.model == DEPLOYMENT
    assert token.sdp_url == f"{azure_text.azure_endpoint}/openai/v1/realtime/calls"
    await _call_and_say_hello(token.sdp_url, token.value, "ga")
    assert seen(azure_text) == [AZ_KEY]  # the browser's call used the ephemeral key only


async def test_azure_preview_mint_and_regional_call(azure_text: LocalRealtimeService) -> None:
    settings = resolve_settings(
        provider={
            "name": "azure",
            "endpoint": azure_text.azure_endpoint,
            "api_version": PREVIEW,
            "webrtc_url": azure_text.azure_webrtc_url,
        },
        api_key=AZ_KEY,
    )
    token = await mint_remote(settings=settings, session=SESSION, model=DEPLOYMENT, ttl=60)
    assert token.dialect == "beta"
    assert token.sdp_url == f"{azure_text.azure_webrtc_url}?model={DEPLOYMENT}"
    await _call_and_say_hello(token.sdp_url, token.value, "beta")


async def test_preview_without_a_region_says_what_to_set(
    azure_text: LocalRealtimeService,
) -> None:
    settings = resolve_settings(
        provider={"name": "azure", "endpoint": azure_text.azure_endpoint, "api_version": PREVIEW},
        api_key=AZ_KEY,
    )
    with pytest.raises(MintError, match="AZURE_OPENAI_REGION"):
        await mint_remote(settings=settings, session=SESSION, model=DEPLOYMENT, ttl=60)
    assert seen(azure_text) == []  # refused before the key was sent anywhere


async def test_auto_mint_finds_a_beta_only_gateway_and_neither(nowhere: str) -> None:
    async with LocalRealtimeService(engines=Engines(), ga_shape_disabled=True) as gateway:
        settings = resolve_settings(api_key="sk-gw", base_url=gateway.base_url, dialect="auto")
        session = build_session({}, model="m")
        token = await mint_remote(settings=settings, session=session, model="m", ttl=60)
        assert token.dialect == "beta" and token.sdp_url.endswith("/v1/realtime?model=m")
    settings = resolve_settings(api_key="sk-gw", base_url=nowhere, dialect="auto")
    with pytest.raises(MintError, match="neither the GA nor the beta") as err:
        await mint_remote(settings=settings, session=session, model="m", ttl=60)
    assert err.value.code == "upstream_shape_unknown" and "sk-gw" not in str(err.value)


async def test_mint_never_follows_a_redirect_with_the_key(
    azure_text: LocalRealtimeService, redirecting: str
) -> None:
    settings = resolve_settings(provider={"name": "azure", "endpoint": redirecting}, api_key=AZ_KEY)
    with pytest.raises(MintError, match="HTTP 307"):
        await mint_remote(settings=settings, session=SESSION, model=DEPLOYMENT, ttl=60)
    assert seen(azure_text) == []


async def test_a_mint_sends_each_provider_its_own_key_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both providers configured in the environment (as a server might be): the mint at Azure
    carries the Azure key only, the mint at OpenAI the OpenAI key only, and Azure without its
    own credential is refused before anything is sent."""
    async with (
        LocalRealtimeService(engines=Engines(), accept_keys=Recording(OPENAI_KEY)) as openai,
        azure_service(Engines()) as azure,
    ):
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure.azure_endpoint)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZ_KEY)
        at_azure = resolve_settings(provider="azure")
        token = await mint_remote(settings=at_azure, session=SESSION, model=DEPLOYMENT, ttl=60)
        assert token.sdp_url.startswith(azure.azure_endpoint)
        at_openai = resolve_settings()  # an OpenAI key is set: OpenAI
        session = build_session({"output_modalities": ["text"]}, model="gpt-realtime")
        token = await mint_remote(settings=at_openai, session=session, model="gpt-realtime", ttl=60)
        assert token.sdp_url.startswith(openai.base_url)
        assert seen(azure) == [AZ_KEY] and seen(openai) == [OPENAI_KEY]
        monkeypatch.delenv("AZURE_OPENAI_API_KEY")
        monkeypatch.setattr("rt_jupyter.config._azure_token_provider", lambda: None)
        with pytest.raises(ConfigurationError, match="never sends an OpenAI key to Azure"):
            resolve_settings(provider="azure")
        assert seen(azure) == [AZ_KEY] and seen(openai) == [OPENAI_KEY]
