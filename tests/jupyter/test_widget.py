"""``VoiceChat`` on the kernel side, driven with the messages its front end sends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from traitlets import TraitError

from rt_jupyter import ConfigurationError, ProtocolError, VoiceChat

from .conftest import GOOD_KEY


class Front:
    """Stands in for the browser side of the comm: records what the kernel sends, and sends
    event batches the way the front end does."""

    def __init__(self, chat: VoiceChat) -> None:
        self.chat = chat
        self.sent: list[dict[str, Any]] = []
        self.seq = 0
        chat.send_msg_now = self.sent.append  # type: ignore[method-assign,assignment]
        chat._on_custom_msg(chat, {"type": "hello"}, [])

    def events(self, *events: dict[str, Any], direction: str = "in") -> None:
        now = time.time() * 1000
        batch = [[direction, now, json.dumps(e)] for e in events]
        self.chat._on_custom_msg(
            chat := self.chat, {"type": "events", "seq": self.seq, "events": batch}, []
        )
        del chat
        self.seq += 1

    def start_call(self, dialect: str = "ga") -> None:
        self.events({"type": "rt.call_started", "dialect": dialect}, direction="local")
        self.chat.status = "connected"
        self.events(
            {"type": "session.created", "event_id": "ev_0", "session": {"type": "realtime"}}
        )

    def outgoing(self) -> list[dict[str, Any]]:
        return [json.loads(t) for m in self.sent if m["type"] == "send" for t in m["events"]]


def function_call_turn(
    call_id: str = "call_1", args: str = '{"city": "paris"}'
) -> list[dict[str, Any]]:
    return [
        {
            "type": "response.created",
            "event_id": "e1",
            "response": {"id": "resp_1", "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "event_id": "e2",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {
                "id": "item_f",
                "type": "function_call",
                "status": "in_progress",
                "name": "get_weather",
                "call_id": call_id,
                "arguments": "",
            },
        },
        {
            "type": "response.function_call_arguments.done",
            "event_id": "e3",
            "response_id": "resp_1",
            "item_id": "item_f",
            "output_index": 0,
            "call_id": call_id,
            "name": "get_weather",
            "arguments": args,
        },
        {
            "type": "response.done",
            "event_id": "e4",
            "response": {
                "id": "resp_1",
                "status": "completed",
                "output": [
                    {
                        "id": "item_f",
                        "type": "function_call",
                        "name": "get_weather",
                        "call_id": call_id,
                        "arguments": args,
                    }
                ],
                "usage": {"total_tokens": 12, "input_tokens": 9, "output_tokens": 3},
            },
        },
    ]


def text_reply(
    response_id: str, item_id: str, text: str, previous: str | None = None
) -> list[dict[str, Any]]:
    """A text answer after item ``previous``, as the service streams it (two deltas)."""
    half = len(text) // 2
    part = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
    return [
        {
            "type": "response.created",
            "event_id": f"{response_id}_1",
            "response": {"id": response_id, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "event_id": f"{response_id}_2",
            "response_id": response_id,
            "output_index": 0,
            "item": {**item, "content": []},
        },
        {
            "type": "conversation.item.added",
            "event_id": f"{response_id}_3",
            "previous_item_id": previous,
            "item": {**item, "content": []},
        },
        {
            "type": "response.content_part.added",
            "event_id": f"{response_id}_4",
            **part,
            "part": {"type": "output_text", "text": ""},
        },
        {
            "type": "response.output_text.delta",
            "event_id": f"{response_id}_5",
            **part,
            "delta": text[:half],
        },
        {
            "type": "response.output_text.delta",
            "event_id": f"{response_id}_6",
            **part,
            "delta": text[half:],
        },
        {"type": "response.output_text.done", "event_id": f"{response_id}_7", **part, "text": text},
        {
            "type": "response.done",
            "event_id": f"{response_id}_8",
            "response": {
                "id": response_id,
                "status": "completed",
                "output": [
                    {
                        **item,
                        "status": "completed",
                        "content": [{"type": "output_text", "text": text}],
                    }
                ],
            },
        },
    ]


CODE_ANSWER = (
    "Here is code for: please write code to compute 6 times 7.\n\n"
    "```python\nresult = 6 * 7\nprint(result)\n```"
)


@pytest.fixture
def chat() -> Iterator[VoiceChat]:
    widget = VoiceChat()
    yield widget
    widget.close()


def test_session_from_settings(chat: VoiceChat) -> None:
    assert chat.session["type"] == "realtime"
    assert chat.session["audio"]["input"]["turn_detection"] == {"type": "server_vad"}
    chat.instructions = "Be brief."
    chat.turn_detection = None
    chat.voice = "marin"
    assert chat.session["instructions"] == "Be brief."
    assert chat.session["audio"]["input"]["turn_detection"] is None
    assert chat.session["audio"]["output"]["voice"] == "marin"


def test_wrong_settings_say_what_to_do(chat: VoiceChat) -> None:
    with pytest.raises(TraitError, match=r"turn_detection.*server_vad"):
        chat.turn_detection = "always"
    with pytest.raises(ConfigurationError, match="output_modalities"):  # also a TraitError
        chat.output_modalities = ["video"]
    with pytest.raises(TraitError, match="output_modalities"):
        chat.output_modalities = ["video"]
    assert chat.output_modalities == ["audio"]
    with pytest.raises(ConfigurationError, match=r"'voise' \(did you mean 'voice'\?\)"):
        VoiceChat(voise="marin")
    with pytest.raises(TraitError, match="codec"):
        chat.codec = "mp3"
    with pytest.raises(TraitError, match="needs a 'name'"):
        chat.tools = [{"description": "no name"}]
    with pytest.raises(TraitError, match="duplicate"):
        chat.tools = [{"name": "a"}, {"name": "a"}]
    with pytest.raises(TraitError):
        chat.connection_timeout = 0
    with pytest.raises(TraitError, match="urls"):
        chat.ice_servers = [{"username": "u"}]


def test_state_holds_no_secret(chat: VoiceChat) -> None:
    chat.ice_servers = [{"urls": "turn:turn.example.com", "username": "u", "credential": "s3cret"}]
    state = json.dumps({k: v for k, v in chat.get_state().items() if k not in ("_esm", "_css")})
    assert "s3cret" not in state
    assert chat.ice_servers == [{"urls": "turn:turn.example.com"}]
    front = Front(chat)
    assert {
        "type": "ice",
        "servers": [{"urls": "turn:turn.example.com", "username": "u", "credential": "s3cret"}],
    } in front.sent
    for name in chat.keys:
        assert "key" not in name or name == "key_source"


def test_python_tool_runs_and_model_gets_result() -> None:
    calls: list[str] = []
    chat = VoiceChat()

    @chat.tool
    def get_weather(city: str) -> str:
        """Weather.

        Args:
            city: The city.
        """
        calls.append(city)
        return f"sunny in {city}"

    assert [t["name"] for t in chat.tools] == ["get_weather"]
    assert chat.session["tools"][0]["parameters"]["required"] == ["city"]
    front = Front(chat)
    front.start_call()
    turn = function_call_turn()
    front.events(*turn[:3])
    assert calls == ["paris"]  # run at arguments.done...
    assert front.outgoing() == []  # ...but nothing is sent while the response is active
    front.events(turn[3])  # response.done: the output, then the follow-up response
    assert front.outgoing() == [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": "sunny in paris",
            },
        },
        {"type": "response.create"},
    ]
    front.events(*function_call_turn())  # the same call again is not run twice
    assert calls == ["paris"]
    assert chat.usage["responses"] == 2 and chat.usage["total_tokens"] == 24
    kinds = [r.kind for r in chat.log]
    assert "rt.tool_result" in kinds
    chat.close()


def test_tool_errors_go_back_to_the_model() -> None:
    def get_weather(city: str) -> str:
        raise ValueError("no weather today")

    chat = VoiceChat(tools=[get_weather])
    front = Front(chat)
    front.start_call()
    front.events(*function_call_turn())
    created = front.outgoing()[0]
    assert json.loads(created["item"]["output"]) == {"error": "ValueError: no weather today"}
    assert front.outgoing()[-1] == {"type": "response.create"}
    assert chat.log.count("rt.tool_error") == 1
    front.events(*function_call_turn(call_id="call_2", args='{"town": "x"}'))
    assert "unknown argument" in front.outgoing()[-2]["item"]["output"]
    chat.close()


def test_async_tool() -> None:
    async def get_weather(city: str) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"city": city, "sky": "clear"}

    async def scenario() -> list[dict[str, Any]]:
        chat = VoiceChat(tools=[get_weather])
        front = Front(chat)
        front.start_call()
        front.events(*function_call_turn())
        assert front.outgoing() == []  # still running
        await asyncio.sleep(0.1)
        out = front.outgoing()
        chat.close()
        return out

    out = asyncio.run(scenario())
    assert json.loads(out[0]["item"]["output"]) == {"city": "paris", "sky": "clear"}
    assert out[1] == {"type": "response.create"}


def test_callbacks_and_wait_for(chat: VoiceChat) -> None:
    seen: list[str] = []
    chat.on("response.done", lambda e: seen.append(e["response"]["id"]))

    @chat.on("*")
    def broken(event: Any) -> None:
        raise RuntimeError("boom")

    front = Front(chat)
    front.start_call()

    async def scenario() -> Any:
        waiter = asyncio.ensure_future(chat.wait_for("response.done", timeout=5))
        await asyncio.sleep(0)
        front.events(*function_call_turn())
        return await waiter

    event = asyncio.run(scenario())
    assert event["response"]["id"] == "resp_1" and seen == ["resp_1"]
    assert "broken" in chat.error and "boom" in chat.error
    # events already received count with since=
    again = asyncio.run(chat.wait_for("response.function_call_arguments.done", since=0, timeout=1))
    assert again["call_id"] == "call_1"
    with pytest.raises(TimeoutError, match=r"no .response\.done. event within 0\.05 s"):
        asyncio.run(chat.wait_for("response.done", timeout=0.05))


def test_send_checks_events_and_connection(chat: VoiceChat) -> None:
    front = Front(chat)
    with pytest.raises(RuntimeError, match="click Connect"):
        chat.send({"type": "response.create"})
    front.start_call()
    with pytest.raises(
        ProtocolError, match=r"invalid .response\.nope. event.*Fix the event"
    ) as info:
        chat.send({"type": "response.nope"})
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working
    assert front.outgoing() == []
    with pytest.raises(TypeError, match="event dicts"):
        chat.send("response.create")  # type: ignore[arg-type]
    chat.send_text("hi there")
    assert [e["type"] for e in front.outgoing()] == ["conversation.item.create", "response.create"]


def test_setting_change_while_connected_sends_session_update(chat: VoiceChat) -> None:
    front = Front(chat)
    front.start_call()
    chat.instructions = "Talk like a pirate."
    update = front.outgoing()[-1]
    assert update["type"] == "session.update"
    assert update["session"]["instructions"] == "Talk like a pirate."
    assert "model" not in update["session"]
    chat.instructions = "x" * 40_000
    chat.tools = [
        {"name": f"t{i}", "description": "x" * 900, "parameters": {"type": "object"}}
        for i in range(30)
    ]
    updates = front.outgoing()[2:]
    assert len(updates) == 2  # over 60 KB together: one update per part
    assert all(len(json.dumps(u)) < 60_000 for u in updates)
    assert "instructions" in updates[0]["session"] and "tools" in updates[1]["session"]
    chat.tools = [
        {"name": f"t{i}", "description": "x" * 900, "parameters": {"type": "object"}}
        for i in range(70)
    ]
    assert "over 60,000 bytes" in chat.error


def test_frontend_messages_wait_for_hello(chat: VoiceChat) -> None:
    sent: list[dict[str, Any]] = []
    chat.send_msg_now = sent.append  # type: ignore[method-assign,assignment]
    chat.connect()
    assert sent == []
    chat._on_custom_msg(chat, {"type": "hello"}, [])
    assert sent == [{"type": "connect"}]


def test_transcript_and_relay_bookkeeping(chat: VoiceChat) -> None:
    front = Front(chat)
    front.start_call()
    front.events(
        {
            "type": "conversation.item.added",
            "event_id": "e5",
            "previous_item_id": None,
            "item": {
                "id": "item_u",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        },
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e6",
            "item_id": "item_u",
            "content_index": 0,
            "transcript": "hello there",
        },
    )
    assert chat.transcript == [{"role": "user", "text": "hello there", "item_id": "item_u"}]
    front.seq += 3  # a lost batch is noted
    front.events({"type": "rate_limits.updated", "event_id": "e7", "rate_limits": []})
    assert chat.log.count("rt.relay_gap") == 1
    latencies = chat.relay_latency_ms()
    assert len(latencies) == 4 and all(0 <= x < 1000 for x in latencies)
    frame = chat.log.to_frame()
    assert list(frame["kind"])[:3] == [
        "rt.call_started",
        "session.created",
        "conversation.item.added",
    ]
    # a second call keeps the transcript of the first
    front.start_call()
    assert chat.transcript[0]["text"] == "hello there"
    assert len(chat.conversation) == 0


def _batch(chat: VoiceChat, seq: int, *events: dict[str, Any]) -> None:
    now = time.time() * 1000
    entries = [["in", now, json.dumps(e)] for e in events]
    chat._on_custom_msg(chat, {"type": "events", "seq": seq, "events": entries}, [])


def _limits(n: int) -> dict[str, Any]:
    return {"type": "rate_limits.updated", "event_id": f"e{n}", "rate_limits": []}


def test_relayed_batches_out_of_order_are_put_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ipykernel 7 can hand two comm messages over out of order: a batch that comes early waits
    for the ones before it; one still missing after RELAY_HOLD_S is noted as a gap."""
    from rt_jupyter.jupyter import widget

    monkeypatch.setattr(widget, "RELAY_HOLD_S", 0.05)

    async def scenario() -> tuple[list[Any], list[Any], int]:
        chat = VoiceChat()
        Front(chat).start_call()  # batches 0 and 1
        _batch(chat, 3, _limits(3))
        _batch(chat, 4, _limits(4))
        held = [r.event.get("event_id") for r in chat.log if r.kind == "rate_limits.updated"]
        _batch(chat, 2, _limits(2))
        in_order = [r.event.get("event_id") for r in chat.log if r.kind == "rate_limits.updated"]
        _batch(chat, 6, _limits(6))  # 5 never comes
        await asyncio.sleep(0.2)
        gaps = chat.log.count("rt.relay_gap")
        after = [r.event.get("event_id") for r in chat.log if r.kind == "rate_limits.updated"]
        chat.close()
        assert after == [*in_order, "e6"]
        return held, in_order, gaps

    held, in_order, gaps = asyncio.run(scenario())
    assert held == [] and in_order == ["e2", "e3", "e4"] and gaps == 1


