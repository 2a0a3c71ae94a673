"""Events of both dialects: the catalogue, a lenient :class:`Event` value, parse, serialize, build.

Parsing is lenient: unknown event types and unknown fields are kept as they are, never dropped.
Builders return plain ``dict`` payloads in canonical (GA) shape; :mod:`.dialects` renders them in
beta form where needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from . import ids
from .dialects import Dialect, kind
from .errors import ProtocolError
from .schema import describe_type

__all__ = [
    "CLIENT_EVENTS",
    "SERVER_EVENTS",
    "Event",
    "ascii_json",
    "build",
    "error_event",
    "function_call_output_item",
    "function_calls",
    "parse",
    "serialize",
    "server_event",
    "system_text_item",
    "user_audio_item",
    "user_image_item",
    "user_text_item",
]

# --- the catalogue: every event of both dialects with its required fields ------------------------

_CLIENT: Final[dict[str, tuple[str, ...]]] = {
    "session.update": ("session",),
    "transcription_session.update": ("session",),
    "input_audio_buffer.append": ("audio",),
    "input_audio_buffer.commit": (),
    "input_audio_buffer.clear": (),
    "output_audio_buffer.clear": (),
    "conversation.item.create": ("item",),
    "conversation.item.retrieve": ("item_id",),
    "conversation.item.truncate": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.delete": ("item_id",),
    "response.create": (),
    "response.cancel": (),
}
#: Client event types and their required fields (identical in both dialects).
CLIENT_EVENTS: Final[dict[Dialect, dict[str, tuple[str, ...]]]] = {
    Dialect.GA: dict(_CLIENT),
    Dialect.BETA: dict(_CLIENT),
}

_R = ("response_id", "item_id", "output_index", "content_index")
_SHARED_SERVER: Final[dict[str, tuple[str, ...]]] = {
    "error": ("error",),
    "session.created": ("session",),
    "session.updated": ("session",),
    "transcription_session.updated": ("session",),
    "conversation.created": ("conversation",),
    "conversation.item.retrieved": ("item",),
    "conversation.item.truncated": ("item_id", "content_index", "audio_end_ms"),
    "conversation.item.deleted": ("item_id",),
    "conversation.item.input_audio_transcription.delta": ("item_id",),
    "conversation.item.input_audio_transcription.completed": (
        "item_id",
        "content_index",
        "transcript",
    ),
    "conversation.item.input_audio_transcription.failed": ("item_id", "content_index", "error"),
    "input_audio_buffer.committed": ("item_id",),
    "input_audio_buffer.cleared": (),
    "input_audio_buffer.speech_started": ("audio_start_ms", "item_id"),
    "input_audio_buffer.speech_stopped": ("audio_end_ms", "item_id"),
    "output_audio_buffer.started": ("response_id",),
    "output_audio_buffer.stopped": ("response_id",),
    "output_audio_buffer.cleared": ("response_id",),
    "response.created": ("response",),
    "response.done": ("response",),
    "response.output_item.added": ("response_id", "output_index", "item"),
    "response.output_item.done": ("response_id", "output_index", "item"),
    "response.content_part.added": (*_R, "part"),
    "response.content_part.done": (*_R, "part"),
    "response.function_call_arguments.delta": (
        "response_id",
        "item_id",
        "output_index",
        "call_id",
        "delta",
    ),
    "response.function_call_arguments.done": (
        "response_id",
        "item_id",
        "output_index",
        "call_id",
        "arguments",
    ),
    "rate_limits.updated": ("rate_limits",),
}
_GA_SERVER: Final[dict[str, tuple[str, ...]]] = {
    **_SHARED_SERVER,
    "conversation.item.added": ("item",),
    "conversation.item.done": ("item",),
    "conversation.item.created": ("item",),
    "conversation.item.input_audio_transcription.completed": (
        "item_id",
        "content_index",
        "transcript",
        "usage",
    ),
    "conversation.item.input_audio_transcription.segment": (
        "item_id",
        "content_index",
        "text",
        "id",
        "speaker",
        "start",
        "end",
    ),
    "input_audio_buffer.timeout_triggered": ("audio_start_ms", "audio_end_ms", "item_id"),
    "input_audio_buffer.dtmf_event_received": ("event", "received_at"),
    "response.output_text.delta": (*_R, "delta"),
    "response.output_text.done": (*_R, "text"),
    "response.output_audio.delta": (*_R, "delta"),
    "response.output_audio.done": _R,
    "response.output_audio_transcript.delta": (*_R, "delta"),
    "response.output_audio_transcript.done": (*_R, "transcript"),
    "response.function_call_arguments.done": (
        "response_id",
        "item_id",
        "output_index",
        "call_id",
        "name",
        "arguments",
    ),
    "mcp_list_tools.in_progress": ("item_id",),
    "mcp_list_tools.completed": ("item_id",),
    "mcp_list_tools.failed": ("item_id",),
    "response.mcp_call_arguments.delta": ("response_id", "item_id", "output_index", "delta"),
    "response.mcp_call_arguments.done": ("response_id", "item_id", "output_index", "arguments"),
    "response.mcp_call.in_progress": ("output_index", "item_id"),
    "response.mcp_call.completed": ("output_index", "item_id"),
    "response.mcp_call.failed": ("output_index", "item_id"),
}
_BETA_SERVER: Final[dict[str, tuple[str, ...]]] = {
    **_SHARED_SERVER,
    "conversation.item.created": ("previous_item_id", "item"),
    "input_audio_buffer.committed": ("previous_item_id", "item_id"),
    "response.text.delta": (*_R, "delta"),
    "response.text.done": (*_R, "text"),
    "response.audio.delta": (*_R, "delta"),
    "response.audio.done": _R,
    "response.audio_transcript.delta": (*_R, "delta"),
    "response.audio_transcript.done": (*_R, "transcript"),
}
#: Server event types of each dialect and their required fields (besides ``type``/``event_id``).
SERVER_EVENTS: Final[dict[Dialect, dict[str, tuple[str, ...]]]] = {
    Dialect.GA: _GA_SERVER,
    Dialect.BETA: _BETA_SERVER,
}


# --- the event value -----------------------------------------------------------------------------


class Event(Mapping[str, Any]):
    """One protocol event: the decoded JSON object plus its normalized :attr:`kind`.

    Behaves as a read-only mapping over the wire fields (``event["delta"]``, ``event.get(...)``);
    every field received is kept, known or not.
    """

    __slots__ = ("data", "kind")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        t = data.get("type")
        self.kind: str = kind(t) if isinstance(t, str) else ""

    @property
    def type(self) -> str:
        """The event type as it appeared on the wire (dialect-specific)."""
        t = self.data.get("type")
        return t if isinstance(t, str) else ""

    @property
    def event_id(self) -> str | None:
        value = self.data.get("event_id")
        return value if isinstance(value, str) else None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Event):
            return self.data == other.data
        if isinstance(other, Mapping):
            return self.data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_json(self) -> str:
        """The event serialized for the wire."""
        return serialize(self.data)

    def __repr__(self) -> str:
        shown = {
            k: (v if not (isinstance(v, str) and len(v) > 60) else v[:57] + "...")
            for k, v in self.data.items()
        }
        return f"Event({shown!r})"


def parse(text: str | bytes | bytearray, *, strict_type: bool = True) -> Event:
    """Decode one JSON message into an :class:`Event`; unknown types and fields are kept.

    Raises :class:`ProtocolError` (``invalid_json`` / ``invalid_event``) when the message is not
    a JSON object with a string ``type`` (with ``strict_type=False`` a missing type is allowed).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            "We could not parse the JSON body of your request. "
            f"{exc.msg} (line {exc.lineno}, column {exc.colno}).",
            code="invalid_json",
        ) from None
    except UnicodeDecodeError:
        raise ProtocolError(
            "We could not parse the JSON body of your request. It is not valid UTF-8.",
            code="invalid_json",
        ) from None
    except RecursionError:
        raise ProtocolError(
            "We could not parse the JSON body of your request. It is nested too deeply.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError(
            f"Invalid event: expected a JSON object, got {describe_type(data)}.",
            code="invalid_event",
        )
    marker = ("\\ud", "\\uD") if isinstance(text, str) else (b"\\ud", b"\\uD")
    if (marker[0] in text or marker[1] in text) and _has_lone_surrogate(data):  # type: ignore[operator]
        event_id = data.get("event_id")
        raise ProtocolError(
            "We could not parse the JSON body of your request. It contains an unpaired "
            "UTF-16 surrogate escape (not valid Unicode text).",
            code="invalid_json",
            event_id=event_id
            if isinstance(event_id, str) and not _has_lone_surrogate(event_id)
            else None,
        )
    t = data.get("type")
    if t is None and strict_type:
        raise ProtocolError(
            "The 'type' field is missing.",
            code="invalid_event",
            event_id=data.get("event_id") if isinstance(data.get("event_id"), str) else None,
        )
    if t is not None and not isinstance(t, str):
        raise ProtocolError(
            f"Invalid type for 'type': expected a string, but got {describe_type(t)} instead.",
            code="invalid_type",
            param="type",
        )
    return Event(data)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def ascii_json(text: str) -> str:
    """``text`` (JSON) re-encoded with ASCII escapes: the safe form of a message that cannot be
    encoded as UTF-8 (it holds an unpaired surrogate)."""
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=True)


