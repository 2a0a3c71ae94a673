"""Attacks on the local realtime service (issue 13, "Safe to share"), each tried over real sockets
against a running service: one ephemeral key opening many sessions, an input audio buffer grown
without end, pages of other sites minting keys that hold memory, keys minted by one owner
reaching each other's calls, and a recording whose ``inputs.json`` reads files outside it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import pytest_asyncio
import websockets

from rt_jupyter import record
from rt_jupyter.audio import write_wav
from rt_jupyter.local import default
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines
from rt_jupyter.protocol import connection
from tests.local.test_webrtc import Client

KEY = "sk-attacks-owner"
EVIL = "https://evil.example"
#: The uncommitted audio the service holds at most (the protocol core's constant).
BUFFER_CAP = getattr(connection, "MAX_INPUT_BUFFER_BYTES", 32 * 2**20)


@pytest_asyncio.fixture
async def service() -> AsyncIterator[LocalRealtimeService]:
    async with LocalRealtimeService(engines=Engines(), accept_keys=[KEY]) as svc:
        yield svc


async def mint(svc: LocalRealtimeService, body: Any = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{svc.base_url}/realtime/client_secrets",
            headers={"Authorization": f"Bearer {KEY}", **headers},
            json=body if body is not None else {"session": {"type": "realtime"}},
        )


async def ws_status(svc: LocalRealtimeService, key: str, **headers: str) -> int:
    """The HTTP status of a WebSocket upgrade with ``key`` (101 when a session opened)."""
    try:
        ws = await websockets.connect(
            f"{svc.ws_base_url}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {key}", **headers},
            max_size=2**26,
        )
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    assert json.loads(await ws.recv())["type"] == "session.created"
    await ws.close()
    return 101


# --- finding 6: one ephemeral key, many sessions; the input buffer without a cap ------------------


async def test_an_ephemeral_key_opens_one_session(service: LocalRealtimeService) -> None:
    """The second WebSocket (or WebRTC call) with a key that already opened a session is
    refused before the upgrade, for keys minted over REST and the way the Jupyter server's
    mounted service mints them (``KeyStore.mint`` with the user as owner)."""
    minted = await mint(service)
    assert minted.status_code == 200, minted.text
    rest_key = minted.json()["value"]
    mounted_key = service.keys.mint({"type": "realtime"}, owner="jupyter:alice", ttl=600).value
    for key in (rest_key, mounted_key):
        first = await websockets.connect(
            f"{service.ws_base_url}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {key}"},
        )
        assert json.loads(await first.recv())["type"] == "session.created"
        with pytest.raises(websockets.InvalidStatus) as second:
            await websockets.connect(
                f"{service.ws_base_url}/realtime?model=gpt-realtime",
                additional_headers={"Authorization": f"Bearer {key}"},
            )
        assert second.value.response.status_code == 401
        assert json.loads(second.value.response.body)["error"]["code"] == "invalid_api_key"
        async with httpx.AsyncClient(timeout=10) as http:
            call = await http.post(
                f"{service.base_url}/realtime/calls",
                content="v=0\r\n",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
            )
        assert call.status_code == 401, call.text
        await first.close()
    assert len(service.sessions) <= 2


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


# --- finding 8: pages of other sites; any sk- key; memory held by minted keys ---------------------


async def test_pages_of_other_origins_are_refused(service: LocalRealtimeService) -> None:
    """A foreign page gets no CORS permission and a 403 (REST and WebSocket), and mints nothing;
    loopback pages (the documented snippet, a notebook) and ``allow_origins`` ones still may."""
    async with httpx.AsyncClient(timeout=10) as http:
        preflight = await http.options(
            f"{service.base_url}/realtime/client_secrets",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        local = await http.options(
            f"{service.base_url}/realtime/client_secrets",
            headers={"Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "POST"},
        )
        assert local.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    refused = await mint(service, Origin=EVIL)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
    assert not service.keys._ephemeral
    assert (await mint(service, Origin="http://localhost:8888")).status_code == 200
    assert (await mint(service, Origin="http://127.0.0.1.evil.example:80")).status_code == 403
    assert await ws_status(service, KEY, Origin=EVIL) == 403
    assert await ws_status(service, KEY, Origin="http://localhost:8888") == 101
    async with LocalRealtimeService(
        engines=Engines(), accept_keys=[KEY], allow_origins=["https://app.example"]
    ) as other:
        assert (await mint(other, Origin="https://app.example")).status_code == 200
        assert (await mint(other, Origin=EVIL)).status_code == 403


async def test_mints_are_bounded_in_size_and_number(service: LocalRealtimeService) -> None:
    """A 20 MiB session is refused (400) and holds nothing; an owner's unused keys are capped
    (429, OpenAI's error shape)."""
    huge = {"session": {"type": "realtime", "instructions": "x" * (20 * 2**20)}}
    refused = await mint(service, huge)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "request_too_large"
    too_big = {"session": {"type": "realtime", "instructions": "x" * (512 * 1024)}}
    refused = await mint(service, too_big)  # under the body limit, over what a key may hold
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "request_too_large"
    assert not service.keys._ephemeral
    limit = service.keys.max_live_keys_per_owner
    keys = []
    for _ in range(limit):
        minted = await mint(service)
        assert minted.status_code == 200
        keys.append(minted.json()["value"])
    over = await mint(service)
    assert over.status_code == 429, over.text
    error = over.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert len(service.keys._ephemeral) == limit
    assert await ws_status(service, keys[0]) == 101  # a key that opened its session frees a slot
    assert (await mint(service)).status_code == 200


@pytest.fixture(scope="module")
def cli_default() -> Any:
    """``rt-jupyter serve --port 0`` (no ``--key``), as a user would start it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rt_jupyter", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Ctrl-C" in line or not line:
            break
    yield process, "".join(lines)
    process.send_signal(signal.SIGINT)
    process.wait(30)


def test_serve_accepts_only_its_key(cli_default: Any) -> None:
    """Without ``--key`` the service accepts one generated key (printed), not any ``sk-…``."""
    _, text = cli_default
    port = re.search(r"http://127\.0\.0\.1:(\d+)/v1", text)
    key = re.search(r"keys\s+(sk-local-\S+)", text)
    assert port and key, text
    url = f"http://127.0.0.1:{port.group(1)}/v1/realtime/client_secrets"
    body = {"session": {"type": "realtime"}}
    anyone = httpx.post(url, headers={"Authorization": "Bearer sk-anything"}, json=body)
    assert anyone.status_code == 401, anyone.text
    assert (
        httpx.post(url, headers={"Authorization": f"Bearer {key.group(1)}"}, json=body).status_code
        == 200
    )


def test_the_kernel_service_key_is_private() -> None:
    """The in-process service's standard key is random per process (the old public constant
    opened sessions and controlled every kernel-minted call)."""
    assert default.LOCAL_KEY != "sk-local-rt-jupyter"
    assert len(default.LOCAL_KEY) > 30


# --- finding 9: keys minted by one owner reach each other's calls ---------------------------------


async def test_a_minted_key_cannot_reach_another_keys_call() -> None:
    """Two keys minted as the kernel mints them (one owner): the second cannot hang up or attach
    a sideband to the first's WebRTC call; the first key and the owner's standard key can."""
    owner = default.LOCAL_KEY
    async with LocalRealtimeService(engines=Engines(), accept_keys=[owner]) as svc:
        first = svc.keys.mint({"type": "realtime"}, owner=owner, ttl=600).value
        second = svc.keys.mint({"type": "realtime"}, owner=owner, ttl=600).value
        peer = Client(audio=False)
        try:
            await peer.connect(f"{svc.base_url}/realtime/calls", first)
            await peer.wait_for("session.created", timeout=10)
            call_id = peer.call_id
            hangup = f"{svc.base_url}/realtime/calls/{call_id}/hangup"
            sideband = f"{svc.ws_base_url}/realtime?call_id={call_id}"
            async with httpx.AsyncClient(timeout=10) as http:
                other = await http.post(hangup, headers={"Authorization": f"Bearer {second}"})
                assert other.status_code == 404, other.text
            with pytest.raises(websockets.InvalidStatus) as attach:
                await websockets.connect(
                    sideband, additional_headers={"Authorization": f"Bearer {second}"}
                )
            assert attach.value.response.status_code == 404
            assert call_id in svc.state.calls
            for key in (first, owner):  # the call's own key and its owner may attach
                ws = await websockets.connect(
                    sideband, additional_headers={"Authorization": f"Bearer {key}"}
                )
                await ws.close()
            async with httpx.AsyncClient(timeout=10) as http:
                own = await http.post(hangup, headers={"Authorization": f"Bearer {first}"})
            assert own.status_code == 200, own.text
        finally:
            await peer.close()


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
