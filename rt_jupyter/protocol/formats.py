"""The Realtime API audio formats, in one table: the beta name (``"pcm16"``, ``"g711_ulaw"``,
``"g711_alaw"``), the GA type (``"audio/pcm"``, ``"audio/pcmu"``, ``"audio/pcma"``), the sample
rate and the bytes per sample. Standard library only; the numpy conversions are in
:mod:`rt_jupyter.audio`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "AUDIO_FORMATS",
    "BETA_NAMES",
    "BYTES_PER_MS",
    "G711_ALAW",
    "G711_ULAW",
    "GA_TYPES",
    "PCM16",
    "AudioFormat",
]


@dataclass(frozen=True)
class AudioFormat:
    """A Realtime API audio format: mono, ``sample_rate`` Hz, ``bytes_per_sample`` bytes."""

    name: str
    sample_rate: int
    bytes_per_sample: int

    @property
    def mime_type(self) -> str:
        """The GA API name of the format (``"audio/pcm"``, ``"audio/pcmu"``, ``"audio/pcma"``)."""
        return GA_TYPES[self.name]

    @property
    def bytes_per_second(self) -> int:
        """Wire bytes per second of audio."""
        return self.sample_rate * self.bytes_per_sample

    @property
    def bytes_per_ms(self) -> int:
        """Wire bytes per millisecond of audio."""
        return self.bytes_per_second // 1000

    def ga(self) -> dict[str, Any]:
        """The GA format object: ``{"type": "audio/pcm", "rate": 24000}``, ``{"type":
        "audio/pcmu"}`` (the GA API gives a rate for ``audio/pcm`` only)."""
        if self.name == "pcm16":
            return {"type": self.mime_type, "rate": self.sample_rate}
        return {"type": self.mime_type}


PCM16: Final = AudioFormat("pcm16", 24000, 2)
G711_ULAW: Final = AudioFormat("g711_ulaw", 8000, 1)
G711_ALAW: Final = AudioFormat("g711_alaw", 8000, 1)

#: The session audio formats by their beta name (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``).
AUDIO_FORMATS: Final[Mapping[str, AudioFormat]] = MappingProxyType(
    {f.name: f for f in (PCM16, G711_ULAW, G711_ALAW)}
)
#: GA type of each beta name (``"pcm16"`` → ``"audio/pcm"``...).
GA_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
)
#: Beta name of each GA type (``"audio/pcm"`` → ``"pcm16"``...).
BETA_NAMES: Final[Mapping[str, str]] = MappingProxyType({v: k for k, v in GA_TYPES.items()})
#: Bytes of audio per millisecond for each wire format, by beta name.
BYTES_PER_MS: Final[dict[str, int]] = {f.name: f.bytes_per_ms for f in AUDIO_FORMATS.values()}
