"""Frames from real session logs (kernel client against the local service), both dialects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pandas as pd
import pytest
import pytest_asyncio

from rt_jupyter import frames
from rt_jupyter.client import connect
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from tests.speech import speech_clip


def get_weather(city: str) -> dict[str, Any]:
    """Weather in a city."""
    return {"city": city, "temperature_c": 21}


@pytest.fixture(scope="module")
def engines() -> Engines:
    return Engines.default()


@pytest_asyncio.fixture(params=["ga", "beta"])
async def session_log(engines: Engines, request: pytest.FixtureRequest) -> AsyncIterator[EventLog]:
    async with (
        LocalRealtimeService(engines=engines) as svc,
        connect(
            api_key="sk-frames",
            base_url=svc.base_url,
            dialect=request.param,
            tools=[get_weather],
            input_audio_transcription=True,
        ) as session,
    ):
        await session.say("hello there")
        await session.say("what is the weather in paris")
        clip = speech_clip("what is the weather in paris", 24000, lead_silence_ms=300)
        await session.send_audio(clip.samples, 24000)
        yield session.log


def spoken_tool_call(log: EventLog) -> list[int]:
    """The spoken question calls the tool when the recogniser heard "weather" (offline speech
    recognition is not perfect: "whether" happens), as responses' tool-call counts."""
    heard = frames.turns(log)["transcript"].iloc[2]
    return [1, 0] if "weather" in heard else [0]


async def test_responses_frame(session_log: EventLog) -> None:
    frame = frames.responses(session_log)
    # hello, tool call + follow-up, spoken: tool call + follow-up
    assert frame["tool_calls"].map(len).tolist() == [0, 1, 0, *spoken_tool_call(session_log)]
    assert (frame["status"] == "completed").all()
    spoken = frame[frame["tool_calls"].map(len) == 0]
    assert (spoken["audio_ms"] > 500).all()
    assert (spoken["ttfa_ms"] >= 0).all() and (frame["output_tokens"] > 0).all()
    assert frame["text"].iloc[0] == "You said: hello there."


async def test_turns_frame(session_log: EventLog) -> None:
    frame = frames.turns(session_log)
    assert frame["kind"].tolist() == ["text", "text", "speech"]
    assert frame["transcript"].iloc[0] == "hello there"
    speech = frame.iloc[2]
    spoken_calls = ["get_weather"] if spoken_tool_call(session_log)[0] else []
    assert frame["tool_calls"].tolist() == [[], ["get_weather"], spoken_calls]
    assert speech["audio_start_ms"] < speech["audio_end_ms"]
    assert speech["speech_end_to_first_audio_ms"] >= 0
    assert "paris" in speech["transcript"]
    assert not frame["interrupted"].any()
    # a turn's response is the final answer after the tool round trip
    responses = frames.responses(session_log).set_index("response_id")
    final = responses.loc[frame["response_id"].iloc[1]]
    assert "get_weather tool returned" in final["text"]


async def test_transcript_and_usage(session_log: EventLog) -> None:
    text = frames.transcript(session_log)
    assert text["role"].tolist() == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert text["source"].tolist()[:2] == ["typed", "response"]
    costs = frames.usage(session_log)
    assert len(costs) == 3 + len(spoken_tool_call(session_log)) and (costs["cost_usd"] > 0).all()
    assert (
        costs["text_in"] + costs["audio_in"] + costs["text_out"] + costs["audio_out"]
        == costs["total"]
    ).all()
    cheap = frames.usage(session_log, prices={"gpt-realtime": {"text_in": 0.0}})
    assert (cheap["cost_usd"] < costs["cost_usd"]).any()
    summary = frames.latency(session_log)
    assert "end of speech → first audio" in summary["latency"].tolist()
    assert isinstance(summary, pd.DataFrame)


def test_frames_of_an_empty_log() -> None:
    log = EventLog()
    assert frames.responses(log).empty and frames.turns(log).empty
    assert frames.transcript(log).empty and frames.usage(log).empty
