"""The stock openai SDK (GA and beta clients) against the local service over real sockets.

Every event received is validated with the SDK's typed models (tests/conformance.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from openai import AsyncOpenAI

from rt_jupyter.audio import encode_audio
from rt_jupyter.local.service import LocalRealtimeService
from tests.conformance import validate_server_event
from tests.local.conftest import KEY
from tests.speech import QUESTION, speech_clip, word_accuracy

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _client(service: LocalRealtimeService) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=KEY, base_url=service.base_url, websocket_base_url=service.ws_base_url
    )


def _connect(client: AsyncOpenAI, dialect: str) -> Any:
    if dialect == "ga":
        return client.realtime.connect(model="gpt-realtime")
    return client.beta.realtime.connect(model="gpt-4o-realtime-preview")


async def _collect(
    conn: Any, dialect: str, until: str, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Raw events until ``until`` (inclusive), each validated against the SDK's models."""
    out: list[dict[str, Any]] = []
    while True:
        raw = await asyncio.wait_for(conn.recv_bytes(), timeout)
        event = json.loads(raw)
        validate_server_event(event, dialect)
        out.append(event)
        if event["type"] == until:
            return out


def _text_session(dialect: str, **extra: Any) -> dict[str, Any]:
    if dialect == "ga":
        return {"type": "realtime", "output_modalities": ["text"], **extra}
    return {"modalities": ["text"], **extra}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_text_turn(service: LocalRealtimeService, dialect: str) -> None:
    client = _client(service)
    async with _connect(client, dialect) as conn:
        created = await _collect(conn, dialect, "session.created")
        assert created[-1]["session"]["model"]
        await conn.session.update(session=_text_session(dialect))
        await _collect(conn, dialect, "session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello there"}],
            }
        )
        await conn.response.create()
        events = await _collect(conn, dialect, "response.done")
        events += await _collect(conn, dialect, "rate_limits.updated")
    types = [e["type"] for e in events]
    delta = "response.output_text.delta" if dialect == "ga" else "response.text.delta"
    added = "conversation.item.added" if dialect == "ga" else "conversation.item.created"
    expected = [
        added,
        "response.created",
        "response.output_item.added",
        added,
        "response.content_part.added",
        delta,
    ]
    assert [t for t in types if t in expected][: len(expected)] == expected
    text = "".join(e["delta"] for e in events if e["type"] == delta)
    assert text == "You said: hello there."
    done = events[types.index("response.done")]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0
    assert types[-1] == "rate_limits.updated"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_audio_turn_from_spoken_wav(service: LocalRealtimeService, dialect: str) -> None:
    clip = speech_clip(
        "what is the weather in paris", 24000, lead_silence_ms=500, tail_silence_ms=1000
    )
    audio = clip.samples
    pcm = encode_audio(audio, 24000, "pcm16")
    client = _client(service)
    transcription = {"model": "gpt-4o-mini-transcribe"}
    session = (
        {"type": "realtime", "audio": {"input": {"transcription": transcription}}}
        if dialect == "ga"
        else {"input_audio_transcription": transcription}
    )
    async with _connect(client, dialect) as conn:
        await _collect(conn, dialect, "session.created")
        await conn.session.update(session=session)
        await _collect(conn, dialect, "session.updated")
        for i in range(0, len(pcm), 9600):  # 200 ms chunks, faster than real time
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + 9600]).decode())
        events = await _collect(conn, dialect, "response.done", timeout=60)
        completed = "conversation.item.input_audio_transcription.completed"
        if not any(e["type"] == completed for e in events):
            events += await _collect(conn, dialect, completed, timeout=30)
    types = [e["type"] for e in events]
    for name in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
    ):
        assert name in types, (name, types)
    assert (
        types.index("input_audio_buffer.speech_started")
        < types.index("input_audio_buffer.speech_stopped")
        < types.index("input_audio_buffer.committed")
    )
    started = events[types.index("input_audio_buffer.speech_started")]
    stopped = events[types.index("input_audio_buffer.speech_stopped")]
    # audio_start_ms includes the 300 ms prefix padding; both within ~2 VAD frames of the truth
    assert abs(started["audio_start_ms"] - (clip.speech_start_ms - 300)) < 64
    assert abs(stopped["audio_end_ms"] - clip.speech_end_ms) < 100
    audio_delta = "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"
    chunks = [base64.b64decode(e["delta"]) for e in events if e["type"] == audio_delta]
    assert chunks and sum(map(len, chunks)) > 24000 * 2 * 0.5  # more than 0.5 s of speech
    transcript = [
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    ]
    assert transcript and word_accuracy(QUESTION, transcript[0]["transcript"]) >= 0.3
    done = events[types.index("response.done")]["response"]
    assert done["status"] == "completed"


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_tool_call_round_trip(service: LocalRealtimeService, dialect: str) -> None:
    client = _client(service)
    async with _connect(client, dialect) as conn:
        await _collect(conn, dialect, "session.created")
        await conn.session.update(session=_text_session(dialect, tools=[WEATHER_TOOL]))
        await _collect(conn, dialect, "session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "what is the weather in paris"}],
            }
        )
        await conn.response.create()
        events = await _collect(conn, dialect, "response.done")
        call = events[-1]["response"]["output"][0]
        assert call["type"] == "function_call"
        assert call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "paris"}
        args_done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert args_done and args_done[0]["call_id"] == call["call_id"]
        deltas = "".join(
            e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
        )
        assert deltas == call["arguments"]
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps({"temperature_c": 21, "sky": "clear"}),
            }
        )
        await conn.response.create()
        follow = await _collect(conn, dialect, "response.done")
    reply = follow[-1]["response"]
    assert reply["status"] == "completed"
    text = reply["output"][0]["content"][0]["text"]
    assert "get_weather" in text and "21" in text
