"""The quickstart notebook itself, as a new user meets it after ``make lab`` with no key: its
first cell shows the widget, its tool cell registers ``get_weather``, Connect, and the fake
microphone says "what is the weather in Paris" once. The spoken question must call the
notebook's tool with the city as said, and the answer must use the tool's result (issue 14)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import (
    browser,
    connect,
    copy_artifact,
    kernel_json,
    lab_command,
    open_notebook,
    run_in_kernel,
    start_lab,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
SAID = "what is the weather in Paris"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.fixture(scope="module")
def said_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose fake microphone says the question once per call (``%noloop``), after
    silence long enough for the call to be set up on a busy machine."""
    from tests.speech import synthesize_wav

    path = tmp_path_factory.mktemp("quickstart-audio") / "question.wav"
    wav = synthesize_wav(SAID, path, 48000, lead_silence_ms=10000, tail_silence_ms=3000)
    with browser(Path(f"{wav}%noloop")) as instance:
        yield instance


def test_the_quickstart_tool_example_works_by_voice(tmp_path: Path, said_once: Any) -> None:
    notebook = json.loads(QUICKSTART.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    tool_cell = next(c for c in code if "def get_weather" in c)
    lab = start_lab(tmp_path, notebooks={"quickstart.ipynb": notebook})
    context = said_once.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = open_notebook(context, lab, "quickstart.ipynb")
        kc = lab.kernel_client(lab.wait_for_kernel())
        lab_command(page, "notebook:run-cell")  # the first cell, as Shift+Enter runs it
        page.wait_for_selector(".rtj-connect", timeout=60_000)
        run_in_kernel(kc, tool_cell)  # the notebook's own tool cell, unchanged
        connect(page)
        run_in_kernel(
            kc,
            "import json\n"
            "answer = await chat.wait_for('response.done', since=0, timeout=120, predicate=lambda"
            " e: 'sunny' in json.dumps(e.data) and 'function_call' not in json.dumps(e.data))",
            timeout=150,
        )
        events = kernel_json(
            kc, "import json; print(json.dumps([[r.direction, r.event] for r in chat.log]))"
        )
        page.wait_for_function(
            "() => document.querySelector('.rtj-transcript').innerText.includes('sunny')",
            timeout=30_000,
        )
        shot = tmp_path / "quickstart.png"
        page.locator(".rtj").screenshot(path=str(shot))
        copy_artifact(shot, "quickstart.png")
    finally:
        context.close()
        lab.stop()

    incoming = [e for d, e in events if d == "in"]
    heard = [e["transcript"] for e in incoming if e["type"].endswith("transcription.completed")]
    assert heard and {"weather", "paris"} <= set(words(heard[0])), heard
    calls = [e for e in incoming if e["type"] == "response.function_call_arguments.done"]
    assert [c["name"] for c in calls] == ["get_weather"], calls
    # the city as said, with the case a model would give it
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    outputs = [
        e["item"]
        for d, e in events
        if d == "out"
        and e["type"] == "conversation.item.create"
        and e["item"]["type"] == "function_call_output"
    ]
    assert [o["call_id"] for o in outputs] == [calls[0]["call_id"]]
    # the notebook's function ran in the kernel: its result went back to the model
    assert json.loads(outputs[0]["output"]) == {
        "city": "Paris",
        "sky": "sunny",
        "temperature_c": 21,
    }
    answers = [e for e in incoming if e["type"] == "response.done"]
    spoken_answer = json.dumps(answers[-1])
    assert "sunny" in spoken_answer and "21" in spoken_answer, spoken_answer
