"""Code blocks the assistant wrote, put into the notebook (both front doors' ``insert_code``)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["insert_code_block"]


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
