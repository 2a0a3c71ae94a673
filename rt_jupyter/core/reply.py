"""What a response produced: text, transcript, audio as numpy, items, usage, timings."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..protocol import Item

__all__ = ["Reply", "ToolCallRecord"]


@dataclass
class ToolCallRecord:
    """One function call the model made and what the tool answered."""

    name: str
    call_id: str
    arguments: str
    output: str | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Reply:
    """The result of one response (and of the follow-ups that tool calls triggered).

    ``text`` is the assistant's text (text responses) or the transcript of its speech (audio
    responses); ``audio`` is float32 mono at ``sample_rate``. Timings are seconds since the
    request (``t_first_text``, ``t_first_audio``, ``t_done``); ``None`` when not applicable.
    """

    response_id: str = ""
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    text_parts: list[str] = field(default_factory=list, repr=False)
    transcript_parts: list[str] = field(default_factory=list, repr=False)
    audio_chunks: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)
    sample_rate: int = 24000
    items: list[Item] = field(default_factory=list, repr=False)
    usage: dict[str, Any] | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    previous: list[Reply] = field(default_factory=list, repr=False)
    t_request: float = 0.0
    t_created: float | None = None
    t_first_text: float | None = None
    t_first_audio: float | None = None
    t_done: float | None = None
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """Assistant text, or the transcript of its speech."""
        return "".join(self.text_parts) or "".join(self.transcript_parts)

    @property
    def transcript(self) -> str:
        """Transcript of the assistant's audio (empty for text responses)."""
        return "".join(self.transcript_parts)

    @property
    def audio(self) -> npt.NDArray[np.float32]:
        """The assistant's audio, float32 mono at :attr:`sample_rate` (empty if none)."""
        if not self.audio_chunks:
            return np.zeros(0, dtype=np.float32)
        if len(self.audio_chunks) > 1:
            self.audio_chunks[:] = [np.concatenate(self.audio_chunks)]
        return self.audio_chunks[0]

    @property
    def duration_s(self) -> float:
        """Seconds of assistant audio."""
        return float(self.audio.shape[0] / self.sample_rate)

    @property
    def done(self) -> bool:
        return self.t_done is not None

    def _ms(self, t: float | None) -> float | None:
        return None if t is None else round((t - self.t_request) * 1000, 1)

    @property
    def timings(self) -> dict[str, float | None]:
        """Milliseconds from the request to: ``created``, ``first_text``, ``first_audio``,
        ``done``."""
        return {
            "created": self._ms(self.t_created),
            "first_text": self._ms(self.t_first_text),
            "first_audio": self._ms(self.t_first_audio),
            "done": self._ms(self.t_done),
        }

    def wav_bytes(self) -> bytes:
        """The audio as a 16-bit WAV file."""
        from ..audio import write_wav

        buffer = io.BytesIO()
        write_wav(buffer, self.audio, self.sample_rate)
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        parts = [
            f"<div><b>{html.escape(self.status)}</b> "
            f"<code>{html.escape(self.response_id)}</code></div>"
        ]
        for call in self.tool_calls:
            parts.append(
                f"<div>🔧 <code>{html.escape(call.name)}({html.escape(call.arguments)})</code> → "
                f"<code>{html.escape(str(call.output or call.error))[:300]}</code></div>"
            )
        if self.text:
            parts.append(f"<div style='white-space:pre-wrap'>{html.escape(self.text)}</div>")
        if self.audio.shape[0]:
            data = base64.b64encode(self.wav_bytes()).decode()
            parts.append(f'<audio controls src="data:audio/wav;base64,{data}"></audio>')
        timing = ", ".join(f"{k} {v:.0f} ms" for k, v in self.timings.items() if v is not None)
        if timing:
            parts.append(f"<div style='color:gray;font-size:smaller'>{timing}</div>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.text
