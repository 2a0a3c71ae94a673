"""A sans-I/O Realtime connection for either role.

Whole JSON messages go in through :meth:`RealtimeConnection.receive`, which returns the events for
the application; events go out through :meth:`RealtimeConnection.send`; the text to put on the wire
comes from :meth:`RealtimeConnection.data_to_send`. The I/O adapters (websockets, tornado, the
WebRTC data channel, the widget relay) only pump strings::

    for event in conn.receive(message):
        handle(event)
    for text in conn.data_to_send():
        await socket.send(text)

Client role: outgoing events are translated to the dialect and validated
(:class:`LocalProtocolError`); received server events are parsed leniently and applied to
:attr:`conversation`.

Server role: received client events are validated against the dialect's schemas and the session
state. A bad event queues a protocol ``error`` event (with the client's ``event_id``) and the
session goes on. Requests that need no engine are answered here (``session.updated``,
``input_audio_buffer.cleared``, ``conversation.item.added``/``done``, ``deleted``, ``retrieved``,
``truncated``); the application gets every valid event in canonical (GA) shape. Outgoing server
events are given in GA shape, applied to the server's own :attr:`conversation` and rendered in the
session's dialect.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from . import ids
from .conversation import Conversation, Item
from .dialects import (
    Dialect,
    kind,
    session_to_ga,
    translate_client_event,
    translate_server_event,
    without_beta_only,
)
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import NO_EVENT_ID, Event, error_event, parse, serialize, server_event
from .formats import AUDIO_FORMATS, PCM16, AudioFormat
from .schema import validate
from .schemas import CLIENT_EVENT_SCHEMAS
from .session import SessionConfig

__all__ = [
    "MAX_APPEND_BYTES",
    "MAX_INPUT_BUFFER_BYTES",
    "InputAudioBuffer",
    "RealtimeConnection",
    "Role",
    "check_client_event",
]

#: Largest ``input_audio_buffer.append`` event the API accepts.
MAX_APPEND_BYTES: Final = 15 * 1024 * 1024
#: Most uncommitted audio the server's input buffer holds (about 11 minutes of 24 kHz pcm16);
#: an append beyond it is refused with an ``error`` and the session goes on.
MAX_INPUT_BUFFER_BYTES: Final = 32 * 1024 * 1024
#: Least audio ``input_audio_buffer.commit`` accepts.
MIN_COMMIT_MS: Final = 100


class Role(StrEnum):
    """Which end of the connection this is."""

    CLIENT = "client"
    SERVER = "server"


class InputAudioBuffer:
    """The server's input audio buffer, with session-relative timing in milliseconds."""

    def __init__(self, fmt: str = "pcm16") -> None:
        self.format = fmt
        self.data = bytearray()
        self.start_byte = 0  # session byte offset of data[0]
        self.total_bytes = 0  # every byte appended this session
        self._read = 0  # session byte offset read by the application (VAD)
        self._carry = b""  # half a sample

    @property
    def _info(self) -> AudioFormat:
        return AUDIO_FORMATS.get(self.format, PCM16)

    @property
    def bytes_per_ms(self) -> int:
        return self._info.bytes_per_ms

    @property
    def ms(self) -> float:
        """Duration of the uncommitted audio."""
        return len(self.data) / self.bytes_per_ms

    @property
    def total_ms(self) -> float:
        """Audio written this session (the clock of ``audio_start_ms``/``audio_end_ms``)."""
        return self.total_bytes / self.bytes_per_ms

    def append(self, raw: bytes) -> None:
        """Add audio; a sample split across appends waits for its remaining bytes."""
        if self._carry:
            raw = self._carry + raw
            self._carry = b""
        partial = len(raw) % self._info.bytes_per_sample
        if partial:
            raw, self._carry = raw[:-partial], raw[-partial:]
        self.data += raw
        self.total_bytes += len(raw)

    def unread(self) -> bytes:
        """Audio appended since the last call (for the VAD), even if already committed."""
        start = max(self._read, self.start_byte)
        self._read = self.total_bytes
        return bytes(self.data[start - self.start_byte :])

    def _offset(self, ms: float) -> int:
        bpm = self.bytes_per_ms
        sample = self._info.bytes_per_sample
        pos = int(ms * bpm) // sample * sample
        return min(max(pos - self.start_byte, 0), len(self.data))

    def take(self, start_ms: float | None = None, end_ms: float | None = None) -> bytes:
        """Remove and return the audio from ``start_ms`` to ``end_ms`` (session time); audio
        before ``end_ms`` is dropped. Defaults: the whole buffer."""
        end = len(self.data) if end_ms is None else self._offset(end_ms)
        start = 0 if start_ms is None else min(self._offset(start_ms), end)
        out = bytes(self.data[start:end])
        del self.data[:end]
        self.start_byte += end
        return out

    def discard_before(self, ms: float) -> None:
        """Forget audio older than ``ms`` (session time): bounds memory during long silences."""
        cut = self._offset(ms)
        if cut:
            del self.data[:cut]
            self.start_byte += cut

    def clear(self) -> None:
        self.start_byte += len(self.data)
        self.data.clear()
        self._carry = b""


