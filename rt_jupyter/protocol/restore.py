"""What a client sends to restore a conversation on a new connection, decided from the state alone.

After a dropped connection the server has forgotten everything; :func:`restore_plan` looks at the
conversation as the client mirrored it and says what to send on the new one, in order: the session
configuration, every finished item again (as ``conversation.item.create`` payloads), the item
creates that were sent but never acknowledged, and which responses the drop cut off (their partial
output is left out and the response is asked for again). No I/O: the client's reconnect loop only
sends what the plan says.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .conversation import Conversation, Item

__all__ = ["CUT", "EMPTY", "UNFINISHED", "RestorePlan", "replay_item", "restore_plan"]

#: Why an item is not replayed: the output of a response the drop cut off (asked for again) ...
CUT: Final = "cut"
#: ... an item still in progress when the connection dropped ...
UNFINISHED: Final = "in_progress"
#: ... or an item with nothing a new session can take (e.g. audio whose bytes were not kept).
EMPTY: Final = "empty"


@dataclass(frozen=True)
class RestorePlan:
    """What to send on the new connection, in this order: :attr:`session` (a ``session.update``
    payload, if any), :attr:`replay`, :attr:`resend`; then ``response.create`` again for each of
    :attr:`responses`."""

    #: The session configuration to apply again (``None``: nothing was configured).
    session: dict[str, Any] | None
    #: ``conversation.item.create`` items for the finished items, in conversation order.
    replay: tuple[dict[str, Any], ...]
    #: ``conversation.item.create`` events sent but never acknowledged, to send again as they were.
    resend: tuple[dict[str, Any], ...]
    #: Ids of the responses in progress when the connection dropped: to be requested again.
    responses: tuple[str, ...]
    #: ``(item_id, reason)`` for each item not replayed (:data:`CUT`, :data:`UNFINISHED`,
    #: :data:`EMPTY`).
    dropped: tuple[tuple[str, str], ...]
    #: ``call_id`` of replayed function calls without an output yet (their tools answer later).
    open_calls: tuple[str, ...]

    def events(self) -> list[dict[str, Any]]:
        """The client events to send, in order (``response.create`` requests excepted)."""
        out: list[dict[str, Any]] = []
        if self.session is not None:
            out.append({"type": "session.update", "session": dict(self.session)})
        out += [{"type": "conversation.item.create", "item": item} for item in self.replay]
        out += [dict(event) for event in self.resend]
        return out


def restore_plan(
    conversation: Conversation,
    *,
    config: Mapping[str, Any] | None = None,
    unacked: Mapping[str, Mapping[str, Any]] | None = None,
    queued: Collection[str] = (),
) -> RestorePlan:
    """The plan to restore ``conversation`` on a new connection.

    ``config``: the session settings applied so far (sent again when not empty). ``unacked``:
    ``conversation.item.create`` events by item id that were sent without their
    ``conversation.item.added`` arriving; those whose item is neither in the conversation nor in
    ``queued`` (ids of item creates waiting to be sent anyway) are sent again."""
    responses = tuple(r.id for r in conversation.active_responses())
    cut = {item.id for r in conversation.active_responses() for item in r.output}
    replay: list[dict[str, Any]] = []
    dropped: list[tuple[str, str]] = []
    calls: dict[str, bool] = {}
    for item in conversation.items:
        if item.id in cut:
            dropped.append((item.id, CUT))
            continue
        if item.status == "in_progress":
            dropped.append((item.id, UNFINISHED))
            continue
        payload = replay_item(item)
        if payload is None:
            dropped.append((item.id, EMPTY))
            continue
        replay.append(payload)
        if item.type == "function_call":
            calls.setdefault(str(item.call_id), False)
        elif item.type == "function_call_output":
            calls[str(item.call_id)] = True
    resend = tuple(
        dict(event)
        for item_id, event in (unacked or {}).items()
        if item_id not in conversation and item_id not in queued
    )
    return RestorePlan(
        session=dict(config) if config else None,
        replay=tuple(replay),
        resend=resend,
        responses=responses,
        dropped=tuple(dropped),
        open_calls=tuple(call for call, answered in calls.items() if not answered),
    )


def replay_item(item: Item) -> dict[str, Any] | None:
    """``item`` as a ``conversation.item.create`` item (GA shape) for a new session: function calls
    and outputs as they are, assistant messages as their text (or transcript), user and system
    messages with their text, images and — when kept — audio; ``None`` when nothing is left."""
    base: dict[str, Any] = {"id": item.id} if item.id else {}
    if item.type == "function_call":
        return {
            **base,
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
        }
    if item.type == "function_call_output":
        return {
            **base,
            "type": "function_call_output",
            "call_id": item.call_id,
            "output": item.output or "",
        }
    if item.type != "message":
        return None
    role = item.role or "user"
    content: list[dict[str, Any]] = []
    for index, part in enumerate(item.content):
        text = part.get("text") if "text" in part else part.get("transcript")
        ptype = part.get("type")
        if role == "assistant":
            if text:
                content.append({"type": "output_text", "text": text})
        elif ptype == "input_audio" and not text and index in item.audio:
            audio = base64.b64encode(bytes(item.audio[index])).decode()
            content.append({"type": "input_audio", "audio": audio})
        elif ptype == "input_image":
            content.append({k: v for k, v in part.items() if k in ("type", "image_url", "detail")})
        elif text:
            content.append({"type": "input_text", "text": text})
    if not content:
        return None
    return {**base, "type": "message", "role": role, "content": content}
