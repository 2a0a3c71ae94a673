"""The I/O-free session layer both front doors drive (:class:`~rt_jupyter.RealtimeSession` over a
WebSocket, :class:`~rt_jupyter.VoiceChat` over the widget's comm): event dispatch, tools.

Nothing here opens a socket or a comm; the adapters feed events in and send what comes out.
"""

from __future__ import annotations

from .dispatch import Dispatcher, events_since, normalize

__all__ = ["Dispatcher", "events_since", "normalize"]
