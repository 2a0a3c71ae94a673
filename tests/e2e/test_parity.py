"""Parity: one scenario (``tests/parity/scenario.py``) through both front doors, in both dialects.

The widget door is a ``VoiceChat`` in a real JupyterLab with headless Chromium (its call made by
the browser over WebRTC to the local service mounted in the server, the spoken turn said by the
fake microphone); the session door is ``rt_jupyter.connect()`` to a local service (the spoken
turn sent with ``send_audio``). Both must observe the same: the events of each turn, the tool
calls and the outputs sent back (a sync, an async, a raising and a slow tool), what callbacks and
waiters get under GA and beta names, usage, transcript, code blocks, the errors bad arguments
raise, and the error a refused key raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import secrets
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rt_jupyter import connect
from rt_jupyter.local.service import LocalRealtimeService
from tests.parity import scenario

from .harness import (
    browser,
    kernel_json,
    notebook,
    open_notebook,
    run_all_cells,
    run_in_kernel,
    start_lab,
)
from .harness import (
    connect as click_connect,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-parity-" + "tests"
T = TypeVar("T")

WIDGET_CELL = f"""\
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.parity import scenario
from rt_jupyter import VoiceChat
chat = VoiceChat(**scenario.settings())
chat
"""


def in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on its own loop in a worker thread (Playwright's sync API holds an event
    loop in this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The spoken turn: silence long enough for the call to open (the fake microphone starts
    when the page opens it, while the key is minted and the call set up: seconds on a busy
    machine), the question, silence."""
    from tests.speech import synthesize_wav

    path = tmp_path_factory.mktemp("parity-audio") / "spoken.wav"
    return synthesize_wav(scenario.SPOKEN, path, 48000, lead_silence_ms=12000, tail_silence_ms=4000)


@pytest.fixture(scope="module")
def said_once(spoken_wav: Path) -> Iterator[Any]:
    """Chromium whose fake microphone says the question once per call (``%noloop``)."""
    with browser(Path(f"{spoken_wav}%noloop")) as instance:
        yield instance


def session_door(dialect: str, wav: Path) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with (
            LocalRealtimeService() as service,
            connect(
                api_key=KEY,
                base_url=service.base_url,
                dialect=dialect,
                quiet=True,
                **scenario.settings(),
            ) as session,
        ):
            return await scenario.run(session, speak=lambda: session.send_audio(str(wav)))

    return in_thread(go)


def widget_door(dialect: str, chromium: Any, base: Path) -> dict[str, Any]:
    lab = start_lab(
        base,
        notebooks={"parity.ipynb": notebook(WIDGET_CELL)},
        extension_config={"dialect": dialect},
    )
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = open_notebook(context, lab, "parity.ipynb")
        kernel_id = lab.wait_for_kernel()
        run_all_cells(page)
        click_connect(page)
        kc = lab.kernel_client(kernel_id)
        run_in_kernel(kc, "obs = await scenario.run(chat)", timeout=600)
        observed: dict[str, Any] = kernel_json(kc, "import json; print(json.dumps(obs))")
        observed["dialect_of_call"] = kernel_json(kc, "print(json.dumps(chat.dialect))")
        return observed
    finally:
        context.close()
        lab.stop()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def check_one_door(obs: dict[str, Any], dialect: str) -> None:
    """What either door must observe, from the scenario's own definitions (not the code under
    test)."""
    assert {"weather", "paris"} <= set(words(obs["heard"])), obs["speech"]
    assert obs["spoken_answer_status"] == "completed"
    calls = obs["tool_calls"]
    # the spoken question calls the weather tool (for Paris), then each typed turn its tool
    assert [c["name"] for c in calls] == ["weather", "weather", "clock", "broken", "stuck"]
    cities = [words(c["arguments"]["city"]) for c in calls]
    assert cities == [["paris"], ["oslo"], ["tokyo"], ["rome"], ["lima"]]
    for call, city in zip(calls[:2], ("paris", "oslo"), strict=True):
        weather = json.loads(call["output"])
        assert weather["sky"] == "clear" and words(weather["city"]) == [city]
        assert weather["on_main_thread"] is False  # a sync tool runs off the event loop's thread
    assert calls[2]["output"] == "It is noon in tokyo."
    assert json.loads(calls[3]["output"]) == {"error": "RuntimeError: no data for rome"}
    assert json.loads(calls[4]["output"]) == {
        "error": f"TimeoutError: stuck did not finish within {scenario.TOOL_TIMEOUT:g} s"
    }
    assert obs["tool_errors"] == ["broken", "stuck"]
    # one response.create per typed turn and one follow-up per tool call (the spoken turn's first
    # response is started by the server's turn detection)
    assert obs["responses_requested"] == len(scenario.TURNS) + len(calls)
    for label, turn in obs["turns"].items():
        assert turn["status"] == "completed", label
    # callbacks under both names saw every delta of the typed turns' responses, once
    typed_texts = "".join(obs["texts"][2:])
    # "*" was handed every event the typed turns received, once each, in the order logged
    assert obs["callbacks"]["any"] == obs["callbacks"]["typed_events"]
    assert all(event_id for event_id, _ in obs["callbacks"]["typed_events"])
    assert obs["callbacks"]["ga"] == obs["callbacks"]["beta"] == typed_texts
    assert "noon in tokyo" in typed_texts and "no data for rome" in typed_texts
    wire = "response.text.delta" if dialect == "beta" else "response.output_text.delta"
    assert obs["first_delta"] == ["response.output_text.delta", wire]
    # usage: the totals equal the sum over the response.done events
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        assert obs["usage"][key] == obs["usage_summed"][key] > 0, key
    assert obs["usage"]["responses"] == len(obs["texts"])
    # transcript: each typed turn, then its answer
    typed = obs["transcript"][2:]
    assert [t[1] for t in typed if t[0] == "user"] == [text for _, text in scenario.TURNS]
    assert typed[-1] == ["assistant", obs["texts"][-1]]
    assert obs["code_blocks"] == ["result = 6 * 7\nprint(result)"]
    assert obs["tool_timeout"] == scenario.TOOL_TIMEOUT


