"""The parity scenario: one conversation, run as it is through either front door.

``await run(door)`` drives a ``VoiceChat`` (in a JupyterLab kernel, its call made by Chromium) or
a ``RealtimeSession`` (``rt_jupyter.connect()``) with the API the two share, and returns what it
observed as plain JSON: the events of each turn, the tool calls and the outputs sent back, what
callbacks and waiters registered under GA and beta names received, usage, transcript, code blocks
and the errors bad arguments raised. ``tests/parity/test_parity.py`` runs it through both doors
in both dialects and compares.

The spoken turn is the one step the doors take differently (the widget's microphone is the
browser's; a session sends audio from the kernel): ``run`` takes it as ``speak``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

#: What the microphone (or ``send_audio``) says: the responder calls ``weather`` for it.
SPOKEN = "what is the weather in paris"

#: The typed turns, in order: (label, text). Each tool's name is in its sentence.
TURNS = [
    ("sync_tool", "what is the weather in oslo"),
    ("async_tool", "what does the clock say in tokyo"),
    ("raising_tool", "use the broken tool for rome"),
    ("slow_tool", "use the stuck tool for lima"),
    ("text", "hello there"),
    ("code", "compute 6 times 7"),
]

#: Seconds each tool call may take (``stuck`` takes longer).
TOOL_TIMEOUT = 3.0
#: How long a turn may take on a slow, busy machine.
TURN_TIMEOUT = 120.0

#: ``stuck`` waits for this (set when the scenario ends, so its thread finishes).
RELEASE = threading.Event()


def weather(city: str) -> dict[str, Any]:
    """Current weather in a city."""
    return {
        "city": city,
        "sky": "clear",
        "on_main_thread": threading.current_thread().name == "MainThread",
    }


async def clock(city: str) -> str:
    """Local time in a city."""
    await asyncio.sleep(0.01)
    return f"It is noon in {city}."


def broken(city: str) -> str:
    """A tool that fails."""
    raise RuntimeError(f"no data for {city}")


def stuck(city: str) -> str:
    """A tool that does not finish in time."""
    RELEASE.wait(60)
    return "too late"


TOOLS = [weather, clock, broken, stuck]


def settings() -> dict[str, Any]:
    """The keyword arguments both doors take: ``VoiceChat(**settings())``, ``connect(...)``."""
    return {
        "tools": TOOLS,
        "tool_timeout": TOOL_TIMEOUT,
        "instructions": "Answer briefly.",
        "output_modalities": ["text"],
        "turn_detection": {"type": "server_vad", "interrupt_response": False},
        "input_transcription": "gpt-4o-mini-transcribe",
    }


def _has_message(event: Any) -> bool:
    """A ``response.done`` whose output holds a message (an answer, not only tool calls)."""
    output = (event.get("response") or {}).get("output") or []
    return any(isinstance(o, dict) and o.get("type") == "message" for o in output)


def _family(exc: BaseException) -> str:
    """The public class an error is: the nearest one of ``rt_jupyter.errors`` or a builtin (a
    widget's setting error is also a traitlets ``TraitError``, as traits demand)."""
    import builtins

    import rt_jupyter.errors

    for cls in type(exc).__mro__:
        if (
            cls.__name__ in rt_jupyter.errors.__all__
            or getattr(builtins, cls.__name__, None) is cls
        ):
            return cls.__name__
    return type(exc).__name__


def _error(call: Callable[[], Any]) -> list[str]:
    try:
        call()
    except Exception as exc:
        return [_family(exc), str(exc)]
    return ["no error", ""]


async def _async_error(call: Callable[[], Awaitable[Any]]) -> list[str]:
    try:
        await call()
    except Exception as exc:
        return [_family(exc), str(exc)]
    return ["no error", ""]


async def _settled(door: Any, mark: int) -> None:
    """Wait until each ``response.done`` since ``mark`` has its ``rate_limits.updated`` (sent
    after it), so the next turn's events start with the next turn."""
    while True:
        length = len(door.log)  # once: the widget may log events from another thread meanwhile
        rows = [r for r in list(door.log)[mark:length] if r.direction == "in"]
        done = sum(1 for r in rows if r.kind == "response.done")
        if sum(1 for r in rows if r.kind == "rate_limits.updated") >= done:
            return
        await door.wait_for("rate_limits.updated", since=length, timeout=TURN_TIMEOUT)


def _set_tool_timeout(door: Any, value: Any) -> None:
    door.tool_timeout = value


async def run(door: Any, speak: Callable[[], Awaitable[Any]] | None = None) -> dict[str, Any]:
    """Run the scenario through ``door`` (connected, or connecting) and return observations."""
    RELEASE.clear()
    try:
        return await _run(door, speak)
    finally:
        RELEASE.set()


async def _run(door: Any, speak: Callable[[], Awaitable[Any]] | None) -> dict[str, Any]:
    obs: dict[str, Any] = {}
    await door.wait_for("session.created", since=0, timeout=TURN_TIMEOUT)

    # --- the spoken turn: heard, the sync tool called, answered --------------------------------
    if speak is not None:
        await speak()
    heard = await door.wait_for(
        "conversation.item.input_audio_transcription.completed", since=0, timeout=TURN_TIMEOUT
    )
    obs["heard"] = str(heard.get("transcript") or "")
    spoken_answer = await door.wait_for(
        "response.done", since=0, predicate=_has_message, timeout=TURN_TIMEOUT
    )
    obs["spoken_answer_status"] = (spoken_answer.get("response") or {}).get("status")
    await _settled(door, 0)

    # --- callbacks and waiters under GA and beta names ------------------------------------------
    by_ga: list[str] = []
    by_beta: list[str] = []
    everything: list[tuple[Any, str]] = []  # (event_id, kind) of what "*" was handed
    door.on("response.output_text.delta", lambda e: by_ga.append(str(e.get("delta"))))
    door.on("response.text.delta", lambda e: by_beta.append(str(e.get("delta"))))
    on_any = door.on("*", lambda e: everything.append((e.get("event_id"), e.kind)))

    # --- typed turns ----------------------------------------------------------------------------
    turns: dict[str, Any] = {}
    typed_events: list[tuple[Any, str]] = []  # the typed turns' received events, as logged
    first_delta: list[str] = []
    for label, text in TURNS:
        mark = len(door.log)
        door.send_text(text)
        done = await door.wait_for(
            "response.done", since=mark, predicate=_has_message, timeout=TURN_TIMEOUT
        )
        await _settled(door, mark)
        rows = [r for r in list(door.log)[mark:] if r.direction == "in"]
        turns[label] = {
            "kinds": [r.kind for r in rows],
            "status": (done.get("response") or {}).get("status"),
        }
        typed_events.extend((r.event.get("event_id"), r.kind) for r in rows)
        if label == "text":
            # a waiter given the beta name gets the GA kind, with the dialect's wire type
            delta = await door.wait_for("response.text.delta", since=mark, timeout=5)
            first_delta = [delta.kind, delta.type]
    # a callback runs after its event is logged (the widget hands events to callbacks on the
    # kernel's loop): wait until "*" has had the last one before taking it off
    for _ in range(600):
        if not typed_events or typed_events[-1] in everything:
            break
        await asyncio.sleep(0.05)
    door.off("*", on_any)
    obs["turns"] = turns
    obs["first_delta"] = first_delta
    # what "*" got of the typed turns' events (not a late event of the spoken turn's, handed to
    # it just after it was registered), to compare with the log's
    typed = set(typed_events)
    obs["callbacks"] = {
        "ga": "".join(by_ga),
        "beta": "".join(by_beta),
        "any": [list(pair) for pair in everything if pair in typed],
        "typed_events": [list(pair) for pair in typed_events],
    }

    # --- what went out: tool outputs, in order ---------------------------------------------------
    rows = list(door.log)
    names = {
        o.get("call_id"): (o.get("name"), o.get("arguments"))
        for r in rows
        if r.direction == "in" and r.kind == "response.done"
        for o in (r.event.get("response") or {}).get("output") or []
        if o.get("type") == "function_call"
    }
    calls = []
    for r in rows:
        item = r.event.get("item") or {}
        if r.direction == "out" and item.get("type") == "function_call_output":
            name, arguments = names.get(item.get("call_id"), (None, None))
            calls.append(
                {
                    "name": name,
                    "arguments": json.loads(arguments or "null"),
                    "output": item.get("output"),
                }
            )
    obs["tool_calls"] = calls
    obs["tool_errors"] = [r.event.get("name") for r in rows if r.kind == "rt.tool_error"]
    obs["responses_requested"] = sum(
        1 for r in rows if r.direction == "out" and r.kind == "response.create"
    )
    # every response's text, from the raw events (not through the door's own bookkeeping)
    obs["texts"] = [
        "".join(
            c.get("text") or ""
            for o in (r.event.get("response") or {}).get("output") or []
            for c in o.get("content") or []
        )
        for r in rows
        if r.direction == "in" and r.kind == "response.done"
    ]

    # --- usage, transcript, code blocks ----------------------------------------------------------
    summed: dict[str, int] = {}
    for r in rows:
        if r.direction == "in" and r.kind == "response.done":
            for key, value in ((r.event.get("response") or {}).get("usage") or {}).items():
                if isinstance(value, int):
                    summed[key] = summed.get(key, 0) + value
    obs["usage"] = {k: v for k, v in dict(door.usage).items() if isinstance(v, int)}
    obs["usage_summed"] = summed
    obs["transcript"] = [[e["role"], e["text"]] for e in door.transcript]
    obs["speech"] = [
        [
            r.kind,
            r.event.get("item_id"),
            r.event.get("transcript"),
            r.event.get("audio_start_ms"),
            r.event.get("audio_end_ms"),
        ]
        for r in rows
        if r.kind.startswith(
            ("input_audio_buffer.speech", "conversation.item.input_audio_transcription.completed")
        )
    ]
    obs["code_blocks"] = list(door.code_blocks)

    # --- bad arguments: the same exception, with the same advice ----------------------------------
    obs["bad_arguments"] = {
        "send_text(5)": _error(lambda: door.send_text(5)),
        "on(5)": _error(lambda: door.on(5, print)),
        "tool_timeout=-1": _error(lambda: _set_tool_timeout(door, -1)),
        "send(unknown type)": _error(lambda: door.send({"type": "response.creat"})),
        "send(bad field)": _error(
            lambda: door.send({"type": "response.create", "response": {"output_modalities": 5}})
        ),
        "send(str)": _error(lambda: door.send("response.create")),
        "wait_for(5)": await _async_error(lambda: door.wait_for(5, timeout=1)),
    }
    obs["tool_timeout"] = door.tool_timeout
    return obs
