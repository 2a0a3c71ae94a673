"""Protocol errors, shaped like the Realtime API's ``error`` event."""

from __future__ import annotations

from typing import Any


class RealtimeError(Exception):
    """Base class of every rt_jupyter error (re-exported as ``rt_jupyter.RealtimeError``).

    Defined here, in the stdlib-only bottom layer, so that :class:`ProtocolError` can derive
    from it; :mod:`rt_jupyter.errors` holds the rest of the tree.
    """


class ProtocolError(RealtimeError):
    """A protocol rule was broken; carries the official error fields.

    ``code`` is one of the Realtime API's error codes (``invalid_value``, ``unknown_parameter``,
    ``missing_required_parameter``, ``integer_below_min_value``, ...), ``param`` the offending
    parameter path (``session.type``) and ``event_id`` the client event that caused it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id
        self.type = type

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` object of an ``error`` server event."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": self.event_id,
        }

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, param={self.param!r}, message={self.message!r})"


class LocalProtocolError(ProtocolError, ValueError):
    """We were about to send something the protocol does not allow (a ``ValueError``)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""