def same(session: dict[str, Any], widget: dict[str, Any]) -> None:
    """What must be identical through the two doors."""
    # "*" saw the same kinds through both doors (the event ids differ: two sessions)
    kinds = {
        door: [k for _, k in obs["callbacks"]["any"]]
        for door, obs in (("s", session), ("w", widget))
    }
    assert kinds["s"] == kinds["w"]
    for key in (
        "spoken_answer_status",
        "first_delta",
        "tool_errors",
        "responses_requested",
        "code_blocks",
        "tool_timeout",
    ):
        assert session[key] == widget[key], key
    for key in ("ga", "beta"):
        assert session["callbacks"][key] == widget["callbacks"][key], key
    # the same error class and advice; the widget names itself ("VoiceChat.tool_timeout") and
    # traitlets hands its validator the number as a float
    for call, (family, message) in session["bad_arguments"].items():
        wfamily, wmessage = widget["bad_arguments"][call]
        assert family == wfamily and family != "no error", call
        assert message == re.sub(r"=(-?\d+)\.0\b", r"=\1", wmessage.replace("VoiceChat.", "")), call
    # the spoken words may be heard differently (PCM over a WebSocket vs Opus over WebRTC);
    # everything after the spoken turn must be the same
    assert session["tool_calls"][1:] == widget["tool_calls"][1:]
    assert session["texts"][2:] == widget["texts"][2:]
    assert session["transcript"][2:] == widget["transcript"][2:]
    assert session["turns"] == widget["turns"]
    assert set(session["usage"]) == set(widget["usage"])


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_both_doors_observe_the_same(
    dialect: str, said_once: Any, spoken_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    session = session_door(dialect, spoken_wav)
    check_one_door(session, dialect)
    widget = widget_door(dialect, said_once, tmp_path_factory.mktemp(f"parity-{dialect}"))
    assert widget["dialect_of_call"] == dialect
    check_one_door(widget, dialect)
    same(session, widget)


REFUSED_CELL = f"""\
import asyncio, json, sys
sys.path.insert(0, {str(REPO)!r})
from tests.parity import scenario
from rt_jupyter import VoiceChat
chat = VoiceChat(**scenario.settings())
# waiting before Connect: the call's failure must end the wait, with the session's exception
waiting = asyncio.ensure_future(chat.wait_for("session.created", timeout=300))
chat
"""

REFUSED_REPORT = """
try:
    await waiting
    print(json.dumps(["no error", ""]))
except Exception as exc:
    print(json.dumps([scenario._family(exc), str(exc)]))
"""


def test_a_refused_key_raises_the_same_error_through_both_doors(
    said_once: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A service that refuses the key: ``connect()`` raises ``AuthenticationError``; the widget,
    whose server extension holds the refused key, shows why and a pending ``wait_for`` raises
    ``AuthenticationError`` too (not a timeout), and neither message holds the key."""
    upstream = LocalRealtimeService(accept_keys=[KEY]).start_in_thread()
    wrong = "sk-proj-" + secrets.token_urlsafe(24)
    try:

        async def refused() -> list[str]:
            try:
                await connect(api_key=wrong, base_url=upstream.base_url, quiet=True)
            except Exception as exc:
                return [scenario._family(exc), str(exc)]
            return ["no error", ""]

        family, message = in_thread(refused)
        assert family == "AuthenticationError", message
        assert wrong not in message and wrong[8:20] not in message

        lab = start_lab(
            tmp_path_factory.mktemp("parity-refused"),
            notebooks={"refused.ipynb": notebook(REFUSED_CELL)},
            extension_config={"api_key": wrong, "base_url": upstream.base_url},
        )
        context = said_once.new_context(viewport={"width": 1100, "height": 900})
        try:
            page = open_notebook(context, lab, "refused.ipynb")
            kernel_id = lab.wait_for_kernel()
            run_all_cells(page)
            page.wait_for_selector(".rtj-connect:not([disabled])", timeout=60_000)
            page.click(".rtj-connect")
            page.wait_for_selector(".rtj[data-status=error]", timeout=60_000)
            shown = page.inner_text(".rtj-error-text")
            kc = lab.kernel_client(kernel_id)
            wfamily, wmessage = kernel_json(kc, REFUSED_REPORT, timeout=120)
        finally:
            context.close()
            lab.stop()
        assert wfamily == family, wmessage
        assert "key" in message.lower() and "key" in wmessage.lower() and "key" in shown.lower()
        assert wrong not in wmessage + shown and wrong[8:20] not in wmessage + shown
    finally:
        upstream.stop_thread()
