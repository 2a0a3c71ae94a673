"""Attacks on the local realtime service (issue 13, "Safe to share"), each tried over real sockets
against a running service: one ephemeral key opening many sessions, an input audio buffer grown
without end, pages of other sites minting keys that hold memory, keys minted by one owner
reaching each other's calls, and a recording whose ``inputs.json`` reads files outside it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
import websockets

from rt_jupyter import record
from rt_jupyter.audio import write_wav
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.protocol import connection

KEY = "sk-attacks-owner"
#: The uncommitted audio the service holds at most (the protocol core's constant).
BUFFER_CAP = getattr(connection, "MAX_INPUT_BUFFER_BYTES", 32 * 2**20)


@pytest_asyncio.fixture
async def service() -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=Engines(), accept_keys=[KEY]) as svc:
        yield svc


# --- finding 6: the input audio buffer without a cap ----------------------------------------------


async def test_the_input_audio_buffer_is_capped(service: LocalRealtimeService) -> None:
    """With turn detection off, appends past the buffer's cap are refused with an ``error``
    (``invalid_value``, param ``audio``), the buffer stays within the cap, and the session
    goes on."""
    ws = await websockets.connect(
        f"{service.ws_base_url}/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {KEY}"},
        max_size=2**26,
    )
    assert json.loads(await ws.recv())["type"] == "session.created"
    update = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    await ws.send(json.dumps({"type": "session.update", "session": update}))
    chunk = base64.b64encode(bytes(8 * 2**20)).decode()  # 8 MiB of silence, 10.7 MiB of base64
    appends = BUFFER_CAP // (8 * 2**20) + 3
    for i in range(appends):
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        (session,) = service.sessions
        assert len(session.conn.input_buffer.data) <= BUFFER_CAP, f"after append {i + 1}"
    await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "input_audio_buffer.cleared":
        events.append(json.loads(await ws.recv()))
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert len(errors) == 3, [e["type"] for e in events]
    assert {(e["code"], e["param"]) for e in errors} == {("invalid_value", "audio")}
    assert "input audio buffer is full" in errors[0]["message"]
    (session,) = service.sessions
    assert len(session.conn.input_buffer.data) == 0 and not session.closed
    await ws.close()


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
