"""The one table of audio formats (``rt_jupyter.protocol.formats``) and its users agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rt_jupyter import audio
from rt_jupyter.protocol import BYTES_PER_MS as EXPORTED_BYTES_PER_MS
from rt_jupyter.protocol import Conversation
from rt_jupyter.protocol.dialects import audio_format_name, beta_audio_format, ga_audio_format
from rt_jupyter.protocol.formats import (
    AUDIO_FORMATS,
    BETA_NAMES,
    BYTES_PER_MS,
    G711_ALAW,
    G711_ULAW,
    GA_TYPES,
    PCM16,
)

TABLE = [
    ("pcm16", "audio/pcm", 24000, 2, 48, {"type": "audio/pcm", "rate": 24000}),
    ("g711_ulaw", "audio/pcmu", 8000, 1, 8, {"type": "audio/pcmu"}),
    ("g711_alaw", "audio/pcma", 8000, 1, 8, {"type": "audio/pcma"}),
]


@pytest.mark.parametrize(("name", "mime", "rate", "width", "per_ms", "ga"), TABLE)
def test_the_table(
    name: str, mime: str, rate: int, width: int, per_ms: int, ga: dict[str, object]
) -> None:
    fmt = AUDIO_FORMATS[name]
    assert (fmt.name, fmt.mime_type, fmt.sample_rate, fmt.bytes_per_sample) == (
        name,
        mime,
        rate,
        width,
    )
    assert fmt.bytes_per_ms == per_ms == BYTES_PER_MS[name]
    assert fmt.bytes_per_second == rate * width
    assert fmt.ga() == ga and fmt.ga() is not fmt.ga()  # a fresh object each time
    assert GA_TYPES[name] == mime and BETA_NAMES[mime] == name


@pytest.mark.parametrize(("name", "mime", "rate", "width", "per_ms", "ga"), TABLE)
def test_the_dialects_spell_formats_from_the_table(
    name: str, mime: str, rate: int, width: int, per_ms: int, ga: dict[str, object]
) -> None:
    assert ga_audio_format(name) == ga_audio_format(mime) == ga
    assert beta_audio_format(mime) == beta_audio_format(ga) == beta_audio_format(name) == name
    assert audio_format_name(ga) == name
    conversation = Conversation()
    conversation.output_format = name
    assert conversation.bytes_per_ms() == per_ms


def test_unknown_spellings_pass_through_as_before() -> None:
    assert ga_audio_format("audio/opus") == {"type": "audio/opus"}
    assert beta_audio_format("opus") == "opus"
    assert audio_format_name(None) == "pcm16"
    assert Conversation().bytes_per_ms() == PCM16.bytes_per_ms


def test_one_table_everywhere() -> None:
    assert audio.AUDIO_FORMATS is AUDIO_FORMATS
    assert (audio.PCM16, audio.G711_ULAW, audio.G711_ALAW) == (PCM16, G711_ULAW, G711_ALAW)
    assert audio.AudioFormat("pcm16", 24000, 2) == PCM16
    assert EXPORTED_BYTES_PER_MS is BYTES_PER_MS


def test_the_table_needs_no_numpy() -> None:
    code = "import sys, rt_jupyter.protocol.formats; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
