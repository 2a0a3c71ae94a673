"""The process-wide local service used when no API key is configured (kernel side)."""

from __future__ import annotations

import threading

from .service import LocalRealtimeService

__all__ = ["LOCAL_KEY", "get_local_service", "stop_local_service"]

#: The standard key rt_jupyter uses with its own in-process local service.
LOCAL_KEY = "sk-local-rt-jupyter"

_lock = threading.Lock()
_service: LocalRealtimeService | None = None


def get_local_service() -> LocalRealtimeService:
    """Start (once) and return an in-process local service on a free loopback port, running on
    its own thread so it keeps working while notebook cells block."""
    global _service
    with _lock:
        if _service is None:
            _service = LocalRealtimeService().start_in_thread()
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
