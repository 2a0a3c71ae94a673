"""``transcribe()``'s collector without a socket: committed turns, their transcripts and spans."""

from __future__ import annotations

from rt_jupyter.client.transcription import TranscriptionCollector, TranscriptSegment
from rt_jupyter.protocol import Event


def complete(collector: TranscriptionCollector) -> bool:
    return collector.complete and collector.finished.is_set()


def event(kind: str, item_id: str, **fields: object) -> Event:
    return Event({"type": kind, "item_id": item_id, **fields})


async def test_turns_in_commit_order_with_spans_and_failures() -> None:
    spans: dict[str, list[int | None]] = {"a": [100, 900]}
    collector = TranscriptionCollector(spans)
    assert not complete(collector)
    collector.feed(event("input_audio_buffer.committed", "a"))
    collector.feed(event("input_audio_buffer.committed", "b"))
    collector.feed(
        event("conversation.item.input_audio_transcription.completed", "b", transcript="two")
    )
    assert not complete(collector)
    collector.feed(event("conversation.item.input_audio_transcription.failed", "a"))
    assert complete(collector)
    result = collector.result()
    assert result.segments == [
        TranscriptSegment("a", 100, 900, ""),
        TranscriptSegment("b", None, None, "two"),
    ]
    assert result.text == "two" and str(result) == "two"
