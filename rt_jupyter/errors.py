"""The one exception tree of rt_jupyter: every error the package raises is a :class:`RealtimeError`.

::

    RealtimeError
    ├── ConnectionLostError      the connection dropped and could not be restored
    ├── NotConnectedError        nothing is connected yet (also a ``RuntimeError``)
    ├── AuthenticationError      the server refused the key (HTTP 401/403)
    ├── BetaShapeDisabledError   the server no longer accepts the beta dialect
    ├── ProviderShapeError       the service answers in neither the GA nor the beta shape
    ├── ServerError              the server answered with an ``error`` event
    ├── ProtocolError            a protocol rule was broken (:mod:`rt_jupyter.protocol.errors`)
    ├── ConfigurationError       a wrong argument or setting (also a ``ValueError``)
    ├── ToolError                a tool failed (bad arguments, ...)
    └── KeyMintError             minting an ephemeral key failed
"""

from __future__ import annotations

from typing import Any

from .protocol.errors import ProtocolError, RealtimeError

__all__ = [
    "AuthenticationError",
    "BetaShapeDisabledError",
    "ConfigurationError",
    "ConnectionLostError",
    "KeyMintError",
    "NotConnectedError",
    "ProtocolError",
    "ProviderShapeError",
    "RealtimeError",
    "ServerError",
    "ToolError",
]


class AuthenticationError(RealtimeError):
    """The server refused the key (HTTP 401/403). Not retried."""


class BetaShapeDisabledError(RealtimeError):
    """The server no longer accepts the beta dialect (``beta_api_shape_disabled``)."""


class ConnectionLostError(RealtimeError):
    """The connection dropped and could not be restored (or recovery is off)."""


class ProviderShapeError(RealtimeError):
    """``dialect="auto"`` found neither the GA nor the beta shape at the service (the message
    says what each attempt answered)."""


class NotConnectedError(RealtimeError, RuntimeError):
    """An operation needs a connected call or session and there is none yet (the widget before
    Connect): connect first. A ``RuntimeError``, as it was before this tree."""


class ServerError(RealtimeError):
    """The server answered a request with an ``error`` event (``.error`` is its error object)."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        self.code = error.get("code")
        self.param = error.get("param")
        self.event_id = error.get("event_id")
        where = f" (param {self.param})" if self.param else ""
        super().__init__(f"{self.code or error.get('type')}: {error.get('message')}{where}")


class ConfigurationError(RealtimeError, ValueError):
    """A wrong argument or setting (a ``ValueError``, so ``except ValueError`` still catches it)."""


class ToolError(RealtimeError):
    """Base class of tool failures (e.g. arguments that do not match the tool's schema)."""


class KeyMintError(RealtimeError):
    """Minting an ephemeral key failed or was refused: ``status`` is the HTTP status to answer,
    ``message`` is safe to show (no key in it), ``code`` a short machine-readable reason."""

    def __init__(self, status: int, message: str, *, code: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.hint = hint

    def to_json(self) -> dict[str, Any]:
        """``{"error": {"message", "code", "hint"}}``."""
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.hint:
            error["hint"] = self.hint
        return {"error": error}
