"""The stock openai SDK's Azure clients (``AzureOpenAI`` / ``AsyncAzureOpenAI``) against the local
service playing Azure OpenAI: text, audio and tool turns over the preview API's WebSocket (what
the SDK's Azure client builds), with an api-key and with an Entra ID token provider; and the v1
API through the SDK's ``OpenAI`` client as Microsoft documents it. Every event is validated with
the SDK's typed models."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI

from rt_jupyter.audio import encode_audio
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.conformance import validate_server_event
from tests.local.test_service_sdk import WEATHER_TOOL
from tests.providers.conftest import AZ_KEY, DEPLOYMENT, PREVIEW, azure_service, seen
from tests.speech import QUESTION, speech_clip, word_accuracy


def _azure(svc: LocalRealtimeService, **auth: Any) -> AsyncAzureOpenAI:
    # the SDK forces wss:// on the endpoint; the local service is plain ws:// on loopback
    ws = svc.azure_endpoint.replace("http://", "ws://") + "/openai"
    return AsyncAzureOpenAI(
        azure_endpoint=svc.azure_endpoint,
        api_version=PREVIEW,
        websocket_base_url=ws,
        **(auth or {"api_key": AZ_KEY}),
    )


async def _collect(conn: Any, until: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        event = json.loads(await asyncio.wait_for(conn.recv_bytes(), timeout))
        validate_server_event(event, "ga")
        out.append(event)
        if event["type"] == until:
            return out


async def _say(conn: Any, text: str) -> list[dict[str, Any]]:
    await conn.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await conn.response.create()
    return await _collect(conn, "response.done")


async def _text_and_tool_turns(conn: Any) -> None:
    created = await _collect(conn, "session.created")
    assert created[-1]["session"]["model"] == DEPLOYMENT
    session = {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
    await conn.session.update(session=session)
    await _collect(conn, "session.updated")
    events = await _say(conn, "hello there")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: hello there."
    events = await _say(conn, "what is the weather in paris")
    call = events[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and json.loads(call["arguments"]) == {"city": "paris"}
    await conn.conversation.item.create(
        item={"type": "function_call_output", "call_id": call["call_id"], "output": '{"t": 21}'}
    )
    await conn.response.create()
    follow = await _collect(conn, "response.done")
    assert "21" in follow[-1]["response"]["output"][0]["content"][0]["text"]


async def test_async_azure_client_text_and_tool_turns(azure_text: LocalRealtimeService) -> None:
    async with _azure(azure_text).realtime.connect(model=DEPLOYMENT) as conn:
        await _text_and_tool_turns(conn)
    assert set(seen(azure_text)) == {AZ_KEY}


async def test_async_azure_client_with_an_entra_token_provider() -> None:
    calls: list[int] = []

    async def token_provider() -> str:
        calls.append(1)
        return "entra-token"

    async with azure_service(Engines(), "entra-token") as svc:
        client = _azure(svc, azure_ad_token_provider=token_provider)
        async with client.realtime.connect(model=DEPLOYMENT) as conn:
            await _text_and_tool_turns(conn)
        assert calls and seen(svc) == ["entra-token"]


def _v1(svc: LocalRealtimeService) -> AsyncOpenAI:
    """Microsoft's v1 API: ``OpenAI(base_url="{endpoint}/openai/v1/", api_key=AZURE_KEY)``."""
    base = f"{svc.azure_endpoint}/openai/v1"
    return AsyncOpenAI(
        api_key=AZ_KEY, base_url=base, websocket_base_url=base.replace("http://", "ws://")
    )


@pytest.mark.parametrize("api", ["preview", "v1"])
async def test_async_azure_client_audio_turn(azure: LocalRealtimeService, api: str) -> None:
    """A spoken turn over the preview API (``AsyncAzureOpenAI``) and the v1 API (the SDK's
    ``AsyncOpenAI`` client, as Microsoft documents it)."""
    clip = speech_clip(QUESTION, 24000, lead_silence_ms=500, tail_silence_ms=1000)
    pcm = encode_audio(clip.samples, 24000, "pcm16")
    client = _azure(azure) if api == "preview" else _v1(azure)
    async with client.realtime.connect(model=DEPLOYMENT) as conn:
        await _collect(conn, "session.created")
        transcription = {"model": "gpt-4o-mini-transcribe"}
        session: Any = {"type": "realtime", "audio": {"input": {"transcription": transcription}}}
        await conn.session.update(session=session)
        await _collect(conn, "session.updated")
        for i in range(0, len(pcm), 9600):
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + 9600]).decode())
        events = await _collect(conn, "response.done", timeout=60)
        completed = "conversation.item.input_audio_transcription.completed"
        if not any(e["type"] == completed for e in events):
            events += await _collect(conn, completed, timeout=30)
    types = [e["type"] for e in events]
    assert "input_audio_buffer.speech_started" in types and "response.created" in types
    audio = [
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    ]
    assert sum(map(len, audio)) > 24000 * 2 * 0.5
    heard = next(e["transcript"] for e in events if e["type"] == completed)
    assert word_accuracy(QUESTION, heard) >= 0.3, heard
    assert seen(azure) == [AZ_KEY]


@pytest.fixture
def azure_in_thread() -> Iterator[LocalRealtimeService]:
    """Azure on its own thread (the sync client blocks this one)."""
    svc = azure_service(Engines()).start_in_thread()
    yield svc
    svc.stop_thread()


def test_sync_azure_client_text_turn(azure_in_thread: LocalRealtimeService) -> None:
    svc = azure_in_thread
    client = AzureOpenAI(
        azure_endpoint=svc.azure_endpoint,
        api_key=AZ_KEY,
        api_version=PREVIEW,
        websocket_base_url=svc.azure_endpoint.replace("http://", "ws://") + "/openai",
    )
    with client.realtime.connect(model=DEPLOYMENT) as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        conn.response.create()
        text = ""
        for event in conn:
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.done":
                break
    assert text == "You said: hi."


async def test_v1_api_through_the_sdks_openai_client(azure_text: LocalRealtimeService) -> None:
    """Microsoft's v1 API: ``OpenAI(base_url="{endpoint}/openai/v1/", api_key=AZURE_KEY)``."""
    client = _v1(azure_text)
    secret = await client.realtime.client_secrets.create(
        session={"type": "realtime", "model": DEPLOYMENT}
    )
    assert secret.value.startswith("ek_")
    async with client.realtime.connect(model=DEPLOYMENT) as conn:
        await _text_and_tool_turns(conn)


async def test_preview_api_version_is_checked(azure_text: LocalRealtimeService) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=10) as http:
        url = f"{azure_text.azure_endpoint}/openai/realtimeapi/sessions"
        missing = await http.post(url, headers={"api-key": AZ_KEY}, json={"model": DEPLOYMENT})
        assert missing.status_code == 400 and "api-version" in missing.text
        wrong = await http.post(
            url, params={"api-version": "latest"}, headers={"api-key": AZ_KEY}, json={}
        )
        assert wrong.status_code == 400 and "Unsupported api-version" in wrong.text
        ok = await http.post(
            url,
            params={"api-version": PREVIEW},
            headers={"api-key": AZ_KEY},
            json={"model": DEPLOYMENT, "modalities": ["text"]},
        )
        assert ok.status_code == 200 and ok.json()["client_secret"]["value"].startswith("ek_")
        # OpenAI's routes take no api-key header: that is Azure's
        openai = await http.post(
            f"{azure_text.base_url}/realtime/client_secrets",
            headers={"api-key": AZ_KEY},
            json={},
        )
        assert openai.status_code == 401
