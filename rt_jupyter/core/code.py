"""Code blocks the assistant wrote: found in its messages (both front doors' ``code_blocks``)
and put into the notebook (their ``insert_code``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..protocol import Conversation, Item

__all__ = ["code_blocks", "insert_code_block"]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.S)


def code_blocks(items: Conversation | Iterable[Item]) -> list[str]:
    """Fenced code blocks in assistant messages, oldest first (without their fences and
    language tag)."""
    out: list[str] = []
    for item in items:
        if item.type == "message" and item.role == "assistant":
            out.extend(m.group(2).rstrip("\n") for m in _FENCE.finditer(item.text))
    return out


def insert_code_block(blocks: Sequence[str], index: int = -1) -> None:
    """Put ``blocks[index]`` into a new cell below the running one (IPython's
    ``set_next_input(block, replace=False)``; the front end adds the cell when the running cell
    finishes, so it has no effect from a callback or another thread)."""
    if not blocks:
        raise LookupError("no code block in the assistant's answers yet")
    try:
        block = blocks[index]
    except IndexError:
        raise IndexError(
            f"code block {index} does not exist: there are {len(blocks)} "
            f"(indexes 0..{len(blocks) - 1}, or -1 for the latest)"
        ) from None
    import IPython

    shell = IPython.get_ipython()
    if shell is None:
        raise RuntimeError(
            "insert_code() needs IPython: call it from a notebook cell (.code_blocks holds the "
            "code as strings)"
        )
    shell.set_next_input(block, replace=False)
