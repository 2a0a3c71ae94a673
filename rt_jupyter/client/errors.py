"""Exceptions of the kernel client, each saying what to do."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BetaShapeDisabledError",
    "ConnectionLostError",
    "RealtimeError",
    "ServerError",
]


class RealtimeError(Exception):
    """Base class of rt_jupyter client errors."""


class AuthenticationError(RealtimeError):
    """The server refused the key (HTTP 401/403). Not retried."""


class BetaShapeDisabledError(RealtimeError):
    """The server no longer accepts the beta dialect (``beta_api_shape_disabled``)."""


class ConnectionLostError(RealtimeError):
    """The connection dropped and could not be restored (or recovery is off)."""


class ServerError(RealtimeError):
    """The server answered a request with an ``error`` event."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        self.code = error.get("code")
        self.param = error.get("param")
        self.event_id = error.get("event_id")
        where = f" (param {self.param})" if self.param else ""
        super().__init__(f"{self.code or error.get('type')}: {error.get('message')}{where}")
