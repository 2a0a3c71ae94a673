"""local/responding.py: the responder's context and the spoken answer, without a session."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from rt_jupyter.local.engines.responder import ContextItem
from rt_jupyter.local.responding import response_context, spoken, words
from rt_jupyter.protocol import Conversation


def _conversation() -> Conversation:
    conv = Conversation()
    items: list[dict[str, Any]] = [
        {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio"}]},
        {"id": "c1", "type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city":"Paris"}'},
        {"id": "o1", "type": "function_call_output", "call_id": "call_1", "output": '"sunny"'},
        {"id": "u2", "type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "thanks"}]},
    ]  # fmt: skip
    previous = None
    for item in items:
        conv.apply({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        previous = item["id"]
    return conv


async def test_the_context_waits_for_a_transcript_and_names_tool_outputs() -> None:
    conv = _conversation()
    heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(response_context(conv, {}, {"u1": heard}))
    await asyncio.sleep(0.05)
    assert not task.done()  # the spoken turn's transcript is not there yet
    heard.set_result("what is the weather in Paris")
    context = await task
    assert [c.role for c in context] == ["user", "call", "tool", "user"]
    assert context[0].text == "what is the weather in Paris"
    assert context[1] == ContextItem(
        role="call", text='{"city":"Paris"}', name="get_weather", call_id="call_1"
    )
    assert context[2].name == "get_weather" and context[2].text == '"sunny"'
    assert context[3].text == "thanks"


async def test_a_cancelled_response_does_not_cancel_the_shared_transcript() -> None:
    conv = _conversation()
    heard: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(response_context(conv, {}, {"u1": heard}))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    assert not heard.cancelled()  # the next response still gets the transcript


async def test_input_replaces_the_conversation_and_resolves_references() -> None:
    conv = _conversation()
    params = {
        "input": [
            {"type": "item_reference", "id": "u2"},
            {"type": "item_reference", "id": "missing"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ]
    }
    context = await response_context(conv, params, {})
    assert [(c.role, c.text) for c in context] == [("user", "thanks"), ("user", "hi")]


class _Tone:
    """A voice engine that says each sentence as 100 ms of a tone at 16 kHz."""

    sample_rate = 16000

    def __init__(self) -> None:
        self.said: list[str] = []

    def synthesize(self, text: str, *, voice: str, speed: float) -> Any:
        self.said.append(text.strip())
        t = np.arange(1600) / self.sample_rate
        yield (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


async def test_spoken_sends_each_sentence_before_its_audio_at_the_output_rate() -> None:
    engine = _Tone()
    pieces = [
        (s, len(a))
        async for s, a in spoken(engine, "One. Two!\n", voice="v", speed=1.0, rate=24000)
    ]
    assert engine.said == ["One.", "Two!"]
    labels = [s for s, _ in pieces if s]
    assert "".join(labels) == "One. Two!\n"
    first_audio = next(i for i, (_, n) in enumerate(pieces) if n)
    assert pieces[0][0] == "One. " and pieces[0][1] == 0 and first_audio > 0
    total = sum(n for _, n in pieces)
    assert abs(total - 2 * 2400) <= 48  # 2 × 100 ms at 24 kHz, resampled from 16 kHz
    assert words("a  b c") == ["a  ", "b ", "c"]