def serialize(event: Mapping[str, Any]) -> str:
    """Encode an event (dict or :class:`Event`) as compact JSON text."""
    data = event.data if isinstance(event, Event) else event
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# --- builders ------------------------------------------------------------------------------------


#: Server events that carry no ``event_id`` on the wire.
NO_EVENT_ID: Final = frozenset({"input_audio_buffer.dtmf_event_received"})


def server_event(event_type: str, **fields: Any) -> dict[str, Any]:
    """A server event with a fresh ``event_id`` (canonical GA names)."""
    if event_type in NO_EVENT_ID:
        return {"type": event_type, **fields}
    return {"type": event_type, "event_id": ids.event_id(), **fields}


def error_event(error: ProtocolError) -> dict[str, Any]:
    """The ``error`` server event for a :class:`ProtocolError`."""
    return server_event("error", error=error.to_dict())


def build(event_type: str, *, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A client event: ``build("response.create", response={...})``.

    ``None`` values are omitted; ``event_id`` is included only when given.
    """
    out: dict[str, Any] = {"type": event_type}
    if event_id is not None:
        out["event_id"] = event_id
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def user_text_item(text: str, *, item_id: str | None = None) -> dict[str, Any]:
    """A user message item with one ``input_text`` part."""
    item: dict[str, Any] = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    if item_id:
        item["id"] = item_id
    return item


def system_text_item(text: str) -> dict[str, Any]:
    """A system message item."""
    return {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}


def user_audio_item(audio_b64: str, transcript: str | None = None) -> dict[str, Any]:
    """A user message with an ``input_audio`` part (base64 audio in the session's input format)."""
    part: dict[str, Any] = {"type": "input_audio", "audio": audio_b64}
    if transcript is not None:
        part["transcript"] = transcript
    return {"type": "message", "role": "user", "content": [part]}


def user_image_item(
    image_url: str, *, detail: str = "auto", text: str | None = None
) -> dict[str, Any]:
    """A user message with an ``input_image`` part (``image_url`` is a data URI), GA only."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "input_text", "text": text})
    content.append({"type": "input_image", "image_url": image_url, "detail": detail})
    return {"type": "message", "role": "user", "content": content}


def function_calls(response: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The function calls a ``response.done``'s ``response`` made, in output order, as
    ``(call_id, name, arguments)`` (the arguments are the JSON text the model wrote)."""
    return [
        (str(o.get("call_id") or ""), str(o.get("name") or ""), str(o.get("arguments") or ""))
        for o in response.get("output") or ()
        if isinstance(o, Mapping) and o.get("type") == "function_call"
    ]


def function_call_output_item(call_id: str, output: str) -> dict[str, Any]:
    """The result of a function call, to send with ``conversation.item.create``."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}
