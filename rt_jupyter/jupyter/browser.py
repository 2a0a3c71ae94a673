"""What the browser tells the kernel, made safe to keep: the page's report (synced and saved
with the notebook), a failed call as the exception the kernel client would raise, and messages
scrubbed of keys and bounded in length."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..errors import AuthenticationError, ConnectionLostError, KeyMintError, RealtimeError

__all__ = ["bounded_message", "browser_report", "call_error"]

_PERMISSIONS: Final = frozenset({"granted", "denied", "prompt", "unknown"})


def browser_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The browser's report with known keys and types only (it is synced and saved)."""

    def flag(name: str) -> bool | None:
        value = report.get(name)
        return value if isinstance(value, bool) else None

    mics = report.get("microphones")
    permission = report.get("microphone_permission")
    agent = report.get("user_agent")
    return {
        "secure_context": flag("secure_context"),
        "webrtc": flag("webrtc"),
        "media_devices": flag("media_devices"),
        "microphones": mics
        if isinstance(mics, int) and not isinstance(mics, bool) and mics >= 0
        else None,
        "microphone_permission": permission if permission in _PERMISSIONS else "unknown",
        "user_agent": agent[:400] if isinstance(agent, str) else "",
    }


#: The browser's failure codes (``WidgetError.code`` in ``js/src``) that mean a key was refused.
_KEY_REFUSED = frozenset({"upstream_auth", "key_refused", "key_expired"})
#: ... that mean no key could be minted.
_MINT_FAILED = frozenset(
    {"not_authorized", "rate_limited", "bad_token", "upstream_unreachable", "upstream_error"}
)
#: ... that mean the call could not be made or was lost.
_CALL_LOST = frozenset({"dropped", "timeout", "ice_failed", "unreachable", "channel_closed"})


def call_error(note: Mapping[str, Any]) -> RealtimeError:
    """The exception a failed or dropped call (the browser's ``rt.status`` note) raises in a
    pending ``wait_for``: the same classes the kernel client raises."""
    code = str(note.get("code") or "")
    message = bounded_message(str(note.get("error") or "")) or f"the call failed ({code})"
    status = note.get("http_status")
    if code in _KEY_REFUSED:
        return AuthenticationError(message)
    if code in _MINT_FAILED:
        return KeyMintError(status if isinstance(status, int) else 0, message, code=code)
    if code in _CALL_LOST or note.get("status") == "dropped":
        return ConnectionLostError(f"{message} Click Reconnect (or chat.connect()).")
    return RealtimeError(message)


def bounded_message(text: str) -> str:
    """``text`` scrubbed of the kernel's keys and anything key-like, then cut to
    :data:`~rt_jupyter.protocol.errors.MAX_ERROR_MESSAGE_CHARS`."""
    import os

    from ..config import SECRET_ENV
    from ..protocol.errors import bounded

    return bounded(text, [os.environ.get(name) for name in SECRET_ENV])
