"""Live protocol warnings: client events the server will refuse (the protocol core's rules, as
warnings) and server events that are legal but usually a mistake (another dialect's, unknown).

Used by the kernel client and the widget; each warning goes into the event log as a local
``rt.warning`` event (``code``, ``message``), so it shows in ``log.to_frame()`` and ``%rt doctor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .protocol import Conversation, Dialect, ProtocolError
from .protocol.connection import check_client_event
from .protocol.dialects import BETA_TO_GA_EVENT, GA_ONLY_SERVER_EVENTS, GA_TO_BETA_EVENT
from .protocol.events import SERVER_EVENTS

__all__ = ["check_incoming", "check_outgoing"]

#: Warning codes for two of the core's ``(code, param)`` errors (the names logs and reports use).
_WARNING_CODES: dict[tuple[str | None, str | None], str] = {
    ("invalid_value", "audio_end_ms"): "truncate_past_received_audio",
    ("response_cancel_not_active", None): "cancel_without_active_response",
}


def check_outgoing(event: Mapping[str, Any], conversation: Conversation) -> list[tuple[str, str]]:
    """``(code, message)`` warnings for a client event about to be sent: the rules the server
    would refuse it by, from the protocol core (:func:`~rt_jupyter.protocol.connection.
    check_client_event`), as warnings. Size is not checked: a WebSocket takes any size, and
    data-channel senders keep under
    :data:`~rt_jupyter.protocol.limits.DATA_CHANNEL_MAX_MESSAGE_BYTES` themselves.

    A client may not receive the audio as events (WebRTC): truncation lengths are checked only
    against audio the conversation received."""
    etype = str(event.get("type", ""))
    try:
        check_client_event(event, conversation, audio_known=False)
    except ProtocolError as exc:
        code = _WARNING_CODES.get((exc.code, exc.param), exc.code or "protocol_rule")
        return [(code, f"{etype}: {exc.message} (the server will refuse it)")]
    return []


def check_incoming(
    event: Mapping[str, Any], dialect: Dialect, seen: set[str]
) -> list[tuple[str, str]]:
    """Warnings for a received server event; ``seen`` remembers types already reported."""
    etype = str(event.get("type", ""))
    if etype in SERVER_EVENTS[dialect] or etype in seen:
        return []
    seen.add(etype)
    if dialect is Dialect.BETA and (etype in GA_TO_BETA_EVENT or etype in GA_ONLY_SERVER_EVENTS):
        return [
            (
                "event_of_other_dialect",
                f"received the GA event {etype!r} on a beta session: the server speaks GA; "
                "connect with dialect='ga'",
            )
        ]
    if dialect is Dialect.GA and etype in BETA_TO_GA_EVENT:
        return [
            (
                "event_of_other_dialect",
                f"received the beta event {etype!r} on a GA session: the server speaks beta; "
                "connect with dialect='beta'",
            )
        ]
    return [
        (
            "unknown_event_type",
            f"received an event type the {dialect.value} dialect does "
            f"not define: {etype!r} (kept in the log)",
        )
    ]
