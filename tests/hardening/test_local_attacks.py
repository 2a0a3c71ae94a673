"""Attacks on the local realtime service (issue 13, "Safe to share"), each tried over real sockets
against a running service: one ephemeral key opening many sessions, an input audio buffer grown
without end, pages of other sites minting keys that hold memory, keys minted by one owner
reaching each other's calls, and a recording whose ``inputs.json`` reads files outside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rt_jupyter import record
from rt_jupyter.audio import write_wav

# --- finding 10: a recording reads files outside its folder ---------------------------------------


def _recording(folder: Path, file: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("")
    (folder / "session.json").write_text("{}")
    (folder / "inputs.json").write_text(
        json.dumps([{"kind": "audio", "format": "pcm16", "file": file}])
    )
    return folder


def test_a_recording_reads_only_its_own_folder(tmp_path: Path) -> None:
    """``inputs.json`` naming ``../secret.wav``, an absolute path or a symlink out of the folder
    is refused with a clear error; a file inside it loads."""
    secret = tmp_path / "secret.wav"
    write_wav(secret, np.zeros(2400, np.float32), 24000)
    cases = {
        "dotdot": "../secret.wav",
        "absolute": str(secret),
        "symlink": "inputs/link.wav",
    }
    for name, file in cases.items():
        folder = _recording(tmp_path / name, file)
        if name == "symlink":
            (folder / "inputs").mkdir()
            (folder / "inputs" / "link.wav").symlink_to(secret)
        with pytest.raises(ValueError, match=r"outside the recording folder|absolute path"):
            record.Recording.load(folder)
    good = _recording(tmp_path / "good", "inputs/000.wav")
    (good / "inputs").mkdir()
    write_wav(good / "inputs" / "000.wav", np.zeros(2400, np.float32), 24000)
    assert record.Recording.load(good).inputs[0]["audio"]
