"""Provider descriptions (pure): URLs and headers per layout, checked against the stock openai
SDK's Azure client, and settings resolution from the SDK's environment variables."""

from __future__ import annotations

import pytest
from openai import AzureOpenAI

from rt_jupyter import ConfigurationError
from rt_jupyter.config import resolve_settings
from rt_jupyter.protocol import Dialect
from rt_jupyter.protocol.providers import (
    DEFAULT_BETA_MODEL,
    AuthStyle,
    Layout,
    Provider,
    ProviderError,
    session_shape,
)

ENDPOINT = "https://res.openai.azure.com"


def test_openai_layout_urls() -> None:
    p = Provider("openai", "https://api.openai.com/v1/")
    assert p.mint_url(Dialect.GA) == "https://api.openai.com/v1/realtime/client_secrets"
    assert p.mint_url(Dialect.BETA) == "https://api.openai.com/v1/realtime/sessions"
    assert p.websocket_url(Dialect.GA, "gpt-realtime") == (
        "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    )
    assert p.websocket_url(Dialect.GA, "m", intent="transcription").endswith(
        "/realtime?intent=transcription"
    )
    assert p.sdp_url(Dialect.GA, "m") == "https://api.openai.com/v1/realtime/calls"
    assert p.sdp_url(Dialect.BETA, "a b") == "https://api.openai.com/v1/realtime?model=a%20b"
    assert p.request_headers(Dialect.BETA, "sk-x") == {
        "Authorization": "Bearer sk-x",
        "OpenAI-Beta": "realtime=v1",
    }


def test_azure_v1_urls_follow_microsoft_docs() -> None:
    p = Provider("azure", ENDPOINT, Layout.AZURE_V1, AuthStyle.API_KEY)
    assert p.mint_url(Dialect.GA) == f"{ENDPOINT}/openai/v1/realtime/client_secrets"
    assert p.sdp_url(Dialect.GA, "dep") == f"{ENDPOINT}/openai/v1/realtime/calls"
    assert p.websocket_url(Dialect.GA, "my-dep") == (
        "wss://res.openai.azure.com/openai/v1/realtime?model=my-dep"
    )
    assert p.request_headers(Dialect.GA, "azkey") == {"api-key": "azkey"}
    # an endpoint given with /openai or /openai/v1 already is the same endpoint
    for given in (f"{ENDPOINT}/openai", f"{ENDPOINT}/openai/v1/"):
        same = Provider("azure", given, Layout.AZURE_V1, AuthStyle.API_KEY)
        assert same.mint_url(Dialect.GA) == p.mint_url(Dialect.GA)
    with pytest.raises(ProviderError, match="v1 API speaks the GA shape"):
        p.websocket_url(Dialect.BETA, "dep")


def test_azure_preview_websocket_is_what_the_sdks_azure_client_builds() -> None:
    version = "2025-04-01-preview"
    p = Provider("azure", ENDPOINT, Layout.AZURE_PREVIEW, AuthStyle.API_KEY, api_version=version)
    sdk = AzureOpenAI(azure_endpoint=ENDPOINT, api_key="azkey", api_version=version)
    url, headers = sdk._configure_realtime("my-dep", {})
    assert p.websocket_url(Dialect.GA, "my-dep") == str(url)
    assert p.auth_headers("azkey") == headers
    assert p.mint_url(Dialect.BETA) == (
        f"{ENDPOINT}/openai/realtimeapi/sessions?api-version=2025-04-01-preview"
    )
    assert p.mint_dialect(Dialect.GA) is Dialect.BETA
    with pytest.raises(ProviderError, match="AZURE_OPENAI_REGION"):
        p.sdp_url(Dialect.BETA, "my-dep")
    with pytest.raises(ProviderError, match="dated version"):
        Provider("azure", ENDPOINT, Layout.AZURE_PREVIEW, api_version="v1")


def test_token_auth_is_a_bearer_header_and_headers_cannot_override_auth() -> None:
    p = Provider("azure", ENDPOINT, Layout.AZURE_V1, AuthStyle.TOKEN, headers=(("X-Team", "a"),))
    assert p.request_headers(Dialect.GA, "tok") == {"X-Team": "a", "Authorization": "Bearer tok"}
    for name in ("Authorization", "api-key", "OpenAI-Beta"):
        with pytest.raises(ProviderError, match="set by rt_jupyter"):
            Provider("gateway", "https://gw.example/v1", headers=((name, "x"),))
    with pytest.raises(ProviderError, match="not a valid header"):
        Provider("gateway", "https://gw.example/v1", headers=(("X-A", "a\r\nHost: evil"),))


def test_owns_compares_scheme_host_and_port() -> None:
    p = Provider("openai", "https://api.openai.com/v1")
    assert p.owns("wss://api.openai.com/v1/realtime?model=m")
    assert not p.owns("wss://api.openai.com.evil.example/v1/realtime")
    assert not p.owns("ws://api.openai.com/v1/realtime")
    assert not p.owns("https://res.openai.azure.com/openai/v1/realtime")


def test_session_shape() -> None:
    assert session_shape({"type": "realtime", "audio": {}}) is Dialect.GA
    assert session_shape({"object": "realtime.session", "modalities": ["text"]}) is Dialect.BETA
    assert session_shape({"hello": 1}) is None


def test_openai_key_alone_is_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    s = resolve_settings()
    assert s.service.name == "openai" and s.service.layout is Layout.OPENAI
    assert s.secret() == "sk-openai" and not s.local
    assert "sk-openai" not in repr(s) and "sk-openai" not in s.describe()


def test_other_base_url_is_a_gateway_with_the_beta_default_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gw")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gw.example/v1")
    s = resolve_settings(dialect="beta")
    assert s.service.name == "gateway" and s.dialect is Dialect.BETA
    assert s.model == DEFAULT_BETA_MODEL
    assert resolve_settings().model == "gpt-realtime"
    auto = resolve_settings(dialect="auto")
    assert auto.dialect_auto and auto.chosen(Dialect.BETA).model == DEFAULT_BETA_MODEL
    assert resolve_settings(dialect="auto", model="mine").chosen(Dialect.BETA).model == "mine"


