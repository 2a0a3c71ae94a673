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
from importlib import resources
from typing import Final

__all__ = ["DATA_CHANNEL_MAX_MESSAGE_BYTES", "SCTP_MAX_MESSAGE_SIZE"]


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
