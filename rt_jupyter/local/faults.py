"""Fault injection for the local service: make it fail the ways a real network and service do,
so clients can be tested against drops, stalls, close codes, early expiry and refused keys.

Set ``service.faults = Faults(...)`` (or ``LocalRealtimeService(faults=...)``); every session
started afterwards obeys it. One-shot faults fire once per :class:`Faults` object unless
``repeat=True``::

    service.faults = Faults(drop_after_deltas=5)        # cut the TCP connection mid-response
    service.faults = Faults(close_after_deltas=5, close_code=1011)
    service.faults = Faults(expire_after_s=2.0)          # session_expired after 2 s
    service.faults = Faults(stall_s=1.5, stall_after_deltas=3)  # freeze output for 1.5 s
    service.faults = Faults(reject_keys=True)            # every new connection gets 401

The service wraps each session's transport in a :class:`FaultyTransport` (``reject_keys`` is
checked where connections are authenticated); the session itself knows nothing of faults.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .session import Transport

__all__ = ["Faults", "FaultyTransport"]


@dataclass
class Faults:
    """What to break, and when (counted in response delta events sent by one session)."""

    drop_after_deltas: int | None = None
    close_after_deltas: int | None = None
    close_code: int = 1011
    stall_after_deltas: int | None = None
    stall_s: float = 0.0
    expire_after_s: float | None = None
    reject_keys: bool = False
    repeat: bool = False
    fired: list[str] = field(default_factory=list)

    def take(self, name: str) -> bool:
        """Whether the one-shot fault ``name`` may fire now (records that it did)."""
        if name in self.fired and not self.repeat:
            return False
        self.fired.append(name)
        return True


class _Session(Protocol):
    """What :class:`FaultyTransport` needs of the session it serves."""

    closed: bool

    def close(self, code: int = 1000, reason: str = "") -> None: ...

    def expire(self) -> None: ...


class FaultyTransport:
    """A session's :class:`~rt_jupyter.local.session.Transport` with fault injection: wraps the
    real one (a WebSocket, a data channel) and applies the :class:`Faults` that ``faults()``
    returns when each event is sent (so faults set while a session runs apply to it).

    Delta events are counted while faults are set; at a fault's count the connection is dropped
    (``abort``), closed with ``close_code`` after that delta, or held for ``stall_s`` before the
    events that follow are let through in order. ``expire_after_s``, read when the session sends
    its first event (``session.created``), makes the session expire early. :meth:`attach` the
    session so it is closed (or expired) with the connection."""

    def __init__(self, inner: Transport, faults: Callable[[], Faults | None]) -> None:
        self.inner = inner
        self.faults = faults
        self._session: weakref.ref[_Session] | None = None
        self.deltas = 0  # response deltas sent while faults were set
        self._started = False
        self._ended = False  # no more events go through
        self._closed = False
        self._held: list[str] | None = None
        self._timers: list[asyncio.TimerHandle] = []

    def attach(self, session: _Session) -> None:
        """The session this transport serves (closed when a fault ends the connection); held
        weakly, the session holding this transport."""
        self._session = weakref.ref(session)

    @property
    def session(self) -> _Session | None:
        """The attached session, while it exists."""
        return self._session() if self._session is not None else None

    def send_text(self, text: str) -> None:
        """Send ``text`` through the real transport, unless a fault drops or holds it."""
        if self._ended:
            return
        faults = self.faults()
        if not self._started:
            self._started = True
            if faults is not None and faults.expire_after_s is not None and faults.take("expire"):
                self._later(faults.expire_after_s, self._expire)
        if self._held is not None:
            self._held.append(text)
            return
        if faults is None:
            self.inner.send_text(text)
            return
        if '.delta"' in text[:80] and text.startswith('{"type":"response.'):
            self.deltas += 1
        n = self.deltas
        if _due(faults.drop_after_deltas, n) and faults.take("drop"):
            self.abort()
            self._end_session(1000, "")
            return
        self.inner.send_text(text)
        if _due(faults.close_after_deltas, n) and faults.take("close"):
            self._end_session(faults.close_code, "fault injection")
        elif _due(faults.stall_after_deltas, n) and faults.take("stall"):
            self._held = []
            self._later(faults.stall_s, self._release)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the real transport (once); events still held are dropped."""
        self._stop()
        if not self._closed:
            self._closed = True
            self.inner.close(code, reason)

    def abort(self) -> None:
        """Drop the real connection without a closing handshake."""
        self._stop()
        self.inner.abort()

    def _stop(self) -> None:
        self._ended = True
        self._held = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(asyncio.get_running_loop().call_later(delay, callback))

    def _release(self) -> None:
        held, self._held = self._held or [], None
        for text in held:
            self.inner.send_text(text)

    def _expire(self) -> None:
        session = self.session
        if session is not None and not session.closed:
            session.expire()

    def _end_session(self, code: int, reason: str) -> None:
        session = self.session
        if session is not None:
            session.close(code, reason)
        else:
            self.close(code, reason)


def _due(after: int | None, n: int) -> bool:
    return after is not None and n >= after
