"""The data-channel message limit: one value in ``limits.json``, for Python and the JS bundle."""

from __future__ import annotations

import json
from pathlib import Path

from rt_jupyter.local import webrtc
from rt_jupyter.protocol import limits

ROOT = Path(__file__).resolve().parents[2]


def test_limits_come_from_the_json_file() -> None:
    data = json.loads((ROOT / "rt_jupyter" / "protocol" / "limits.json").read_text())
    assert data["data_channel_max_message_bytes"] == 60_000
    assert data["sctp_max_message_size"] == 65_536
    assert limits.DATA_CHANNEL_MAX_MESSAGE_BYTES == 60_000
    assert limits.SCTP_MAX_MESSAGE_SIZE == 65_536


def test_every_python_user_has_the_one_value() -> None:
    assert webrtc.MAX_CHANNEL_MESSAGE == 60_000


def test_the_js_bundle_imports_the_json_file() -> None:
    peer = (ROOT / "js" / "src" / "peer.ts").read_text(encoding="utf-8")
    assert 'import limits from "../../rt_jupyter/protocol/limits.json";' in peer
    assert "MAX_MESSAGE_BYTES: number = limits.data_channel_max_message_bytes" in peer
    tsconfig = json.loads((ROOT / "js" / "tsconfig.json").read_text())
    assert tsconfig["compilerOptions"]["resolveJsonModule"] is True
