"""The responders: the deterministic echo rules, and forwarding to a chat-completions URL."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest_asyncio
import tornado.httpserver
import tornado.web

from rt_jupyter.client import connect
from rt_jupyter.local.engines.responder import (
    ChatCompletionsResponder,
    ContextItem,
    EchoResponder,
    fill_arguments,
)
from rt_jupyter.local.service import LocalRealtimeService
from rt_jupyter.local.session import Engines

TOOLS = [
    {
        "type": "function",
        "name": "set_alarm",
        "parameters": {
            "type": "object",
            "properties": {
                "hour": {"type": "integer"},
                "label": {"type": "string"},
                "repeat": {"type": "boolean"},
                "day": {"type": "string", "enum": ["monday", "friday"]},
            },
            "required": ["hour", "label"],
        },
    }
]


def test_echo_rules() -> None:
    echo = EchoResponder()
    user = [ContextItem("user", "hello there")]
    assert echo.respond(user).text == "You said: hello there."
    # a recogniser's own full stop or question mark does not end the answer twice
    assert echo.respond([ContextItem("user", "the Paris.")]).text == "You said: the Paris."
    asked = echo.respond([ContextItem("user", "What is the time? ")]).text
    assert asked == "You said: What is the time."
    assert echo.respond([ContextItem("user", "", audio_ms=1500)]).text == (
        "I heard 1.5 seconds of audio."
    )
    call = echo.respond(
        [ContextItem("user", "set alarm for seven on friday, yes repeat")], tools=TOOLS
    ).tool_calls[0]
    assert call.name == "set_alarm"
    assert call.arguments == {
        "hour": 7,
        "label": "seven on friday",
        "repeat": True,
        "day": "friday",
    }
    assert echo.respond(user, tools=TOOLS).tool_calls == []  # the words do not name the tool
    assert echo.respond(user, tools=TOOLS, tool_choice="required").tool_calls[0].name == (
        "set_alarm"
    )
    assert (
        echo.respond([ContextItem("user", "set alarm")], tools=TOOLS, tool_choice="none").tool_calls
        == []
    )
    done = echo.respond([ContextItem("tool", '{"ok": true}', name="set_alarm")])
    assert done.text == 'The set_alarm tool returned: {"ok": true}.'
    translated = echo.respond(user, instructions="Translate everything into German.")
    assert translated.text == "In German: hello there."
    code = echo.respond([ContextItem("user", "write code to add 2 and 3")]).text
    assert "```python\nresult = 2 + 3\nprint(result)\n```" in code


def test_number_words_and_defaults() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    assert fill_arguments(schema, "twenty one") == {"n": 21.0}
    assert fill_arguments(schema, "nothing here") == {"n": 0}


class _Completions(tornado.web.RequestHandler):
    """A stand-in for an OpenAI-compatible chat-completions upstream (unreachable here)."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def post(self) -> None:
        body = json.loads(self.request.body)
        self.requests.append({"auth": self.request.headers.get("Authorization"), **body})
        last = body["messages"][-1]
        if last["role"] == "user" and "weather" in last["content"] and body.get("tools"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            }
        else:
            message = {"role": "assistant", "content": f"Upstream heard: {last.get('content')}"}
        self.finish({"choices": [{"message": message}]})


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/v1/chat/completions", _Completions)])
    )
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.stop()


def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"snow in {city}"


async def test_chat_completions_responder(upstream: str) -> None:
    _Completions.requests.clear()
    responder = ChatCompletionsResponder(upstream, "some-chat-model", api_key="sk-upstream")
    async with (
        LocalRealtimeService(engines=Engines(responder=responder)) as svc,
        connect(
            api_key="sk-x", base_url=svc.base_url, output_modalities="text", tools=[get_weather]
        ) as session,
    ):
        reply = await session.say("hello upstream")
        assert reply.text == "Upstream heard: hello upstream"
        reply = await session.say("what is the weather")
        assert reply.tool_calls[0].output == "snow in Oslo"
        assert reply.text == "Upstream heard: snow in Oslo"
    first = _Completions.requests[0]
    assert first["model"] == "some-chat-model" and first["auth"] == "Bearer sk-upstream"
    last = _Completions.requests[-1]["messages"]
    assert [m["role"] for m in last][-2:] == ["assistant", "tool"]


class _Broken:
    def respond(self, items: Any, **_: Any) -> Any:
        raise RuntimeError("model exploded")


async def test_a_failing_responder_fails_the_response_not_the_session() -> None:
    async with (
        LocalRealtimeService(engines=Engines(responder=_Broken())) as svc,
        connect(api_key="sk-x", base_url=svc.base_url, output_modalities="text") as session,
    ):
        reply = await session.say("hello")
        assert reply.status == "failed"
        assert reply.status_details is not None
        assert reply.status_details["error"]["code"] == "responder_error"
        assert "exploded" not in json.dumps(reply.status_details)  # no internals leak
        assert (await session.say("again")).status == "failed"  # still serving


def test_arguments_keep_the_words_case() -> None:
    """A spoken or typed name keeps its case in the arguments, as a model's would."""
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    echo = EchoResponder()
    for heard, city in (
        ("What is the weather in Paris?", "Paris"),
        ("what is the weather in paris", "paris"),
        ("WEATHER in New York please", "New York"),
    ):
        reply = echo.respond([ContextItem("user", heard)], tools=[weather])
        assert [(c.name, c.arguments) for c in reply.tool_calls] == [
            ("get_weather", {"city": city})
        ], heard
    tags = {"type": "object", "properties": {"tags": {"type": "array"}}}
    assert fill_arguments(tags, "Tag Alice and Bob") == {"tags": ["Tag", "Alice", "and"]}
