"""Client events checked before they are sent, the same way by both front doors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..protocol import LocalProtocolError, RealtimeConnection

__all__ = ["checked_send"]


def checked_send(connection: RealtimeConnection, event: Mapping[str, Any]) -> list[str]:
    """Validate ``event`` with ``connection`` and return its wire texts.

    Raises :class:`~rt_jupyter.protocol.LocalProtocolError` (a :class:`~rt_jupyter.ProtocolError`
    and a ``ValueError``) naming the event, with the protocol's ``code`` and ``param``; nothing
    is queued on the connection then."""
    try:
        connection.send(event)
    except LocalProtocolError as exc:
        raise LocalProtocolError(
            f"invalid {event.get('type')!r} event: {exc.message} Fix the event (the Realtime "
            "API reference lists each client event's fields; rt_jupyter.protocol.build(type, "
            "...) builds one).",
            code=exc.code,
            param=exc.param,
            event_id=exc.event_id,
        ) from None
    return connection.data_to_send()