def check_client_event(
    event: Mapping[str, Any], conversation: Conversation, *, audio_known: bool = True
) -> None:
    """Raise the :class:`ProtocolError` the server answers a valid client ``event`` with, given
    the conversation's state, or return: retrieving, deleting or truncating an unknown item,
    truncating past the audio produced (0.5 ms of tolerance), a ``response.create`` while a
    response is active (unless ``conversation: "none"``), a ``response.cancel`` with nothing
    to cancel. Events of either dialect, checked against their schema already; others pass.

    The caller chooses what a broken rule is: the server answers it with an ``error`` event, a
    client (:mod:`rt_jupyter.lint`) logs a warning before sending. ``audio_known=False`` (a client
    that may not receive the audio as events) checks truncation lengths only against audio this
    conversation received.
    """
    etype = kind(str(event.get("type", "")))
    if etype in ("conversation.item.retrieve", "conversation.item.delete"):
        conversation.require(str(event.get("item_id")), etype.rsplit(".", 1)[1])
    elif etype == "conversation.item.truncate":
        index, end = event.get("content_index"), event.get("audio_end_ms")
        if isinstance(index, int) and isinstance(end, int):  # else the schema's to refuse
            conversation.check_truncate(
                str(event.get("item_id")), index, end, audio_known=audio_known
            )
    elif etype == "response.create":
        params = event.get("response")
        wanted = params.get("conversation", "auto") if isinstance(params, Mapping) else "auto"
        active = conversation.active_response
        if wanted != "none" and active is not None:
            raise ProtocolError(
                "Conversation already has an active response in progress: "
                f"{active.id}. Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
    elif etype == "response.cancel":
        rid = event.get("response_id")
        target = conversation.responses.get(rid) if rid else conversation.active_response
        if target is None or not target.active:
            raise ProtocolError(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
            )


class RealtimeConnection:
    """Protocol state of one Realtime session, for the client or the server end."""

    def __init__(
        self,
        role: Role | str,
        dialect: Dialect | str = Dialect.GA,
        *,
        session: SessionConfig | None = None,
        keep_audio: bool = True,
        validate_outgoing: bool = True,
    ) -> None:
        self.role = Role(role)
        self.dialect = Dialect.parse(dialect)
        self.conversation = Conversation(keep_audio=keep_audio)
        self.validate_outgoing = validate_outgoing
        self.session: SessionConfig = session or SessionConfig.default()
        self.input_buffer = InputAudioBuffer(self.session.input_format)
        self.audio_started = False  # the session has produced audio (voice is locked)
        self._outbox: list[str] = []
        self.closed = False

    # --- outgoing --------------------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        """Drain the messages waiting to go on the wire, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    def send(self, event: Mapping[str, Any]) -> None:
        """Queue an event to send (client: a client event; server: a GA-shaped server event)."""
        data = event.data if isinstance(event, Event) else dict(event)
        if self.role is Role.CLIENT:
            self._outbox.append(self._client_outgoing(data))
        else:
            self._outbox.extend(self._server_outgoing(data))

    def _client_outgoing(self, data: dict[str, Any]) -> str:
        if self.dialect is Dialect.BETA:
            data = translate_client_event(data, Dialect.BETA)
        elif isinstance(data.get("session"), Mapping):
            data = {**data, "session": without_beta_only(data["session"])}
        if self.validate_outgoing:
            schema = CLIENT_EVENT_SCHEMAS[self.dialect].get(str(data.get("type")))
            if schema is None:
                raise LocalProtocolError(
                    f"Unknown client event type {data.get('type')!r} for the "
                    f"{self.dialect.value} dialect.",
                    code="invalid_value",
                    param="type",
                )
            try:
                validate(data, schema)
            except ProtocolError as exc:
                raise LocalProtocolError(
                    exc.message, code=exc.code, param=exc.param, event_id=data.get("event_id")
                ) from None
        return serialize(data)

    def _server_outgoing(self, data: dict[str, Any]) -> list[str]:
        if data.get("type") not in NO_EVENT_ID:
            data.setdefault("event_id", ids.event_id())
        self.conversation.apply(data)
        etype = data.get("type")
        if (
            etype == "response.content_part.added"
            and (data.get("part") or {}).get("type") == "audio"
        ):
            self.audio_started = True
        if self.dialect is Dialect.GA:
            session = data.get("session")
            if isinstance(session, dict):
                data = {**data, "session": without_beta_only(session)}
            return [serialize(data)]
        return [serialize(e) for e in translate_server_event(data, Dialect.BETA)]

    def send_error(self, error: ProtocolError) -> None:
        """Queue an ``error`` event (server role)."""
        self.send(error_event(error))

    # --- incoming --------------------------------------------------------------------------------

    def receive(self, message: str | bytes | bytearray) -> list[Event]:
        """Take one whole message from the peer; returns the events for the application.

        Client role: raises :class:`RemoteProtocolError` for a message that is not a JSON event.
        Server role: never raises for bad input; it queues an ``error`` event instead.
        """
        if self.role is Role.CLIENT:
            try:
                event = parse(message, strict_type=False)
            except ProtocolError as exc:
                raise RemoteProtocolError(exc.message, code=exc.code) from None
            self.conversation.apply(event)
            if event.kind in ("session.created", "session.updated") and isinstance(
                event.get("session"), Mapping
            ):
                self._track_session(event["session"])
            return [event]
        try:
            return self._server_incoming(message)
        except ProtocolError as exc:
            self.send_error(exc)
            return []

    def _track_session(self, session: Mapping[str, Any]) -> None:
        self.session = SessionConfig(session_to_ga(session))
        self.input_buffer.format = self.session.input_format

    def _server_incoming(self, message: str | bytes | bytearray) -> list[Event]:
        event = parse(message)
        data = event.data
        event_id = event.event_id
        schema = CLIENT_EVENT_SCHEMAS[self.dialect].get(event.type)
        if schema is None:
            supported = ", ".join(f"'{t}'" for t in CLIENT_EVENT_SCHEMAS[self.dialect])
            raise ProtocolError(
                f"Invalid value: '{event.type[:100]}'. Supported values are: {supported}.",
                code="invalid_value",
                param="type",
                event_id=event_id,
            )
        try:
            validate(data, schema)
            if event.type == "transcription_session.update":
                # legacy flat payload in both dialects; the type is kept for the reply
                data = {**data, "session": session_to_ga(data["session"], transcription=True)}
            elif self.dialect is Dialect.BETA:
                data = translate_client_event(data, Dialect.GA)
            canonical = Event(data)
            self._server_handle(canonical)
        except ProtocolError as exc:
            exc.event_id = event_id
            raise
        return [canonical]

    def _server_handle(self, ev: Event) -> None:
        """State checks, and the answers that need no engine."""
        t = ev.kind
        if t in ("session.update", "transcription_session.update"):
            self.session.apply_update(ev["session"], voice_locked=self.audio_started)
            self.input_buffer.format = self.session.input_format
            self.conversation.input_format = self.session.input_format
            self.conversation.output_format = self.session.output_format
            if t == "transcription_session.update":
                session = self.session.to_legacy_transcription()
                self.send(server_event("transcription_session.updated", session=session))
            else:
                self.send(server_event("session.updated", session=dict(self.session.data)))
        elif t == "input_audio_buffer.append":
            audio = ev["audio"]
            if len(audio) > MAX_APPEND_BYTES:
                raise ProtocolError(
                    f"Invalid 'audio': event too large ({len(audio) / 2**20:.1f} MiB of base64); "
                    "the maximum is 15 MiB per input_audio_buffer.append event. Send smaller "
                    "chunks.",
                    code="invalid_value",
                    param="audio",
                )
            try:
                raw = base64.b64decode(audio, validate=True)
            except (binascii.Error, ValueError):
                raise ProtocolError(
                    "Invalid 'audio': expected base64-encoded audio bytes.",
                    code="invalid_value",
                    param="audio",
                ) from None
            held = len(self.input_buffer.data)
            if held + len(raw) > MAX_INPUT_BUFFER_BYTES:
                raise ProtocolError(
                    f"Invalid 'audio': the input audio buffer is full ({held / 2**20:.1f} MiB "
                    f"uncommitted, {len(raw) / 2**20:.1f} MiB more would pass the limit of "
                    f"{MAX_INPUT_BUFFER_BYTES // 2**20} MiB). Commit or clear the buffer "
                    "(input_audio_buffer.commit / input_audio_buffer.clear) before appending more.",
                    code="invalid_value",
                    param="audio",
                )
            self.input_buffer.append(raw)
        elif t == "input_audio_buffer.commit":
            if self.input_buffer.ms < MIN_COMMIT_MS:
                raise ProtocolError(
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                    f"{self.input_buffer.ms:.2f}ms of audio.",
                    code="input_audio_buffer_commit_empty",
                )
        elif t == "input_audio_buffer.clear":
            self.input_buffer.clear()
            self.send(server_event("input_audio_buffer.cleared"))
        elif t == "conversation.item.create":
            self.create_item(ev["item"], ev.get("previous_item_id", ...))
        elif t == "conversation.item.retrieve":
            check_client_event(ev, self.conversation)
            item = self.conversation.require(ev["item_id"], "retrieve")
            self.send(
                server_event("conversation.item.retrieved", item=item.to_dict(with_audio=True))
            )
        elif t == "conversation.item.delete":
            check_client_event(ev, self.conversation)
            self.send(server_event("conversation.item.deleted", item_id=ev["item_id"]))
        elif t == "conversation.item.truncate":
            check_client_event(ev, self.conversation)
            self.send(
                server_event(
                    "conversation.item.truncated",
                    item_id=ev["item_id"],
                    content_index=ev["content_index"],
                    audio_end_ms=ev["audio_end_ms"],
                )
            )
        elif t in ("response.create", "response.cancel"):
            check_client_event(ev, self.conversation)

    # --- server helpers --------------------------------------------------------------------------

    def create_item(self, item: Mapping[str, Any], previous_item_id: Any = ...) -> Item:
        """Add an item (``conversation.item.create`` or the service's own) and announce it."""
        previous = self.conversation.check_insert(item, previous_item_id)
        data = dict(item)
        data.setdefault("id", ids.item_id())
        data.setdefault("object", "realtime.item")
        data["status"] = "completed"
        audio_parts: dict[int, bytes] = {}
        if data.get("type") == "message":
            content = []
            for index, part in enumerate(data.get("content") or []):
                part = dict(part)
                if part.get("type") == "input_audio":
                    audio = part.pop("audio", None)
                    if isinstance(audio, str) and audio:
                        try:
                            audio_parts[index] = base64.b64decode(audio, validate=True)
                        except (binascii.Error, ValueError):
                            raise ProtocolError(
                                "Invalid 'item.content.audio': expected base64-encoded audio.",
                                code="invalid_value",
                                param=f"item.content[{index}].audio",
                            ) from None
                    part.setdefault("transcript", None)
                content.append(part)
            data["content"] = content
        self.send(server_event("conversation.item.added", previous_item_id=previous, item=data))
        created = self.conversation.get(data["id"])
        assert created is not None
        for index, raw in audio_parts.items():
            created.audio_bytes[index] = len(raw)
            created.audio[index] = bytearray(raw)
        self.send(server_event("conversation.item.done", previous_item_id=previous, item=data))
        return created

    def commit_input(
        self, start_ms: float | None = None, end_ms: float | None = None, item_id: str | None = None
    ) -> tuple[Item, bytes]:
        """Commit input audio into a user item: ``input_audio_buffer.committed`` then the item
        events. Returns the item and its raw audio (for transcription)."""
        raw = self.input_buffer.take(start_ms, end_ms)
        item_id = item_id or ids.item_id()
        previous = self.conversation.last_id
        self.send(
            server_event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.send(server_event("conversation.item.added", previous_item_id=previous, item=item))
        created = self.conversation.get(item_id)
        assert created is not None
        created.audio_bytes[0] = len(raw)
        if self.conversation.keep_audio:
            created.audio[0] = bytearray(raw)
        self.send(server_event("conversation.item.done", previous_item_id=previous, item=item))
        return created, raw

    def session_created(self) -> None:
        """Queue ``session.created`` (the first event of a session)."""
        self.conversation.input_format = self.session.input_format
        self.conversation.output_format = self.session.output_format
        self.input_buffer.format = self.session.input_format
        self.send(server_event("session.created", session=dict(self.session.data)))
