"""Session fixtures of the browser tests: one JupyterLab (local service mounted, no key), one
headless Chromium whose fake microphone plays a spoken WAV in a loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import Lab, browser, have_browser, notebook, start_lab

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

SPOKEN = "what is the weather in paris"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs Playwright and /usr/bin/chromium")
    for item in items:
        if "e2e" in item.keywords and not have_browser():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's input: the question, with silence around it (Chromium loops it)."""
    from tests.speech import synthesize_wav

    path = tmp_path_factory.mktemp("audio") / "weather.wav"
    return synthesize_wav(SPOKEN, path, 48000, lead_silence_ms=800, tail_silence_ms=6000)


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
