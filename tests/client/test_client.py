"""The kernel client against the local service over real sockets, both dialects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from rt_jupyter import ConfigurationError
from rt_jupyter.client import (
    AuthenticationError,
    BetaShapeDisabledError,
    RealtimeSession,
    ServerError,
    connect,
    connect_sync,
)
from rt_jupyter.local.engines.responder import Answer, ContextItem, EchoResponder
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.log import EventLog
from tests.speech import QUESTION, speech_clip, word_accuracy, write_wav16

KEY = "sk-client-tests"
DIALECTS = ["ga", "beta"]


@pytest_asyncio.fixture
async def service(engines: Engines) -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=engines) as svc:
        yield svc


def _connect(service: LocalRealtimeService, dialect: str = "ga", **kwargs: Any) -> Any:
    return connect(api_key=KEY, base_url=service.base_url, dialect=dialect, **kwargs)


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city's name.
    """
    return {"city": city, "temperature_c": 21, "sky": "clear"}


async def get_time(city: str) -> str:
    """Local time in a city."""
    await asyncio.sleep(0.01)
    return f"It is noon in {city}."


def get_stock(symbol: str) -> float:
    """A stock price."""
    raise RuntimeError(f"no market data for {symbol}")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_say_text(service: LocalRealtimeService, dialect: str) -> None:
    async with _connect(
        service, dialect, output_modalities="text", instructions="Be brief."
    ) as session:
        assert session.session_config["instructions"] == "Be brief."
        reply = await session.say("hello there")
        assert reply.status == "completed"
        assert reply.text == "You said: hello there."
        assert reply.usage and reply.usage["output_tokens"] > 0
        timings = reply.timings
        assert timings["first_text"] is not None and timings["done"] is not None
        assert 0 < timings["first_text"] <= timings["done"]
        roles = [(i.role, i.text) for i in session.conversation.items]
        assert roles == [("user", "hello there"), ("assistant", "You said: hello there.")]
        frame = session.log.to_frame()
        assert {"in", "out"} <= set(frame["direction"])
        assert "response.output_text.delta" in set(frame["kind"])  # normalized in both dialects


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_send_audio_wav_with_server_vad(
    service: LocalRealtimeService, dialect: str, tmp_path: Path
) -> None:
    clip = speech_clip("what is the weather in paris", 16000, lead_silence_ms=300)
    wav = write_wav16(tmp_path / "q.wav", clip.samples, 16000)
    async with _connect(service, dialect, input_transcription=True) as session:
        reply = await session.send_audio(str(wav))
        assert reply is not None and reply.status == "completed"
        assert word_accuracy("you said what is the weather in paris", reply.text) >= 0.3
        assert reply.sample_rate == 24000
        audio = reply.audio
        assert audio.dtype == np.float32 and reply.duration_s > 1.0
        assert np.abs(audio).max() > 0.05
        assert reply.timings["first_audio"] is not None
        kinds = session.log.to_frame()["kind"].tolist()
        order = [k for k in kinds if k.startswith("input_audio_buffer.s")]
        assert order[:2] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
        ]
        user = session.conversation.items[0]
        assert user.role == "user" and word_accuracy(QUESTION, user.text) >= 0.3, user.text


async def test_manual_commit_numpy_and_g711(service: LocalRealtimeService) -> None:
    clip = speech_clip("hello computer", 16000, lead_silence_ms=100, tail_silence_ms=200)
    async with _connect(
        service,
        turn_detection=None,
        input_format="g711_ulaw",
        output_format="g711_alaw",
    ) as session:
        reply = await session.send_audio(clip.samples, sample_rate=16000, chunk_size=2048)
        assert reply is not None and reply.status == "completed"
        assert reply.sample_rate == 8000 and reply.duration_s > 0.5
        with pytest.raises(ValueError, match="sample_rate is required"):
            await session.send_audio(clip.samples)
        with pytest.raises(ValueError, match="chunk_size"):
            await session.send_audio(clip.samples, 16000, chunk_size="fast")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_tools_sync_async_and_raising(service: LocalRealtimeService, dialect: str) -> None:
    async with _connect(
        service, dialect, output_modalities="text", tools=[get_weather, get_time, get_stock]
    ) as session:
        reply = await session.say("what is the weather in paris")
        assert [c.name for c in reply.tool_calls] == ["get_weather"]
        assert json.loads(reply.tool_calls[0].arguments) == {"city": "paris"}
        assert "21" in reply.text and reply.previous  # the follow-up answered with the result
        reply = await session.say("what is the time in tokyo")
        assert reply.tool_calls[0].output == "It is noon in tokyo."
        assert "noon in tokyo" in reply.text
        reply = await session.say("what is the stock price of acme")
        call = reply.tool_calls[0]
        assert call.error and "no market data for acme" in call.error
        assert "no market data" in reply.text  # the error went back to the model
        assert session.log.count("rt.tool_error") == 1
        outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
        assert len(outputs) == 3


