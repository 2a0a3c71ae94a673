"""Code blocks found in the assistant's messages (``core.code``), without a session."""

from __future__ import annotations

from rt_jupyter import frames
from rt_jupyter.core import code_blocks
from rt_jupyter.protocol import Item


def message(role: str, text: str) -> Item:
    kind = "output_text" if role == "assistant" else "input_text"
    return Item({"type": "message", "role": role, "content": [{"type": kind, "text": text}]})


def test_fenced_blocks_of_assistant_messages_in_order() -> None:
    items = [
        message("user", "```python\nnot mine\n```"),
        message("assistant", "Try:\n```python\nx = 1\n\n```\nand\n```\nprint(x)\n```"),
        message("assistant", "no code here"),
        message("assistant", "```js-x \nlet y = 2;\n```"),
        Item({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}),
    ]
    assert code_blocks(items) == ["x = 1", "print(x)", "let y = 2;"]
    assert code_blocks([]) == []


def test_frames_offers_the_same_function() -> None:
    assert frames.code_blocks is code_blocks
