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
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Faults"]


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
