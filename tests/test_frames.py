"""Frames from real session logs (kernel client against the local service), both dialects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import pytest_asyncio

from rt_jupyter import frames
from rt_jupyter.client import connect
from rt_jupyter.local.engines import EspeakVoice, ServerVadTurnDetector, Transcript
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from tests.speech import speech_clip


def get_weather(city: str) -> dict[str, Any]:
    """Weather in a city."""
    return {"city": city, "temperature_c": 21}


QUESTION = "what is the weather in paris"
#: The scripted scenario's tool call (the echo responder fills ``city`` from the words after
#: "in") and what get_weather returns for it.
CALL = ("get_weather", {"city": "paris"})
OUTPUT = {"city": "paris", "temperature_c": 21}


class ScriptedTranscriber:
    """Hears ``text`` in every utterance: the spoken turn is the question, word for word (the
    offline recogniser sometimes hears "whether", which names no tool)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe(
        self,
        samples: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        language: str | None = None,
        prompt: str | None = None,
    ) -> Transcript:
        return Transcript(self.text, duration_ms=len(samples) * 1000 // sample_rate)


@pytest.fixture(scope="module")
def voice() -> EspeakVoice:
    return EspeakVoice()


def _turn_detector(**settings: Any) -> ServerVadTurnDetector:
    return ServerVadTurnDetector(sample_rate=24000, **settings)


@pytest_asyncio.fixture(params=["ga", "beta"])
async def session_log(
    voice: EspeakVoice, request: pytest.FixtureRequest
) -> AsyncIterator[EventLog]:
    """Typed "hello there", the typed question, then the question spoken (real speech through
    the real turn detector, transcribed by the script)."""
    engines = Engines(
        voice=voice,
        transcriber=ScriptedTranscriber(QUESTION),
        turn_detector_factory=_turn_detector,
    )
    async with (
        LocalRealtimeService(engines=engines) as svc,
        connect(
            api_key="sk-frames",
            base_url=svc.base_url,
            dialect=request.param,
            tools=[get_weather],
            input_transcription=True,
        ) as session,
    ):
        await session.say("hello there")
        await session.say(QUESTION)
        clip = speech_clip(QUESTION, 24000, lead_silence_ms=300)
        await session.send_audio(clip.samples, 24000)
        yield session.log


def tool_round_trips(log: EventLog) -> list[tuple[str, dict[str, Any], Any]]:
    """(name, arguments, output) of each function call in the log: the calls the service made
    (``response.done``) and the outputs the client sent back for them, as JSON."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    outputs: dict[str, Any] = {}
    for record in log.of_kind("response.done", "conversation.item.create"):
        event = record.event
        if record.kind == "response.done":
            for out in event["response"].get("output") or []:
                if out.get("type") == "function_call":
                    calls[out["call_id"]] = (out["name"], json.loads(out["arguments"]))
        elif record.direction == "out":
            item = event["item"]
            if item.get("type") == "function_call_output":
                outputs[item["call_id"]] = json.loads(item["output"])
    assert set(outputs) == set(calls), (calls, outputs)
    return [(*calls[call_id], outputs[call_id]) for call_id in calls]


async def test_the_scenario_calls_the_tool_twice(session_log: EventLog) -> None:
    """The typed and the spoken question each call get_weather(city="paris") once."""
    assert tool_round_trips(session_log) == [(*CALL, OUTPUT), (*CALL, OUTPUT)]


async def test_responses_frame(session_log: EventLog) -> None:
    frame = frames.responses(session_log)
    # hello, tool call + follow-up, spoken: tool call + follow-up
    assert frame["tool_calls"].tolist() == [[], ["get_weather"], [], ["get_weather"], []]
    assert (frame["status"] == "completed").all()
    spoken = frame[frame["tool_calls"].map(len) == 0]
    assert (spoken["audio_ms"] > 500).all()
    assert (spoken["ttfa_ms"] >= 0).all() and (frame["output_tokens"] > 0).all()
    assert frame["text"].iloc[0] == "You said: hello there."


async def test_turns_frame(session_log: EventLog) -> None:
    frame = frames.turns(session_log)
    assert frame["kind"].tolist() == ["text", "text", "speech"]
    assert frame["transcript"].tolist() == ["hello there", QUESTION, QUESTION]
    speech = frame.iloc[2]
    assert frame["tool_calls"].tolist() == [[], ["get_weather"], ["get_weather"]]
    assert speech["audio_start_ms"] < speech["audio_end_ms"]
    assert speech["speech_end_to_first_audio_ms"] >= 0
    assert not frame["interrupted"].any()
    # each question's response is the final answer after the tool round trip, about its output
    responses = frames.responses(session_log).set_index("response_id")
    for response_id in frame["response_id"].iloc[1:]:
        final = responses.loc[response_id, "text"]
        assert final.startswith("The get_weather tool returned: ")
        assert json.loads(final.removeprefix("The get_weather tool returned: ")[:-1]) == OUTPUT


async def test_transcript_and_usage(session_log: EventLog) -> None:
    text = frames.transcript(session_log)
    assert text["role"].tolist() == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert text["source"].tolist()[:2] == ["typed", "response"]
    # a service at its own URL with a key is a gateway: OpenAI's prices, said to be a guess
    with pytest.warns(frames.PriceWarning, match="gateway"):
        costs = frames.usage(session_log)
    assert costs["provider"].eq("gateway").all() and costs["price_guessed"].all()
    assert len(costs) == 5 and (costs["cost_usd"] > 0).all()  # one row per response
    assert (
        costs["text_in"] + costs["audio_in"] + costs["text_out"] + costs["audio_out"]
        == costs["total"]
    ).all()
    # the session's own model (the beta dialect's default is gpt-4o-realtime-preview-...)
    model = next(r.event["session"]["model"] for r in session_log if r.kind == "session.created")
    cheap = frames.usage(session_log, prices={model: {"text_in": 0.0}})
    assert (cheap["cost_usd"] < costs["cost_usd"]).any()
    summary = frames.latency(session_log)
    assert "end of speech → first audio" in summary["latency"].tolist()
    assert isinstance(summary, pd.DataFrame)


def test_frames_of_an_empty_log() -> None:
    log = EventLog()
    assert frames.responses(log).empty and frames.turns(log).empty
    assert frames.transcript(log).empty and frames.usage(log).empty


def _response(log: EventLog, rid: str, t: float) -> None:
    log.add("in", {"type": "response.created", "response": {"id": rid}}, t=t)
    log.add(
        "in",
        {"type": "response.output_text.delta", "response_id": rid, "item_id": "i", "delta": "x"},
        t=t + 0.25,
    )
    log.add(
        "in", {"type": "response.done", "response": {"id": rid, "status": "completed"}}, t=t + 1
    )


def test_frames_follow_the_log_as_it_grows_and_hand_out_copies() -> None:
    """responses/turns are reused while the log's length is unchanged (latency builds on
    them): a reused frame must still follow new events and must not share its rows."""
    log = EventLog()
    _response(log, "resp_a", 0.0)
    first = frames.responses(log)
    assert list(first["response_id"]) == ["resp_a"]
    assert first["ttft_ms"].tolist() == [250.0]
    first.loc[0, "status"] = "changed by the caller"
    again = frames.responses(log)
    assert again["status"].tolist() == ["completed"]  # the caller's change is not shared
    _response(log, "resp_b", 10.0)
    grown = frames.responses(log)
    assert list(grown["response_id"]) == ["resp_a", "resp_b"]
    assert grown["ttft_ms"].tolist() == [250.0, 250.0]
    summary = frames.latency(log)
    row = summary.set_index("latency").loc["response.created → first text"]
    assert row["n"] == 2 and row["p50_ms"] == 250.0
    other = EventLog()  # another log of the same length gets its own frame
    _response(other, "resp_c", 0.0)
    _response(other, "resp_d", 5.0)
    assert list(frames.responses(other)["response_id"]) == ["resp_c", "resp_d"]
