"""Server side: the event sequences of one response, in the documented order.

A :class:`ResponseBuilder` returns lists of canonical (GA) server events; the server connection
translates them to the session's dialect and applies them to its own conversation. Orders follow
``realtime-protocol.md`` §7: ``response.created`` → ``output_item.added`` →
``conversation.item.added`` → ``content_part.added`` → deltas → ``*.done`` →
``content_part.done`` → ``output_item.done`` → ``conversation.item.done`` → ``response.done``.
A cancel emits the pending ``*.done`` events with ``status: "incomplete"`` and ends with
``response.done`` ``cancelled``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from . import ids
from .conversation import Conversation
from .events import server_event
from .formats import BETA_NAMES, BYTES_PER_MS, PCM16

__all__ = ["ResponseBuilder", "estimate_usage", "rate_limits_updated"]

Events = list[dict[str, Any]]


def estimate_usage(
    *,
    input_text_chars: int = 0,
    input_audio_ms: float = 0.0,
    output_text_chars: int = 0,
    output_audio_ms: float = 0.0,
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """A ``usage`` object from sizes: ~4 characters per text token, 10 audio tokens per second
    of input audio and 20 per second of output audio (documented estimates of the local service)."""
    in_text = (input_text_chars + 3) // 4
    in_audio = int(input_audio_ms / 100)
    out_text = (output_text_chars + 3) // 4
    out_audio = int(output_audio_ms / 50)
    cached = min(cached_tokens, in_text + in_audio)
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


def rate_limits_updated(
    requests_remaining: int = 9_999, tokens_remaining: int = 4_999_000
) -> dict[str, Any]:
    """The ``rate_limits.updated`` event sent after each response."""
    return server_event(
        "rate_limits.updated",
        rate_limits=[
            {
                "name": "requests",
                "limit": 10_000,
                "remaining": requests_remaining,
                "reset_seconds": 0.006,
            },
            {
                "name": "tokens",
                "limit": 5_000_000,
                "remaining": tokens_remaining,
                "reset_seconds": 0.012,
            },
        ],
    )


class ResponseBuilder:
    """Builds the events of one response (messages and function calls) and tracks what is open.

    ``config`` holds the resolved response settings in GA shape: ``output_modalities``,
    ``audio.output`` (``format``, ``voice``), ``max_output_tokens``, ``metadata``; ``conversation``
    is ``"auto"`` (writes to the default conversation) or ``"none"`` (out-of-band).
    """

    def __init__(
        self,
        conversation: Conversation,
        config: Mapping[str, Any],
        *,
        response_id: str | None = None,
        in_conversation: bool = True,
    ) -> None:
        self.conversation = conversation
        self.id = response_id or ids.response_id()
        self.in_conversation = in_conversation
        self.config = dict(config)
        self.output_format = self._format_name()
        self.output_index = -1
        self.item: dict[str, Any] | None = None
        self.part_kind: str | None = None  # "text" | "audio" | "function_call"
        self.text = ""
        self.audio_bytes = 0
        self.arguments = ""
        self.items: list[dict[str, Any]] = []
        self.total_text_chars = 0
        self.total_audio_ms = 0.0
        self.finished = False
        self._last_item_id: Any = ...  # id of the item our next item goes after (... = unknown)
        self._previous: dict[str, str | None] = {}

    def _format_name(self) -> str:
        fmt = ((self.config.get("audio") or {}).get("output") or {}).get("format") or {}
        return BETA_NAMES.get(str(fmt.get("type")), PCM16.name)

    @property
    def audio(self) -> bool:
        """Whether this response speaks (``output_modalities`` includes audio)."""
        return "audio" in (self.config.get("output_modalities") or ["audio"])

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation.id if self.in_conversation else None,
            "output_modalities": list(self.config.get("output_modalities") or ["audio"]),
            "max_output_tokens": self.config.get("max_output_tokens", "inf"),
            "audio": {
                "output": {
                    "format": ((self.config.get("audio") or {}).get("output") or {}).get(
                        "format", PCM16.ga()
                    ),
                    "voice": ((self.config.get("audio") or {}).get("output") or {}).get(
                        "voice", "alloy"
                    ),
                }
            },
            "usage": None,
            "metadata": self.config.get("metadata"),
        }
        out.update(extra)
        return out

    def created(self) -> Events:
        """``response.created``."""
        return [server_event("response.created", response=self._response("in_progress"))]

    def _add_item(self, item: dict[str, Any]) -> Events:
        self.output_index += 1
        self.item = item
        events: Events = [
            server_event(
                "response.output_item.added",
                response_id=self.id,
                output_index=self.output_index,
                item=dict(item),
            )
        ]
        if self.in_conversation:
            previous = (
                self.conversation.last_id if self._last_item_id is ... else self._last_item_id
            )
            self._previous[item["id"]] = previous
            self._last_item_id = item["id"]
            events.append(
                server_event("conversation.item.added", previous_item_id=previous, item=dict(item))
            )
        return events

    def begin_message(self) -> Events:
        """Start an assistant message with one text or audio part (per ``output_modalities``)."""
        item = {
            "id": ids.item_id(),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        events = self._add_item(item)
        self.part_kind = "audio" if self.audio else "text"
        self.text = ""
        self.audio_bytes = 0
        part = {"type": "audio", "transcript": ""} if self.audio else {"type": "text", "text": ""}
        events.append(
            server_event(
                "response.content_part.added",
                response_id=self.id,
                item_id=item["id"],
                output_index=self.output_index,
                content_index=0,
                part=part,
            )
        )
        return events

    def _ref(self) -> dict[str, Any]:
        assert self.item is not None, "no open item"
        return {
            "response_id": self.id,
            "item_id": self.item["id"],
            "output_index": self.output_index,
            "content_index": 0,
        }

    def text_delta(self, delta: str) -> Events:
        """Assistant text (a text part) or transcript (an audio part)."""
        if not delta:
            return []
        self.text += delta
        self.total_text_chars += len(delta)
        name = (
            "response.output_audio_transcript.delta"
            if self.part_kind == "audio"
            else "response.output_text.delta"
        )
        return [server_event(name, **self._ref(), delta=delta)]

    def audio_delta(self, audio: bytes) -> Events:
        """Audio bytes already in the output format."""
        if not audio:
            return []
        self.audio_bytes += len(audio)
        self.total_audio_ms += len(audio) / BYTES_PER_MS[self.output_format]
        return [
            server_event(
                "response.output_audio.delta",
                **self._ref(),
                delta=base64.b64encode(audio).decode("ascii"),
            )
        ]

    def _close_item(self, status: str) -> Events:
        assert self.item is not None
        item = self.item
        events: Events = []
        if self.part_kind in ("text", "audio"):
            ref = self._ref()
            if self.part_kind == "audio":
                events.append(server_event("response.output_audio.done", **ref))
                events.append(
                    server_event(
                        "response.output_audio_transcript.done", **ref, transcript=self.text
                    )
                )
                part: dict[str, Any] = {"type": "audio", "transcript": self.text}
                final_part: dict[str, Any] = {"type": "output_audio", "transcript": self.text}
            else:
                events.append(server_event("response.output_text.done", **ref, text=self.text))
                part = {"type": "text", "text": self.text}
                final_part = {"type": "output_text", "text": self.text}
            events.append(server_event("response.content_part.done", **ref, part=part))
            item = {**item, "status": status, "content": [final_part]}
        else:  # function call
            events.append(
                server_event(
                    "response.function_call_arguments.done",
                    response_id=self.id,
                    item_id=item["id"],
                    output_index=self.output_index,
                    call_id=item["call_id"],
                    name=item["name"],
                    arguments=self.arguments,
                )
            )
            item = {**item, "status": status, "arguments": self.arguments}
        events.append(
            server_event(
                "response.output_item.done",
                response_id=self.id,
                output_index=self.output_index,
                item=dict(item),
            )
        )
        if self.in_conversation:
            events.append(
                server_event(
                    "conversation.item.done",
                    previous_item_id=self._previous.get(item["id"]),
                    item=dict(item),
                )
            )
        self.items.append(item)
        self.item = None
        self.part_kind = None
        return events

    def end_message(self) -> Events:
        """Close the open message (``*.done`` events, item completed)."""
        return self._close_item("completed")

    def begin_function_call(self, name: str, call_id: str | None = None) -> Events:
        """Start a function call item."""
        item = {
            "id": ids.item_id(),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id or ids.call_id(),
            "arguments": "",
        }
        events = self._add_item(item)
        self.part_kind = "function_call"
        self.arguments = ""
        return events

    def arguments_delta(self, delta: str) -> Events:
        """A chunk of the JSON arguments of the open function call."""
        assert self.item is not None
        self.arguments += delta
        self.total_text_chars += len(delta)
        return [
            server_event(
                "response.function_call_arguments.delta",
                response_id=self.id,
                item_id=self.item["id"],
                output_index=self.output_index,
                call_id=self.item["call_id"],
                delta=delta,
            )
        ]

    def end_function_call(self) -> Events:
        """Close the open function call."""
        return self._close_item("completed")

    def function_call(self, name: str, arguments: Mapping[str, Any], chunk: int = 16) -> Events:
        """A whole function call with its arguments streamed in ``chunk``-character deltas."""
        events = self.begin_function_call(name)
        text = json.dumps(dict(arguments))
        for i in range(0, len(text), chunk):
            events += self.arguments_delta(text[i : i + chunk])
        return events + self.end_function_call()

    def done(
        self,
        status: str = "completed",
        *,
        reason: str | None = None,
        usage: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> Events:
        """Close anything open and emit ``response.done`` with the final status.

        ``status`` is ``completed``, ``cancelled`` (``reason``: ``turn_detected`` or
        ``client_cancelled``), ``incomplete`` (``reason``: ``max_output_tokens``...) or ``failed``.
        """
        if self.finished:
            return []
        events: Events = []
        if self.item is not None:
            events += self._close_item("completed" if status == "completed" else "incomplete")
        details: dict[str, Any] | None = None
        if status != "completed":
            details = {"type": status, "reason": reason}
            if error is not None:
                details["error"] = dict(error)
        self.finished = True
        response = self._response(
            status,
            status_details=details,
            output=[dict(i) for i in self.items],
            usage=dict(usage)
            if usage is not None
            else estimate_usage(
                output_text_chars=self.total_text_chars, output_audio_ms=self.total_audio_ms
            ),
        )
        events.append(server_event("response.done", response=response))
        return events

    def cancel(self, reason: str = "client_cancelled") -> Events:
        """Cancel: pending ``*.done`` events (items ``incomplete``), then ``response.done``."""
        return self.done("cancelled", reason=reason)
