"""Split wire audio into ``input_audio_buffer.append`` events under the per-event size limit."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from ._formats import FormatLike, check_wire_bytes, get_format
from ._pcm import BytesLike

#: The Realtime API's maximum size of one client event (15 MiB of JSON).
MAX_EVENT_BYTES = 15 * 1024 * 1024
#: Default chunk: 1 s of pcm16 at 24 kHz (6 s of G.711); a multiple of every sample size.
DEFAULT_CHUNK_BYTES = 48_000
_APPEND = "input_audio_buffer.append"


def _event(audio: str, event_id: str | None) -> dict[str, str]:
    event = {"type": _APPEND, "audio": audio}
    return event if event_id is None else {"event_id": event_id, **event}


def append_event_size(n_audio_bytes: int, event_id: str | None = None) -> int:
    """Bytes of JSON (``json.dumps`` defaults) of an append event carrying that much audio."""
    b64_len = 4 * -(-n_audio_bytes // 3)
    return len(json.dumps(_event("", event_id)).encode()) + b64_len


def max_chunk_bytes(fmt: FormatLike = "pcm16", event_id: str | None = None) -> int:
    """The largest sample-aligned ``chunk_bytes`` whose append event stays under the limit."""
    width = get_format(fmt).bytes_per_sample
    budget = MAX_EVENT_BYTES - 1 - append_event_size(0, event_id)  # strictly under the limit
    n = (budget // 4) * 3
    return n - n % width


def chunk_audio_events(
    data: BytesLike,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    event_id_prefix: str | None = None,
    *,
    fmt: FormatLike = "pcm16",
) -> Iterator[dict[str, str]]:
    """Split wire audio into ``input_audio_buffer.append`` events with base64 audio.

    Each chunk holds ``chunk_bytes`` bytes (the last one may be shorter), a whole
    number of ``fmt`` samples. With ``event_id_prefix``, events get
    ``"event_id": f"{event_id_prefix}{i}"``. Arguments are checked eagerly: raises
    ``ValueError`` if ``chunk_bytes`` is not sample-aligned or would make an event of
    :data:`MAX_EVENT_BYTES` (15 MiB) or more after base64 expansion.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(
            f"expected wire audio bytes, got {type(data).__name__}; "
            "convert samples with pcm16_bytes() or encode_audio()"
        )
    f = check_wire_bytes(data, fmt)
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes <= 0:
        raise ValueError(f"expected a positive integer chunk_bytes, got {chunk_bytes!r}")
    if chunk_bytes % f.bytes_per_sample:
        raise ValueError(
            f"chunk_bytes must be a multiple of {f.bytes_per_sample} (bytes per {f.name} "
            f"sample) to keep chunks sample-aligned, got {chunk_bytes}"
        )
    view = memoryview(data)
    view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    n_events = -(-view.nbytes // chunk_bytes)
    last_id = None if event_id_prefix is None else f"{event_id_prefix}{max(n_events - 1, 0)}"
    size = append_event_size(chunk_bytes, last_id)
    if size >= MAX_EVENT_BYTES:
        raise ValueError(
            f"chunk_bytes={chunk_bytes} gives {size}-byte events after base64 encoding, over "
            f"the {MAX_EVENT_BYTES}-byte (15 MiB) per-event limit; use chunk_bytes <= "
            f"{max_chunk_bytes(f, last_id)}"
        )
    return _iter_events(view, chunk_bytes, event_id_prefix)


def _iter_events(
    view: memoryview, chunk_bytes: int, prefix: str | None
) -> Iterator[dict[str, str]]:
    for i, start in enumerate(range(0, view.nbytes, chunk_bytes)):
        audio = base64.b64encode(view[start : start + chunk_bytes]).decode("ascii")
        yield _event(audio, None if prefix is None else f"{prefix}{i}")
