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


def test_a_session_update_that_fits_is_one_message() -> None:
    (event,) = limits.split_session_update({"type": "realtime", "instructions": "Be brief."})
    assert event["type"] == "session.update"
    assert event["session"] == {"type": "realtime", "instructions": "Be brief."}


def test_a_large_session_update_is_split_by_field_in_bytes() -> None:
    # 25,000 three-byte characters: 75 kB of UTF-8 although 25,000 characters
    session = {
        "type": "realtime",
        "instructions": "é" * 14_000,
        "tools": [{"type": "function", "name": "t", "description": "€" * 14_000}],
        "voice": "marin",
    }
    events = limits.split_session_update(session, limit=60_000)
    assert len(events) == 2
    for event in events:
        wire = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        assert len(wire) <= 60_000
        assert event["session"]["type"] == "realtime"
    merged = {k: v for e in events for k, v in e["session"].items()}
    assert merged == session  # every field sent once, none lost


def test_a_field_too_large_for_one_message_is_refused() -> None:
    import pytest

    from rt_jupyter.protocol import LocalProtocolError

    with pytest.raises(
        LocalProtocolError, match=r"session\.instructions is over 60,000 bytes"
    ) as info:
        limits.split_session_update({"type": "realtime", "instructions": "é" * 30_001})
    assert info.value.code == "message_too_large"
