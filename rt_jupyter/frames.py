"""Sessions as data: pandas frames built from an :class:`~rt_jupyter.log.EventLog`."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .protocol import Conversation, Item

__all__ = ["code_blocks"]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.S)


def code_blocks(items: Conversation | Iterable[Item]) -> list[str]:
    """Fenced code blocks in assistant messages, oldest first."""
    out: list[str] = []
    for item in items:
        if item.type == "message" and item.role == "assistant":
            out.extend(m.group(2).rstrip("\n") for m in _FENCE.finditer(item.text))
    return out
