"""What :meth:`RealtimeSession.transcribe` returns, and the collector that builds it from the
events of one call (no I/O: the session feeds it events)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..protocol import Event

__all__ = ["TranscriptSegment", "Transcription", "TranscriptionCollector"]


@dataclass
class TranscriptSegment:
    """One transcribed turn: its item, time span in the input audio (ms) and text."""

    item_id: str
    start_ms: int | None
    end_ms: int | None
    text: str


@dataclass
class Transcription:
    """The result of :meth:`RealtimeSession.transcribe`."""

    segments: list[TranscriptSegment] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The segments' texts, joined by spaces."""
        return " ".join(s.text for s in self.segments if s.text)

    def __str__(self) -> str:
        return self.text


class TranscriptionCollector:
    """The turns one ``transcribe()`` call committed and their transcripts (a failed one is
    empty); :attr:`finished` is set each time every committed turn has its transcript.

    ``spans``: ``item_id -> [audio_start_ms, audio_end_ms]`` from the session's speech events.
    """

    #: The events to :meth:`feed` it.
    KINDS = (
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
    )

    def __init__(self, spans: Mapping[str, list[int | None]]) -> None:
        self.committed: list[str] = []
        self.done: dict[str, str] = {}
        self.finished = asyncio.Event()
        self._spans = spans

    @property
    def complete(self) -> bool:
        """At least one turn was committed and every committed turn has its transcript."""
        return bool(self.committed) and set(self.committed) <= set(self.done)

    def feed(self, event: Event) -> None:
        """Take one of :attr:`KINDS`."""
        item_id = str(event.get("item_id"))
        if event.kind == "input_audio_buffer.committed":
            self.committed.append(item_id)
            return
        failed = event.kind.endswith(".failed")
        self.done[item_id] = "" if failed else str(event.get("transcript") or "")
        if set(self.committed) <= set(self.done):
            self.finished.set()

    def result(self) -> Transcription:
        """The committed turns in order, with their spans and transcripts."""
        segments = []
        for item_id in self.committed:
            start, end = self._spans.get(item_id, [None, None])
            segments.append(TranscriptSegment(item_id, start, end, self.done[item_id]))
        return Transcription(segments)
