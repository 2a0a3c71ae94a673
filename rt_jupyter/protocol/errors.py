"""Protocol errors, shaped like the Realtime API's ``error`` event, and the one parser of HTTP
error bodies (:func:`error_from_http`)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The longest ``message`` :func:`error_from_http` returns (characters, after scrubbing).
MAX_ERROR_MESSAGE_CHARS = 2000
#: Bodies longer than this (characters) are not parsed as JSON, only read as text.
_MAX_PARSED_BODY = 1 << 20
#: Text bodies are read this far before scrubbing (far past the message cap).
_MAX_TEXT_BODY = 64 * 1024

_KEYLIKE = re.compile(r"\b(?:sk|ek|rk|sess)[-_][A-Za-z0-9\-_*.]{3,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-_.~+/=]{8,}")
# Linear patterns only (no lazy scan to a closing tag): bodies come from anyone upstream.
_TITLE = re.compile(r"(?i)<title[^<>]*>([^<]*)")
_SCRIPT = re.compile(r"(?i)<(?:script|style)\b[^<>]*>[^<]*")
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")


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


def bounded(
    text: str, secrets: Iterable[str | None] = (), limit: int = MAX_ERROR_MESSAGE_CHARS
) -> str:
    """``text`` for a browser, a trait or a log: scrubbed (:func:`scrub_secrets`) *before* it is
    cut to ``limit`` characters (an ellipsis marks the cut), so no cut splits a key."""
    text = scrub_secrets(text, secrets)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def scrub_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets``, anything that looks like an API key (``sk-…``,
    ``ek_…``, ``rk-…``, ``sess-…``) or a bearer token."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _KEYLIKE.sub("[redacted]", text)
    return _BEARER.sub(r"\1[redacted]", text)


def _http_error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error"


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fields(data: Any) -> tuple[str, dict[str, Any]]:
    """The message of a decoded JSON body, and the object holding ``type``/``code``/``param``."""
    if not isinstance(data, dict):
        return _text_of(data), {}
    if all(value is None for value in data.values()):
        return "", {}
    err = data.get("error")
    if isinstance(err, dict):  # OpenAI / Azure: {"error": {"message", "type", "code", "param"}}
        inner = err.get("message")
        return _text_of(inner if inner is not None else err), err
    if isinstance(err, str) and err.strip():  # {"error": "..."}
        return err.strip(), data
    for key in ("message", "detail", "error_description"):  # Azure APIM, FastAPI, OAuth
        if data.get(key) is not None:
            return _text_of(data[key]), data
    return _text_of(data), data


def _html_text(text: str) -> str:
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        text = title.group(1)
    else:
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    return html.unescape(text)


def error_from_http(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Iterable[str | None] = (),
) -> dict[str, Any]:
    """The Realtime-API-shaped error object (``type``, ``code``, ``message``, ``param``) for an
    HTTP error response, whatever its body.

    Reads the OpenAI and Azure shapes (``{"error": {...}}``, ``{"error": "..."}``,
    ``{"message": ...}``, ``{"detail": ...}``), plain text and HTML pages (their ``<title>``).
    ``message`` is scrubbed of ``secrets`` and anything key-like *before* it is cut to
    :data:`MAX_ERROR_MESSAGE_CHARS`; it is ``""`` when the body says nothing. ``type`` is the
    body's, else derived from ``status`` (``server_error`` for 5xx, ``rate_limit_error`` for 429,
    else ``invalid_request_error``); ``code`` and ``param`` are the body's strings, else ``None``.
    """
    secrets = tuple(secret for secret in secrets if secret)
    if isinstance(body, bytes | bytearray | memoryview):
        text = bytes(body[: _MAX_PARSED_BODY * 4]).decode("utf-8", "replace")
    else:
        text = body or ""
    content_type = ""
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            content_type = value.lower()
    found: dict[str, Any] = {}
    message: str | None = None
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"') and len(stripped) <= _MAX_PARSED_BODY:
        try:
            message, found = _fields(json.loads(stripped))
        except ValueError:
            message = None
    if message is None:
        if len(text) > _MAX_TEXT_BODY:  # scrub past the cut: no key is split by it
            text = scrub_secrets(text[: _MAX_TEXT_BODY + 8192], secrets)[:_MAX_TEXT_BODY]
        if "html" in content_type or stripped[:1] == "<":
            text = _html_text(text)
        message = _SPACE.sub(" ", text).strip()
    message = bounded(message, secrets)
    return {
        "type": _field(found.get("type"), secrets) or _http_error_type(status),
        "code": _field(found.get("code"), secrets),
        "message": message,
        "param": _field(found.get("param"), secrets),
    }


def _field(value: Any, secrets: Iterable[str | None]) -> str | None:
    """A short string field of an error body (numeric codes as strings), scrubbed."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return scrub_secrets(str(value), secrets)[:200]
