"""Where to connect and with which key: arguments first, then the environment.

Environment variables: ``OPENAI_API_KEY`` (also ``NEW_API_KEY``, the name some providers use),
``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``), ``RT_JUPYTER_MODEL`` (default
``gpt-realtime``), ``RT_JUPYTER_DIALECT`` (``ga`` or ``beta``) and ``RT_JUPYTER_LOCAL=1`` (use the
local service even when a key is set). With no key, rt_jupyter uses its local service.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .protocol import DEFAULT_MODEL, Dialect
from .protocol.errors import scrub_secrets

__all__ = ["DEFAULT_BASE_URL", "KEY_ENV", "Settings", "resolve_settings", "scrub", "websocket_url"]

#: The environment variables a standard key is read from, in order.
KEY_ENV = ("OPENAI_API_KEY", "NEW_API_KEY")

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets`` and without anything that looks like an API key
    (:func:`rt_jupyter.protocol.errors.scrub_secrets`)."""
    return scrub_secrets(text, secrets)


def websocket_url(base_url: str) -> str:
    """The WebSocket base URL for a REST base URL (``http``→``ws``, ``https``→``wss``)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. ``api_key`` is never shown by ``repr``."""

    api_key: str | None = field(repr=False)
    base_url: str
    model: str
    dialect: Dialect
    local: bool

    @property
    def ws_base_url(self) -> str:
        return websocket_url(self.base_url)

    @property
    def key_configured(self) -> bool:
        return bool(self.api_key)


def resolve_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    dialect: str | Dialect | None = None,
    local: bool | None = None,
) -> Settings:
    """Settings from arguments, then environment, then defaults; ``local`` is true when no key
    is configured (or ``RT_JUPYTER_LOCAL=1``)."""
    key = api_key or next((os.environ[n] for n in KEY_ENV if os.environ.get(n)), None)
    url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    chosen_model = model or os.environ.get("RT_JUPYTER_MODEL") or DEFAULT_MODEL
    chosen_dialect = Dialect.parse(dialect or os.environ.get("RT_JUPYTER_DIALECT") or "ga")
    if local is None:
        local = not key or os.environ.get("RT_JUPYTER_LOCAL", "") in ("1", "true", "yes")
    return Settings(
        api_key=key, base_url=url, model=chosen_model, dialect=chosen_dialect, local=local
    )
