"""The reconnect decision (:func:`rt_jupyter.protocol.restore.restore_plan`) from hand-made
conversations: what is replayed and how, what is left out and why, what is asked for again."""

from __future__ import annotations

import base64
from typing import Any

from rt_jupyter.protocol import Conversation
from rt_jupyter.protocol.restore import (
    CUT,
    EMPTY,
    UNFINISHED,
    RestorePlan,
    replay_item,
    restore_plan,
)

PCM = b"\x01\x00\x02\x00\x03\x00"


def added(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.added", "item": {"status": "completed", **item}}


def conversation(*events: dict[str, Any], keep_audio: bool = True) -> Conversation:
    conv = Conversation(keep_audio=keep_audio)
    for event in events:
        conv.apply(event)
    return conv


def response_created(rid: str, *, oob: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"id": rid, "status": "in_progress", "output": []}
    if oob:
        response["conversation_id"] = None
    return {"type": "response.created", "response": response}


def response_done(rid: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "response.done",
        "response": {"id": rid, "status": "completed", "output": output},
    }


def test_nothing_to_restore() -> None:
    plan = restore_plan(Conversation())
    assert plan == RestorePlan(
        session=None, replay=(), resend=(), responses=(), dropped=(), open_calls=()
    )
    assert plan.events() == []


def test_every_kind_of_finished_item_is_replayed_in_order() -> None:
    call = {
        "id": "item_call",
        "type": "function_call",
        "call_id": "call_1",
        "name": "weather",
        "arguments": '{"city": "Paris"}',
    }
    answer = {
        "id": "item_answer",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "It is sunny."}],
    }
    conv = conversation(
        added({"id": "item_sys", "type": "message", "role": "system",
               "content": [{"type": "input_text", "text": "Be brief."}]}),
        added({"id": "item_user", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Weather?"}]}),
        response_created("resp_1"),
        {"type": "response.output_item.added", "response_id": "resp_1", "item": call},
        added(call),
        response_done("resp_1", [{**call, "status": "completed"}]),
        added({"id": "item_output", "type": "function_call_output", "call_id": "call_1",
               "output": '{"sky": "clear"}'}),
        added({**answer, "status": "completed"}),
        added({"id": "item_spoken", "type": "message", "role": "user",
               "content": [{"type": "input_audio", "transcript": "thanks"}]}),
        added({"id": "item_audio", "type": "message", "role": "user",
               "content": [{"type": "input_audio", "audio": base64.b64encode(PCM).decode()}]}),
        added({"id": "item_image", "type": "message", "role": "user",
               "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA",
                            "detail": "low"}]}),
    )  # fmt: skip
    plan = restore_plan(conv, config={"instructions": "Be brief."})
    assert plan.session == {"instructions": "Be brief."}
    assert plan.replay == (
        {"id": "item_sys", "type": "message", "role": "system",
         "content": [{"type": "input_text", "text": "Be brief."}]},
        {"id": "item_user", "type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "Weather?"}]},
        {"id": "item_call", "type": "function_call", "call_id": "call_1", "name": "weather",
         "arguments": '{"city": "Paris"}'},
        {"id": "item_output", "type": "function_call_output", "call_id": "call_1",
         "output": '{"sky": "clear"}'},
        {"id": "item_answer", "type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "It is sunny."}]},
        {"id": "item_spoken", "type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "thanks"}]},
        {"id": "item_audio", "type": "message", "role": "user",
         "content": [{"type": "input_audio", "audio": "AQACAAMA"}]},
        {"id": "item_image", "type": "message", "role": "user",
         "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA",
                      "detail": "low"}]},
    )  # fmt: skip
    assert (plan.resend, plan.responses, plan.dropped, plan.open_calls) == ((), (), (), ())
    events = plan.events()
    assert events[0] == {"type": "session.update", "session": {"instructions": "Be brief."}}
    assert [e["type"] for e in events[1:]] == ["conversation.item.create"] * 8
    assert [e["item"]["id"] for e in events[1:]] == [
        "item_sys", "item_user", "item_call", "item_output", "item_answer", "item_spoken",
        "item_audio", "item_image",
    ]  # fmt: skip


def test_a_cut_response_is_asked_again_without_its_partial_output() -> None:
    partial = {
        "id": "item_half",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    conv = conversation(
        added({"id": "item_q", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Tell me a story."}]}),
        response_created("resp_cut"),
        {"type": "response.output_item.added", "response_id": "resp_cut", "item": partial},
        {"type": "conversation.item.added", "item": partial},
        {"type": "response.content_part.added", "response_id": "resp_cut",
         "item_id": "item_half", "content_index": 0, "part": {"type": "text", "text": ""}},
        {"type": "response.output_text.delta", "response_id": "resp_cut",
         "item_id": "item_half", "content_index": 0, "delta": "Once upon"},
        response_created("resp_oob", oob=True),
    )  # fmt: skip
    plan = restore_plan(conv)
    assert plan.replay == (
        {"id": "item_q", "type": "message", "role": "user",
         "content": [{"type": "input_text", "text": "Tell me a story."}]},
    )  # fmt: skip
    assert plan.responses == ("resp_cut", "resp_oob")
    assert plan.dropped == (("item_half", CUT),)
    assert plan.session is None


def test_unfinished_and_empty_items_are_left_out() -> None:
    conv = conversation(
        added({"id": "item_typing", "type": "message", "role": "user", "status": "in_progress",
               "content": [{"type": "input_text", "text": "half"}]}),
        added({"id": "item_unheard", "type": "message", "role": "user",
               "content": [{"type": "input_audio", "audio": base64.b64encode(PCM).decode()}]}),
        added({"id": "item_silent", "type": "message", "role": "assistant",
               "content": [{"type": "output_audio", "transcript": ""}]}),
        added({"id": "item_ref", "type": "item_reference"}),
        added({"id": "item_ok", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "ok"}]}),
        keep_audio=False,
    )  # fmt: skip
    plan = restore_plan(conv)
    assert plan.dropped == (
        ("item_typing", UNFINISHED),
        ("item_unheard", EMPTY),
        ("item_silent", EMPTY),
        ("item_ref", EMPTY),
    )
    assert [item["id"] for item in plan.replay] == ["item_ok"]
    assert plan.responses == ()


def test_unacknowledged_creates_are_sent_again_unless_known_or_queued() -> None:
    conv = conversation(
        added({"id": "item_known", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "hi"}]}),
    )  # fmt: skip

    def create(item_id: str) -> dict[str, Any]:
        return {
            "type": "conversation.item.create",
            "event_id": f"evt_{item_id}",
            "item": {"id": item_id, "type": "function_call_output", "call_id": "c", "output": "1"},
        }

    unacked = {i: create(i) for i in ("item_known", "item_lost", "item_queued", "item_lost2")}
    plan = restore_plan(conv, unacked=unacked, queued={"item_queued"})
    assert plan.resend == (create("item_lost"), create("item_lost2"))
    assert plan.events()[-2:] == [create("item_lost"), create("item_lost2")]
    assert [e["item"]["id"] for e in plan.events()] == ["item_known", "item_lost", "item_lost2"]


def test_function_calls_still_waiting_for_their_output() -> None:
    def call(n: int) -> dict[str, Any]:
        return {"id": f"item_c{n}", "type": "function_call", "call_id": f"call_{n}",
                "name": "f", "arguments": "{}"}  # fmt: skip

    conv = conversation(
        added(call(1)),
        added(call(2)),
        added({"id": "item_o2", "type": "function_call_output", "call_id": "call_2",
               "output": "2"}),
        added(call(3)),
    )  # fmt: skip
    plan = restore_plan(conv)
    assert plan.open_calls == ("call_1", "call_3")
    assert [item["id"] for item in plan.replay] == ["item_c1", "item_c2", "item_o2", "item_c3"]


def test_an_empty_config_sends_no_session_update() -> None:
    assert restore_plan(Conversation(), config={}).session is None


def test_replay_item_of_an_assistant_message_keeps_text_parts() -> None:
    conv = conversation(
        added({"id": "item_a", "type": "message", "role": "assistant",
               "content": [{"type": "output_text", "text": "one"},
                           {"type": "output_audio", "transcript": "two"}]}),
    )  # fmt: skip
    assert replay_item(conv.items[0]) == {
        "id": "item_a",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "one"}, {"type": "output_text", "text": "two"}],
    }