async def test_tool_decorator_and_update_validation(service: LocalRealtimeService) -> None:
    async with _connect(service, output_modalities="text") as session:

        @session.tool
        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

        await session.update(tools=[add])
        reply = await session.say("add 2 and 3")
        assert reply.tool_calls[0].output == "5"
        with pytest.raises(ConfigurationError, match="speed"):
            await session.update(speed=3)
        with pytest.raises(ConfigurationError, match="turn_detection"):
            await session.update(turn_detection="sometimes")
        with pytest.raises(ConfigurationError, match="unknown session setting"):
            await session.update(colour="red")
        with pytest.raises(ConfigurationError, match=r"output_modalities=\['video'\]: use"):
            await session.update(output_modalities=["video"])
        with pytest.raises(ServerError) as info:  # the server's own check
            await session.update(model="gpt-other")
        assert info.value.param == "session.model"
        assert (await session.say("still alive")).status == "completed"


async def test_transcription_only_session(service: LocalRealtimeService) -> None:
    first = speech_clip(
        "what is the weather in paris", 24000, lead_silence_ms=400, tail_silence_ms=900
    )
    second = speech_clip(
        "hello there, what is the weather like in paris today", 24000, tail_silence_ms=900
    )
    audio = np.concatenate([first.samples, second.samples])
    async with _connect(service, intent="transcription") as session:
        assert session.session_config["type"] == "transcription"
        result = await session.transcribe(audio, 24000)
    assert len(result.segments) == 2
    one, two = result.segments
    # recognition itself is measured in test_engines; here: each turn is its own segment
    assert word_accuracy("what is the weather in paris", one.text) >= 0.3, one.text
    assert word_accuracy("hello there what is the weather like in paris today", two.text) >= 0.5
    assert one.start_ms is not None and one.end_ms is not None and two.start_ms is not None
    assert one.start_ms < one.end_ms < two.start_ms
    assert abs(one.end_ms - first.speech_end_ms) < 100
    assert str(result) == f"{one.text} {two.text}"


class SlowResponder(EchoResponder):
    """Long answers (so there is time to cancel), otherwise the echo responder."""

    def respond(self, items: Sequence[ContextItem], **kwargs: Any) -> Answer:
        reply = super().respond(items, **kwargs)
        if reply.text.startswith("You said: talk"):
            reply.text = " ".join(["blah"] * 4000)
        return reply


async def test_cancel_and_truncate(engines: Engines) -> None:
    custom = Engines(
        responder=SlowResponder(),
        voice=engines.voice,
        transcriber=engines.transcriber,
        turn_detector_factory=engines.turn_detector_factory,
    )
    async with (
        LocalRealtimeService(engines=custom) as svc,
        connect(api_key=KEY, base_url=svc.base_url, output_modalities="text") as session,
    ):
        task = asyncio.ensure_future(session.say("talk a lot"))
        await session.wait_for("response.output_text.delta")
        await session.cancel()
        reply = await task
        assert reply.status == "cancelled"
        assert reply.status_details and reply.status_details["reason"] == "client_cancelled"
        await session.update(output_modalities="audio")
        spoken = await session.say("hello there")
        assert spoken.duration_s > 0.8
        item = next(i for i in spoken.items if i.type == "message")
        event = await session.truncate(item, 500)
        assert event["audio_end_ms"] == 500
        mirrored = session.conversation.get(item.id)
        assert mirrored is not None and mirrored.truncated_ms == 500
        assert mirrored.audio_ms(0) == pytest.approx(500, abs=1)
        with pytest.raises(ServerError) as info:
            await session.truncate(item, 60_000)
        assert "shorter than" in str(info.value)


