"""Session fixtures of the browser tests: one JupyterLab (local service mounted, no key), one
headless Chromium whose fake microphone plays a spoken WAV in a loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import (
    Lab,
    browser,
    connect,
    have_browser,
    kernel_json,
    notebook,
    open_notebook,
    run_all_cells,
    run_in_kernel,
    start_lab,
)

WEATHER_CELL = '''\
import json
from rt_jupyter import VoiceChat

weather_calls = []

def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: Name of the city.
    """
    weather_calls.append(city)
    return f"sunny and 21 degrees in {city}"

# the fake microphone repeats the question: no barge-in, so a repetition cannot cut (and
# truncate) the answer to the previous one
chat = VoiceChat(
    tools=[get_weather],
    instructions="You are a helpful weather assistant.",
    turn_detection={"type": "server_vad", "interrupt_response": False},
    camera=True,
)
chat
'''

FOLLOW_UP = "sunny and 21 degrees"

WAIT_FOR_ANSWER = f"""
ev = await chat.wait_for(
    "response.done", since=0, timeout=90,
    predicate=lambda e: {FOLLOW_UP!r} in json.dumps(e.data),
)
"""

REPORT = """
import json
rows = [
    {"i": r.index, "dir": r.direction, "kind": r.kind, "wall": r.wall, "event": r.event}
    for r in chat.log
]
print(json.dumps({
    "rows": rows,
    "status": chat.status,
    "error": chat.error,
    "upstream": chat.upstream,
    "dialect": chat.dialect,
    "transcript": chat.transcript,
    "usage": chat.usage,
    "calls": weather_calls if "weather_calls" in globals() else [],
    "frame_columns": list(chat.log.to_frame().columns),
    "session": chat.session,
}))
"""


def ask_by_voice(
    context: Any, lab: Lab, name: str, frames: Any = None
) -> tuple[Any, Any, dict[str, Any]]:
    """Open notebook ``name`` (a :data:`WEATHER_CELL` widget), run it, connect, wait until the
    fake microphone's question has been answered with the tool's result; returns the page, a
    kernel client and the widget's :data:`REPORT`."""
    page = open_notebook(context, lab, name, frames)
    kernel_id = lab.wait_for_kernel()
    run_all_cells(page)
    connect(page)
    kc = lab.kernel_client(kernel_id)
    run_in_kernel(kc, WAIT_FOR_ANSWER, timeout=120)
    return page, kc, kernel_json(kc, REPORT)


SPOKEN = "what is the weather in paris"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs Playwright and /usr/bin/chromium")
    for item in items:
        if "e2e" in item.keywords and not have_browser():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's input: the question after three seconds of silence, as a person
    would say it once the call is up (Chromium loops it; what is said before the call is up is
    lost, as with any WebRTC call), then silence."""
    from tests.speech import synthesize_wav

    path = tmp_path_factory.mktemp("audio") / "weather.wav"
    return synthesize_wav(SPOKEN, path, 48000, lead_silence_ms=3000, tail_silence_ms=6000)


@pytest.fixture(scope="module")
def chromium(speech_wav: Path) -> Iterator[Any]:
    """Module scope: Playwright's sync API keeps an event loop current in this thread while it
    runs, which would stop the asyncio tests of other modules."""
    with browser(speech_wav) as instance:
        yield instance


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with no key configured: the local service is mounted in the server."""
    server = start_lab(
        tmp_path_factory.mktemp("lab"),
        notebooks={
            "weather.ipynb": notebook(WEATHER_CELL),
            "fallback.ipynb": notebook(
                "from rt_jupyter import VoiceChat\n"
                "chat = VoiceChat(key_source='kernel', instructions='Answer briefly.', "
                "turn_detection=None)\nchat"
            ),
        },
    )
    yield server
    server.stop()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(viewport={"width": 1100, "height": 900})
    yield ctx
    ctx.close()
