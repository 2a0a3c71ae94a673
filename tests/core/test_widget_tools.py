"""``VoiceChat`` runs tools with the core's run policy: driven in-process with the messages its
front end sends (as in tests/jupyter/test_widget.py), inside a running loop like a kernel's."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from traitlets import TraitError

from rt_jupyter import VoiceChat

RELEASE = threading.Event()


def weather(city: str) -> dict[str, Any]:
    """Current weather in a city."""
    return {"city": city, "thread": threading.current_thread().name}


async def clock(city: str) -> str:
    """Local time in a city."""
    await asyncio.sleep(0.01)
    return f"noon in {city}"


def broken(city: str) -> str:
    """A tool that fails."""
    raise RuntimeError(f"no data for {city}")


def stuck(city: str) -> str:
    """A tool that does not finish in time (unless released)."""
    RELEASE.wait(60)
    return "late"


@pytest.fixture(autouse=True)
def _release_stuck() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


class Front:
    """The browser side of the comm: records what the kernel sends, relays event batches."""

    def __init__(self, chat: VoiceChat) -> None:
        self.chat = chat
        self.sent: list[dict[str, Any]] = []
        self.seq = 0
        chat.send_msg_now = self.sent.append  # type: ignore[method-assign,assignment]
        chat._on_custom_msg(chat, {"type": "hello"}, [])
        self.events({"type": "rt.call_started", "dialect": "ga"}, direction="local")
        chat.status = "connected"

    def events(self, *events: dict[str, Any], direction: str = "in") -> None:
        batch = [[direction, time.time() * 1000, json.dumps(e)] for e in events]
        self.chat._on_custom_msg(
            self.chat, {"type": "events", "seq": self.seq, "events": batch}, []
        )
        self.seq += 1

    def outgoing(self) -> list[dict[str, Any]]:
        return [json.loads(t) for m in self.sent if m["type"] == "send" for t in m["events"]]


def calls_turn(rid: str, calls: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """A response that calls ``(call_id, name, arguments)``: arguments.done for each, then done."""
    items = [
        {"id": f"item_{c}", "type": "function_call", "name": n, "call_id": c, "arguments": a}
        for c, n, a in calls
    ]
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": rid, "status": "in_progress"}}
    ]
    for index, item in enumerate(items):
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "response_id": rid,
                "item_id": item["id"],
                "output_index": index,
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": item["arguments"],
            }
        )
    events.append(
        {"type": "response.done", "response": {"id": rid, "status": "completed", "output": items}}
    )
    return events


FOUR = [
    ("c1", "weather", '{"city": "paris"}'),
    ("c2", "clock", '{"city": "oslo"}'),
    ("c3", "broken", '{"city": "rome"}'),
    ("c4", "stuck", '{"city": "lima"}'),
    ("c5", "weather", '{"town": "nice"}'),
]


async def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_sync_async_raising_slow_and_bad_arguments() -> None:
    chat = VoiceChat(tools=[weather, clock, broken, stuck], tool_timeout=0.5)
    front = Front(chat)
    turn = calls_turn("r1", FOUR)
    front.events(*turn[:-1])  # every call's arguments are done; the response is still active
    await asyncio.sleep(0.05)
    assert front.outgoing() == []  # nothing while the response is active
    front.events(turn[-1])
    await _until(lambda: front.outgoing())
    out = front.outgoing()
    assert out[-1] == {"type": "response.create"} and len(out) == 6
    outputs = {e["item"]["call_id"]: e["item"]["output"] for e in out[:-1]}
    assert list(outputs) == ["c1", "c2", "c3", "c4", "c5"]
    first = json.loads(outputs["c1"])
    assert first["city"] == "paris" and first["thread"].startswith("rtj-tool")
    assert outputs["c2"] == "noon in oslo"
    assert json.loads(outputs["c3"]) == {"error": "RuntimeError: no data for rome"}
    assert json.loads(outputs["c4"]) == {"error": "TimeoutError: stuck did not finish within 0.5 s"}
    assert json.loads(outputs["c5"])["error"].startswith("ToolArgumentError: weather: unknown")
    assert chat.log.count("rt.tool_error") == 3 and chat.log.count("rt.tool_result") == 2
    chat.close()


async def test_a_slow_sync_tool_does_not_block_the_comm_handler() -> None:
    chat = VoiceChat(tools=[stuck])
    front = Front(chat)
    seen: list[str] = []
    chat.on("response.text.delta", lambda e: seen.append(str(e.get("delta"))))
    front.events(*calls_turn("r1", [("c1", "stuck", '{"city": "lima"}')]))
    front.events({"type": "response.output_text.delta", "response_id": "r0", "delta": "hi"})
    assert seen == ["hi"]  # the next batch was handled while the tool is still running
    assert front.outgoing() == []
    RELEASE.set()
    await _until(lambda: front.outgoing())
    assert [e["type"] for e in front.outgoing()] == ["conversation.item.create", "response.create"]
    assert front.outgoing()[0]["item"]["output"] == "late"
    chat.close()


def test_tool_timeout_is_checked() -> None:
    with pytest.raises(TraitError, match="tool_timeout"):
        VoiceChat(tool_timeout=0)
    chat = VoiceChat()
    chat.tool_timeout = 5
    assert chat._tool_runner.timeout == 5.0
    chat.close()
