"""Live protocol warnings: things that are legal to send or receive but usually a mistake.

Used by the kernel client and the widget; each warning goes into the event log as a local
``rt.warning`` event (``code``, ``message``), so it shows in ``log.to_frame()`` and ``%rt doctor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .protocol import Conversation, Dialect
from .protocol.dialects import BETA_TO_GA_EVENT, GA_ONLY_SERVER_EVENTS, GA_TO_BETA_EVENT
from .protocol.events import SERVER_EVENTS
from .protocol.limits import DATA_CHANNEL_MAX_MESSAGE_BYTES

__all__ = ["DATA_CHANNEL_LIMIT", "check_incoming", "check_outgoing"]

#: The largest message to send on a data channel (a margin under the ~64 KiB that can close it);
#: the same value as :data:`rt_jupyter.protocol.limits.DATA_CHANNEL_MAX_MESSAGE_BYTES`.
DATA_CHANNEL_LIMIT = DATA_CHANNEL_MAX_MESSAGE_BYTES


def check_outgoing(
    event: Mapping[str, Any], size: int, conversation: Conversation, *, data_channel: bool = False
) -> list[tuple[str, str]]:
    """``(code, message)`` warnings for a client event about to be sent."""
    out: list[tuple[str, str]] = []
    etype = event.get("type")
    if etype == "conversation.item.truncate":
        item = conversation.get(str(event.get("item_id")))
        end = event.get("audio_end_ms")
        if item is not None and isinstance(end, int):
            have = item.audio_ms(int(event.get("content_index") or 0), conversation.output_format)
            if item.audio_bytes and end > have + 1:
                out.append(
                    (
                        "truncate_past_received_audio",
                        f"truncating {item.id} at {end} ms, but only {have:.0f} ms of its "
                        "audio was received: the server will refuse it",
                    )
                )
    elif (
        etype == "response.cancel"
        and conversation.active_response is None
        and not (event.get("response_id"))
    ):
        out.append(
            (
                "cancel_without_active_response",
                "response.cancel with no response in progress (the server answers "
                "response_cancel_not_active)",
            )
        )
    if data_channel and size > DATA_CHANNEL_LIMIT:
        out.append(
            (
                "message_near_data_channel_limit",
                f"a {size}-byte {etype} message is over the {DATA_CHANNEL_LIMIT}-byte data-channel "
                "limit (~64 KiB can close the channel): split large session.update/tool lists",
            )
        )
    return out


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