def _server_tap(service: LocalRealtimeService) -> list[list[str]]:
    """Every event each server session sends, by connection (to check the client log)."""
    sent: list[list[str]] = []

    def on_session(session: Any) -> None:
        record: list[str] = []
        sent.append(record)
        transport = session.transports[0]
        original = transport.send_text

        def send_text(text: str) -> None:
            record.append(json.loads(text).get("event_id"))
            original(text)

        transport.send_text = send_text

    service.state.on_session = on_session
    return sent


def _assert_log_has_every_received_event(session: RealtimeSession, sent: list[list[str]]) -> None:
    """Per connection, the client logged a gap-free prefix of what the server sent (events cut
    off by a drop may be missing only at the end of that connection)."""
    frame = session.log.to_frame()
    received = frame[frame["direction"] == "in"]["event_id"].tolist()
    position = 0
    for connection in sent:
        mine = set(connection)
        count = 0
        while position + count < len(received) and received[position + count] in mine:
            count += 1
        assert received[position : position + count] == connection[:count], (
            "an event is missing or out of order in the log"
        )
        position += count
    assert position == len(received), "the log holds events no server connection sent"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_recovers_from_a_drop_mid_response(
    service: LocalRealtimeService, dialect: str
) -> None:
    from rt_jupyter.local.faults import Faults

    sent = _server_tap(service)
    async with _connect(service, dialect, output_modalities="text", tools=[get_weather]) as session:
        assert (await session.say("what is the weather in paris")).status == "completed"
        service.faults = Faults(drop_after_deltas=3)
        reply = await session.say("please say something long enough to be cut off")
        assert reply.status == "completed"
        assert reply.text == "You said: please say something long enough to be cut off."
        assert session.reconnects == 1  # how fast: benchmarks/bench_client.py
        notes = session.log.of_kind("rt.reconnect")
        assert len(notes) == 1 and notes[0].event["code"] == 1006
        # the conversation survived: earlier turns, the tool call and its output were replayed
        types = [(i.type, i.role) for i in session.conversation.items]
        assert types[:5] == [
            ("message", "user"),
            ("function_call", None),
            ("function_call_output", None),
            ("message", "assistant"),
            ("message", "user"),
        ]
        assert (await session.say("and now")).text == "You said: and now."
    _assert_log_has_every_received_event(session, sent)


async def test_recovery_time_after_drop(service: LocalRealtimeService) -> None:
    from rt_jupyter.local.faults import Faults

    async with _connect(service, output_modalities="text") as session:
        await session.say("one")
        service.faults = Faults(close_after_deltas=1, close_code=1011)
        reply = await session.say("two")
        assert reply.status == "completed" and reply.text == "You said: two."
        note = session.log.of_kind("rt.reconnect")[0]
        restored = session.log.of_kind("rt.restored")[0]
        assert note.event["code"] == 1011
        assert restored.t - note.t < 1.0  # resumed within a second on loopback


async def test_renews_an_expired_session(service: LocalRealtimeService) -> None:
    from rt_jupyter.local.faults import Faults

    service.faults = Faults(expire_after_s=0.8)
    async with _connect(service, output_modalities="text", instructions="Stay brief.") as session:
        await session.say("before")
        errors: list[Any] = []
        session.on("error", errors.append)
        await asyncio.sleep(1.5)
        reply = await session.say("after")
        assert reply.text == "You said: after."
        assert errors and errors[0]["error"]["code"] == "session_expired"
        assert session.reconnects == 1
        assert session.session_config["instructions"] == "Stay brief."  # configuration re-applied
        texts = [i.text for i in session.conversation.items if i.role == "user"]
        assert texts == ["before", "after"]


