"""The event log shared by the kernel client and the widget: every event sent and received.

Events are stored column-wise (timestamps in ``array``s, the JSON text of each event with audio
payloads replaced by their length), so a million events fit in a few hundred megabytes. An optional
append-only JSONL file is written and flushed per event, so a crash loses nothing already logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import json
import os
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from .protocol.dialects import kind as normalize_kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DIRECTIONS", "EventLog", "LogRecord"]

#: Direction codes: received from the server, sent by us, or a local note (reconnects, errors).
DIRECTIONS: Final = ("in", "out", "local")
_DIR_CODE: Final = {name: code for code, name in enumerate(DIRECTIONS)}
_AUDIO_FIELDS: Final = {
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
    "input_audio_buffer.append": "audio",
}


def _b64_len(text: str) -> int:
    n = len(text)
    return (n * 3) // 4 - (text[-2:].count("=") if n else 0)


def _strip_audio(data: Mapping[str, Any]) -> tuple[dict[str, Any] | None, int]:
    """A copy of ``data`` with base64 audio replaced by its decoded length, and that length."""
    field = _AUDIO_FIELDS.get(str(data.get("type")))
    if field is not None and isinstance(data.get(field), str):
        size = _b64_len(data[field])
        return {**data, field: None, "audio_bytes": size}, size
    item = data.get("item")
    if isinstance(item, Mapping) and isinstance(item.get("content"), list):
        total = 0
        content = []
        for part in item["content"]:
            if isinstance(part, Mapping) and isinstance(part.get("audio"), str) and part["audio"]:
                n = _b64_len(part["audio"])
                total += n
                content.append({**part, "audio": None, "audio_bytes": n})
            else:
                content.append(part)
        if total:
            return {**data, "item": {**item, "content": content}}, total
    return None, 0


_DECODER = json.JSONDecoder()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while decoding many events into new containers
    (reference counting still frees everything; the collector runs again afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class LogRecord:
    """One logged event."""

    index: int
    t: float  # monotonic seconds (time.perf_counter)
    wall: float  # Unix time
    direction: str  # "in", "out" or "local"
    kind: str  # normalized (GA) event type
    type: str  # the type as sent on the wire
    size: int  # bytes of JSON on the wire
    audio_bytes: int  # bytes of audio the event carried (removed from `event`)
    event: dict[str, Any]


class EventLog:
    """Every event of a session, in order, with timestamps; see :meth:`to_frame`.

    ``path``: also append each event to this JSONL file, flushed per event (crash-safe).
    ``keep_audio``: keep the audio bytes of audio events (``audio(i)``) instead of dropping them.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, keep_audio: bool = False):
        self.t: array[float] = array("d")
        self.wall: array[float] = array("d")
        self.direction = bytearray()
        self.kind_codes: array[int] = array("H")
        self.kinds: list[str] = []
        self._kind_index: dict[str, int] = {}
        self.types: list[str] = []
        self.payloads: list[str] = []
        self.sizes: array[int] = array("I")
        self.audio_sizes: array[int] = array("I")
        self.keep_audio = keep_audio
        self._audio: dict[int, bytes] = {}
        self._listeners: list[Any] = []
        self._file: IO[str] | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    # --- writing ---------------------------------------------------------------------------------

    def add(
        self,
        direction: str,
        event: Mapping[str, Any],
        *,
        text: str | None = None,
        t: float | None = None,
        wall: float | None = None,
    ) -> int:
        """Log one event; ``text`` is its JSON as on the wire (avoids re-serializing). Returns its
        index."""
        data = getattr(event, "data", event)
        etype = str(data.get("type", ""))
        stripped, audio_size = _strip_audio(data)
        if stripped is not None:
            payload = json.dumps(stripped, separators=(",", ":"), ensure_ascii=False)
            if self.keep_audio:
                self._keep(len(self.payloads), data)
        else:
            payload = (
                text
                if text is not None
                else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            )
        size = len(text) if text is not None else len(payload) + audio_size * 4 // 3
        code = self._kind_index.get(etype)
        if code is None:
            code = len(self.kinds)
            self.kinds.append(normalize_kind(etype))
            self._kind_index[etype] = code
        index = len(self.payloads)
        self.t.append(t if t is not None else time.perf_counter())
        self.wall.append(wall if wall is not None else time.time())
        self.direction.append(_DIR_CODE[direction])
        self.kind_codes.append(code)
        self.types.append(etype)
        self.sizes.append(min(size, 2**32 - 1))
        self.audio_sizes.append(min(audio_size, 2**32 - 1))
        self.payloads.append(payload)  # last: len(log) counts only complete rows
        if self._file is not None:
            self._file.write(self._line(index) + "\n")
            self._file.flush()
        for listener in self._listeners:
            listener(index)
        return index

    def note(self, kind: str, **fields: Any) -> int:
        """Log a local event (``rt.reconnect``, ``rt.warning``...)."""
        return self.add("local", {"type": kind, **fields})

    def _keep(self, index: int, data: Mapping[str, Any]) -> None:
        field = _AUDIO_FIELDS.get(str(data.get("type")))
        raw = data.get(field) if field else None
        if isinstance(raw, str):
            with contextlib.suppress(binascii.Error, ValueError):
                self._audio[index] = base64.b64decode(raw)

    def subscribe(self, listener: Any) -> None:
        """Call ``listener(index)`` after each new event."""
        self._listeners.append(listener)

    def close(self) -> None:
        """Close the JSONL file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- reading ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.payloads)

    def __getitem__(self, index: int) -> LogRecord:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return LogRecord(
            index=index,
            t=self.t[index],
            wall=self.wall[index],
            direction=DIRECTIONS[self.direction[index]],
            kind=self.kinds[self.kind_codes[index]],
            type=self.types[index],
            size=self.sizes[index],
            audio_bytes=self.audio_sizes[index],
            event=json.loads(self.payloads[index]),
        )

    def __iter__(self) -> Iterator[LogRecord]:
        for i in range(len(self)):
            yield self[i]

    def audio(self, index: int) -> bytes | None:
        """The audio bytes of event ``index`` (only with ``keep_audio=True``)."""
        return self._audio.get(index)

    def of_kind(self, *kinds: str) -> list[LogRecord]:
        """Records whose normalized kind is one of ``kinds``."""
        wanted = {i for i, k in enumerate(self.kinds) if k in kinds}
        return [self[i] for i, c in enumerate(self.kind_codes) if c in wanted]

    def count(self, kind: str) -> int:
        """How many events of a normalized kind were logged."""
        wanted = {i for i, k in enumerate(self.kinds) if k == kind}
        return sum(1 for c in self.kind_codes if c in wanted)

    def memory_bytes(self) -> int:
        """Approximate memory held by the log."""
        import sys

        total = sum(sys.getsizeof(p) for p in self.payloads)
        total += sys.getsizeof(self.payloads) + sys.getsizeof(self.types)
        total += len(self) * (8 + 8 + 1 + 2 + 4 + 4)
        total += sum(len(a) for a in self._audio.values())
        return total

    # --- frames and files ------------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """One row per event: times, direction, type, normalized kind, ids, sizes, error codes.

        Columns: ``t`` (seconds since the first event), ``wall`` (datetime), ``direction``,
        ``type``, ``kind``, ``event_id``, ``response_id``, ``item_id``, ``call_id``, ``size``,
        ``audio_bytes``, ``error_code``, ``event`` (the decoded event without audio).
        """
        import numpy as np
        import pandas as pd

        n = len(self)  # a snapshot: another thread may be logging meanwhile
        t = np.frombuffer(self.t[:n], dtype=np.float64)
        event_ids: list[Any] = []
        response_ids: list[Any] = []
        item_ids: list[Any] = []
        call_ids: list[Any] = []
        errors: list[Any] = []
        events: list[dict[str, Any]] = []
        decode = _DECODER.raw_decode  # json.loads without its wrapper: our payloads are compact
        with paused_gc():  # a million new dicts would trigger full collections again and again
            for payload in self.payloads[:n]:
                ev = decode(payload)[0]
                events.append(ev)
                event_ids.append(ev.get("event_id"))
                response = ev.get("response")
                rid = ev.get("response_id") or (
                    response.get("id") if isinstance(response, dict) else None
                )
                response_ids.append(rid)
                item = ev.get("item")
                iid = ev.get("item_id") or (item.get("id") if isinstance(item, dict) else None)
                item_ids.append(iid)
                call_ids.append(ev.get("call_id"))
                err = ev.get("error")
                errors.append(err.get("code") if isinstance(err, dict) else None)
        # (slices are copies: no buffer of the live arrays is exported while others log)
        # one code per wire type (kind_codes); kinds are their normalized names, possibly shared
        codes = np.frombuffer(self.kind_codes[:n], dtype=np.uint16).astype(np.int32)
        types_of_code = [""] * len(self.kinds)
        for etype, code in self._kind_index.items():
            types_of_code[code] = etype
        kind_names = sorted(set(self.kinds))
        kind_of_code = np.array([kind_names.index(k) for k in self.kinds], dtype=np.int32)
        frame = pd.DataFrame(
            {
                "t": t - (t[0] if n else 0.0),
                "wall": pd.to_datetime(
                    np.frombuffer(self.wall[:n], dtype=np.float64), unit="s", utc=True
                ),
                "direction": pd.Categorical.from_codes(
                    np.frombuffer(self.direction[:n], dtype=np.uint8).astype(np.int8),
                    categories=pd.Index(list(DIRECTIONS)),
                ),
                "type": pd.Categorical.from_codes(codes, categories=pd.Index(types_of_code)),
                "kind": pd.Categorical.from_codes(
                    kind_of_code[codes] if n else codes, categories=pd.Index(kind_names)
                ),
                "event_id": event_ids,
                "response_id": response_ids,
                "item_id": item_ids,
                "call_id": call_ids,
                "size": np.frombuffer(self.sizes[:n], dtype=np.uint32).astype(np.int64),
                "audio_bytes": np.frombuffer(self.audio_sizes[:n], dtype=np.uint32).astype(
                    np.int64
                ),
                "error_code": errors,
                "event": events,
            }
        )
        return frame

    def _line(self, index: int) -> str:
        d = DIRECTIONS[self.direction[index]]
        return (
            f'{{"t":{self.t[index]!r},"wall":{self.wall[index]!r},"dir":"{d}",'
            f'"size":{self.sizes[index]},"event":{self.payloads[index]}}}'
        )

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole log as JSON lines (``t``, ``wall``, ``dir``, ``size``, ``event``)."""
        out = Path(path)
        with open(out, "w", encoding="utf-8") as f:
            for i in range(len(self)):
                f.write(self._line(i) + "\n")
        return out

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> EventLog:
        """Read a log written by :meth:`to_jsonl` or by a live ``path=`` log (a torn last line
        from a crash is skipped)."""
        log = cls()
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        if lines and not lines[-1].strip():
            lines.pop()
        for number, raw in enumerate(lines, 1):
            last = number == len(lines)
            try:
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    if last and raw.startswith(b'{"t":'):
                        continue  # a record torn by a crash while it was being written
                    raise
                if not isinstance(row, dict) or row.get("dir") not in DIRECTIONS:
                    raise ValueError("not a log record")
                event = row["event"]
                if not isinstance(event, dict):
                    raise ValueError("its event is not an object")
                log.add(row["dir"], event, t=float(row["t"]), wall=float(row["wall"]))
                log.sizes[-1] = int(row.get("size", log.sizes[-1]))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"{path}: line {number} is not an rt_jupyter event log record ({exc}); "
                    "read files written by EventLog(path=...) or EventLog.to_jsonl()"
                ) from None
        return log

    def extend(self, records: Iterable[LogRecord]) -> None:
        """Append records from another log (times kept)."""
        for r in records:
            self.add(r.direction, r.event, t=r.t, wall=r.wall)
