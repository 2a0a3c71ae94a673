"""The order of the browser's relayed batches, restored: the widget's comm, without I/O.

The page numbers each batch of relayed events (``seq`` 0, 1, 2...; a new relay starts at 0).
ipykernel 7 may hand two comm messages to the kernel out of order, so :class:`Reorder` holds a
batch that arrives early until the ones before it come, and hands batches on in ``seq`` order.
A batch still missing is a *gap*: when too many are held, or when the caller's hold timer runs
out (:meth:`Reorder.expire`), the earliest held batch is handed on and the gap reported. The
caller owns the timer: :attr:`Reorder.holding` says whether one should run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["MAX_HELD", "Gap", "Reorder"]

T = TypeVar("T")

#: Batches held while waiting for an earlier one before the gap is skipped.
MAX_HELD = 64


@dataclass(frozen=True)
class Gap:
    """Batch ``expected`` was awaited and batch ``got`` was handed on instead (``got`` <
    ``expected``: a batch that came too late to be put back in order)."""

    expected: int
    got: int


class Reorder(Generic[T]):
    """Batches numbered by ``seq``, handed on in order (see the module's docstring)."""

    def __init__(self, max_held: int = MAX_HELD) -> None:
        self.max_held = max_held
        self._last = -1
        self._held: dict[int, T] = {}

    @property
    def holding(self) -> bool:
        """Whether batches wait for an earlier one (the caller should run a hold timer)."""
        return bool(self._held)

    def reset(self) -> None:
        """A new relay (the page said hello): forget the numbering and what is held."""
        self._last = -1
        self._held.clear()

    def push(self, seq: int | None, batch: T) -> tuple[list[T], list[Gap]]:
        """A batch arrived: the batches to hand on now, in order, and the gaps found."""
        if seq is None:  # an unnumbered batch: nothing to order it by
            return [batch], []
        if seq == 0 and self._last >= 0:  # a new relay without a hello: start over
            self.reset()
        expected = self._last + 1
        if seq < expected:  # older than what was handed on: too late to reorder
            return [batch], [Gap(expected, seq)]
        self._held[seq] = batch
        gaps = [self._skip()] if len(self._held) > self.max_held else []
        return self._drain(), gaps

    def expire(self) -> tuple[list[T], list[Gap]]:
        """The hold timer ran out: skip the gap before the earliest held batch."""
        if not self._held:
            return [], []
        gap = self._skip()
        return self._drain(), [gap]

    def _skip(self) -> Gap:
        first = min(self._held)
        gap = Gap(self._last + 1, first)
        self._last = first - 1
        return gap

    def _drain(self) -> list[T]:
        ready: list[T] = []
        while self._last + 1 in self._held:
            self._last += 1
            ready.append(self._held.pop(self._last))
        return ready
