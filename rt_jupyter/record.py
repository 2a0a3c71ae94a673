"""Record a session and replay its user input elsewhere, with another configuration.

::

    rec = rt_jupyter.record.save(session, "runs/baseline")       # events + input audio
    rec = Recording.load("runs/baseline")
    other = await rec.replay(turn_detection={"type": "server_vad", "silence_duration_ms": 800})
    compare({"baseline": rec, "800 ms": other})                    # turns side by side
    await sweep(rec, silence_duration_ms=[200, 500, 800])          # one row per setting

A recording directory holds ``events.jsonl`` (the event log), ``inputs.json`` (what the user
sent, in order: texts, and audio files under ``inputs/``) and ``session.json`` (model, dialect,
the session configuration).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .log import EventLog

if TYPE_CHECKING:
    import pandas as pd

    from .client import RealtimeSession

__all__ = ["Recording", "compare", "save", "sweep"]


@dataclass
class Recording:
    """A recorded session: its event log, the user's inputs and its configuration."""

    log: EventLog
    inputs: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_session(cls, session: RealtimeSession) -> Recording:
        """Capture a live session (nothing is written)."""
        config = {
            "model": session.settings.model,
            "dialect": session.dialect.value,
            "intent": session.intent,
            "session": session.session_config,
        }
        return cls(log=session.log, inputs=list(session.inputs), config=config)

    def save(self, path: str | Path) -> Path:
        """Write the recording to a directory (created if needed)."""
        from .audio import decode_audio, get_format, write_wav

        out = Path(path)
        (out / "inputs").mkdir(parents=True, exist_ok=True)
        self.log.to_jsonl(out / "events.jsonl")
        manifest = []
        for index, entry in enumerate(self.inputs):
            row = {k: v for k, v in entry.items() if k != "audio"}
            if entry["kind"] == "audio":
                fmt = entry["format"]
                name = f"inputs/{index:03d}.wav"
                write_wav(
                    out / name, decode_audio(entry["audio"], fmt), get_format(fmt).sample_rate
                )
                row["file"] = name
            manifest.append(row)
        (out / "inputs.json").write_text(json.dumps(manifest, indent=1))
        (out / "session.json").write_text(json.dumps(self.config, indent=1, default=str))
        self.path = out
        return out

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read a recording directory written by :meth:`save`."""
        from .audio import encode_audio, read_wav

        folder = Path(path)
        if not (folder / "events.jsonl").exists():
            raise ValueError(f"{folder} is not a recording (no events.jsonl); use save() first")
        inputs = []
        for row in json.loads((folder / "inputs.json").read_text()):
            entry = dict(row)
            if row["kind"] == "audio":
                samples, rate = read_wav(_input_file(folder, row.get("file")))
                entry["audio"] = encode_audio(samples, rate, row.get("format", "pcm16"))
            inputs.append(entry)
        config = json.loads((folder / "session.json").read_text())
        return cls(EventLog.from_jsonl(folder / "events.jsonl"), inputs, config, folder)

    async def replay(
        self,
        *,
        realtime: bool = False,
        connect_kwargs: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Recording:
        """Send the same user input again (local service unless ``connect_kwargs`` say
        otherwise: ``api_key``, ``base_url``, ``dialect``...), with ``settings`` changed
        (``instructions``, ``voice``, ``turn_detection``...). Returns the new recording."""
        from .client import connect

        kwargs: dict[str, Any] = {
            "dialect": self.config.get("dialect"),
            "quiet": True,
            **(connect_kwargs or {}),
        }
        if self.config.get("intent"):
            kwargs["intent"] = self.config["intent"]
        async with connect(**kwargs) as session:
            if settings:
                await session.update(**settings)
            for entry in self.inputs:
                if entry["kind"] == "text":
                    await session.say(entry["text"], **(entry.get("response") or {}))
                else:
                    await _send_recorded_audio(session, entry, realtime)
            await asyncio.sleep(0.2)  # let trailing events (transcripts) arrive
            result = Recording.from_session(session)
        result.config["replayed_from"] = str(self.path) if self.path else None
        result.config["changes"] = {k: v for k, v in settings.items()}
        return result

    def turns(self) -> pd.DataFrame:
        """:func:`rt_jupyter.frames.turns` of this recording."""
        from .frames import turns

        return turns(self.log)


def _input_file(folder: Path, name: object) -> Path:
    """The audio file ``name`` of ``inputs.json``, which must stay inside the recording ``folder``
    (a relative path; no ``..`` or symlink leading out of it), or :class:`ValueError`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{folder}/inputs.json: an audio input has no 'file'")
    if Path(name).is_absolute():
        raise ValueError(
            f"{folder}/inputs.json: audio file {name!r} is an absolute path; a recording's audio "
            "files are relative paths inside its folder"
        )
    root = folder.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise ValueError(
            f"{folder}/inputs.json: audio file {name!r} is outside the recording folder "
            "(through '..' or a symlink); refusing to read it"
        )
    return target