def test_kernel_mint_upstream(monkeypatch: pytest.MonkeyPatch, upstream: Any) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", GOOD_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    chat = VoiceChat(instructions="Be brief.")
    front = Front(chat)
    chat._on_custom_msg(chat, {"type": "mint", "id": 7, "model": "", "session": chat.session}, [])
    deadline = time.monotonic() + 10
    while not [m for m in front.sent if m["type"] == "minted"] and time.monotonic() < deadline:
        time.sleep(0.02)
    reply = next(m for m in front.sent if m["type"] == "minted")
    assert reply["id"] == 7 and reply["ok"] is True
    token = reply["token"]
    assert token["upstream"] == "remote" and token["value"].startswith("ek_")
    assert token["sdp_url"] == f"{upstream.base_url}/realtime/calls"
    assert GOOD_KEY not in json.dumps(front.sent)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-" + "the-right-one-123456")
    chat._on_custom_msg(chat, {"type": "mint", "id": 8, "session": chat.session}, [])
    deadline = time.monotonic() + 10
    while len([m for m in front.sent if m["type"] == "minted"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    failed = [m for m in front.sent if m["type"] == "minted"][-1]
    assert failed["ok"] is False and failed["status"] == 401
    assert "kernel's environment" in failed["error"]["hint"]
    assert "sk-not-the-right-one" not in json.dumps(failed)
    chat.close()


class FakeShell:
    def __init__(self) -> None:
        self.next_inputs: list[tuple[str, bool]] = []

    def set_next_input(self, text: str, replace: bool = False) -> None:
        self.next_inputs.append((text, replace))


def test_code_blocks_and_insert_code(chat: VoiceChat, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    shell = FakeShell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert chat.code_blocks == []
    with pytest.raises(LookupError, match="no code block"):
        chat.insert_code()
    front = Front(chat)
    front.start_call()
    front.events(*text_reply("resp_a", "item_a", "No code here, only `inline` code."))
    assert chat.code_blocks == []
    front.events(*text_reply("resp_b", "item_b", CODE_ANSWER, "item_a"))
    front.events(
        *text_reply(
            "resp_c", "item_c", "Two:\n```\nx = 1\n```\nand\n```js\nlet y = 2;\n```", "item_b"
        )
    )
    assert chat.code_blocks == ["result = 6 * 7\nprint(result)", "x = 1", "let y = 2;"]
    assert chat.transcript[1]["text"] == CODE_ANSWER  # the widget renders it from here too
    chat.insert_code()
    chat.insert_code(0)
    assert shell.next_inputs == [("let y = 2;", False), ("result = 6 * 7\nprint(result)", False)]
    with pytest.raises(IndexError, match="there are 3"):
        chat.insert_code(5)
    # a user's fenced text is not the assistant's code
    front.events(
        {
            "type": "conversation.item.added",
            "event_id": "u1",
            "previous_item_id": "item_c",
            "item": {
                "id": "item_u",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": "```\nrm -rf /\n```"}],
            },
        }
    )
    assert len(chat.code_blocks) == 3
    # a second call keeps the blocks of the first, oldest first
    front.start_call()
    front.events(*text_reply("resp_d", "item_d", "```python\nprint('again')\n```"))
    assert chat.code_blocks[0] == "result = 6 * 7\nprint(result)"
    assert chat.code_blocks[-1] == "print('again')"
    # outside IPython there is no next cell
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with pytest.raises(RuntimeError, match="notebook cell"):
        chat.insert_code()


def test_browser_report_is_checked_and_read_only(chat: VoiceChat) -> None:
    from rt_jupyter import check

    assert chat.browser == {}
    with pytest.raises(TraitError):
        chat.browser = {"secure_context": True}
    assert "has not reported yet" in str(check(widget=chat, engines=False, timeout=0.2))
    front = Front(chat)
    report = {
        "secure_context": True,
        "webrtc": True,
        "media_devices": True,
        "microphones": 2,
        "microphone_permission": "granted",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140",
    }
    chat._on_custom_msg(chat, {"type": "browser", "report": report}, [])
    assert chat.browser == report
    assert chat.get_state()["browser"] == report  # synced (and saved: nothing secret in it)
    text = str(check(widget=chat, engines=False, timeout=0.2))
    assert "✔ secure origin" in text.replace("  ", " ")
    assert "2 microphone(s); permission granted" in text
    # after a connect attempt the page reports again: unknown keys dropped, odd values neutral
    chat._on_custom_msg(
        chat,
        {
            "type": "browser",
            "report": {
                "secure_context": "yes",
                "webrtc": False,
                "microphones": -1,
                "microphone_permission": "maybe",
                "user_agent": "x" * 1000,
                "token": "ek_should_not_be_kept",
            },
        },
        [],
    )
    assert chat.browser == {
        "secure_context": None,
        "webrtc": False,
        "media_devices": None,
        "microphones": None,
        "microphone_permission": "unknown",
        "user_agent": "x" * 400,
    }
    assert "RTCPeerConnection is not available" in str(check(widget=chat, engines=False))
    chat._on_custom_msg(chat, {"type": "browser", "report": "garbage"}, [])
    assert chat.browser["webrtc"] is False
    assert front.sent == []  # nothing to answer