def test_azure_from_the_sdk_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azkey")
    s = resolve_settings(model="my-dep")
    assert s.service.name == "azure" and s.service.layout is Layout.AZURE_V1
    assert s.service.auth is AuthStyle.API_KEY and s.secret() == "azkey"
    assert s.dialect is Dialect.GA
    assert s.websocket_url() == "wss://res.openai.azure.com/openai/v1/realtime?model=my-dep"
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
    monkeypatch.setenv("AZURE_OPENAI_REGION", "swedencentral")
    s = resolve_settings()
    assert s.service.layout is Layout.AZURE_PREVIEW and s.dialect is Dialect.BETA
    assert s.model == DEFAULT_BETA_MODEL
    assert s.service.sdp_url(Dialect.BETA, "dep") == (
        "https://swedencentral.realtimeapi-preview.ai.azure.com/v1/realtimertc?model=dep"
    )
    assert "Azure preview API (api-version 2025-04-01-preview)" in s.describe()


def test_a_key_of_one_provider_is_never_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azkey")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    openai = resolve_settings()  # an OpenAI key set: OpenAI, as before Azure was known
    assert openai.service.name == "openai" and openai.secret() == "sk-openai"
    azure = resolve_settings(provider="azure")
    assert azure.service.host == "res.openai.azure.com" and azure.secret() == "azkey"
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setattr("rt_jupyter.config._azure_token_provider", lambda: None)
    with pytest.raises(ConfigurationError, match="never sends an OpenAI key to Azure") as err:
        resolve_settings(provider="azure")
    assert "sk-openai" not in str(err.value)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azkey")
    monkeypatch.delenv("OPENAI_API_KEY")
    gateway = resolve_settings(provider="gateway", base_url="https://gw.example/v1")
    assert gateway.api_key is None and gateway.local  # the Azure key does not go there


def test_entra_token_provider_is_asked_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    tokens = iter(["t1", "t2"])
    s = resolve_settings(token_provider=lambda: next(tokens))
    assert s.service.auth is AuthStyle.TOKEN and not s.local and s.api_key is None
    assert [s.secret(), s.secret()] == ["t1", "t2"]
    assert "Entra ID bearer token" in s.describe()
    empty = resolve_settings(token_provider=lambda: "")
    with pytest.raises(ConfigurationError, match="returned no token"):
        empty.secret()


def test_bad_provider_settings_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        resolve_settings(provider="azure")
    with pytest.raises(ConfigurationError, match="use one of openai, azure, gateway"):
        resolve_settings(provider="bedrock")
    with pytest.raises(ConfigurationError, match="unknown field"):
        resolve_settings(provider={"name": "azure", "key": "x"})
    with pytest.raises(ConfigurationError, match="v1 API speaks the GA shape"):
        resolve_settings(
            provider={"name": "azure", "endpoint": ENDPOINT}, api_key="k", dialect="beta"
        )
    with pytest.raises(ConfigurationError, match="region"):
        resolve_settings(
            provider={"name": "azure", "endpoint": ENDPOINT, "region": "x/y"}, api_key="k"
        )
