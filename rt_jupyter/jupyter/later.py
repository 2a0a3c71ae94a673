"""A one-shot call later on the kernel's event loop, coalescing repeated requests.

The widget uses it to sync the ``transcript`` trait at most every 100 ms (each sync sends the
whole list: syncing per event would cost O(n²) over a long talk) and to stop waiting for a relay
batch that never came. Where no event loop runs (a plain script, a test), the call happens at
once: nothing would ever run it later."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Later"]


class Later:
    """``fn`` run once, ``delay`` seconds after the first :meth:`schedule` since it last ran."""

    def __init__(self, delay: float, fn: Callable[[], object]) -> None:
        self.delay = delay
        self.fn = fn
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        """Whether a call is scheduled and has not run yet."""
        return self._handle is not None

    def schedule(self) -> None:
        """Run ``fn`` after ``delay`` (at once without a running loop); a call already pending
        is not moved or doubled."""
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.fn()
            return
        self._handle = loop.call_later(self.delay, self._fire)

    def cancel(self) -> None:
        """Drop the pending call, if any."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def flush(self) -> None:
        """Run the pending call now, if there is one."""
        if self._handle is not None:
            self.cancel()
            self.fn()

    def _fire(self) -> None:
        self._handle = None
        self.fn()