async def _send_recorded_audio(
    session: RealtimeSession, entry: Mapping[str, Any], realtime: bool
) -> None:
    from .audio import decode_audio, get_format

    fmt = entry.get("format", "pcm16")
    samples = decode_audio(entry["audio"], fmt)
    rate = get_format(fmt).sample_rate
    vad = session.conn.session.turn_detection is not None
    if vad:
        await session.send_audio(
            samples, rate, realtime=realtime or bool(entry.get("realtime")), progress=False
        )
    else:
        await session.send_audio(samples, rate, realtime=realtime, progress=False)


def save(session: RealtimeSession, path: str | Path) -> Recording:
    """Record ``session`` (events and the user's inputs, audio included) to a directory."""
    recording = Recording.from_session(session)
    recording.save(path)
    return recording


def compare(recordings: Mapping[str, Recording]) -> pd.DataFrame:
    """Turns of several recordings side by side (``run`` column = the mapping's keys)."""
    import pandas as pd

    parts = []
    for name, recording in recordings.items():
        frame = recording.turns()
        frame.insert(0, "run", name)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


_TURN_DETECTION_KEYS = (
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
)


async def sweep(
    recording: Recording,
    *,
    connect_kwargs: Mapping[str, Any] | None = None,
    realtime: bool = False,
    **grid: list[Any],
) -> pd.DataFrame:
    """Replay ``recording`` once per combination of the values in ``grid`` and summarize each
    run: turns detected, responses, median latencies. Turn detection fields (``threshold``,
    ``silence_duration_ms``...) may be given directly; other keys are session settings."""
    import pandas as pd

    from .frames import responses, turns

    names = list(grid)
    rows = []
    for values in itertools.product(*(grid[n] for n in names)):
        chosen = dict(zip(names, values, strict=True))
        settings: dict[str, Any] = {}
        detection = {k: v for k, v in chosen.items() if k in _TURN_DETECTION_KEYS}
        if detection:
            settings["turn_detection"] = {"type": "server_vad", **detection}
        settings.update({k: v for k, v in chosen.items() if k not in _TURN_DETECTION_KEYS})
        start = time.perf_counter()
        run = await recording.replay(connect_kwargs=connect_kwargs, realtime=realtime, **settings)
        t = turns(run.log)
        r = responses(run.log)
        rows.append(
            {
                **chosen,
                "turns": len(t),
                "responses": len(r),
                "interrupted": int(t["interrupted"].sum()) if len(t) else 0,
                "speech_end_to_first_audio_ms": pd.to_numeric(
                    t["speech_end_to_first_audio_ms"], errors="coerce"
                ).median(),
                "ttfa_ms": pd.to_numeric(r["ttfa_ms"], errors="coerce").median(),
                "seconds": round(time.perf_counter() - start, 2),
                "recording": run,
            }
        )
    return pd.DataFrame(rows)
