"""The core's tool machinery without sockets: the schema builder, the error encoding and the run
policy (start at arguments.done, worker threads, per-call timeout, one follow-up after done)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import rt_jupyter
from rt_jupyter.core.tools import (
    DEFAULT_TOOL_TIMEOUT,
    Tool,
    ToolArgumentError,
    ToolResult,
    ToolRunner,
    encode_tool_error,
    function_tool,
    tool_schemas,
)
from rt_jupyter.errors import ToolError
from rt_jupyter.protocol import Conversation

RELEASE = threading.Event()


def weather(city: str) -> dict[str, Any]:
    """Weather in a city."""
    return {"city": city, "thread": threading.current_thread().name}


async def clock(city: str) -> str:
    """Time in a city."""
    await asyncio.sleep(0)
    return f"noon in {city}"


def broken(city: str) -> str:
    """Always fails."""
    raise RuntimeError(f"no data for {city}")


def stuck(city: str) -> str:
    """Never finishes in time."""
    RELEASE.wait(60)
    return "late"


@pytest.fixture(autouse=True)
def _release_stuck_threads() -> Any:
    RELEASE.clear()
    yield
    RELEASE.set()


def test_compat_imports_and_error_tree() -> None:
    from rt_jupyter.jupyter import tools as compat

    assert compat.function_tool is function_tool and rt_jupyter.function_tool is function_tool
    assert issubclass(ToolArgumentError, ToolError) and issubclass(ToolArgumentError, ValueError)
    assert DEFAULT_TOOL_TIMEOUT == 30.0


def test_tool_schemas_registers_functions_and_prunes_removed_ones() -> None:
    registry: dict[str, Tool] = {}
    schemas = tool_schemas([weather, function_tool(clock), {"name": "lookup"}], registry)
    assert [s["name"] for s in schemas] == ["weather", "clock", "lookup"]
    assert all(s["type"] == "function" for s in schemas)
    assert sorted(registry) == ["clock", "weather"]
    tool_schemas([clock], registry)
    assert sorted(registry) == ["clock"]
    with pytest.raises(TypeError, match=r"function_tool.*int"):
        tool_schemas([5], registry)
    with pytest.raises(TypeError, match="must be a list"):
        tool_schemas(weather, registry)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a 'name'"):
        tool_schemas([{"description": "x"}], registry)
    with pytest.raises(ValueError, match="duplicate tool name"):
        tool_schemas([weather, {"name": "weather"}], registry)


def test_one_error_encoding() -> None:
    assert json.loads(encode_tool_error(RuntimeError("boom"))) == {"error": "RuntimeError: boom"}
    bad = ToolArgumentError("weather: unknown argument(s) ['town']")
    assert json.loads(encode_tool_error(bad))["error"].startswith("ToolArgumentError: weather")
    timed_out = json.loads(encode_tool_error(TimeoutError(), name="stuck", timeout=2.5))
    assert timed_out == {"error": "TimeoutError: stuck did not finish within 2.5 s"}
    assert encode_tool_error(ValueError("é")) == '{"error": "ValueError: é"}'


class Recorder:
    def __init__(self) -> None:
        self.ready: list[tuple[str, list[ToolResult], bool]] = []
        self.done = asyncio.Event() if _has_loop() else None

    def __call__(self, rid: str, results: list[ToolResult], follow_up: bool) -> None:
        self.ready.append((rid, results, follow_up))
        if self.done is not None:
            self.done.set()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _runner(recorder: Recorder, timeout: float = 30.0) -> ToolRunner:
    registry: dict[str, Tool] = {}
    tool_schemas([weather, clock, broken, stuck], registry)
    return ToolRunner(registry, recorder, timeout=timeout)


async def test_calls_start_at_arguments_done_and_answer_after_response_done() -> None:
    recorder = Recorder()
    runner = _runner(recorder, timeout=0.2)
    assert runner.call_done("c1", "weather", '{"city": "Paris"}', "r1")
    assert runner.call_done("c2", "clock", '{"city": "Oslo"}', "r1")
    assert runner.call_done("c3", "broken", '{"city": "Rome"}', "r1")
    assert runner.call_done("c4", "stuck", '{"city": "Lima"}', "r1")
    assert runner.call_done("c5", "weather", '{"town": "Nice"}', "r1")
    assert not runner.call_done("c1", "weather", '{"city": "Paris"}', "r1")  # runs once
    await asyncio.sleep(0.05)
    assert recorder.ready == []  # the response is still active: nothing is sent yet
    assert runner.response_done("r1", "completed", [("c1", "weather", '{"city": "Paris"}')])
    assert recorder.done is not None
    await asyncio.wait_for(recorder.done.wait(), 30)
    ((rid, results, follow_up),) = recorder.ready
    assert rid == "r1" and follow_up
    by_id = {r.call_id: r for r in results}
    assert [r.call_id for r in results] == ["c1", "c2", "c3", "c4", "c5"]
    assert json.loads(by_id["c1"].output)["city"] == "Paris"
    assert json.loads(by_id["c1"].output)["thread"].startswith("rtj-tool")  # off the loop
    assert by_id["c2"].output == "noon in Oslo" and by_id["c2"].error is None
    assert json.loads(by_id["c3"].output) == {"error": "RuntimeError: no data for Rome"}
    assert json.loads(by_id["c4"].output) == {
        "error": "TimeoutError: stuck did not finish within 0.2 s"
    }
    assert "unknown argument" in json.loads(by_id["c5"].output)["error"]
    runner.close()


async def test_the_loop_keeps_running_while_a_sync_tool_works() -> None:
    recorder = Recorder()
    runner = _runner(recorder)
    runner.call_done("c1", "stuck", '{"city": "Lima"}', "r1")
    runner.response_done("r1", "completed")
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 5 and recorder.ready == []
    RELEASE.set()
    assert recorder.done is not None
    await asyncio.wait_for(recorder.done.wait(), 30)
    assert recorder.ready[0][1][0].output == "late"
    runner.close()


async def test_no_follow_up_for_a_foreign_call_or_an_unfinished_response() -> None:
    recorder = Recorder()
    runner = _runner(recorder)
    runner.call_done("c1", "weather", '{"city": "Paris"}', "r1")
    assert not runner.call_done("c2", "not_mine", "{}", "r1")
    runner.response_done("r1", "completed")
    assert recorder.done is not None
    await asyncio.wait_for(recorder.done.wait(), 30)
    assert recorder.ready[0][2] is False and len(recorder.ready[0][1]) == 1
    recorder.done.clear()
    runner.response_done("r2", "cancelled", [("c3", "weather", '{"city": "Oslo"}')])
    await asyncio.wait_for(recorder.done.wait(), 30)
    assert recorder.ready[1][0] == "r2" and recorder.ready[1][2] is False
    assert not runner.response_done("r3", "completed", [("c4", "not_mine", "{}")])
    runner.close()


def test_without_a_running_loop_calls_finish_before_call_done_returns() -> None:
    recorder = Recorder()
    runner = _runner(recorder, timeout=0.2)
    runner.call_done("c1", "clock", '{"city": "Oslo"}', "r1")
    runner.call_done("c2", "stuck", '{"city": "Lima"}', "r1")
    assert recorder.ready == []
    runner.response_done("r1", "completed")
    ((_, results, follow_up),) = recorder.ready
    assert follow_up and results[0].output == "noon in Oslo"
    assert "did not finish within 0.2 s" in results[1].output
    runner.close()


def test_timeout_setting_is_checked() -> None:
    runner = _runner(Recorder())
    with pytest.raises(ValueError, match="tool_timeout"):
        runner.timeout = 0
    with pytest.raises(ValueError, match="tool_timeout"):
        runner.timeout = "30"  # type: ignore[assignment]


async def test_arguments_done_events_start_calls_with_the_name_from_the_conversation() -> None:
    recorder = Recorder()
    runner = _runner(recorder)
    conversation = Conversation()
    item = {"id": "item_c2", "type": "function_call", "call_id": "c2", "name": "clock"}
    conversation.apply({"type": "conversation.item.added", "item": {**item, "arguments": ""}})
    assert conversation.get("item_c2") is not None
    named = {"call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'}
    assert runner.arguments_done({**named, "response_id": "r1"}, conversation)
    unnamed = {"call_id": "c2", "item_id": "item_c2", "arguments": '{"city": "Rome"}'}
    assert runner.arguments_done({**unnamed, "response_id": "r1"}, conversation)
    unknown = {"call_id": "c3", "item_id": "item_x", "arguments": "{}", "response_id": "r1"}
    assert not runner.arguments_done(unknown, conversation)  # no name: not a tool of ours
    assert runner.response_done("r1", "completed")
    assert recorder.done is not None
    await asyncio.wait_for(recorder.done.wait(), 30)
    ((_, results, follow_up),) = recorder.ready
    assert [(r.call_id, r.name) for r in results] == [("c1", "weather"), ("c2", "clock")]
    assert results[1].output == "noon in Rome"
    assert not follow_up  # the unnamed call is someone else's to answer
    runner.close()
