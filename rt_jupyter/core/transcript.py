"""The transcript both front doors show: every message with text, in conversation order."""

from __future__ import annotations

from ..protocol import Conversation

__all__ = ["transcript_entries"]


def transcript_entries(conversation: Conversation) -> list[dict[str, str]]:
    """``[{"role", "text", "item_id"}, ...]`` for every message with text (user speech once it
    is transcribed, assistant text or the transcript of its speech)."""
    return [
        {"role": role, "text": text, "item_id": item_id}
        for role, text, item_id in conversation.transcript()
    ]
