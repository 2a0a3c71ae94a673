"""``rt_jupyter.connect()`` against the local service playing each provider (real sockets):
Azure's v1 and preview layouts with an api-key and an Entra ID token provider, OpenAI next to
Azure (no key crosses over), a redirecting provider, and ``dialect="auto"``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rt_jupyter import ConfigurationError
from rt_jupyter.client import connect
from rt_jupyter.errors import AuthenticationError, ConnectionLostError, ProviderShapeError
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.protocol import Dialect
from rt_jupyter.protocol.providers import DEFAULT_BETA_MODEL
from tests.providers.conftest import (
    AZ_KEY,
    DEPLOYMENT,
    OPENAI_KEY,
    PREVIEW,
    Recording,
    azure_service,
    seen,
)
from tests.speech import QUESTION, speech_clip, word_accuracy, write_wav16


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city's name.
    """
    return {"city": city, "temperature_c": 21, "sky": "clear"}


def _azure_env(monkeypatch: pytest.MonkeyPatch, svc: LocalRealtimeService, **extra: str) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", svc.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZ_KEY)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


async def _text_and_tool_turns(session: Any) -> None:
    reply = await session.say("hello there")
    assert reply.status == "completed" and reply.text == "You said: hello there."
    reply = await session.say("what is the weather in paris")
    assert [c.name for c in reply.tool_calls] == ["get_weather"]
    assert json.loads(reply.tool_calls[0].arguments) == {"city": "paris"}
    assert "21" in reply.text


