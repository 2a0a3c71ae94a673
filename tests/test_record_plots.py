"""Record and replay with another configuration, sweeps, and the static plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rt_jupyter import plots, record
from rt_jupyter.client import connect
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from tests.speech import speech_clip


async def test_record_replay_sweep_and_plots(engines: Engines, tmp_path: Path) -> None:
    async with LocalRealtimeService(engines=engines) as svc:
        target: dict[str, Any] = {"api_key": "sk-rec", "base_url": svc.base_url}
        async with connect(**target, input_transcription=True) as session:
            await session.say("hello there")
            clip = speech_clip("what is the weather in paris", 24000, lead_silence_ms=300)
            await session.send_audio(clip.samples, 24000)
            saved = record.save(session, tmp_path / "run")
            figures = [plots.timeline(session), plots.latency(session), plots.waveforms(session)]
        for index, figure in enumerate(figures):
            path = tmp_path / f"figure{index}.png"
            figure.savefig(path, dpi=60)
            assert path.stat().st_size > 5_000  # a real picture, not an empty canvas
        folder = tmp_path / "run"
        assert {p.name for p in folder.iterdir()} == {
            "events.jsonl",
            "inputs.json",
            "session.json",
            "inputs",
        }
        loaded = record.Recording.load(folder)
        assert [i["kind"] for i in loaded.inputs] == ["text", "audio"]
        assert len(loaded.log) == len(saved.log)
        assert loaded.inputs[1]["audio"] == saved.inputs[1]["audio"]  # pcm16 survives the WAV
        replay = await loaded.replay(
            connect_kwargs=target, instructions="Speak slowly.", voice="ash"
        )
        assert replay.config["session"]["instructions"] == "Speak slowly."
        assert replay.config["changes"]["voice"] == "ash"
        both = record.compare({"original": loaded, "replay": replay})
        assert both.groupby("run").size().to_dict() == {"original": 2, "replay": 2}
        assert both["kind"].tolist() == ["text", "speech", "text", "speech"]
        sweep = await record.sweep(loaded, connect_kwargs=target, silence_duration_ms=[200, 700])
        assert sweep["silence_duration_ms"].tolist() == [200, 700]
        assert (sweep["turns"] == 2).all() and (sweep["responses"] == 2).all()
        # the silence setting changes when the turn ends, not where the speech ended
        speech_end = [
            run.turns().query("kind == 'speech'")["audio_end_ms"].iloc[0]
            for run in sweep["recording"]
        ]
        assert abs(speech_end[0] - speech_end[1]) < 80  # the same speech end, both settings


def test_load_refuses_a_folder_that_is_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a recording"):
        record.Recording.load(tmp_path)


def test_plots_reject_wrong_input() -> None:
    with pytest.raises(TypeError, match="EventLog"):
        plots.timeline(42)
