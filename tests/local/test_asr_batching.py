"""Utterances waiting together are transcribed together: Whisper's batches hear what one
utterance at a time hears, and the recogniser pool hands each utterance its own transcript."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from rt_jupyter.local.asr_pool import ProcessTranscriber
from rt_jupyter.local.engines.whisper import WhisperTranscriber
from tests.speech import QUESTION, speech_samples, word_accuracy

pytestmark = pytest.mark.timeout(600)

RATE = 24000
SAID = [
    ("play the latest album by taylor swift", "alloy"),
    ("call alice johnson on her mobile phone", "ash"),
    (QUESTION, "shimmer"),
    ("how far is it from london to berlin", "alloy"),
]


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    return WhisperTranscriber(cpu_threads=2)


def _said(text: str, voice: str, lead_ms: int = 300) -> np.ndarray:
    return speech_samples(text, RATE, voice=voice, lead_silence_ms=lead_ms, tail_silence_ms=300)


def test_a_batch_hears_what_one_at_a_time_hears(whisper: WhisperTranscriber) -> None:
    """Every kind of clip in one batch: speech in several voices, speech longer than the short
    encoder window (transcribed on its own), silence, nothing at all."""
    clips = [_said(text, voice) for text, voice in SAID]
    clips.append(_said("what is the capital of japan", "ash", lead_ms=16000))  # > 15 s
    clips.append(np.zeros(RATE, np.float32))
    clips.append(np.zeros(0, np.float32))
    together = whisper.transcribe_batch(clips, RATE)
    alone = [whisper.transcribe(clip, RATE) for clip in clips]
    assert together == alone
    for (text, _), heard in zip(
        [*SAID, ("what is the capital of japan", "")], together, strict=False
    ):
        assert word_accuracy(text, heard.text) >= 0.7, (text, heard.text)
    assert together[-2].text == together[-1].text == ""
    assert together[2].duration_ms == len(clips[2]) * 1000 // RATE


#: A prompt that names a made-up name in a phrase, as Whisper's prompts work best (the bare name
#: steered tiny.en on this clip only with some renderings of eSpeak's breath noise).
PROMPT = "My friend Zareck."


def test_a_batch_takes_the_prompt(whisper: WhisperTranscriber) -> None:
    name = _said("my friend is called zarek", "alloy")
    other = _said(QUESTION, "ash")
    plain = whisper.transcribe_batch([name, other], RATE)
    prompted = whisper.transcribe_batch([name, other], RATE, prompt=PROMPT)
    assert "Zareck" not in plain[0].text and "Zareck" in prompted[0].text, (plain, prompted)
    assert prompted == [whisper.transcribe(c, RATE, prompt=PROMPT) for c in (name, other)]


def test_the_pool_batches_waiting_utterances_and_keeps_them_apart() -> None:
    """One worker, eleven utterances submitted at once (three of them prompted): the waiting
    ones go in batches of at most four, prompted ones only with prompted ones, and each future
    gets its own utterance's words."""
    utterances: list[tuple[str, np.ndarray, str | None]] = []
    for i in range(8):
        text, voice = SAID[i % len(SAID)]
        utterances.append((text, _said(text, voice), None))
        if i % 3 == 0:
            utterances.append(("zareck", _said("my friend is called zarek", "alloy"), PROMPT))
    pool = ProcessTranscriber(workers=1, cpu_threads=2, batch_size=4)
    try:
        # submitted in microseconds: whatever the machine's speed, the worker takes the first
        # (or more) while the rest wait
        jobs = [(text, pool.submit(clip, RATE, prompt=prompt)) for text, clip, prompt in utterances]
        heard = [(text, future.result(timeout=300)) for text, future in jobs]
    finally:
        pool.close()
    for text, transcript in heard:
        said = getattr(transcript, "text", "")
        if text == "zareck":
            assert "Zareck" in said, said
        else:
            assert word_accuracy(text, said) >= 0.7, (text, said)
            assert "Zareck" not in said
    assert sum(size * n for size, n in pool.batch_sizes.items()) == len(jobs)
    assert max(pool.batch_sizes) > 1, pool.batch_sizes  # some were batched
    assert max(pool.batch_sizes) <= 4, pool.batch_sizes
    assert pool.backlog == 0


def test_closing_the_pool_ends_every_waiting_utterance() -> None:
    """Utterances still waiting when the pool closes are cancelled, not left pending; the
    backlog returns to zero."""
    pool = ProcessTranscriber(workers=1, cpu_threads=1, batch_size=2)
    clip = _said(QUESTION, "alloy")
    futures = [pool.submit(clip, RATE) for _ in range(8)]
    pool.close()
    _, pending = concurrent.futures.wait(futures, timeout=120)
    assert not pending
    assert any(f.cancelled() for f in futures)
    assert pool.backlog == 0
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(clip, RATE)
