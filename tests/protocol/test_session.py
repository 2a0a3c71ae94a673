"""Session configuration: the defaults of ``session.created`` (doc §4.2), validation errors with
their official codes through a server connection (doc §6), range edges, ``cannot_update_voice``,
and the friendly :func:`session_update` builder."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from rt_jupyter.protocol import (
    DEFAULT_INSTRUCTIONS,
    Dialect,
    RealtimeConnection,
    ResponseBuilder,
    SessionConfig,
    build,
    session_update,
)
from tests.conformance import validate_server_event

DIALECTS = [Dialect.GA, Dialect.BETA]


def created_session(dialect: Dialect) -> dict[str, Any]:
    conn = RealtimeConnection("server", dialect)
    conn.session_created()
    (text,) = conn.data_to_send()
    event = json.loads(text)
    assert event["type"] == "session.created"
    validate_server_event(event, dialect)
    session: dict[str, Any] = event["session"]
    return session


def answer(conn: RealtimeConnection, event: dict[str, Any] | str | bytes) -> list[dict[str, Any]]:
    conn.receive(event if isinstance(event, str | bytes) else json.dumps(event))
    return [json.loads(t) for t in conn.data_to_send()]


def error_of(conn: RealtimeConnection, event: dict[str, Any] | str | bytes) -> dict[str, Any]:
    events = answer(conn, event)
    assert [e["type"] for e in events] == ["error"], events
    validate_server_event(events[0], conn.dialect)
    error: dict[str, Any] = events[0]["error"]
    assert error["type"] == "invalid_request_error"
    return error


def update(dialect: Dialect, session: dict[str, Any], event_id: str = "evt_42") -> dict[str, Any]:
    body = {"type": "realtime", **session} if dialect is Dialect.GA else session
    return build("session.update", event_id=event_id, session=body)


# --- defaults (doc §4.2) -------------------------------------------------------------------------

DEFAULT_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}


def test_ga_session_created_defaults() -> None:
    before = int(time.time())
    s = created_session(Dialect.GA)
    assert s["type"] == "realtime" and s["object"] == "realtime.session"
    assert s["id"].startswith("sess_")
    assert s["model"] == "gpt-realtime"
    assert s["output_modalities"] == ["audio"]
    assert s["instructions"] == DEFAULT_INSTRUCTIONS
    assert s["instructions"].startswith("Your knowledge cutoff is 2023-10.")
    assert (s["tools"], s["tool_choice"], s["max_output_tokens"]) == ([], "auto", "inf")
    assert (s["tracing"], s["prompt"], s["include"]) == (None, None, None)
    audio_in, audio_out = s["audio"]["input"], s["audio"]["output"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_out["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_in["turn_detection"] == {**DEFAULT_VAD, "idle_timeout_ms": None}
    assert (audio_in["transcription"], audio_in["noise_reduction"]) == (None, None)
    assert (audio_out["voice"], audio_out["speed"]) == ("alloy", 1.0)
    assert "temperature" not in s  # removed in GA (doc §4.1)
    assert before + 3000 <= s["expires_at"] <= int(time.time()) + 3600


def test_beta_session_created_defaults() -> None:
    s = created_session(Dialect.BETA)
    assert s["object"] == "realtime.session" and s["id"].startswith("sess_")
    assert s["model"] == "gpt-realtime"
    assert s["modalities"] == ["text", "audio"]
    assert s["instructions"] == DEFAULT_INSTRUCTIONS
    assert s["voice"] == "alloy"
    assert (s["input_audio_format"], s["output_audio_format"]) == ("pcm16", "pcm16")
    assert s["turn_detection"] == DEFAULT_VAD  # no idle_timeout_ms in beta
    assert s["input_audio_transcription"] is None
    assert s["input_audio_noise_reduction"] is None
    assert (s["tools"], s["tool_choice"]) == ([], "auto")
    assert s["max_response_output_tokens"] == "inf"
    assert s["temperature"] == 0.8
    assert not {"type", "audio", "output_modalities", "max_output_tokens"} & set(s)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_transcription_session_defaults(dialect: Dialect) -> None:
    conn = RealtimeConnection(
        "server", dialect, session=SessionConfig.default(session_type="transcription")
    )
    conn.session_created()
    (event,) = [json.loads(t) for t in conn.data_to_send()]
    s = event["session"]
    assert s["object"] == "realtime.transcription_session"
    if dialect is Dialect.GA:
        assert s["type"] == "transcription"
        assert s["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        assert "output" not in s["audio"] and "model" not in s
    else:
        assert s["input_audio_transcription"] == {"model": "gpt-4o-mini-transcribe"}
        assert "temperature" not in s and "voice" not in s


def test_session_config_reading() -> None:
    config = SessionConfig.default()
    assert (config.type, config.voice, config.speed) == ("realtime", "alloy", 1.0)
    assert (config.input_format, config.output_format) == ("pcm16", "pcm16")
    assert config.turn_detection == {**DEFAULT_VAD, "idle_timeout_ms": None}
    assert config.transcription is None and config.tools == []
    assert (config.max_output_tokens, config.temperature) == ("inf", 0.8)
    config.apply_update(session_update(turn_detection="semantic_vad", voice="cedar"))
    assert config.turn_detection == {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }
    assert config.voice == "cedar"


# --- the update round trip -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_session_updated_reports_the_full_effective_config(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    client = RealtimeConnection("client", dialect)
    client.send(
        build(
            "session.update",
            event_id="evt_1",
            session=session_update(
                instructions="Be brief.",
                modalities="text",
                noise_reduction="far_field",
                turn_detection={"type": "server_vad", "silence_duration_ms": 700},
                max_output_tokens=300,
            ),
        )
    )
    (text,) = client.data_to_send()
    (event,) = answer(conn, text)
    assert event["type"] == "session.updated"
    validate_server_event(event, dialect)
    assert "event_id" in event and event["event_id"] != "evt_1"  # no echo on success
    s = event["session"]
    assert s["instructions"] == "Be brief."
    assert s["tools"] == [] and s["tool_choice"] == "auto"  # untouched fields are reported too
    if dialect is Dialect.GA:
        assert s["output_modalities"] == ["text"]
        assert s["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
        assert s["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
        assert s["audio"]["input"]["turn_detection"]["threshold"] == 0.5  # defaults filled in
        assert s["max_output_tokens"] == 300
    else:
        assert s["modalities"] == ["text"]
        assert s["input_audio_noise_reduction"] == {"type": "far_field"}
        assert s["turn_detection"]["silence_duration_ms"] == 700
        assert s["max_response_output_tokens"] == 300


@pytest.mark.parametrize(
    "dialect",
    [
        Dialect.GA,
        Dialect.BETA,
    ],
    ids=str,
)
def test_a_new_audio_format_replaces_the_old_one(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    client = RealtimeConnection("client", dialect)
    client.send(
        build(
            "session.update",
            session=session_update(input_audio_format="g711_ulaw", output_audio_format="g711_alaw"),
        )
    )
    (text,) = client.data_to_send()
    (event,) = answer(conn, text)
    assert event["type"] == "session.updated"
    # the application side already switched (8 kHz: 8 bytes per ms)
    assert (conn.input_buffer.format, conn.input_buffer.bytes_per_ms) == ("g711_ulaw", 8)
    assert conn.conversation.output_format == "g711_alaw"
    s = event["session"]
    if dialect is Dialect.GA:
        assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert s["audio"]["output"]["format"] == {"type": "audio/pcma"}
    else:
        assert (s["input_audio_format"], s["output_audio_format"]) == ("g711_ulaw", "g711_alaw")
    validate_server_event(event, dialect)


# --- validation errors (doc §6) ------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_unknown_event_type(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, {"type": "scooby.dooby.doo", "event_id": "evt_7"})
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "evt_7")
    assert error["message"].startswith("Invalid value: 'scooby.dooby.doo'. Supported values are:")
    assert "'session.update'" in error["message"] and "'response.cancel'" in error["message"]


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_missing_type_and_bad_json(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, {"event_id": "evt_8", "session": {}})
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_event", None, "evt_8")
    assert error["message"] == "The 'type' field is missing."
    error = error_of(conn, '{"type": "session.update",')
    assert error["code"] == "invalid_json" and error["event_id"] is None
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    error = error_of(conn, b"\xff\xfe")
    assert error["code"] == "invalid_json"
    error = error_of(conn, '["session.update"]')
    assert error["code"] == "invalid_event"
    error = error_of(conn, '{"type": 7, "event_id": "evt_9"}')
    assert (error["code"], error["param"]) == ("invalid_type", "type")


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_unknown_parameter(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, update(dialect, {"totally_made_up_field": True}))
    assert error["code"] == "unknown_parameter"
    assert error["param"] == "session.totally_made_up_field"
    assert error["message"] == "Unknown parameter: 'session.totally_made_up_field'."
    assert error["event_id"] == "evt_42"
    error = error_of(conn, {"type": "input_audio_buffer.clear", "extra": 1, "event_id": "e"})
    assert (error["code"], error["param"], error["event_id"]) == ("unknown_parameter", "extra", "e")


def test_ga_session_type_is_required() -> None:
    conn = RealtimeConnection("server", Dialect.GA)
    error = error_of(conn, build("session.update", event_id="evt_3", session={"instructions": "x"}))
    assert error["code"] == "missing_required_parameter"
    assert error["param"] == "session.type"
    assert error["message"] == "Missing required parameter: 'session.type'."
    assert error["event_id"] == "evt_3"


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_missing_required_event_fields(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, {"type": "conversation.item.truncate", "item_id": "i", "event_id": "t"})
    assert (error["code"], error["param"]) == ("missing_required_parameter", "content_index")
    error = error_of(conn, {"type": "input_audio_buffer.append"})
    assert (error["code"], error["param"]) == ("missing_required_parameter", "audio")


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_invalid_type(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, update(dialect, {"instructions": 5}))
    assert (error["code"], error["param"]) == ("invalid_type", "session.instructions")
    assert error["message"] == (
        "Invalid type for 'session.instructions': expected a string, but got an integer instead."
    )
    error = error_of(conn, {"type": "conversation.item.delete", "item_id": None, "event_id": "d"})
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_type", "item_id", "d")


@pytest.mark.parametrize(
    ("dialect", "session", "param"),
    [
        (Dialect.GA, {"output_modalities": ["video"]}, "session.output_modalities[0]"),
        (Dialect.GA, {"audio": {"input": {"format": {"type": "audio/mp3"}}}}, None),
        (Dialect.BETA, {"input_audio_format": "mp3"}, "session.input_audio_format"),
        (Dialect.BETA, {"modalities": ["video"]}, "session.modalities[0]"),
        (Dialect.GA, {"tool_choice": "sometimes"}, "session.tool_choice"),
    ],
)
def test_bad_enum_is_invalid_value(
    dialect: Dialect, session: dict[str, Any], param: str | None
) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, update(dialect, session))
    assert error["code"] == "invalid_value"
    assert error["param"] == (param or "session.audio.input.format.type")
    assert error["message"].startswith("Invalid value: '")
    assert "Supported values are:" in error["message"]


def test_truncate_below_minimum_message() -> None:
    conn = RealtimeConnection("server", Dialect.GA)
    error = error_of(
        conn,
        build(
            "conversation.item.truncate",
            event_id="evt_t",
            item_id="item_1",
            content_index=0,
            audio_end_ms=-11,
        ),
    )
    assert error["code"] == "integer_below_min_value"
    assert error["param"] == "audio_end_ms"
    assert error["message"] == (
        "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got "
        "-11 instead."
    )
    assert error["event_id"] == "evt_t"


_TOKENS = {Dialect.GA: "max_output_tokens", Dialect.BETA: "max_response_output_tokens"}


def _threshold(dialect: Dialect, value: float) -> dict[str, Any]:
    td = {"type": "server_vad", "threshold": value}
    return (
        {"audio": {"input": {"turn_detection": td}}}
        if dialect is Dialect.GA
        else {"turn_detection": td}
    )


def _speed(dialect: Dialect, value: float) -> dict[str, Any]:
    return {"audio": {"output": {"speed": value}}} if dialect is Dialect.GA else {"speed": value}


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_range_errors(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    error = error_of(conn, update(dialect, {_TOKENS[dialect]: 5000}))
    assert error["code"] == "integer_above_max_value"
    assert error["param"] == f"session.{_TOKENS[dialect]}"
    assert "Expected a value <= 4096, but got 5000 instead." in error["message"]
    error = error_of(conn, update(dialect, _threshold(dialect, 1.5)))
    assert error["code"] == "decimal_above_max_value"
    assert error["param"].endswith("turn_detection.threshold")
    assert "Expected a value <= 1, but got 1.5 instead." in error["message"]
    error = error_of(conn, update(dialect, _threshold(dialect, -0.1)))
    assert error["code"] == "decimal_below_min_value"
    error = error_of(conn, update(dialect, {_TOKENS[dialect]: 0}))
    assert error["code"] == "integer_below_min_value"
    error = error_of(conn, update(dialect, {_TOKENS[dialect]: "lots"}))
    assert (error["code"], error["param"]) == ("invalid_value", f"session.{_TOKENS[dialect]}")


def test_beta_temperature_range() -> None:
    conn = RealtimeConnection("server", Dialect.BETA)
    error = error_of(conn, update(Dialect.BETA, {"temperature": 0.1}))
    assert (error["code"], error["param"]) == ("decimal_below_min_value", "session.temperature")
    assert error["message"] == (
        "Invalid 'session.temperature': decimal below minimum value. Expected a value >= 0.6, "
        "but got 0.1 instead."
    )
    assert error_of(conn, update(Dialect.BETA, {"temperature": 1.3}))["code"] == (
        "decimal_above_max_value"
    )
    for edge in (0.6, 1.2):
        (ok,) = answer(conn, update(Dialect.BETA, {"temperature": edge}))
        assert ok["type"] == "session.updated" and ok["session"]["temperature"] == edge
    # GA has no temperature
    error = error_of(RealtimeConnection("server", "ga"), update(Dialect.GA, {"temperature": 0.8}))
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.temperature")


def _edge_cases(dialect: Dialect) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(accepted update, rejected neighbour) pairs at the exact edges of each range."""
    cases = [
        (_threshold(dialect, 0.0), _threshold(dialect, -0.01)),
        (_threshold(dialect, 1.0), _threshold(dialect, 1.01)),
        ({_TOKENS[dialect]: 1}, {_TOKENS[dialect]: 0}),
        ({_TOKENS[dialect]: 4096}, {_TOKENS[dialect]: 4097}),
        ({_TOKENS[dialect]: "inf"}, {_TOKENS[dialect]: "INF"}),
        (_speed(dialect, 0.25), _speed(dialect, 0.24)),
        (_speed(dialect, 1.5), _speed(dialect, 1.51)),
    ]
    if dialect is Dialect.GA:
        for ok, bad in ((5000, 4999), (30000, 30001)):
            td = {"type": "server_vad", "idle_timeout_ms": ok}
            td_bad = {"type": "server_vad", "idle_timeout_ms": bad}
            cases.append(
                (
                    {"audio": {"input": {"turn_detection": td}}},
                    {"audio": {"input": {"turn_detection": td_bad}}},
                )
            )
    return cases


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_ranges_accept_their_exact_edges(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    for ok, bad in _edge_cases(dialect):
        events = answer(conn, update(dialect, ok))
        assert [e["type"] for e in events] == ["session.updated"], (ok, events)
        validate_server_event(events[0], dialect)
        error = error_of(conn, update(dialect, bad))
        assert error["code"] in {
            "decimal_below_min_value",
            "decimal_above_max_value",
            "integer_below_min_value",
            "integer_above_max_value",
            "invalid_value",
        }, (bad, error)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_accepted_edges_are_applied(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    answer(conn, update(dialect, {**_speed(dialect, 0.25), _TOKENS[dialect]: 4096}))
    assert conn.session.speed == 0.25
    assert conn.session.max_output_tokens == 4096
    answer(conn, update(dialect, _threshold(dialect, 1.0)))
    turn = conn.session.turn_detection
    assert turn is not None and turn["threshold"] == 1.0


# --- voice ---------------------------------------------------------------------------------------


def _voice(dialect: Dialect, voice: str) -> dict[str, Any]:
    return {"audio": {"output": {"voice": voice}}} if dialect is Dialect.GA else {"voice": voice}


def audio_started(conn: RealtimeConnection) -> bool:
    return conn.audio_started


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_voice_is_locked_once_audio_was_produced(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    (ok,) = answer(conn, update(dialect, _voice(dialect, "ash")))
    assert ok["type"] == "session.updated" and conn.session.voice == "ash"
    rb = ResponseBuilder(conn.conversation, {"output_modalities": ["text"]})
    for event in rb.created() + rb.begin_message() + rb.text_delta("Hi") + rb.done():
        conn.send(event)
    conn.data_to_send()
    assert not audio_started(conn)  # text only: the voice may still change
    (ok,) = answer(conn, update(dialect, _voice(dialect, "coral")))
    assert ok["type"] == "session.updated"
    rb = ResponseBuilder(conn.conversation, {})
    for event in rb.created() + rb.begin_message() + rb.audio_delta(bytes(480)) + rb.done():
        conn.send(event)
    conn.data_to_send()
    assert audio_started(conn)
    error = error_of(conn, update(dialect, _voice(dialect, "sage"), event_id="evt_v"))
    assert error["code"] == "cannot_update_voice"
    assert error["param"] == "session.audio.output.voice"
    assert error["event_id"] == "evt_v"
    assert conn.session.voice == "coral"
    (same,) = answer(conn, update(dialect, {**_voice(dialect, "coral"), "instructions": "x"}))
    assert same["type"] == "session.updated"  # restating the current voice is fine


def test_model_and_session_type_cannot_change() -> None:
    conn = RealtimeConnection("server", Dialect.GA)
    error = error_of(conn, update(Dialect.GA, {"model": "gpt-realtime-mini"}))
    assert (error["code"], error["param"]) == ("invalid_value", "session.model")
    error = error_of(conn, build("session.update", session={"type": "transcription"}))
    assert (error["code"], error["param"]) == ("invalid_value", "session.type")
    error = error_of(conn, update(Dialect.GA, {"output_modalities": ["text", "audio"]}))
    assert (error["code"], error["param"]) == ("invalid_value", "session.output_modalities")


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_a_rejected_update_changes_nothing(dialect: Dialect) -> None:
    conn = RealtimeConnection("server", dialect)
    before = json.dumps(conn.session.data, sort_keys=True)
    error_of(conn, update(dialect, {"instructions": "new", _TOKENS[dialect]: 9999}))
    assert json.dumps(conn.session.data, sort_keys=True) == before
    (ok,) = answer(conn, update(dialect, {"instructions": "new"}))
    assert ok["type"] == "session.updated" and conn.session.instructions == "new"


# --- session_update(**kwargs) --------------------------------------------------------------------


def test_session_update_builds_ga_shapes() -> None:
    s = session_update(
        model="gpt-realtime",
        instructions="Hi",
        voice="ash",
        modalities="text",
        input_audio_format="g711_ulaw",
        output_audio_format="pcm16",
        input_audio_transcription=True,
        turn_detection="semantic_vad",
        noise_reduction="near_field",
        speed=1.2,
        tools=[{"type": "function", "name": "f"}],
        tool_choice="required",
        max_output_tokens="inf",
        tracing="auto",
        include=["item.input_audio_transcription.logprobs"],
    )
    assert s == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Hi",
        "output_modalities": ["text"],
        "tools": [{"type": "function", "name": "f"}],
        "tool_choice": "required",
        "max_output_tokens": "inf",
        "tracing": "auto",
        "include": ["item.input_audio_transcription.logprobs"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {"type": "semantic_vad"},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {
                "voice": "ash",
                "speed": 1.2,
                "format": {"type": "audio/pcm", "rate": 24000},
            },
        },
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"type": "realtime"}),
        ({"modalities": "audio"}, {"type": "realtime", "output_modalities": ["audio"]}),
        ({"modalities": ["text", "audio"]}, {"type": "realtime", "output_modalities": ["audio"]}),
        (
            {"turn_detection": None},
            {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        ),
        (
            {"turn_detection": "server_vad"},
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}},
        ),
        (
            {"turn_detection": {"threshold": 0.7}},
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
            },
        ),
        (
            {"input_audio_transcription": "whisper-1"},
            {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
        ),
        (
            {"input_audio_transcription": None},
            {"type": "realtime", "audio": {"input": {"transcription": None}}},
        ),
        (
            {"noise_reduction": None},
            {"type": "realtime", "audio": {"input": {"noise_reduction": None}}},
        ),
        ({"temperature": 0.7}, {"type": "realtime", "temperature": 0.7}),
        (
            {"session_type": "transcription", "input_audio_transcription": True},
            {
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
            },
        ),
    ],
)
def test_session_update_variants(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    assert session_update(**kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"voice": 123}, "voice"),
        ({"speed": 3}, "speed"),
        ({"speed": 0.1}, "speed"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 5000}, "max_output_tokens"),
        ({"modalities": "video"}, "modalities"),
        ({"turn_detection": "sometimes"}, "turn_detection"),
        ({"turn_detection": {"threshold": 2}}, "turn_detection['threshold']"),
        ({"turn_detection": {"idle_timeout_ms": 100}}, "turn_detection['idle_timeout_ms']"),
        ({"temperature": 0.1}, "temperature"),
        ({"input_audio_format": "mp3"}, "input_audio_format"),
        ({"noise_reduction": "loud"}, "noise_reduction"),
        ({"input_audio_transcription": 3}, "input_audio_transcription"),
        ({"tools": [{"name": "a"}, {"name": "a"}]}, "tools"),
    ],
)
def test_session_update_rejects_bad_values_naming_the_parameter(
    kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError) as info:
        session_update(**kwargs)
    message = str(info.value)
    assert name in message
    assert "session." not in message.split(":")[0]  # the friendly name, not the wire path


def test_session_update_error_messages_give_the_allowed_range() -> None:
    with pytest.raises(ValueError, match=r"invalid speed: .*\(allowed: 0\.25–1\.5\)"):
        session_update(speed=3)
    with pytest.raises(ValueError, match=r"\(allowed: an integer 1–4096 or 'inf'\)"):
        session_update(max_output_tokens=0)
    with pytest.raises(ValueError, match=r"threshold 0\.0–1\.0"):
        session_update(turn_detection={"threshold": 2})
