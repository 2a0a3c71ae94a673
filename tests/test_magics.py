"""The %rt / %%rt magics in a real IPython shell, against the local service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.speech import QUESTION, speech_clip, word_accuracy, write_wav16


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "rt_jupyter.magics")
    yield shell
    shell.run_line_magic("rt", "close")
    shell.run_line_magic("unload_ext", "rt_jupyter.magics")


def test_help_and_bad_options_give_usage_not_traceback(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ip.run_line_magic("rt", "--help") is None
    assert "chat" in capsys.readouterr().out
    ip.run_line_magic("rt", "connect --colour red")
    out = capsys.readouterr().out
    assert "usage: %rt connect" in out and "unrecognized arguments: --colour red" in out
    ip.run_line_magic("rt", "nonsense")
    assert "invalid choice" in capsys.readouterr().out
    ip.run_line_magic("rt", "turns")
    assert "run %rt connect or %rt chat first" in capsys.readouterr().out


def test_connect_cell_frames_and_code(
    ip: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.run_line_magic("rt", 'connect --text --instructions "Be brief."')
    assert "bound to `session`" in capsys.readouterr().out
    assert ip.user_ns["session"].session.session_config["instructions"] == "Be brief."
    reply = ip.run_cell_magic("rt", "", "hello there\n")
    assert reply.text == "You said: hello there."
    reply = ip.run_cell_magic("rt", "", "please write code to compute 6 times 7\n")
    assert "```python" in reply.text
    turns = ip.run_line_magic("rt", "turns")
    assert isinstance(turns, pd.DataFrame) and len(turns) == 2
    assert len(ip.run_line_magic("rt", "events")) > 10
    assert (ip.run_line_magic("rt", "usage")["total"] > 0).all()
    assert "response.created → first text" in ip.run_line_magic("rt", "latency")["latency"].tolist()
    captured: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: captured.append(text))
    ip.run_line_magic("rt", "code")
    assert captured == ["result = 6 * 7\nprint(result)"]
    ip.run_line_magic("rt", "status")
    assert "SyncRealtimeSession" in capsys.readouterr().out


def test_save_load_doctor_local(
    ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if ip.user_ns.get("session") is None:
        ip.run_line_magic("rt", "connect --text")
    ip.run_cell_magic("rt", "", "one more\n")
    ip.run_line_magic("rt", f"save {tmp_path / 'rec'}")
    assert "saved" in capsys.readouterr().out
    turns = ip.run_line_magic("rt", f"load {tmp_path / 'rec'}")
    assert len(turns) >= 1 and "recording" in ip.user_ns
    report = ip.run_line_magic("rt", "doctor")
    assert report["API key"].status == "info"
    ip.run_line_magic("rt", "local status")
    out = capsys.readouterr().out
    assert "local realtime service: running" in out
    assert "  engines: recognition whisper (tiny.en" in out  # what the service runs


def test_transcribe_cell(ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = speech_clip(
        "what is the weather in paris", 24000, lead_silence_ms=300, tail_silence_ms=800
    )
    wav = write_wav16(tmp_path / "q.wav", clip.samples, 24000)
    frame = ip.run_cell_magic("rt", f"--transcribe {wav}", "weather in european cities\n")
    assert len(frame) == 1 and word_accuracy(QUESTION, frame["text"].iloc[0]) >= 0.3
    assert frame["start_ms"].iloc[0] < frame["end_ms"].iloc[0]
    frame = ip.run_line_magic("rt", f"transcribe {wav}")
    assert word_accuracy(QUESTION, frame["text"].iloc[0]) >= 0.3
    ip.run_line_magic("rt", "transcribe missing.wav")
    assert "no such file" in capsys.readouterr().out
