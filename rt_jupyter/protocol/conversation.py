"""One conversation reducer for every role.

A :class:`Conversation` holds items in order (``previous_item_id`` semantics, ``"root"``),
responses and their status, content parts built from deltas, function calls and their outputs,
input transcripts, truncation (drops the transcript, cuts the audio), deletion and retrieval.

* A client applies each received server event with :meth:`Conversation.apply`.
* The local service checks a request first (:meth:`check_insert`, :meth:`check_truncate`, ...),
  then sends the resulting server events — and applies them to its own conversation the same way,
  so both sides run the same code and cannot disagree.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

from . import ids
from .dialects import audio_format_name, item_to_ga, kind
from .errors import ProtocolError
from .formats import BYTES_PER_MS, PCM16

__all__ = ["BYTES_PER_MS", "Conversation", "Item", "Response"]

_PART_TYPE = {"text": "output_text", "audio": "output_audio"}


class Item:
    """A conversation item: its wire fields (GA shape) plus decoded audio per content part."""

    __slots__ = ("audio", "audio_bytes", "data", "truncated_ms")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = item_to_ga(copy.deepcopy(dict(data)))
        if self.data.get("type") == "message":
            self.data.setdefault("content", [])
        self.audio: dict[int, bytearray] = {}
        self.audio_bytes: dict[int, int] = {}
        self.truncated_ms: int | None = None

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def role(self) -> str | None:
        role = self.data.get("role")
        return role if isinstance(role, str) else None

    @property
    def status(self) -> str | None:
        status = self.data.get("status")
        return status if isinstance(status, str) else None

    @property
    def content(self) -> list[dict[str, Any]]:
        content = self.data.get("content")
        return content if isinstance(content, list) else []

    @property
    def name(self) -> str | None:
        return self.data.get("name")

    @property
    def call_id(self) -> str | None:
        return self.data.get("call_id")

    @property
    def arguments(self) -> str:
        return str(self.data.get("arguments") or "")

    @property
    def output(self) -> str | None:
        return self.data.get("output")

    @property
    def text(self) -> str:
        """Text of the message: its text parts and audio transcripts, joined."""
        out = []
        for part in self.content:
            value = part.get("text") if "text" in part else part.get("transcript")
            if isinstance(value, str) and value:
                out.append(value)
        return " ".join(out)

    def audio_ms(self, content_index: int = 0, fmt: str = "pcm16") -> float:
        """Duration of the audio of one content part, in milliseconds."""
        return self.audio_bytes.get(content_index, 0) / BYTES_PER_MS.get(fmt, PCM16.bytes_per_ms)

    def to_dict(self, *, with_audio: bool = False) -> dict[str, Any]:
        """The item as a JSON object (audio parts carry base64 audio when ``with_audio``)."""
        out = copy.deepcopy(self.data)
        if with_audio:
            for index, buf in self.audio.items():
                if index < len(out.get("content", [])):
                    out["content"][index]["audio"] = base64.b64encode(bytes(buf)).decode()
        return out

    def __repr__(self) -> str:
        text = self.text or self.arguments or (self.output or "")
        return (
            f"Item(id={self.id!r}, type={self.type!r}, role={self.role!r}, "
            f"status={self.status!r}, text={text[:60]!r})"
        )


class Response:
    """A response: its wire object (without output), status and output items."""

    __slots__ = ("data", "in_conversation", "output")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = {k: v for k, v in data.items() if k != "output"}
        self.output: list[Item] = []
        self.in_conversation: bool = data.get("conversation_id", "conv") is not None

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def status(self) -> str:
        return str(self.data.get("status") or "in_progress")

    @property
    def status_details(self) -> dict[str, Any] | None:
        return self.data.get("status_details")

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.data.get("usage")

    @property
    def active(self) -> bool:
        return self.status == "in_progress"

    @property
    def text(self) -> str:
        """All assistant text (or audio transcript) of the response."""
        return " ".join(i.text for i in self.output if i.type == "message" and i.text)

    def __repr__(self) -> str:
        return f"Response(id={self.id!r}, status={self.status!r}, items={len(self.output)})"


class Conversation:
    """Items in order, responses, and the reducer that keeps them in step with the events."""

    def __init__(self, *, keep_audio: bool = True, conversation_id: str | None = None) -> None:
        self.id = conversation_id or ids.new_id("conv")
        self.keep_audio = keep_audio
        self.items: list[Item] = []
        self._index: dict[str, Item] = {}
        self._pending: dict[str, Item] = {}
        self.responses: dict[str, Response] = {}
        self.session: dict[str, Any] = {}
        self.input_format = "pcm16"
        self.output_format = "pcm16"

    # --- lookup ----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def get(self, item_id: str) -> Item | None:
        """The item with this id in the conversation (or a response output), if any."""
        return self._index.get(item_id) or self._pending.get(item_id)

    def previous_id(self, item_id: str) -> str | None:
        """Id of the item before ``item_id``, or ``None`` for the first one."""
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return self.items[i - 1].id if i else None
        return None

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    @property
    def active_response(self) -> Response | None:
        """The in-progress response that writes to the default conversation, if any."""
        for response in reversed(list(self.responses.values())):
            if response.active and response.in_conversation:
                return response
        return None

    def active_responses(self) -> list[Response]:
        """Every in-progress response (including out-of-band ones)."""
        return [r for r in self.responses.values() if r.active]

    def transcript(self) -> list[tuple[str, str, str]]:
        """``(role, text, item_id)`` for every message with text, in conversation order."""
        return [(i.role or "", i.text, i.id) for i in self.items if i.type == "message" and i.text]

    def bytes_per_ms(self, direction: str = "output") -> int:
        fmt = self.output_format if direction == "output" else self.input_format
        return BYTES_PER_MS.get(fmt, PCM16.bytes_per_ms)

    # --- server-side checks (raise ProtocolError) ------------------------------------------------

    def check_insert(self, item: Mapping[str, Any], previous_item_id: Any = ...) -> str | None:
        """Validate a ``conversation.item.create``; returns the effective ``previous_item_id``.

        Omitted or ``None`` appends; ``"root"`` prepends; an unknown id is an error.
        """
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id in self._index:
            raise ProtocolError(
                f"Error adding item: an item with id '{item_id}' already exists.",
                code="invalid_value",
                param="item.id",
            )
        if item.get("type") == "message":
            _check_roles(item)
        if previous_item_id is ... or previous_item_id is None:
            return self.last_id
        if previous_item_id == "root":
            return None
        if previous_item_id not in self._index:
            raise ProtocolError(
                f"Error adding item: the previous item with id '{previous_item_id}' does not "
                "exist.",
                code="item_create_invalid_previous_item_id",
                param="previous_item_id",
            )
        return str(previous_item_id)

    def require(self, item_id: str, action: str) -> Item:
        """The item, or the API's ``item_<action>_invalid_item_id`` error."""
        item = self._index.get(item_id)
        if item is None:
            verb = {"truncate": "truncating", "delete": "deleting", "retrieve": "retrieving"}
            raise ProtocolError(
                f"Error {verb.get(action, action)} item: the item with id '{item_id}' does not "
                "exist.",
                code=f"item_{action}_invalid_item_id",
                param="item_id",
            )
        return item

    def check_truncate(
        self, item_id: str, content_index: int, audio_end_ms: int, *, audio_known: bool = True
    ) -> Item:
        """Validate a ``conversation.item.truncate`` against the audio actually produced.

        ``audio_known=False`` (a client that may not receive the audio as events, e.g. over
        WebRTC) checks the length only of parts whose audio this conversation received.
        """
        item = self.require(item_id, "truncate")
        if item.type != "message" or item.role != "assistant":
            raise ProtocolError(
                "Only assistant message items can be truncated.",
                code="invalid_value",
                param="item_id",
            )
        content = item.content
        if content_index >= len(content) or content[content_index].get("type") != "output_audio":
            raise ProtocolError(
                f"Invalid 'content_index': content part {content_index} of item '{item_id}' "
                "has no audio.",
                code="invalid_value",
                param="content_index",
            )
        if not audio_known and content_index not in item.audio_bytes:
            return item
        duration = item.audio_ms(content_index, self.output_format)
        if audio_end_ms > duration + 0.5:
            raise ProtocolError(
                f"Audio content of {duration:.0f}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        return item

    # --- the reducer -----------------------------------------------------------------------------

    def apply(self, event: Mapping[str, Any]) -> None:
        """Update the state with one server event of either dialect (unknown events are ignored)."""
        event_kind = getattr(event, "kind", None) or kind(str(event.get("type", "")))
        name = _HANDLERS.get(event_kind)
        if name is not None:
            getattr(self, name)(event)

    def _on_session(self, ev: Mapping[str, Any]) -> None:
        session = ev.get("session")
        if not isinstance(session, Mapping):
            return
        self.session = dict(session)
        audio = session.get("audio")
        if isinstance(audio, Mapping):  # GA
            inp = audio.get("input") or {}
            out = audio.get("output") or {}
            if inp.get("format"):
                self.input_format = audio_format_name(inp["format"])
            if out.get("format"):
                self.output_format = audio_format_name(out["format"])
        else:  # beta
            if session.get("input_audio_format"):
                self.input_format = audio_format_name(session["input_audio_format"])
            if session.get("output_audio_format"):
                self.output_format = audio_format_name(session["output_audio_format"])

    def _insert(self, item: Item, ev: Mapping[str, Any]) -> None:
        if item.id in self._index:
            return
        if "previous_item_id" not in ev:
            position = len(self.items)
        else:
            prev = ev.get("previous_item_id")
            position = 0
            if prev is not None:
                for i, existing in enumerate(self.items):
                    if existing.id == prev:
                        position = i + 1
                        break
                else:
                    position = len(self.items)
        self.items.insert(position, item)
        self._index[item.id] = item

    def _item_from_event(self, ev: Mapping[str, Any]) -> Item | None:
        data = ev.get("item")
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            return None
        known = self._pending.get(data["id"]) or self._index.get(data["id"])
        if known is not None:
            return known
        item = Item(data)
        self._strip_audio(item)
        return item

    def _strip_audio(self, item: Item) -> None:
        """Move base64 audio of parts into ``item.audio`` (decoded)."""
        for index, part in enumerate(item.content):
            audio = part.get("audio")
            if isinstance(audio, str) and audio:
                raw = _b64decode(audio)
                if raw is not None:
                    self._add_audio(item, index, raw)
                del part["audio"]

    def _add_audio(self, item: Item, index: int, raw: bytes) -> None:
        item.audio_bytes[index] = item.audio_bytes.get(index, 0) + len(raw)
        if self.keep_audio:
            item.audio.setdefault(index, bytearray()).extend(raw)

    def _on_item_added(self, ev: Mapping[str, Any]) -> None:
        item = self._item_from_event(ev)
        if item is None:
            return
        self._insert(item, ev)
        for response in self.responses.values():
            if any(o is item for o in response.output):
                response.in_conversation = True

    def _on_item_done(self, ev: Mapping[str, Any]) -> None:
        data = ev.get("item")
        if not isinstance(data, Mapping):
            return
        item = self.get(str(data.get("id")))
        if item is None:
            self._on_item_added(ev)
            return
        _merge_final(item, data)

    def _on_item_retrieved(self, ev: Mapping[str, Any]) -> None:
        data = ev.get("item")
        if not isinstance(data, Mapping):
            return
        item = self.get(str(data.get("id")))
        if item is None:
            return
        fresh = Item(data)
        item.data = fresh.data
        item.audio.clear()
        item.audio_bytes.clear()
        self._strip_audio(item)

    def _on_item_deleted(self, ev: Mapping[str, Any]) -> None:
        item = self._index.pop(str(ev.get("item_id")), None)
        if item is not None:
            self.items.remove(item)

    def _on_item_truncated(self, ev: Mapping[str, Any]) -> None:
        item = self.get(str(ev.get("item_id")))
        if item is None:
            return
        index = int(ev.get("content_index") or 0)
        end_ms = int(ev.get("audio_end_ms") or 0)
        keep = end_ms * self.bytes_per_ms("output")
        if index in item.audio:
            del item.audio[index][keep:]
        if index in item.audio_bytes:
            item.audio_bytes[index] = min(item.audio_bytes[index], keep)
        if index < len(item.content):
            item.content[index]["transcript"] = ""
        item.truncated_ms = end_ms

    def _input_part(self, ev: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self.get(str(ev.get("item_id")))
        if item is None:
            return None
        index = int(ev.get("content_index") or 0)
        while len(item.content) <= index:
            item.content.append({"type": "input_audio", "transcript": None})
        return item.content[index]

    def _on_input_transcript_delta(self, ev: Mapping[str, Any]) -> None:
        part = self._input_part(ev)
        if part is not None:
            _append(part, "transcript", ev.get("delta"))

    def _on_input_transcript(self, ev: Mapping[str, Any]) -> None:
        part = self._input_part(ev)
        if part is not None:
            part["transcript"] = str(ev.get("transcript") or "")

    def _on_input_transcript_failed(self, ev: Mapping[str, Any]) -> None:
        part = self._input_part(ev)
        if part is not None:
            part["transcript"] = None

    def _on_response_created(self, ev: Mapping[str, Any]) -> None:
        data = ev.get("response")
        if isinstance(data, Mapping) and isinstance(data.get("id"), str):
            self.responses.setdefault(data["id"], Response(data))

    def _on_response_done(self, ev: Mapping[str, Any]) -> None:
        data = ev.get("response")
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            return
        response = self.responses.get(data["id"])
        if response is None:
            response = self.responses[data["id"]] = Response(data)
        response.data.update({k: v for k, v in data.items() if k != "output"})
        for out in data.get("output") or []:
            if not isinstance(out, Mapping):
                continue
            item = self.get(str(out.get("id")))
            if item is None:
                item = Item(out)
                response.output.append(item)
            else:
                _merge_final(item, out)
            self._pending.pop(item.id, None)

    def _response(self, ev: Mapping[str, Any]) -> Response | None:
        return self.responses.get(str(ev.get("response_id")))

    def _on_output_item_added(self, ev: Mapping[str, Any]) -> None:
        item = self._item_from_event(ev)
        if item is None:
            return
        self._pending.setdefault(item.id, item)
        response = self._response(ev)
        if response is not None and not any(o is item for o in response.output):
            response.output.append(item)

    def _on_output_item_done(self, ev: Mapping[str, Any]) -> None:
        data = ev.get("item")
        if not isinstance(data, Mapping):
            return
        item = self.get(str(data.get("id")))
        if item is None:
            self._on_output_item_added(ev)
            item = self.get(str(data.get("id")))
        if item is not None:
            _merge_final(item, data)

    def _part(self, ev: Mapping[str, Any]) -> tuple[Item, dict[str, Any]] | None:
        item = self.get(str(ev.get("item_id")))
        if item is None:
            return None
        index = ev.get("content_index")
        index = index if isinstance(index, int) and 0 <= index < 1024 else 0
        content = item.data.setdefault("content", [])
        while len(content) <= index:
            content.append({"type": "output_text", "text": ""})
        return item, content[index]

    def _on_part_added(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        part = ev.get("part")
        if found is None or not isinstance(part, Mapping):
            return
        _, slot = found
        slot.clear()
        slot.update({k: v for k, v in part.items() if k != "audio"})
        slot["type"] = _PART_TYPE.get(str(part.get("type")), str(part.get("type")))
        if slot["type"] == "output_text":
            slot.setdefault("text", "")
        elif slot["type"] == "output_audio":
            slot.setdefault("transcript", "")

    def _on_part_done(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        part = ev.get("part")
        if found is None or not isinstance(part, Mapping):
            return
        _, slot = found
        for key in ("text", "transcript"):
            if isinstance(part.get(key), str):
                slot[key] = part[key]

    def _on_text_delta(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        if found is not None:
            _append(found[1], "text", ev.get("delta"))

    def _on_text_done(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        if found is not None and isinstance(ev.get("text"), str):
            found[1]["text"] = ev["text"]

    def _on_transcript_delta(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        if found is not None:
            _append(found[1], "transcript", ev.get("delta"))

    def _on_transcript_done(self, ev: Mapping[str, Any]) -> None:
        found = self._part(ev)
        if found is not None and isinstance(ev.get("transcript"), str):
            found[1]["transcript"] = ev["transcript"]

    def _on_audio_delta(self, ev: Mapping[str, Any]) -> None:
        item = self.get(str(ev.get("item_id")))
        delta = ev.get("delta")
        if item is None or not isinstance(delta, str):
            return
        raw = _b64decode(delta)
        if raw is not None:
            index = ev.get("content_index")
            self._add_audio(item, index if isinstance(index, int) else 0, raw)

    def _on_args_delta(self, ev: Mapping[str, Any]) -> None:
        item = self.get(str(ev.get("item_id")))
        if item is not None:
            item.data["arguments"] = item.arguments + str(ev.get("delta") or "")

    def _on_args_done(self, ev: Mapping[str, Any]) -> None:
        item = self.get(str(ev.get("item_id")))
        if item is not None and isinstance(ev.get("arguments"), str):
            item.data["arguments"] = ev["arguments"]


#: The reducer's method for each event kind, by name: bound methods kept on the instance would
#: make every conversation a reference cycle, freed (with its audio) only by the cyclic GC.
_HANDLERS: dict[str, str] = {
    "session.created": "_on_session",
    "session.updated": "_on_session",
    "conversation.item.added": "_on_item_added",
    "conversation.item.done": "_on_item_done",
    "conversation.item.retrieved": "_on_item_retrieved",
    "conversation.item.deleted": "_on_item_deleted",
    "conversation.item.truncated": "_on_item_truncated",
    "conversation.item.input_audio_transcription.delta": "_on_input_transcript_delta",
    "conversation.item.input_audio_transcription.completed": "_on_input_transcript",
    "conversation.item.input_audio_transcription.failed": "_on_input_transcript_failed",
    "response.created": "_on_response_created",
    "response.done": "_on_response_done",
    "response.output_item.added": "_on_output_item_added",
    "response.output_item.done": "_on_output_item_done",
    "response.content_part.added": "_on_part_added",
    "response.content_part.done": "_on_part_done",
    "response.output_text.delta": "_on_text_delta",
    "response.output_text.done": "_on_text_done",
    "response.output_audio_transcript.delta": "_on_transcript_delta",
    "response.output_audio_transcript.done": "_on_transcript_done",
    "response.output_audio.delta": "_on_audio_delta",
    "response.function_call_arguments.delta": "_on_args_delta",
    "response.function_call_arguments.done": "_on_args_done",
}


def _append(part: dict[str, Any], key: str, delta: Any) -> None:
    """``part[key] += delta`` in linear time over a response: the dict lets go of the text
    first, so CPython extends the string in place instead of copying it for every delta (a
    long answer streams thousands of deltas). The key keeps its place in the part."""
    text = part.get(key) or ""
    part[key] = ""
    text += str(delta or "")
    part[key] = text


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _merge_final(item: Item, data: Mapping[str, Any]) -> None:
    """Merge a final item snapshot (``*.done``) into ``item``, keeping accumulated audio."""
    final = item_to_ga(dict(data))
    for key, value in final.items():
        if key == "content" and isinstance(value, list):
            content = item.data.setdefault("content", [])
            for index, part in enumerate(value):
                if not isinstance(part, Mapping):
                    continue
                if index < len(content):
                    content[index].update({k: v for k, v in part.items() if k != "audio"})
                else:
                    content.append({k: v for k, v in part.items() if k != "audio"})
        else:
            item.data[key] = copy.deepcopy(value)


_ROLE_PARTS: Final[dict[str, frozenset[str]]] = {
    "user": frozenset({"input_text", "input_audio", "input_image", "item_reference"}),
    "system": frozenset({"input_text"}),
    "assistant": frozenset({"output_text", "output_audio", "text", "audio"}),
}


def _check_roles(item: Mapping[str, Any]) -> None:
    role = str(item.get("role"))
    allowed = _ROLE_PARTS.get(role)
    if allowed is None:
        return
    for index, part in enumerate(item.get("content") or []):
        part_type = part.get("type") if isinstance(part, Mapping) else None
        if part_type not in allowed:
            raise ProtocolError(
                f"Invalid value: '{part_type}'. A {role} message supports content types: "
                + ", ".join(f"'{t}'" for t in sorted(allowed))
                + ".",
                code="invalid_value",
                param=f"item.content[{index}].type",
            )
