"""The voice widget's extras in a real JupyterLab with headless Chromium: code blocks in the
transcript with a Copy button (``chat.code_blocks`` in the kernel) and the browser context report
(``chat.browser``, ``rt_jupyter.check(widget=chat)``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .harness import (
    Lab,
    connect,
    copy_artifact,
    kernel_json,
    notebook,
    open_notebook,
    run_all_cells,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# push-to-talk: the fake microphone's looping question must not start answers of its own
CODE_CELL = """\
from rt_jupyter import VoiceChat
chat = VoiceChat(turn_detection=None, instructions="Answer briefly.")
chat
"""
PROMPT = "please write code to compute 6 times 7"
EXPECTED = "result = 6 * 7\nprint(result)"


def notebook_kernel(lab: Lab, path: str, timeout: float = 60.0) -> str:
    """The id of the kernel of the notebook at ``path`` once it is connected and idle (other
    tests' notebooks may still have kernels)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, sessions = lab.api("api/sessions")
        for session in sessions if isinstance(sessions, list) else ():
            kernel = session.get("kernel") or {}
            if (
                session.get("path") == path
                and kernel.get("execution_state") == "idle"
                and kernel.get("connections", 0) > 0
            ):
                return str(kernel["id"])
        time.sleep(0.2)
    raise TimeoutError(f"no idle kernel for {path} after {timeout} s; log: {lab.log_tail()}")


def test_code_block_copy_and_browser_report(lab: Lab, context: Any) -> None:
    (lab.root / "code.ipynb").write_text(json.dumps(notebook(CODE_CELL)), encoding="utf-8")
    # Playwright denies every permission it is not asked to grant (the fake UI still opens the
    # microphone, but navigator.permissions would then say "denied")
    context.grant_permissions(
        ["clipboard-read", "clipboard-write", "microphone"], origin=lab.url.rstrip("/")
    )
    page = open_notebook(context, lab, "code.ipynb")
    kernel_id = notebook_kernel(lab, "code.ipynb")
    run_all_cells(page)
    connect(page)
    kc = lab.kernel_client(kernel_id)

    # (a) the text box asks for code; the answer's fenced block shows with a Copy button
    page.fill(".rtj-text", PROMPT)
    page.press(".rtj-text", "Enter")
    block = page.locator(".rtj-entry[data-role=assistant]:not(.rtj-pending) .rtj-code").last
    block.wait_for(timeout=20_000)
    assert block.locator("pre code").inner_text() == EXPECTED
    assert block.locator("pre code").get_attribute("class") == "language-python"
    button = block.locator("button.rtj-copy")
    assert button.inner_text() == "Copy"
    page.evaluate("() => navigator.clipboard.writeText('nothing copied yet')")
    button.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.rtj-copy')].some(b => b.textContent === 'Copied')",
        timeout=5_000,
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == EXPECTED
    shot = Path(lab.root) / "voicechat-code.png"
    page.locator(".rtj").screenshot(path=str(shot))
    copy_artifact(shot, "voicechat-code.png")

    # where the Clipboard API is missing (insecure origins), the textarea fallback copies
    page.evaluate(
        """() => {
            window.__clipboard = navigator.clipboard;
            window.__clipboard.writeText('nothing copied yet');
            Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true});
        }"""
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.rtj-copy')].every(b => b.textContent === 'Copy')",
        timeout=5_000,
    )
    button.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.rtj-copy')].some(b => b.textContent === 'Copied')",
        timeout=5_000,
    )
    fallback = page.evaluate(
        """async () => {
            delete navigator.clipboard;
            return await navigator.clipboard.readText();
        }"""
    )
    assert fallback == EXPECTED

    # ... and the kernel has the same block
    blocks = kernel_json(
        kc,
        "import json\n"
        "await chat.wait_for('response.done', since=0, timeout=20, "
        "predicate=lambda e: '6 * 7' in json.dumps(e.data))\n"
        "print(json.dumps(chat.code_blocks))",
        timeout=30,
    )
    assert blocks[-1] == EXPECTED

    # (b) what the browser reported, and what check() makes of it
    browser = kernel_json(kc, "import json; print(json.dumps(chat.browser))")
    assert browser["secure_context"] is True  # loopback http counts as secure
    assert browser["webrtc"] is True and browser["media_devices"] is True
    assert browser["microphones"] >= 1
    assert browser["microphone_permission"] == "granted"
    assert "Chrome" in browser["user_agent"]
    report = kernel_json(
        kc,
        "import json, rt_jupyter\nprint(json.dumps(str(rt_jupyter.check(widget=chat, timeout=1))))",
    )
    lines = report.splitlines()
    assert any(line.startswith("✔ secure origin") for line in lines), report
    assert any(line.startswith("✔ microphone") for line in lines), report
    # the server's mounted service, which answered the call: the engines it loaded
    engines = next(line for line in lines if "server's local engines" in line)
    assert engines.startswith("✔") and "recognition whisper (tiny.en" in engines, report
    # and the kernel's probe of the engines with the server's settings: the question is heard
    settings = next(line for line in lines if "local engine settings" in line)
    assert "the Jupyter server's" in settings, report
    heard = next(line for line in lines if "local speech recognition" in line)
    assert heard.startswith("✔") and "paris" in heard.lower(), report
    page.click(".rtj-hangup")
    page.wait_for_selector(".rtj[data-status=closed]")
