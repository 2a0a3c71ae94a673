"""The one table of audio formats (``rt_jupyter.protocol.formats``) and its users agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rt_jupyter import audio
from rt_jupyter.protocol import BYTES_PER_MS as EXPORTED_BYTES_PER_MS
from rt_jupyter.protocol import Conversation, Dialect, InputAudioBuffer, ProtocolError
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
from rt_jupyter.protocol.session import session_update, validate_session

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


@pytest.mark.parametrize(("fmt", "sample", "ms"), [("pcm16", 2, 48), ("g711_ulaw", 1, 8)])
def test_the_input_buffer_times_and_cuts_by_the_table(fmt: str, sample: int, ms: int) -> None:
    buffer = InputAudioBuffer(fmt)
    buffer.append(b"\x01" * (ms * 10 + 1))  # 10 ms and one byte
    assert buffer.bytes_per_ms == ms
    assert len(buffer.data) == ms * 10 + 1 - (1 if sample == 2 else 0)
    assert len(buffer.take(end_ms=2.5)) == int(2.5 * ms) // sample * sample


def test_session_update_names_every_format_of_the_table() -> None:
    assert session_update(input_audio_format="audio/pcmu")["audio"]["input"]["format"] == {
        "type": "audio/pcmu"
    }
    with pytest.raises(ValueError) as info:
        session_update(input_audio_format="opus")
    message = str(info.value)
    assert "'pcm16' (24 kHz)" in message
    assert "'g711_ulaw' (8 kHz)" in message
    assert "'g711_alaw' (8 kHz)" in message


@pytest.mark.parametrize(
    ("fmt", "ok"),
    [
        ({"type": "audio/pcm", "rate": 24000}, True),
        ({"type": "audio/pcma"}, True),
        ({"type": "audio/pcm", "rate": 16000}, False),
        ({"type": "audio/opus"}, False),
    ],
)
def test_the_session_schemas_take_the_formats_of_the_table(
    fmt: dict[str, object], ok: bool
) -> None:
    session = {"type": "realtime", "audio": {"input": {"format": fmt}}}
    if ok:
        validate_session(session, Dialect.GA)
    else:
        with pytest.raises(ProtocolError):
            validate_session(session, Dialect.GA)
    beta = {"input_audio_format": "g711_alaw"}
    validate_session(beta, Dialect.BETA)
    with pytest.raises(ProtocolError):
        validate_session({"input_audio_format": "audio/pcm"}, Dialect.BETA)
