"""``check_client_event``: one set of state rules; the server errors, the client's lint warns."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from rt_jupyter.lint import check_outgoing
from rt_jupyter.protocol import Conversation, ProtocolError
from rt_jupyter.protocol.connection import check_client_event


def _conversation(audio_bytes: int | None = 4800, *, done: bool = True) -> Conversation:
    """One assistant item ``item_1`` with an audio part: 4800 bytes of pcm16 are 100 ms."""
    conv = Conversation()
    conv.apply(
        {
            "type": "response.created",
            "response": {"id": "resp_1", "object": "realtime.response", "status": "in_progress"},
        }
    )
    conv.apply(
        {
            "type": "conversation.item.added",
            "item": {"id": "item_1", "type": "message", "role": "assistant", "content": []},
        }
    )
    conv.apply(
        {
            "type": "response.content_part.added",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "audio", "transcript": ""},
        }
    )
    if audio_bytes is not None:
        conv.apply(
            {
                "type": "response.output_audio.delta",
                "response_id": "resp_1",
                "item_id": "item_1",
                "output_index": 0,
                "content_index": 0,
                "delta": base64.b64encode(bytes(audio_bytes)).decode(),
            }
        )
    if done:
        conv.apply(
            {
                "type": "response.done",
                "response": {"id": "resp_1", "object": "realtime.response", "status": "completed"},
            }
        )
    return conv


def _truncate(end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": end_ms,
    }


def test_truncate_within_the_audio_passes_both_ways() -> None:
    conv = _conversation()
    check_client_event(_truncate(100), conv)
    assert check_outgoing(_truncate(100), conv) == []


def test_truncate_past_the_audio_one_tolerance_for_server_and_lint() -> None:
    conv = _conversation()
    with pytest.raises(ProtocolError) as refused:
        check_client_event(_truncate(101), conv)
    assert (refused.value.code, refused.value.param) == ("invalid_value", "audio_end_ms")
    # the lint used to let 101 ms pass (+1 ms); it now warns exactly where the server refuses
    (warning,) = check_outgoing(_truncate(101), conv)
    assert warning[0] == "truncate_past_received_audio"
    assert "100ms" in warning[1] and "101ms" in warning[1]


def test_audio_the_client_never_received_is_not_judged_by_the_lint() -> None:
    conv = _conversation(audio_bytes=None)  # e.g. WebRTC: audio comes as a track
    assert check_outgoing(_truncate(5000), conv) == []
    with pytest.raises(ProtocolError):  # the server knows the audio it made: none
        check_client_event(_truncate(5000), conv)


def test_unknown_items() -> None:
    conv = _conversation()
    event = {"type": "conversation.item.delete", "item_id": "item_nope"}
    with pytest.raises(ProtocolError) as refused:
        check_client_event(event, conv)
    assert refused.value.code == "item_delete_invalid_item_id"
    assert [code for code, _ in check_outgoing(event, conv)] == ["item_delete_invalid_item_id"]
    truncate = {**_truncate(10), "item_id": "item_nope"}
    assert [c for c, _ in check_outgoing(truncate, conv)] == ["item_truncate_invalid_item_id"]


def test_cancel_needs_an_active_response() -> None:
    idle = _conversation()
    cancel = {"type": "response.cancel"}
    with pytest.raises(ProtocolError) as refused:
        check_client_event(cancel, idle)
    assert refused.value.code == "response_cancel_not_active"
    assert [c for c, _ in check_outgoing(cancel, idle)] == ["cancel_without_active_response"]
    busy = _conversation(done=False)
    check_client_event(cancel, busy)
    check_client_event({"type": "response.cancel", "response_id": "resp_1"}, busy)
    assert check_outgoing(cancel, busy) == []
    finished = {"type": "response.cancel", "response_id": "resp_1"}
    assert [c for c, _ in check_outgoing(finished, idle)] == ["cancel_without_active_response"]


def test_one_response_at_a_time_unless_out_of_band() -> None:
    busy = _conversation(done=False)
    create = {"type": "response.create", "response": {}}
    codes = [c for c, _ in check_outgoing(create, busy)]
    assert codes == ["conversation_already_has_active_response"]
    out_of_band = {"type": "response.create", "response": {"conversation": "none"}}
    check_client_event(out_of_band, busy)
    check_client_event(create, _conversation())


def test_other_events_pass() -> None:
    conv = _conversation()
    check_client_event({"type": "input_audio_buffer.clear"}, conv)
    assert check_outgoing({"type": "session.update", "session": {}}, conv) == []
