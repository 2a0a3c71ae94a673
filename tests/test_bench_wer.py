"""The speech recognition benchmark's word error rate (benchmarks/bench_asr.py): Whisper's English
normalizer on both sides, jiwer's word alignment. Formatting is not an error; wrong words are."""

from __future__ import annotations

import pytest

from benchmarks.bench_asr import normalize, wer
from tests.speech import word_accuracy


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("remind me to buy milk at seven thirty", "Remind me to buy milk at 730."),
        (
            "turn the living room lights down to forty percent",
            "Turn the living room lights down to 40%.",
        ),
        ("convert three hundred grams to ounces", "Convert 300 grams to ounces."),
        ("set a timer for twenty five minutes", "Set a timer for 25 minutes."),
        ("call Alice Johnson on her mobile phone", "Call Alice Johnson on her mobile phone!"),
        ("book a table for four people at eight", "Book a table for 4 people at 8."),
    ],
)
def test_formatting_is_not_an_error(reference: str, hypothesis: str) -> None:
    assert wer([reference], [hypothesis]) == 0.0, (normalize(reference), normalize(hypothesis))


def test_wrong_words_are_counted() -> None:
    # one substitution in seven words
    assert wer(["what is the weather in Paris today"], ["What is the weather in Perth today?"]) == (
        pytest.approx(1 / 7)
    )
    # a wrong number is a wrong word, however it is written
    assert wer(["set a timer for twenty five minutes"], ["Set a timer for 35 minutes."]) == (
        pytest.approx(1 / 6)
    )
    # deletions and insertions: nothing heard is every word missed; extra words count
    assert wer(["what is the capital of Japan"], [""]) == 1.0
    assert wer(["play the latest album"], ["please play the latest album now"]) == 0.5


def test_corpus_rate_is_edits_over_all_reference_words() -> None:
    # 1 edit over 4 + 6 reference words (not the mean of the per-sentence rates, 1/8)
    refs = ["play the latest album", "what is the capital of Japan"]
    hyps = ["play the latest albums", "what is the capital of Japan"]
    assert wer(refs, hyps) == pytest.approx(1 / 10)


def test_word_accuracy_of_the_tests() -> None:
    assert word_accuracy("what is the weather in paris", "What is the weather in Paris?") == 1.0
    assert word_accuracy("what is the weather in paris", "what is that when") == pytest.approx(
        2 / 6
    )
    assert word_accuracy("a b", "c d e f g") == 0.0
