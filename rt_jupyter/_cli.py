"""Pieces the command-line programs share (``rt-jupyter serve``, ``rt-jupyter hub-service``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

__all__ = ["until_stopped"]


async def until_stopped() -> None:
    """Return when the process gets SIGINT (Ctrl-C) or SIGTERM (a service manager's stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # platforms without signal handlers
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
