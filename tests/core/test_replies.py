"""Request ↔ response correlation (``core.replies``) without sockets: events in, replies and
``response.create`` events out."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import numpy as np
import pytest

from rt_jupyter.core import PendingReply, Replies, ToolCallRecord
from rt_jupyter.errors import ServerError
from rt_jupyter.protocol import Conversation, Event, function_calls


def created(rid: str, **response: Any) -> Event:
    return Event({"type": "response.created", "response": {"id": rid, **response}})


def delta(kind: str, rid: str, value: str) -> Event:
    return Event({"type": kind, "response_id": rid, "delta": value})


def done(rid: str, status: str = "completed", output: list[Any] | None = None) -> Event:
    response = {"id": rid, "status": status, "output": output or [], "usage": {"total_tokens": 7}}
    return Event({"type": "response.done", "response": response})


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"item_{call_id}",
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


async def test_ask_builds_the_response_create_and_claims_the_next_response() -> None:
    replies = Replies()
    pending = PendingReply.new(1.0)
    event = replies.ask(pending, {"output_modalities": ["text"], "_private": 1}, on_wire=True)
    assert event["type"] == "response.create"
    assert event["response"] == {"output_modalities": ["text"]}
    assert event["event_id"].startswith("evt")
    assert pending.params["_event_id"] == event["event_id"]
    assert pending.generation == 0
    bare = replies.ask(PendingReply.new(2.0), {}, on_wire=False)
    assert "response" not in bare or bare["response"] is None
    got = replies.created(created("resp_1"), 5.0, "pcm16")
    assert got is pending  # the oldest claim gets the first response
    assert pending.reply.response_id == "resp_1"
    assert pending.reply.t_created == 5.0 and pending.reply.t_request == 1.0
    assert replies.replies == [pending.reply]


async def test_unclaimed_and_out_of_band_responses() -> None:
    replies = Replies()
    oob = PendingReply.new(1.0)
    replies.ask(oob, {"conversation": "none", "metadata": {"tag": "b"}}, on_wire=True)
    # a response in the conversation is not the out-of-band request's: a reply of its own
    server = replies.created(created("resp_vad", conversation_id="conv_1"), 2.0, "g711_ulaw")
    assert server is not oob and server.reply.response_id == "resp_vad"
    assert server.reply.sample_rate == 8000 and server.reply.t_request == 2.0
    # an out-of-band response with other metadata is not it either
    other = replies.created(
        created("resp_x", conversation_id=None, metadata={"tag": "a"}), 3.0, "pcm16"
    )
    assert other is not oob
    mine = replies.created(
        created("resp_b", conversation_id=None, metadata={"tag": "b"}), 4.0, "pcm16"
    )
    assert mine is oob and oob.reply.sample_rate == 24000
    assert [r.response_id for r in replies.replies] == ["resp_vad", "resp_x", "resp_b"]


async def test_deltas_build_text_transcript_and_audio() -> None:
    replies = Replies()
    pending = replies.created(created("r"), 1.0, "pcm16")
    replies.delta(delta("response.output_text.delta", "r", "Hel"), 2.0, "pcm16")
    replies.delta(delta("response.output_text.delta", "r", "lo"), 3.0, "pcm16")
    replies.delta(delta("response.output_audio_transcript.delta", "r", "hi"), 4.0, "pcm16")
    pcm = struct.pack("<2h", 16384, -16384)  # +0.5, -0.5
    replies.delta(
        delta("response.output_audio.delta", "r", base64.b64encode(pcm).decode()), 6.0, "pcm16"
    )
    replies.delta(delta("response.output_text.delta", "other", "x"), 7.0, "pcm16")  # not followed
    reply = pending.reply
    assert reply.text == "Hello" and reply.transcript == "hi"
    assert reply.t_first_text == 2.0 and reply.t_first_audio == 6.0
    np.testing.assert_allclose(reply.audio, [0.5, -0.5])


async def test_done_without_tool_calls_settles_the_reply() -> None:
    replies = Replies()
    pending = PendingReply.new(0.0)
    replies.ask(pending, {}, on_wire=True)
    replies.created(created("r"), 1.0, "pcm16")
    message = {"id": "item_m", "type": "message", "role": "assistant", "content": []}
    assert replies.done(done("r", output=[message]), 2.0, Conversation()) is True
    assert not pending.future.done()  # the reply waits until the tools are known to be done
    replies.settle("r")
    reply = await pending.future
    assert reply.status == "completed" and reply.usage == {"total_tokens": 7}
    assert reply.t_done == 2.0 and [i.id for i in reply.items] == ["item_m"]
    assert replies.done(done("unknown"), 3.0, Conversation()) is False


async def test_tool_calls_chain_follow_ups_onto_the_same_future() -> None:
    replies = Replies()
    pending = PendingReply.new(0.0)
    replies.ask(pending, {}, on_wire=True)
    replies.created(created("r1"), 1.0, "pcm16")
    response = done("r1", output=[call("c1", "weather", '{"city":"Paris"}')])
    assert replies.done(response, 2.0, Conversation()) is True
    assert function_calls(response["response"]) == [("c1", "weather", '{"city":"Paris"}')]
    waiting = replies.tools_answered("r1")
    assert waiting is pending
    assert replies.tools_answered("r1") is None  # once
    record = ToolCallRecord("weather", "c1", '{"city":"Paris"}', output='"sunny"')
    follow = replies.follow_up(pending, [record], follow_up=True)
    assert follow is not None and follow.future is pending.future
    assert follow.reply.tool_calls == [record] and follow.reply.previous == [pending.reply]
    replies.ask(follow, {}, on_wire=True)
    replies.created(created("r2"), 3.0, "pcm16")
    assert replies.done(done("r2"), 4.0, Conversation()) is True
    replies.settle("r2")
    final = await pending.future
    assert final.response_id == "r2" and final.tool_calls == [record]
    assert [r.response_id for r in final.previous] == ["r1"]


async def test_tool_calls_without_a_follow_up_deliver_the_records() -> None:
    replies = Replies()
    pending = PendingReply.new(0.0)
    replies.ask(pending, {}, on_wire=True)
    replies.created(created("r"), 1.0, "pcm16")
    replies.done(done("r", output=[call("c", "f", "{}")]), 2.0, Conversation())
    record = ToolCallRecord("f", "c", "{}", error="boom")
    taken = replies.tools_answered("r")
    assert taken is not None
    assert replies.follow_up(taken, [record], follow_up=False) is None
    reply = await pending.future
    assert reply.response_id == "r" and reply.tool_calls == [record]


async def test_requests_get_the_oldest_matching_event() -> None:
    replies = Replies()
    loop = asyncio.get_running_loop()
    first: asyncio.Future[Event] = loop.create_future()
    second: asyncio.Future[Event] = loop.create_future()
    id1 = replies.request("session.updated", first)
    id2 = replies.request("session.updated", second)
    assert id1 != id2 and set(replies.requests) == {id1, id2}
    replies.answered(Event({"type": "conversation.item.added"}))
    assert not first.done()
    beta = Event({"type": "transcription_session.updated", "session": {}})
    replies.answered(beta)
    assert first.result() is beta and not second.done()
    assert list(replies.requests) == [id2]


async def test_errors_fail_the_request_or_the_response_they_name() -> None:
    replies = Replies()
    loop = asyncio.get_running_loop()
    request: asyncio.Future[Event] = loop.create_future()
    request_id = replies.request("conversation.item.truncated", request)
    pending = PendingReply.new(0.0)
    event = replies.ask(pending, {}, on_wire=True)
    error = {"type": "invalid_request_error", "message": "no", "event_id": request_id}
    assert replies.error(error, ServerError(error))
    with pytest.raises(ServerError):
        request.result()
    about_response = {**error, "event_id": event["event_id"]}
    assert replies.error(about_response, ServerError(about_response))
    with pytest.raises(ServerError):
        await pending.future
    # the failed claim is gone: the next response is nobody's
    assert replies.created(created("r"), 1.0, "pcm16") is not pending
    assert not replies.error({**error, "event_id": "evt_other"}, ServerError(error))
    assert not replies.error({"message": "no id"}, ServerError(error))


async def test_lost_responses_after_a_reconnect() -> None:
    replies = Replies()
    cut = PendingReply.new(1.0)
    replies.ask(cut, {"instructions": "again"}, on_wire=True)
    replies.created(created("r_cut"), 2.0, "pcm16")
    idless = replies.created(created("r_gone"), 3.0, "pcm16")  # a server response
    unstarted = PendingReply.new(4.0)
    replies.ask(unstarted, {"output_modalities": ["text"]}, on_wire=True)
    queued = PendingReply.new(5.0)
    replies.ask(queued, {}, on_wire=False)  # never went out: sent with the queue instead
    replies.new_connection()
    current = PendingReply.new(6.0)
    replies.ask(current, {}, on_wire=True)  # went out on the new connection
    lost = replies.lost(["r_cut"])
    assert [p.future for p in lost] == [cut.future, idless.future, unstarted.future]
    assert [p.reply.t_request for p in lost] == [1.0, 3.0, 4.0]
    assert lost[0].params["instructions"] == "again"
    assert lost[2].params["output_modalities"] == ["text"]
    assert all(p.reply.response_id == "" for p in lost)  # fresh replies
    assert replies.lost([]) == []  # each once
    # the claims left are the queued one, then the current one, in order
    assert replies.created(created("r_next"), 7.0, "pcm16") is queued


async def test_fail_ends_every_waiter_and_withdraw_forgets_a_claim() -> None:
    replies = Replies()
    loop = asyncio.get_running_loop()
    claim = PendingReply.new(0.0)
    replies.ask(claim, {}, on_wire=True)
    withdrawn = PendingReply.new(0.0)
    replies.ask(withdrawn, {}, on_wire=True)
    replies.withdraw(withdrawn)
    active = replies.created(created("r_active"), 1.0, "pcm16")
    assert active is claim
    tools = replies.created(created("r_tools"), 1.0, "pcm16")
    replies.done(done("r_tools", output=[call("c", "f", "{}")]), 2.0, Conversation())
    request: asyncio.Future[Event] = loop.create_future()
    replies.request("session.updated", request)
    later = PendingReply.new(0.0)
    replies.expect(later)
    exc = ConnectionError("gone")
    replies.fail(exc)
    for future in (claim.future, tools.future, request, later.future):
        assert future.exception() is exc
    assert not withdrawn.future.done()
    assert replies.tools_answered("r_tools") is None
