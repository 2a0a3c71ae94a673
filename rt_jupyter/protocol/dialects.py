"""The two dialects of the Realtime protocol and translation between them.

GA (current OpenAI) is the canonical form inside rt_jupyter: the local service builds GA events and
translates them at the edge, and :func:`kind` maps any event type of either dialect to its GA
name so users see one vocabulary. Beta is the ``OpenAI-Beta: realtime=v1`` shape
(``response.text.delta``, ``conversation.item.created``, flat session fields).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .formats import AUDIO_FORMATS, BETA_NAMES, PCM16

__all__ = [
    "BETA_TO_GA_EVENT",
    "GA_TO_BETA_EVENT",
    "Dialect",
    "audio_format_name",
    "beta_audio_format",
    "ga_audio_format",
    "item_to_beta",
    "item_to_ga",
    "kind",
    "response_params_to_beta",
    "response_params_to_ga",
    "response_to_beta",
    "response_to_ga",
    "session_to_beta",
    "session_to_ga",
    "translate_client_event",
    "translate_server_event",
]


class Dialect(StrEnum):
    """Protocol dialect: ``"ga"`` (default) or ``"beta"`` (``OpenAI-Beta: realtime=v1``)."""

    GA = "ga"
    BETA = "beta"

    @classmethod
    def parse(cls, value: str | Dialect) -> Dialect:
        """Accept ``"ga"``/``"beta"`` in any case; raise ``ValueError`` naming the choices."""
        if isinstance(value, Dialect):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown dialect {value!r}: use 'ga' (current OpenAI) or 'beta' "
                "(providers that still serve OpenAI-Beta: realtime=v1)"
            ) from None


GA_TO_BETA_EVENT: dict[str, str] = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
BETA_TO_GA_EVENT: dict[str, str] = {v: k for k, v in GA_TO_BETA_EVENT.items()}

#: GA server events with no beta counterpart (not sent to beta clients).
GA_ONLY_SERVER_EVENTS = frozenset(
    {
        "conversation.item.done",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)

_KIND = {**BETA_TO_GA_EVENT, "conversation.item.created": "conversation.item.added"}


def kind(event_type: str) -> str:
    """The normalized (GA) name of an event type of either dialect.

    ``response.text.delta`` and ``response.output_text.delta`` are both
    ``response.output_text.delta``; ``conversation.item.created`` (beta, and legacy GA) is
    ``conversation.item.added``. Unknown types are returned unchanged.
    """
    return _KIND.get(event_type, event_type)


# --- audio formats -------------------------------------------------------------------------------

# the table of formats and their two spellings: formats.py


def ga_audio_format(fmt: str | Mapping[str, Any]) -> dict[str, Any]:
    """GA format object (``{"type": "audio/pcm", "rate": 24000}``) from either spelling."""
    if isinstance(fmt, Mapping):
        return dict(fmt)
    known = AUDIO_FORMATS.get(BETA_NAMES.get(fmt, fmt))
    return known.ga() if known is not None else {"type": fmt}


def beta_audio_format(fmt: str | Mapping[str, Any]) -> str:
    """Beta format name (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``) from either spelling."""
    if isinstance(fmt, Mapping):
        return BETA_NAMES.get(str(fmt.get("type")), str(fmt.get("type")))
    return BETA_NAMES.get(fmt, fmt)


def audio_format_name(fmt: str | Mapping[str, Any] | None) -> str:
    """Short name (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``) of a format in any spelling."""
    return PCM16.name if fmt is None else beta_audio_format(fmt)


# --- modalities ----------------------------------------------------------------------------------


def _modalities_to_beta(output_modalities: list[str]) -> list[str]:
    return ["text"] if list(output_modalities) == ["text"] else ["text", "audio"]


def _modalities_to_ga(modalities: list[str]) -> list[str]:
    return ["audio"] if "audio" in modalities else ["text"]


# --- items ---------------------------------------------------------------------------------------

_PART_TO_BETA = {"output_text": "text", "output_audio": "audio"}
_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}


def _map_parts(item: dict[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    content = item.get("content")
    if isinstance(content, list):
        item = dict(item)
        item["content"] = [
            {**p, "type": table[p["type"]]} if isinstance(p, dict) and p.get("type") in table else p
            for p in content
        ]
    return item


def item_to_beta(item: Mapping[str, Any]) -> dict[str, Any]:
    """A GA item in beta shape (``output_text``/``output_audio`` parts → ``text``/``audio``)."""
    out = _map_parts(dict(item), _PART_TO_BETA)
    if out.get("type") in ("message", "function_call", "function_call_output"):
        out.setdefault("object", "realtime.item")
    return out


def item_to_ga(item: Mapping[str, Any]) -> dict[str, Any]:
    """A beta item in GA shape (parts ``text``/``audio`` → ``output_text``/``output_audio``)."""
    return _map_parts(dict(item), _PART_TO_GA)


def _tool_choice_to_beta(value: Any) -> Any:
    """Beta ``tool_choice`` is a string: a forced function becomes its name."""
    if isinstance(value, Mapping) and value.get("type") == "function":
        return value.get("name")
    return value


def _tool_choice_to_ga(value: Any) -> Any:
    """A beta function name in ``tool_choice`` becomes GA's forcing object."""
    if isinstance(value, str) and value not in ("auto", "none", "required"):
        return {"type": "function", "name": value}
    return value


