"""Exceptions of the kernel client: the same classes as :mod:`rt_jupyter.errors`."""

from __future__ import annotations

from ..errors import (
    AuthenticationError,
    BetaShapeDisabledError,
    ConnectionLostError,
    RealtimeError,
    ServerError,
)

__all__ = [
    "AuthenticationError",
    "BetaShapeDisabledError",
    "ConnectionLostError",
    "RealtimeError",
    "ServerError",
]
