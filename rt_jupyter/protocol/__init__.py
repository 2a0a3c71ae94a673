"""Sans-I/O core of the Realtime protocol (stdlib only): events of both dialects, dialect
translation, session configuration, the conversation reducer and a connection per role."""

from __future__ import annotations

from .connection import MAX_APPEND_BYTES, InputAudioBuffer, RealtimeConnection, Role
from .conversation import BYTES_PER_MS, Conversation, Item, Response
from .dialects import Dialect, kind, translate_client_event, translate_server_event
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .events import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    Event,
    build,
    error_event,
    function_call_output_item,
    function_calls,
    parse,
    serialize,
    server_event,
    system_text_item,
    user_audio_item,
    user_image_item,
    user_text_item,
)
from .responses import ResponseBuilder, estimate_usage, rate_limits_updated
from .session import (
    DEFAULT_INSTRUCTIONS,
    DEFAULT_MODEL,
    DEFAULT_TURN_DETECTION,
    SessionConfig,
    session_update,
    validate_session,
)

__all__ = [
    "BYTES_PER_MS",
    "CLIENT_EVENTS",
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_MODEL",
    "DEFAULT_TURN_DETECTION",
    "MAX_APPEND_BYTES",
    "SERVER_EVENTS",
    "Conversation",
    "Dialect",
    "Event",
    "InputAudioBuffer",
    "Item",
    "LocalProtocolError",
    "ProtocolError",
    "RealtimeConnection",
    "RemoteProtocolError",
    "Response",
    "ResponseBuilder",
    "Role",
    "SessionConfig",
    "build",
    "error_event",
    "estimate_usage",
    "function_call_output_item",
    "function_calls",
    "kind",
    "parse",
    "rate_limits_updated",
    "serialize",
    "server_event",
    "session_update",
    "system_text_item",
    "translate_client_event",
    "translate_server_event",
    "user_audio_item",
    "user_image_item",
    "user_text_item",
    "validate_session",
]