async def test_survives_a_service_restart(engines: Engines) -> None:
    svc = await LocalRealtimeService(engines=engines).start()
    port = svc.port
    async with connect(api_key=KEY, base_url=svc.base_url, output_modalities="text") as session:
        await session.say("first")
        await svc.stop()
        await asyncio.sleep(0.3)
        svc = await LocalRealtimeService(port=port, engines=engines).start()
        try:
            reply = await asyncio.wait_for(session.say("second"), 30)
            assert reply.text == "You said: second."
            assert session.reconnects == 1
            users = [i.text for i in session.conversation.items if i.role == "user"]
            assert users == ["first", "second"]
        finally:
            await svc.stop()


async def test_fatal_errors_are_not_retried(engines: Engines) -> None:
    async with LocalRealtimeService(engines=engines, accept_keys=["sk-right"]) as svc:
        with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
            await connect(api_key="sk-wrong-key-1234", base_url=svc.base_url)
    async with LocalRealtimeService(engines=engines, beta_shape_disabled=True) as svc:
        with pytest.raises(BetaShapeDisabledError, match="dialect='ga'"):
            await connect(api_key=KEY, base_url=svc.base_url, dialect="beta")
        async with connect(api_key=KEY, base_url=svc.base_url) as session:
            assert session.connected


async def test_no_key_uses_the_local_service(capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(output_modalities="text") as session:
        reply = await session.say("hi")
    assert reply.text == "You said: hi."
    out = capsys.readouterr().out
    assert "no OPENAI_API_KEY set, using the local realtime service" in out
    assert out.count("\n") == 1


def test_connect_sync(service_in_thread: LocalRealtimeService) -> None:
    with connect_sync(
        api_key=KEY, base_url=service_in_thread.base_url, output_modalities="text"
    ) as s:
        assert s.say("sync hello").text == "You said: sync hello."
        start = len(s.log)
        s.send_text("sync again")  # does not wait: the response.done is waited for here
        done = s.wait_for("response.done", 30, since=start)
        assert done.data["response"]["status"] == "completed"
        assert s.transcript[-1]["text"] == "You said: sync again."
        assert s.session_config["output_modalities"] == ["text"]
        assert s.usage["responses"] == 2


async def test_send_text_does_not_wait(service: LocalRealtimeService) -> None:
    async with _connect(service, output_modalities="text") as session:
        session.send_text("first, no answer", respond=False)
        session.send_text("second")
        assert session.replies == []  # nothing awaited yet
        done = await session.wait_for()  # kind defaults to response.done, as on VoiceChat
        assert done.data["response"]["status"] == "completed"
        texts = [e["text"] for e in session.transcript]
        assert texts == ["first, no answer", "second", "You said: second."]
        assert [i["text"] for i in session.inputs] == ["first, no answer", "second"]
        with pytest.raises(TypeError, match="text as a str"):
            session.send_text(5)


@pytest.fixture
def service_in_thread(engines: Engines) -> Any:
    svc = LocalRealtimeService(engines=engines).start_in_thread()
    yield svc
    svc.stop_thread()


async def test_log_file_is_written_per_event(service: LocalRealtimeService, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    async with _connect(service, output_modalities="text", log_path=str(path)) as session:
        await session.say("logged")
        lines = path.read_text().splitlines()
        assert len(lines) == len(session.log)  # flushed per event, while open
    back = EventLog.from_jsonl(path)
    assert [r.kind for r in back] == [r.kind for r in session.log]


def test_connect_refuses_bad_arguments_with_configuration_error() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dialect": "gaa"}, "'ga'"),
        ({"intent": "chat"}, "'transcription'"),
        ({"base_url": "ftp://example.com/v1"}, "http"),
        ({"model": 5}, "model name"),
        ({"voise": "marin"}, "did you mean 'voice'"),
        ({"speed": 9}, "0.25–1.5"),
    ]
    for kwargs, words in cases:
        with pytest.raises(ConfigurationError, match=words):
            connect(**kwargs)
        with pytest.raises(ConfigurationError, match=words):
            connect_sync(**kwargs)
