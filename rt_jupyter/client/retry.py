"""When the kernel client reconnects, and after how long: decided from the close code and the
attempt number alone (the reconnect loop in :mod:`.session` only does the I/O; what to send on
the new connection is :func:`rt_jupyter.protocol.restore.restore_plan`'s)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

__all__ = ["RECOVERABLE_CLOSE_CODES", "reconnect_delay", "recoverable"]

#: Close codes after which the client reconnects (the server or network failed).
RECOVERABLE_CLOSE_CODES: Final = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014, 1015})


def recoverable(code: int | None, *, renew: bool) -> bool:
    """Whether a connection closed with ``code`` (``None``: a network error, no close frame) is
    worth reconnecting; ``renew``: the server said the session expired, so it always is."""
    return renew or code is None or code in RECOVERABLE_CLOSE_CODES


def reconnect_delay(
    attempt: int,
    backoff: tuple[float, float],
    *,
    renew: bool,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before reconnect ``attempt`` (1, 2, ...): none for the first attempt to
    renew an expired session, otherwise ``backoff[0]`` doubled per attempt up to ``backoff[1]``,
    times a jitter factor in [0.5, 1.5)."""
    if renew and attempt == 1:
        return 0.0
    return min(backoff[1], backoff[0] * 2.0 ** (attempt - 1)) * (0.5 + jitter())
