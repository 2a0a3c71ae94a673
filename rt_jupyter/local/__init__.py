"""The local realtime service: an offline, protocol-faithful stand-in for the Realtime API.

``LocalRealtimeService`` (REST + WebSocket + WebRTC on one loopback port), the offline engines in
:mod:`rt_jupyter.local.engines`, and :func:`speak` to make test speech offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .faults import Faults
    from .service import LocalRealtimeService

__all__ = ["Faults", "LocalRealtimeService", "speak"]


def speak(
    text: str, sample_rate: int = 24000, *, voice: str = "alloy", speed: float = 1.0
) -> npt.NDArray[np.float32]:
    """Speech for ``text`` from the offline voice engine (espeak-ng), float32 mono at
    ``sample_rate`` — handy to test audio input without a microphone."""
    import numpy as np
    import soxr

    from .engines import EspeakVoice

    engine = EspeakVoice()
    audio = engine.synthesize_all(text, voice=voice, speed=speed)
    if sample_rate != engine.sample_rate:
        audio = soxr.resample(audio, engine.sample_rate, sample_rate)
    return np.asarray(audio, dtype=np.float32)


def __getattr__(name: str) -> Any:
    if name == "LocalRealtimeService":
        from .service import LocalRealtimeService

        return LocalRealtimeService
    if name == "Faults":
        from .faults import Faults

        return Faults
    raise AttributeError(name)