async def test_azure_v1_with_an_api_key(
    azure_text: LocalRealtimeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _azure_env(monkeypatch, azure_text)
    async with connect(
        model=DEPLOYMENT, output_modalities="text", tools=[get_weather], quiet=True
    ) as session:
        assert session.url == (
            f"{azure_text.azure_endpoint.replace('http', 'ws')}/openai/v1/realtime?model="
            f"{DEPLOYMENT}"
        )
        assert session.dialect is Dialect.GA
        await _text_and_tool_turns(session)
    assert set(seen(azure_text)) == {AZ_KEY}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_azure_preview_in_both_dialects(
    azure_text: LocalRealtimeService, monkeypatch: pytest.MonkeyPatch, dialect: str
) -> None:
    _azure_env(monkeypatch, azure_text, OPENAI_API_VERSION=PREVIEW)
    async with connect(
        model=DEPLOYMENT, dialect=dialect, output_modalities="text", tools=[get_weather]
    ) as session:
        assert f"/openai/realtime?api-version={PREVIEW}&deployment={DEPLOYMENT}" in session.url
        assert session.dialect is Dialect(dialect)
        await _text_and_tool_turns(session)
        kinds = set(session.log.types)
        delta = "response.output_text.delta" if dialect == "ga" else "response.text.delta"
        assert delta in kinds  # the wire spoke the dialect asked for


@pytest.mark.parametrize("version", [None, PREVIEW])
async def test_azure_audio_turn(
    azure: LocalRealtimeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    version: str | None,
) -> None:
    """A spoken turn through the v1 API (GA) and the preview API (beta, its default)."""
    _azure_env(monkeypatch, azure, **({"OPENAI_API_VERSION": version} if version else {}))
    clip = speech_clip("what is the weather in paris", 16000, lead_silence_ms=300)
    wav = write_wav16(tmp_path / "q.wav", clip.samples, 16000)
    async with connect(model=DEPLOYMENT, input_transcription=True, quiet=True) as session:
        assert session.dialect is (Dialect.BETA if version else Dialect.GA)
        assert ("/openai/realtime?api-version=" in session.url) is bool(version)
        reply = await session.send_audio(str(wav))
        assert reply is not None and reply.status == "completed"
        assert reply.duration_s > 1.0
        user = session.conversation.items[0]
        assert word_accuracy(QUESTION, user.text) >= 0.3, user.text


async def test_entra_token_provider_is_asked_for_each_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = ["entra-token-1", "entra-token-2"]
    asked: list[str] = []

    def token_provider() -> str:
        asked.append(tokens[len(asked)])
        return asked[-1]

    async with azure_service(Engines(), *tokens) as svc:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", svc.azure_endpoint)
        for expected in tokens:
            async with connect(
                model=DEPLOYMENT, token_provider=token_provider, output_modalities="text"
            ) as session:
                assert (await session.say("hi")).text == "You said: hi."
                logged = "".join(session.log.payloads)
                assert expected not in repr(session) and expected not in logged
        assert asked == tokens and seen(svc) == tokens  # a fresh token each time, as a bearer


async def test_a_key_callable_is_a_bearer_token_on_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rt_jupyter.config._azure_token_provider", lambda: None)
    async with azure_service(Engines(), "token-from-callable") as svc:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", svc.azure_endpoint)
        async with connect(
            provider="azure", api_key=lambda: "token-from-callable", model=DEPLOYMENT
        ) as session:
            assert session.connected
        assert seen(svc) == ["token-from-callable"]


async def test_unknown_deployment_and_refused_key_say_so(
    azure_text: LocalRealtimeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _azure_env(monkeypatch, azure_text)
    with pytest.raises(ConnectionLostError, match="deployment 'nope' for this resource"):
        await connect(model="nope", reconnect=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "wrong-key")
    with pytest.raises(AuthenticationError, match="AZURE_OPENAI_API_KEY") as err:
        await connect(model=DEPLOYMENT, reconnect=False)
    assert "wrong-key" not in str(err.value)


async def test_no_key_reaches_the_other_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    async with (
        LocalRealtimeService(engines=Engines(), accept_keys=Recording(OPENAI_KEY)) as openai,
        azure_service(Engines()) as azure,
    ):
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
        _azure_env(monkeypatch, azure)
        async with connect(output_modalities="text") as session:  # OpenAI's key: OpenAI
            assert (await session.say("one")).text == "You said: one."
        async with connect(provider="azure", model=DEPLOYMENT, output_modalities="text") as s:
            assert (await s.say("two")).text == "You said: two."
        assert seen(openai) == [OPENAI_KEY] and seen(azure) == [AZ_KEY]
        monkeypatch.delenv("AZURE_OPENAI_API_KEY")
        monkeypatch.setattr("rt_jupyter.config._azure_token_provider", lambda: None)
        with pytest.raises(ConfigurationError, match="no credential"):
            await connect(provider="azure", model=DEPLOYMENT)
        assert seen(azure) == [AZ_KEY]  # the OpenAI key was not tried on Azure


async def test_a_redirect_never_carries_the_key_elsewhere(
    azure_text: LocalRealtimeService, redirecting: str
) -> None:
    with pytest.raises(ConnectionLostError, match="HTTP 307"):
        await connect(
            provider={"name": "azure", "endpoint": redirecting},
            api_key=AZ_KEY,
            model=DEPLOYMENT,
            reconnect=False,
        )
    assert seen(azure_text) == []


async def test_auto_dialect_finds_ga_then_beta(capsys: pytest.CaptureFixture[str]) -> None:
    async with (
        LocalRealtimeService(engines=Engines()) as ga,
        LocalRealtimeService(engines=Engines(), ga_shape_disabled=True) as beta_only,
    ):
        async with connect(api_key="sk-x", base_url=ga.base_url, dialect="auto") as session:
            assert session.dialect is Dialect.GA and session.settings.model == "gpt-realtime"
        assert "speaks the ga dialect" in capsys.readouterr().out
        async with connect(
            api_key="sk-x", base_url=beta_only.base_url, dialect="auto", output_modalities="text"
        ) as session:
            assert session.dialect is Dialect.BETA
            assert session.settings.model == DEFAULT_BETA_MODEL
            assert (await session.say("hello")).text == "You said: hello."
        assert "speaks the beta dialect" in capsys.readouterr().out


async def test_auto_dialect_with_neither_shape_is_a_clear_error(nowhere: str) -> None:
    with pytest.raises(ProviderShapeError, match=r"neither the GA nor the beta.*HTTP 404"):
        await connect(api_key="sk-x", base_url=nowhere, dialect="auto")