# --- sessions ------------------------------------------------------------------------------------

_GA_ONLY_SESSION_KEYS = (
    "prompt",
    "truncation",
    "parallel_tool_calls",
    "reasoning",
    "type",
    "audio",
)
_BETA_ONLY_SESSION_KEYS = (
    "modalities",
    "voice",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "turn_detection",
    "input_audio_noise_reduction",
    "max_response_output_tokens",
    "speed",
)


#: Settings only the beta dialect has: GA removed ``temperature`` (beta: 0.6–1.2, default 0.8)
#: from sessions and responses, and its schema refuses it, so GA neither sends nor shows it.
BETA_ONLY_SETTINGS: frozenset[str] = frozenset({"temperature"})


def without_beta_only(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of a session (or response) without :data:`BETA_ONLY_SETTINGS`, for GA."""
    return {k: v for k, v in obj.items() if k not in BETA_ONLY_SETTINGS}


def _is_beta_session(session: Mapping[str, Any]) -> bool:
    return any(k in session for k in _BETA_ONLY_SESSION_KEYS) or (
        "type" not in session and "audio" not in session and "output_modalities" not in session
    )


def session_to_beta(session: Mapping[str, Any]) -> dict[str, Any]:
    """A GA session object (full or partial) in beta shape. Beta input is returned unchanged."""
    if _is_beta_session(session):
        return copy.deepcopy(dict(session))
    src = copy.deepcopy(dict(session))
    out: dict[str, Any] = {}
    transcription_only = src.get("type") == "transcription"
    for key, value in src.items():
        if key in _GA_ONLY_SESSION_KEYS or key == "object":
            continue
        if key == "output_modalities":
            out["modalities"] = _modalities_to_beta(value)
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif key == "tool_choice":
            out[key] = _tool_choice_to_beta(value)
        else:
            out[key] = value
    if "object" in src:
        out["object"] = (
            "realtime.transcription_session" if transcription_only else "realtime.session"
        )
    audio = src.get("audio") or {}
    inp = audio.get("input") or {}
    outp = audio.get("output") or {}
    if "format" in inp:
        out["input_audio_format"] = beta_audio_format(inp["format"])
    if "transcription" in inp:
        t = inp["transcription"]
        out["input_audio_transcription"] = (
            None if t is None else {k: t[k] for k in ("model", "language", "prompt") if k in t}
        )
    if "noise_reduction" in inp:
        out["input_audio_noise_reduction"] = inp["noise_reduction"]
    if "turn_detection" in inp:
        td = inp["turn_detection"]
        out["turn_detection"] = (
            None if td is None else {k: v for k, v in td.items() if k != "idle_timeout_ms"}
        )
    if "format" in outp:
        out["output_audio_format"] = beta_audio_format(outp["format"])
    if "voice" in outp:
        voice = outp["voice"]
        out["voice"] = voice.get("id") if isinstance(voice, Mapping) else voice
    if "speed" in outp:
        out["speed"] = outp["speed"]
    return out


def session_to_ga(session: Mapping[str, Any], *, transcription: bool = False) -> dict[str, Any]:
    """A beta session object (full or partial) in GA shape. GA input is returned unchanged.

    ``transcription=True`` marks a beta ``transcription_session.update`` payload.
    """
    if not _is_beta_session(session) and not transcription:
        return copy.deepcopy(dict(session))
    src = copy.deepcopy(dict(session))
    out: dict[str, Any] = {"type": "transcription" if transcription else "realtime"}
    inp: dict[str, Any] = {}
    outp: dict[str, Any] = {}
    for key, value in src.items():
        if key == "modalities":
            if not transcription:
                out["output_modalities"] = _modalities_to_ga(value)
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "input_audio_format":
            inp["format"] = ga_audio_format(value)
        elif key == "output_audio_format":
            outp["format"] = ga_audio_format(value)
        elif key == "input_audio_transcription":
            inp["transcription"] = value
        elif key == "input_audio_noise_reduction":
            inp["noise_reduction"] = value
        elif key == "turn_detection":
            inp["turn_detection"] = value
        elif key == "voice":
            outp["voice"] = value
        elif key == "speed":
            outp["speed"] = value
        elif key == "object":
            out["object"] = (
                "realtime.transcription_session" if transcription else "realtime.session"
            )
        elif key == "client_secret":
            continue
        elif key == "tool_choice":
            out[key] = _tool_choice_to_ga(value)
        else:
            out[key] = value  # model, instructions, tools, temperature, ...
    audio: dict[str, Any] = {}
    if inp:
        audio["input"] = inp
    if outp and not transcription:
        audio["output"] = outp
    if audio:
        out["audio"] = audio
    return out


def _audio_output_to_beta(audio: Mapping[str, Any] | None, out: dict[str, Any]) -> None:
    """GA ``audio.output`` (``voice``, ``format``) → beta ``voice``, ``output_audio_format``."""
    outp = (audio or {}).get("output") or {}
    if "voice" in outp:
        voice = outp["voice"]
        out["voice"] = voice.get("id") if isinstance(voice, Mapping) else voice
    if "format" in outp:
        out["output_audio_format"] = beta_audio_format(outp["format"])


def _audio_output_to_ga(key: str, value: Any, outp: dict[str, Any]) -> None:
    """Beta ``voice`` / ``output_audio_format`` → GA ``audio.output`` fields."""
    if key == "voice":
        outp["voice"] = value
    else:
        outp["format"] = ga_audio_format(value)


# --- responses -----------------------------------------------------------------------------------


def response_params_to_beta(params: Mapping[str, Any]) -> dict[str, Any]:
    """``response.create`` parameters, GA → beta."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "output_modalities":
            out["modalities"] = _modalities_to_beta(value)
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif key == "audio":
            _audio_output_to_beta(value, out)
        elif key == "input":
            out["input"] = [item_to_beta(i) for i in value]
        elif key in ("parallel_tool_calls", "reasoning", "prompt"):
            continue
        elif key == "tool_choice":
            out[key] = _tool_choice_to_beta(value)
        else:
            out[key] = value
    return out


def response_params_to_ga(params: Mapping[str, Any]) -> dict[str, Any]:
    """``response.create`` parameters, beta → GA (``temperature`` is kept for the local service)."""
    out: dict[str, Any] = {}
    outp: dict[str, Any] = {}
    for key, value in params.items():
        if key == "modalities":
            out["output_modalities"] = _modalities_to_ga(value)
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key in ("voice", "output_audio_format"):
            _audio_output_to_ga(key, value, outp)
        elif key == "input":
            out["input"] = [item_to_ga(i) for i in value]
        elif key == "tool_choice":
            out[key] = _tool_choice_to_ga(value)
        else:
            out[key] = value
    if outp:
        out["audio"] = {"output": outp}
    return out


def response_to_beta(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response object (``response.created``/``done``), GA → beta."""
    out: dict[str, Any] = {}
    for key, value in response.items():
        if key == "output_modalities":
            out["modalities"] = _modalities_to_beta(value)
        elif key == "audio":
            _audio_output_to_beta(value, out)
        elif key == "output":
            out["output"] = [item_to_beta(i) for i in value]
        elif key == "usage" and isinstance(value, Mapping):
            usage = copy.deepcopy(dict(value))
            usage.get("input_token_details", {}).pop("image_tokens", None)
            out["usage"] = usage
        else:
            out[key] = value
    return out


def response_to_ga(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response object, beta → GA."""
    out: dict[str, Any] = {}
    outp: dict[str, Any] = {}
    for key, value in response.items():
        if key == "modalities":
            out["output_modalities"] = _modalities_to_ga(value)
        elif key in ("voice", "output_audio_format"):
            _audio_output_to_ga(key, value, outp)
        elif key == "output":
            out["output"] = [item_to_ga(i) for i in value]
        elif key in BETA_ONLY_SETTINGS:
            continue
        else:
            out[key] = value
    if outp:
        out["audio"] = {"output": outp}
    return out


# --- whole events --------------------------------------------------------------------------------


def translate_server_event(event: Mapping[str, Any], to: Dialect | str) -> list[dict[str, Any]]:
    """A server event in the other dialect; an empty list when it has no counterpart there.

    GA → beta renames the events (``response.output_text.delta`` → ``response.text.delta``,
    ``conversation.item.added`` → ``conversation.item.created``), reshapes sessions, responses and
    items, and drops GA-only events (``conversation.item.done``, ``timeout_triggered``, MCP, ...).
    """
    to = Dialect.parse(to)
    etype = str(event.get("type", ""))
    out = dict(event)
    if to is Dialect.BETA:
        if etype in GA_ONLY_SERVER_EVENTS:
            return []
        out["type"] = GA_TO_BETA_EVENT.get(etype, etype)
        if "session" in out and isinstance(out["session"], Mapping):
            out["session"] = session_to_beta(out["session"])
        if "response" in out and isinstance(out["response"], Mapping):
            out["response"] = response_to_beta(out["response"])
        if "item" in out and isinstance(out["item"], Mapping):
            out["item"] = item_to_beta(out["item"])
        if etype in ("conversation.item.added", "input_audio_buffer.committed"):
            out.setdefault("previous_item_id", None)
        elif etype == "conversation.item.input_audio_transcription.completed":
            out.pop("languages", None)
        elif etype == "conversation.item.input_audio_transcription.delta":
            out.pop("obfuscation", None)
        elif etype == "response.function_call_arguments.done":
            out.pop("name", None)
    else:
        out["type"] = BETA_TO_GA_EVENT.get(etype, etype)
        if (
            "session" in out
            and isinstance(out["session"], Mapping)
            and etype != "transcription_session.updated"  # GA keeps the legacy flat shape
        ):
            out["session"] = without_beta_only(session_to_ga(out["session"]))
        if "response" in out and isinstance(out["response"], Mapping):
            out["response"] = response_to_ga(out["response"])
        if "item" in out and isinstance(out["item"], Mapping):
            out["item"] = item_to_ga(out["item"])
    return [out]


def translate_client_event(event: Mapping[str, Any], to: Dialect | str) -> dict[str, Any]:
    """A client event in the other dialect (sessions, response parameters and items reshaped)."""
    to = Dialect.parse(to)
    etype = event.get("type")
    out = dict(event)
    if to is Dialect.BETA:
        if etype == "session.update" and isinstance(out.get("session"), Mapping):
            if out["session"].get("type") == "transcription":
                out["type"] = "transcription_session.update"
            out["session"] = session_to_beta(out["session"])
        elif etype == "transcription_session.update" and isinstance(out.get("session"), Mapping):
            out["session"] = session_to_beta(out["session"])
        elif etype == "response.create" and isinstance(out.get("response"), Mapping):
            out["response"] = response_params_to_beta(out["response"])
        elif etype == "conversation.item.create" and isinstance(out.get("item"), Mapping):
            out["item"] = item_to_beta(out["item"])
    else:
        if etype == "session.update" and isinstance(out.get("session"), Mapping):
            out["session"] = session_to_ga(out["session"])
        elif etype == "transcription_session.update" and isinstance(out.get("session"), Mapping):
            out["type"] = "session.update"
            out["session"] = session_to_ga(out["session"], transcription=True)
        elif etype == "response.create" and isinstance(out.get("response"), Mapping):
            out["response"] = response_params_to_ga(out["response"])
        elif etype == "conversation.item.create" and isinstance(out.get("item"), Mapping):
            out["item"] = item_to_ga(out["item"])
    return out
