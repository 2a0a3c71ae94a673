"""Size limits shared with the widget's JavaScript (both read ``limits.json`` in this package).

A WebRTC data-channel message over ~64 KiB can close the channel: 65,536 bytes is the SCTP
``max-message-size`` Chromium and aiortc assume when the peer advertises none, and a larger message
is refused or tears the SCTP association down. Senders (the widget, the kernel fallback, the local
service) therefore keep every message at or under :data:`DATA_CHANNEL_MAX_MESSAGE_BYTES`, a
margin below that hard limit, and split or slim anything bigger (a ``session.update`` with many
tools, say).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

__all__ = ["DATA_CHANNEL_MAX_MESSAGE_BYTES", "SCTP_MAX_MESSAGE_SIZE", "split_session_update"]


def _load() -> dict[str, int]:
    package = __name__.rpartition(".")[0]
    text = resources.files(package).joinpath("limits.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {k: int(v) for k, v in data.items() if not k.startswith("_")}


_LIMITS = _load()

#: The largest data-channel message, in UTF-8 bytes, that a sender may put on ``oai-events``:
#: a margin under :data:`SCTP_MAX_MESSAGE_SIZE`, which can close the channel.
DATA_CHANNEL_MAX_MESSAGE_BYTES: Final[int] = _LIMITS["data_channel_max_message_bytes"]

#: The SCTP ``max-message-size`` (bytes) Chromium and aiortc assume: the hard limit.
SCTP_MAX_MESSAGE_SIZE: Final[int] = _LIMITS["sctp_max_message_size"]


def _size(event: Mapping[str, Any]) -> int:
    """Bytes of ``event`` as senders put it on the wire (:func:`~.events.serialize`)."""
    from .events import serialize

    return len(serialize(event).encode())


def split_session_update(
    session: Mapping[str, Any], limit: int = DATA_CHANNEL_MAX_MESSAGE_BYTES
) -> list[dict[str, Any]]:
    """``session.update`` events that carry ``session`` (GA or beta shape) in messages of at most
    ``limit`` bytes: one when it fits, else split by top-level fields, in order (each event
    repeats ``type``). Raises :class:`~rt_jupyter.protocol.LocalProtocolError`
    (``message_too_large``) when a single field is over the limit."""
    from .errors import LocalProtocolError
    from .events import build

    event = build("session.update", session=dict(session))
    if _size(event) <= limit:
        return [event]
    head = {"type": session["type"]} if "type" in session else {}
    groups: list[dict[str, Any]] = []
    current = dict(head)
    for key, value in session.items():
        if key == "type":
            continue
        trial = {**current, key: value}
        if _size(build("session.update", session=trial)) <= limit:
            current = trial
            continue
        if len(current) > len(head):
            groups.append(current)
        current = {**head, key: value}
        if _size(build("session.update", session=current)) > limit:
            raise LocalProtocolError(
                f"session.{key} is over {limit:,} bytes and cannot cross the data channel in "
                "one message; make it smaller (shorter instructions or fewer tools)",
                code="message_too_large",
            )
    groups.append(current)
    return [build("session.update", session=g) for g in groups]
