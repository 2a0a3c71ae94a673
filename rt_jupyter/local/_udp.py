"""Read every waiting UDP datagram per event-loop wake-up, not one.

asyncio's selector event loop reads one datagram each time a UDP socket is ready, so a socket is
read at most once per loop iteration. A WebRTC call receives ~50 RTP packets a second plus RTCP
and the data channel on one socket; when a busy loop (100 WebSocket sessions) iterates fewer
than ~55 times a second, the kernel's receive queue grows without bound: every packet of the
call, data-channel events included, then waits seconds in the socket buffer (measured: 120-240 KB
queued per call, data-channel round trips of 2-5 s, microphone audio late by as much) and finally
overflows. :func:`batch_datagram_reads` makes each wake-up drain up to :data:`MAX_BATCH`
datagrams, as uvloop and the WebRTC stacks of browsers do.
"""

from __future__ import annotations

import asyncio.selector_events
from typing import Any

__all__ = ["MAX_BATCH", "batch_datagram_reads"]

#: Datagrams read per wake-up at most, so one flooded socket cannot starve the loop.
MAX_BATCH = 64


def _read_ready(self: Any) -> None:
    # asyncio's _SelectorDatagramTransport._read_ready (3.10-3.13), repeated until the socket
    # has nothing left, the transport is closed, or MAX_BATCH datagrams were delivered.
    for _ in range(MAX_BATCH):
        if self._conn_lost:
            return
        try:
            data, addr = self._sock.recvfrom(self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
            return
        self._protocol.datagram_received(data, addr)


def batch_datagram_reads() -> bool:
    """Make the selector event loop's UDP transports read in batches (idempotent).

    Applies to datagram transports created afterwards in this process. Returns False (and
    changes nothing) on a Python whose transport does not have the expected shape."""
    cls: Any = getattr(asyncio.selector_events, "_SelectorDatagramTransport", None)
    if cls is None:
        return False
    if cls._read_ready is _read_ready:
        return True
    needed = ("_read_ready", "max_size", "_fatal_error")
    if not all(hasattr(cls, name) for name in needed):
        return False
    cls._read_ready = _read_ready
    return True
