"""Events: parse/serialize round trips, lenient parsing, the :class:`Event` mapping, builders."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_jupyter.protocol import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    Dialect,
    Event,
    ProtocolError,
    build,
    error_event,
    function_call_output_item,
    kind,
    parse,
    serialize,
    server_event,
    system_text_item,
    user_audio_item,
    user_image_item,
    user_text_item,
)
from rt_jupyter.protocol.errors import LocalProtocolError, RemoteProtocolError
from tests.conformance import validate_client_event, validate_server_event

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_EVENT_TYPES = st.one_of(
    st.sampled_from(sorted({*SERVER_EVENTS[Dialect.GA], *SERVER_EVENTS[Dialect.BETA]})),
    st.text(max_size=30),
)
_EVENTS = st.builds(
    lambda t, rest: {**rest, "type": t},
    _EVENT_TYPES,
    st.dictionaries(st.text(max_size=10), _JSON, max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(_EVENTS)
def test_parse_serialize_round_trip(data: dict[str, Any]) -> None:
    text = serialize(data)
    event = parse(text)
    assert event.data == data
    assert event.type == data["type"]
    assert event.kind == kind(data["type"])
    assert serialize(event) == text  # an Event serializes like its data
    assert event.to_json() == text
    assert parse(text.encode("utf-8")).data == data  # bytes too
    assert json.loads(text) == data  # plain JSON, readable by anyone


def test_serialize_is_compact_and_keeps_unicode() -> None:
    text = serialize({"type": "x", "text": "héllo ✓", "n": [1, 2]})
    assert text == '{"type":"x","text":"héllo ✓","n":[1,2]}'


def test_unknown_types_and_fields_are_kept() -> None:
    event = parse('{"type": "future.event", "event_id": "e1", "shiny": {"new": [1]}}')
    assert event.type == event.kind == "future.event"
    assert event["shiny"] == {"new": [1]}
    assert event.data == {"type": "future.event", "event_id": "e1", "shiny": {"new": [1]}}
    known = parse('{"type": "response.text.delta", "delta": "hi", "obfuscation": "x"}')
    assert known.kind == "response.output_text.delta" and known.type == "response.text.delta"
    assert known["obfuscation"] == "x"


def test_event_is_a_read_only_mapping() -> None:
    data = {"type": "response.audio.delta", "event_id": "event_1", "delta": "AAAA"}
    event = Event(data)
    assert isinstance(event, Mapping)
    assert len(event) == 3 and list(event) == ["type", "event_id", "delta"]
    assert event["delta"] == "AAAA" and event.get("missing") is None
    assert "delta" in event and "nope" not in event
    assert dict(event) == data
    assert event == data and event == Event(dict(data)) and event != {"type": "other"}
    assert (event == 3) is False
    assert event.event_id == "event_1" and event.kind == "response.output_audio.delta"
    with pytest.raises(KeyError):
        event["missing"]
    with pytest.raises(TypeError):
        hash(event)
    with pytest.raises(TypeError):
        event["delta"] = "x"  # type: ignore[index]
    assert "AAAA" in repr(event)


def test_event_repr_shortens_long_strings() -> None:
    event = Event({"type": "response.audio.delta", "delta": "A" * 1000})
    shown = repr(event)
    assert len(shown) < 200 and "..." in shown


def test_event_without_a_proper_type() -> None:
    assert Event({}).type == "" and Event({}).kind == ""
    assert Event({"type": 5}).type == "" and Event({"type": 5}).kind == ""
    assert Event({"type": "error", "event_id": 9}).event_id is None


@pytest.mark.parametrize(
    ("text", "code", "param"),
    [
        ("[]", "invalid_event", None),
        ('"session.update"', "invalid_event", None),
        ("42", "invalid_event", None),
        ("null", "invalid_event", None),
        ("{", "invalid_json", None),
        ("", "invalid_json", None),
        (b"\xff\x00", "invalid_json", None),
        ('{"event_id": "e"}', "invalid_event", None),
        ('{"type": null}', "invalid_event", None),
        ('{"type": 5}', "invalid_type", "type"),
        ('{"type": ["a"]}', "invalid_type", "type"),
        ('{"type": {"x": 1}}', "invalid_type", "type"),
    ],
)
def test_bad_input(text: str | bytes, code: str, param: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(text)
    assert info.value.code == code
    assert info.value.param == param
    payload = info.value.to_dict()
    assert payload["type"] == "invalid_request_error" and payload["code"] == code
    assert isinstance(payload["message"], str) and payload["message"]


def test_missing_type_keeps_the_event_id_and_can_be_allowed() -> None:
    with pytest.raises(ProtocolError) as info:
        parse('{"event_id": "evt_1"}')
    assert info.value.event_id == "evt_1"
    assert info.value.message == "The 'type' field is missing."
    assert parse('{"event_id": "evt_1"}', strict_type=False).type == ""
    with pytest.raises(ProtocolError):
        parse('{"type": 1}', strict_type=False)  # a wrong type is never allowed


def test_protocol_error_shapes() -> None:
    error = ProtocolError("m", code="c", param="p", event_id="e")
    assert error.to_dict() == {
        "type": "invalid_request_error",
        "code": "c",
        "message": "m",
        "param": "p",
        "event_id": "e",
    }
    assert "code='c'" in repr(error)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    event = error_event(ProtocolError("Bad.", code="invalid_value", param="x"))
    assert event["type"] == "error" and event["error"]["message"] == "Bad."
    validate_server_event(event, "ga")
    validate_server_event(event, "beta")


def test_server_event_builder() -> None:
    first = server_event("input_audio_buffer.cleared")
    second = server_event("input_audio_buffer.cleared")
    assert first["type"] == "input_audio_buffer.cleared"
    assert first["event_id"].startswith("event_") and len(first["event_id"]) == 6 + 21
    assert first["event_id"] != second["event_id"]
    event = server_event("conversation.item.deleted", item_id="item_1")
    assert event == {
        "type": "conversation.item.deleted",
        "event_id": event["event_id"],
        "item_id": "item_1",
    }
    validate_server_event(event, "ga")


def test_client_event_builder() -> None:
    assert build("response.create") == {"type": "response.create"}
    assert build("response.cancel", event_id="e1") == {"type": "response.cancel", "event_id": "e1"}
    assert build("response.cancel", response_id=None) == {"type": "response.cancel"}
    assert build("conversation.item.delete", item_id="i") == {
        "type": "conversation.item.delete",
        "item_id": "i",
    }


def test_item_builders_conform() -> None:
    items = [
        user_text_item("hi"),
        user_text_item("hi", item_id="item_x"),
        system_text_item("rules"),
        user_audio_item("AAAA"),
        user_audio_item("AAAA", transcript="hey"),
        function_call_output_item("call_1", "{}"),
        user_image_item("data:image/png;base64,AAAA", detail="low", text="What?"),
    ]
    assert items[1]["id"] == "item_x" and "id" not in items[0]
    assert items[3]["content"] == [{"type": "input_audio", "audio": "AAAA"}]
    assert items[4]["content"][0]["transcript"] == "hey"
    assert [p["type"] for p in items[6]["content"]] == ["input_text", "input_image"]
    assert items[6]["content"][1]["detail"] == "low"
    assert user_image_item("data:,")["content"] == [
        {"type": "input_image", "image_url": "data:,", "detail": "auto"}
    ]
    for item in items:
        validate_client_event({"type": "conversation.item.create", "item": item}, "ga")
    for item in items[:6]:  # no images in beta
        validate_client_event({"type": "conversation.item.create", "item": item}, "beta")


def test_catalogue_shape() -> None:
    assert CLIENT_EVENTS[Dialect.GA] == CLIENT_EVENTS[Dialect.BETA]
    assert len(CLIENT_EVENTS[Dialect.GA]) == 12
    assert len(SERVER_EVENTS[Dialect.GA]) == 47 and len(SERVER_EVENTS[Dialect.BETA]) == 34
    # renamed events appear under their own dialect's name only
    assert "response.output_text.delta" in SERVER_EVENTS[Dialect.GA]
    assert "response.output_text.delta" not in SERVER_EVENTS[Dialect.BETA]
    assert "response.text.delta" in SERVER_EVENTS[Dialect.BETA]
    assert "response.text.delta" not in SERVER_EVENTS[Dialect.GA]
    assert SERVER_EVENTS[Dialect.GA]["response.function_call_arguments.done"][-2:] == (
        "name",
        "arguments",
    )
    assert "name" not in SERVER_EVENTS[Dialect.BETA]["response.function_call_arguments.done"]
    assert (
        "usage"
        in SERVER_EVENTS[Dialect.GA]["conversation.item.input_audio_transcription.completed"]
    )
    # every beta name maps to a GA name of the catalogue
    assert {kind(t) for t in SERVER_EVENTS[Dialect.BETA]} <= set(SERVER_EVENTS[Dialect.GA])


def test_function_calls_lists_only_the_calls_in_output_order() -> None:
    from rt_jupyter.protocol import function_calls

    response = {
        "id": "resp_1",
        "output": [
            {"type": "message", "role": "assistant", "content": []},
            {"type": "function_call", "call_id": "c2", "name": "later", "arguments": '{"a":1}'},
            "not an item",
            {"type": "function_call", "call_id": "c1", "name": "first"},  # no arguments yet
            {"type": "function_call_output", "call_id": "c0", "output": "x"},
        ],
    }
    assert function_calls(response) == [("c2", "later", '{"a":1}'), ("c1", "first", "")]
    assert function_calls({"id": "resp_2", "output": None}) == []
    assert function_calls({}) == []
