"""The process-wide local service used when no API key is configured (kernel side), and the one
"no key → local service" rule (:func:`resolve_endpoint`) that the client, the widget's kernel
mint and the server extension share."""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
from collections.abc import Callable
from typing import Protocol

from ..config import Settings, local_provider, resolve_settings
from .handlers import DEFAULT_ALLOWED_ORIGINS
from .keys import KeyStore
from .service import LocalRealtimeService

__all__ = [
    "LOCAL_KEY",
    "Endpoint",
    "LocalService",
    "ServiceRef",
    "get_local_service",
    "local_service_running",
    "resolve_endpoint",
    "stop_local_service",
]

#: The standard key rt_jupyter uses with its own in-process local service: random per process
#: and the only standard key that service accepts, so no other program or page can use it or
#: reach the calls of the keys it mints.
LOCAL_KEY = "sk-local-" + secrets.token_urlsafe(24)

_lock = threading.Lock()
_service: LocalRealtimeService | None = None


def allowed_origins() -> tuple[str, ...]:
    """Pages that may call the in-process service: loopback ones, and those listed
    (comma-separated) in ``RT_JUPYTER_ALLOW_ORIGINS`` (e.g. a notebook served under another
    host name)."""
    extra = os.environ.get("RT_JUPYTER_ALLOW_ORIGINS", "")
    return (*DEFAULT_ALLOWED_ORIGINS, *(o.strip() for o in extra.split(",") if o.strip()))


def get_local_service() -> LocalRealtimeService:
    """Start (once) and return an in-process local service on a free loopback port, running on
    its own thread so it keeps working while notebook cells block. It accepts :data:`LOCAL_KEY`
    only, and pages of :func:`allowed_origins`."""
    global _service
    with _lock:
        if _service is None:
            _service = LocalRealtimeService(
                accept_keys=[LOCAL_KEY], allow_origins=allowed_origins()
            ).start_in_thread()
        return _service


def stop_local_service() -> None:
    """Stop the process-wide local service, if running."""
    global _service
    with _lock:
        if _service is not None:
            _service.stop_thread()
            _service = None


def local_service_running() -> bool:
    """Whether the process-wide local service is running."""
    return _service is not None


# --- the "no key → local service" rule ------------------------------------------------------------


class LocalService(Protocol):
    """What :func:`resolve_endpoint` needs of a local service."""

    @property
    def base_url(self) -> str:
        """Its REST base URL (``http://127.0.0.1:PORT/v1``)."""

    @property
    def keys(self) -> KeyStore:
        """Its key store (ephemeral keys are minted there)."""


@dataclasses.dataclass(frozen=True)
class ServiceRef:
    """A local service known by its base URL and key store (the server extension's, mounted in
    the Jupyter server)."""

    base_url: str
    keys: KeyStore


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where to talk to: ``settings`` (with the local service's ``base_url`` when local) and, for
    a local service, its key store and the standard key it accepts."""

    settings: Settings
    keys: KeyStore | None = dataclasses.field(default=None, repr=False)
    local_key: str | None = dataclasses.field(default=None, repr=False)

    @property
    def local(self) -> bool:
        """Whether this is a local service (mint with :attr:`keys`) rather than upstream."""
        return self.keys is not None

    @property
    def api_key(self) -> str | None:
        """The standard key to use: the local service's, or the configured one upstream."""
        return self.local_key if self.local else self.settings.api_key

    @property
    def note(self) -> str:
        """The one line that says the local service is used (empty upstream)."""
        if not self.local:
            return ""
        return (
            "rt_jupyter: no OPENAI_API_KEY set, using the local realtime service at "
            f"{self.settings.base_url}"
        )


def resolve_endpoint(
    settings: Settings | None = None,
    *,
    service: Callable[[], LocalService] = get_local_service,
    local_key: str | None = LOCAL_KEY,
) -> Endpoint:
    """Apply the "no key → local service" rule once: when ``settings`` (default:
    :func:`~rt_jupyter.config.resolve_settings`) say ``local`` (no key configured, or
    ``RT_JUPYTER_LOCAL=1``), get the local service from ``service`` (default: start, once, the
    process-wide one) and point the settings at it, with ``local_key`` the standard key it
    accepts (``None`` for a service that takes ephemeral keys only); otherwise return the
    settings unchanged. The default ``service`` blocks while it first starts: call this from a
    worker thread in async code."""
    settings = resolve_settings() if settings is None else settings
    if not settings.local:
        return Endpoint(settings)
    svc = service()
    return Endpoint(
        dataclasses.replace(
            settings,
            api_key=None,
            base_url=svc.base_url,
            provider=local_provider(svc.base_url),
            token_provider=None,
            local=True,
        ),
        keys=svc.keys,
        local_key=local_key,
    )
