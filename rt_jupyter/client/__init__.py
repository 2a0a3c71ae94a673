"""The kernel-side Realtime client (WebSocket): :func:`connect`, :class:`RealtimeSession`."""

from __future__ import annotations

from ..core.reply import Reply, ToolCallRecord
from .connect import connect
from .errors import (
    AuthenticationError,
    BetaShapeDisabledError,
    ConnectionLostError,
    RealtimeError,
    ServerError,
)
from .session import RealtimeSession, Transcription, TranscriptSegment
from .sync import SyncRealtimeSession, connect_sync

__all__ = [
    "AuthenticationError",
    "BetaShapeDisabledError",
    "ConnectionLostError",
    "RealtimeError",
    "RealtimeSession",
    "Reply",
    "ServerError",
    "SyncRealtimeSession",
    "ToolCallRecord",
    "TranscriptSegment",
    "Transcription",
    "connect",
    "connect_sync",
]
