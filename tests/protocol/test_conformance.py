"""Every event type of both dialects, as our code puts it on the wire, conforms to the openai types.

Real code paths produce the traffic: a server :class:`RealtimeConnection` fed with client events
(written by a client connection of the same dialect), :class:`ResponseBuilder` sequences for text,
audio and function-call responses, cancel, truncate, delete, retrieve, clear, commit through
``conn.commit_input()``, session updates and a transcription session. Server events no code path
produces yet (VAD, output audio buffer, input transcription, MCP, DTMF, ``conversation.created``)
are built with :func:`server_event` and sent through the same connection, which renders them in
the session's dialect (GA-only events are dropped for beta). Every wire message is checked with
the conformance oracle (:mod:`tests.conformance`), and the types seen must cover the catalogue.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from typing import Any

import pytest

from rt_jupyter.protocol import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    Dialect,
    LocalProtocolError,
    RealtimeConnection,
    ResponseBuilder,
    SessionConfig,
    build,
    function_call_output_item,
    parse,
    rate_limits_updated,
    server_event,
    session_update,
    system_text_item,
    user_audio_item,
    user_image_item,
    user_text_item,
)
from tests.conformance import (
    client_event_types,
    server_event_types,
    validate_client_event,
    validate_server_event,
)

DIALECTS = [Dialect.GA, Dialect.BETA]

# Known bugs of rt_jupyter.protocol found by these tests (strict xfails: they fail loudly once
# fixed, so the mark is removed together with the fix). None at the moment.
KNOWN_SERVER_BUGS: dict[tuple[Dialect, str], str] = {}

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def pcm(ms: int) -> bytes:
    """``ms`` milliseconds of (non-silent) PCM16 24 kHz mono."""
    return bytes((i * 37 + 11) % 256 for i in range(ms * 48))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class Scenario:
    """A server connection and a client connection of one dialect, wired for the test."""

    def __init__(self, dialect: Dialect, session: SessionConfig | None = None) -> None:
        self.dialect = dialect
        self.server = RealtimeConnection("server", dialect, session=session)
        self.client = RealtimeConnection("client", dialect)
        self.wire: list[str] = []

    def request(self, event: dict[str, Any]) -> None:
        """A client event (canonical GA form) rendered by the client and handled by the server."""
        self.client.send(event)
        for text in self.client.data_to_send():
            self.server.receive(text)
        self.drain()

    def emit(self, events: Iterable[dict[str, Any]]) -> None:
        """Server events (GA form) sent by the application through the server connection."""
        for event in events:
            self.server.send(event)
        self.drain()

    def drain(self) -> None:
        self.wire += self.server.data_to_send()


def _scenario_traffic(dialect: Dialect) -> list[str]:
    s = Scenario(dialect)
    conv = s.server.conversation
    s.server.session_created()
    s.emit(
        [
            server_event(
                "conversation.created",
                conversation={"id": conv.id, "object": "realtime.conversation"},
            )
        ]
    )
    s.request(
        build(
            "session.update",
            session=session_update(
                instructions="Be brief.",
                voice="coral",
                tools=[WEATHER_TOOL],
                input_audio_transcription=True,
                turn_detection={"type": "server_vad", "silence_duration_ms": 500},
            ),
        )
    )

    # (a) text response
    s.request(build("conversation.item.create", item=user_text_item("Hello!")))
    s.request(build("response.create", response={"output_modalities": ["text"]}))
    rb = ResponseBuilder(conv, {"output_modalities": ["text"]})
    s.emit(rb.created() + rb.begin_message() + rb.text_delta("Hi ") + rb.text_delta("there."))
    s.emit(rb.end_message() + rb.done() + [rate_limits_updated()])

    # (c) a server_vad turn: speech, commit, input transcription
    user_item = "item_userTurn0000000001"
    s.emit([server_event("input_audio_buffer.speech_started", audio_start_ms=0, item_id=user_item)])
    for _ in range(3):
        s.request(build("input_audio_buffer.append", audio=b64(pcm(100))))
    s.emit([server_event("input_audio_buffer.speech_stopped", audio_end_ms=300, item_id=user_item)])
    s.server.commit_input(item_id=user_item)
    s.drain()
    ref = {"item_id": user_item, "content_index": 0}
    s.emit(
        [
            server_event("conversation.item.input_audio_transcription.delta", **ref, delta="What"),
            server_event(
                "conversation.item.input_audio_transcription.segment",
                **ref,
                id="seg_0001",
                text="What is the weather?",
                speaker="A",
                start=0.0,
                end=0.3,
            ),
            server_event(
                "conversation.item.input_audio_transcription.completed",
                **ref,
                transcript="What is the weather?",
                usage={"type": "duration", "seconds": 0.3},
            ),
            server_event(
                "conversation.item.input_audio_transcription.failed",
                **ref,
                error={
                    "type": "transcription_error",
                    "code": "audio_unintelligible",
                    "message": "The audio could not be transcribed.",
                    "param": None,
                },
            ),
        ]
    )

    # (b) audio response with transcript (WebRTC-style output buffer events around it)
    audio_config = {
        "output_modalities": ["audio"],
        "audio": {"output": {"voice": "coral", "format": {"type": "audio/pcm", "rate": 24000}}},
    }
    rb = ResponseBuilder(conv, audio_config)
    s.emit(rb.created() + rb.begin_message())
    s.emit([server_event("output_audio_buffer.started", response_id=rb.id)])
    for word in ("Sunny ", "and ", "warm."):
        s.emit(rb.text_delta(word) + rb.audio_delta(pcm(200)))
    s.emit(rb.end_message() + rb.done() + [rate_limits_updated()])
    s.emit([server_event("output_audio_buffer.stopped", response_id=rb.id)])
    audio_item = rb.items[0]["id"]

    # (d) function call and its output
    s.request(build("response.create"))
    rb = ResponseBuilder(conv, audio_config)
    s.emit(rb.created() + rb.function_call("get_weather", {"city": "Paris"}, chunk=5) + rb.done())
    call_id = rb.items[0]["call_id"]
    s.request(
        build(
            "conversation.item.create",
            item=function_call_output_item(call_id, json.dumps({"temperature_c": 21})),
        )
    )

    # truncate, retrieve, delete, clear, and one error
    s.request(
        build("conversation.item.truncate", item_id=audio_item, content_index=0, audio_end_ms=300)
    )
    s.request(build("conversation.item.retrieve", item_id=audio_item))
    first_user = conv.items[0].id
    s.request(build("conversation.item.delete", item_id=first_user))
    s.request(build("input_audio_buffer.append", audio=b64(pcm(40))))
    s.request(build("input_audio_buffer.clear"))
    s.request(build("conversation.item.retrieve", item_id="item_doesNotExist", event_id="ev_1"))

    # cancel mid-message, then clear the (WebRTC) output buffer
    rb = ResponseBuilder(conv, audio_config)
    s.emit(rb.created() + rb.begin_message() + rb.text_delta("Let me") + rb.audio_delta(pcm(80)))
    s.request(build("response.cancel"))
    s.emit(rb.cancel())
    s.request(build("output_audio_buffer.clear"))
    s.emit([server_event("output_audio_buffer.cleared", response_id=rb.id)])

    # idle timeout (GA): the silent audio is committed
    idle_item = "item_idleTimeout00000001"
    s.request(build("input_audio_buffer.append", audio=b64(bytes(48 * 200))))
    start_ms = s.server.input_buffer.total_ms - 200
    s.emit(
        [
            server_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(start_ms),
                audio_end_ms=int(start_ms) + 200,
                item_id=idle_item,
            )
        ]
    )
    s.server.commit_input(item_id=idle_item)
    s.drain()

    # SIP DTMF, and the legacy GA conversation.item.created
    s.emit(
        [server_event("input_audio_buffer.dtmf_event_received", event="5", received_at=1763605109)]
    )
    legacy = {**user_text_item("legacy", item_id="item_legacyCreated00001")}
    legacy.update(object="realtime.item", status="completed")
    s.emit([server_event("conversation.item.created", previous_item_id=conv.last_id, item=legacy)])

    # MCP tool use inside a response
    rb = ResponseBuilder(conv, {"output_modalities": ["text"]})
    mcp = {"item_id": "mcp_call0000000000000001"}
    mcp_events = [
        server_event("mcp_list_tools.in_progress", item_id="mcp_list00000000000000001"),
        server_event("mcp_list_tools.completed", item_id="mcp_list00000000000000001"),
        server_event("mcp_list_tools.failed", item_id="mcp_list00000000000000002"),
        server_event("response.mcp_call.in_progress", output_index=0, **mcp),
        server_event(
            "response.mcp_call_arguments.delta",
            response_id=rb.id,
            output_index=0,
            delta='{"q":',
            **mcp,
        ),
        server_event(
            "response.mcp_call_arguments.done",
            response_id=rb.id,
            output_index=0,
            arguments='{"q": "docs"}',
            **mcp,
        ),
        server_event("response.mcp_call.completed", output_index=0, **mcp),
        server_event("response.mcp_call.failed", output_index=0, **mcp),
    ]
    s.emit([*rb.created(), *mcp_events, *rb.done()])

    # a transcription session (GA: session.update type transcription; beta:
    # transcription_session.update), on its own connection
    t = Scenario(dialect, session=SessionConfig.default(session_type="transcription"))
    t.server.session_created()
    t.request(
        build(
            "session.update",
            session=session_update(
                session_type="transcription",
                input_audio_transcription={"model": "gpt-4o-transcribe", "language": "en"},
                noise_reduction="near_field",
            ),
        )
    )
    if dialect is Dialect.GA:
        # the GA spec keeps transcription_session.updated, with the legacy flat session (the
        # answer to a legacy transcription_session.update)
        t.emit(
            [
                server_event(
                    "transcription_session.updated",
                    session=t.server.session.to_legacy_transcription(),
                )
            ]
        )
    return s.wire + t.wire


@functools.cache
def server_traffic(dialect: Dialect) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(text) for text in _scenario_traffic(dialect))


def server_by_type(dialect: Dialect) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in server_traffic(dialect):
        out.setdefault(str(event["type"]), []).append(event)
    return out


def _server_params() -> list[Any]:
    params = []
    for d in DIALECTS:
        for etype in sorted(SERVER_EVENTS[d]):
            bug = KNOWN_SERVER_BUGS.get((d, etype))
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            params.append(pytest.param(d, etype, marks=marks, id=f"{d.value}-{etype}"))
    return params


@pytest.mark.parametrize(("dialect", "etype"), _server_params())
def test_server_event_conforms(dialect: Dialect, etype: str) -> None:
    events = server_by_type(dialect).get(etype)
    assert events, f"no {dialect.value} {etype} was produced"
    for event in events:
        validate_server_event(event, dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_server_traffic_covers_the_catalogue(dialect: Dialect) -> None:
    produced = set(server_by_type(dialect))
    assert produced == set(SERVER_EVENTS[dialect])
    # the oracle knows every type of the catalogue (and the catalogue every oracle type)
    assert set(SERVER_EVENTS[dialect]) == set(server_event_types(dialect))


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_validated_types_are_the_catalogue_minus_known_bugs(dialect: Dialect) -> None:
    validated: set[str] = set()
    failed: set[str] = set()
    for etype, events in server_by_type(dialect).items():
        try:
            for event in events:
                validate_server_event(event, dialect)
        except AssertionError:
            failed.add(etype)
        else:
            validated.add(etype)
    known = {t for d, t in KNOWN_SERVER_BUGS if d is dialect}
    assert failed <= known, f"new non-conformant types: {sorted(failed - known)}"
    assert validated | known == set(SERVER_EVENTS[dialect])


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_server_traffic_is_well_formed(dialect: Dialect) -> None:
    events = server_traffic(dialect)
    ids = [
        e.get("event_id") for e in events if e["type"] != "input_audio_buffer.dtmf_event_received"
    ]
    assert all(
        "event_id" not in e for e in events if e["type"] == "input_audio_buffer.dtmf_event_received"
    )
    assert all(isinstance(i, str) and i.startswith("event_") for i in ids)
    assert len(set(ids)) == len(ids), "server event ids must be unique"
    # exactly the one intended error, with the client's event_id echoed
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1, errors
    assert errors[0]["error"]["code"] == "item_retrieve_invalid_item_id"
    assert errors[0]["error"]["event_id"] == "ev_1"
    # a client of the same dialect takes every message
    client = RealtimeConnection("client", dialect)
    for event in events:
        (got,) = client.receive(json.dumps(event))
        assert got.type == event["type"]
        assert parse(json.dumps(event)).data == event


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_ga_only_events_never_reach_a_beta_client(dialect: Dialect) -> None:
    from rt_jupyter.protocol.dialects import GA_ONLY_SERVER_EVENTS

    produced = set(server_by_type(dialect))
    if dialect is Dialect.BETA:
        assert not produced & GA_ONLY_SERVER_EVENTS
        assert not {
            t
            for t in produced
            if t.startswith(("response.output_text", "response.output_audio", "response.mcp"))
        }
    else:
        assert produced >= GA_ONLY_SERVER_EVENTS


# --- client events -----------------------------------------------------------------------------


def _client_requests(dialect: Dialect) -> list[dict[str, Any]]:
    """Every client event type, in canonical (GA) form, with realistic parameters."""
    assistant = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Earlier answer."}],
    }
    function_call = {
        "type": "function_call",
        "name": "get_weather",
        "call_id": "call_sHlR7iaFwQ2YQOqm",
        "arguments": '{"city": "Oslo"}',
    }
    out = [
        build(
            "session.update",
            event_id="ev_session",
            session=session_update(
                instructions="Speak French.",
                voice="marin" if dialect is Dialect.GA else "sage",
                modalities="audio",
                input_audio_format="g711_ulaw",
                output_audio_format="pcm16",
                input_audio_transcription={"model": "whisper-1", "language": "fr"},
                turn_detection="semantic_vad",
                noise_reduction="far_field",
                speed=1.25,
                tools=[WEATHER_TOOL],
                tool_choice="auto",
                max_output_tokens=1024,
                temperature=0.7,
            ),
        ),
        build("session.update", session=session_update(turn_detection=None, tracing="auto")),
        build(
            "session.update",
            session=session_update(
                session_type="transcription",
                input_audio_transcription={"model": "gpt-4o-transcribe", "prompt": "names"},
                turn_detection={"type": "server_vad", "threshold": 0.6},
                include=["item.input_audio_transcription.logprobs"],
            ),
        ),
        build("input_audio_buffer.append", audio=b64(pcm(20))),
        build("input_audio_buffer.commit", event_id="ev_commit"),
        build("input_audio_buffer.clear"),
        build("output_audio_buffer.clear"),
        build("conversation.item.create", item=user_text_item("Bonjour")),
        build("conversation.item.create", item=user_text_item("First"), previous_item_id="root"),
        build("conversation.item.create", item=user_audio_item(b64(pcm(50)), "Salut")),
        build("conversation.item.create", item=system_text_item("Be nice.")),
        build("conversation.item.create", item=assistant, previous_item_id="item_abc"),
        build("conversation.item.create", item=function_call),
        build("conversation.item.create", item=function_call_output_item("call_1", '{"ok":1}')),
        build("conversation.item.retrieve", item_id="item_abc"),
        build("conversation.item.truncate", item_id="item_abc", content_index=0, audio_end_ms=0),
        build("conversation.item.delete", item_id="item_abc"),
        build("response.create"),
        build(
            "response.create",
            response={
                "output_modalities": ["text"],
                "instructions": "Summarise.",
                "conversation": "none",
                "metadata": {"purpose": "summary"},
                "max_output_tokens": "inf",
                "tools": [WEATHER_TOOL],
                # beta's tool_choice is a string (spec and SDK); GA can force one function
                "tool_choice": (
                    {"type": "function", "name": "get_weather"}
                    if dialect is Dialect.GA
                    else "required"
                ),
                "input": [
                    {"type": "item_reference", "id": "item_abc"},
                    user_text_item("Summarise the above."),
                ],
            },
        ),
        build(
            "response.create",
            response={
                "output_modalities": ["audio"],
                "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcma"}}},
                "max_output_tokens": 200,
            },
        ),
        build("response.cancel"),
        build("response.cancel", response_id="resp_abc"),
    ]
    if dialect is Dialect.GA:
        out.append(
            build(
                "conversation.item.create",
                item=user_image_item("data:image/png;base64,iVBORw0KGgo=", text="What is it?"),
            )
        )
    return out


@functools.cache
def client_traffic(dialect: Dialect) -> tuple[dict[str, Any], ...]:
    client = RealtimeConnection("client", dialect)
    for event in _client_requests(dialect):
        client.send(event)
    return tuple(json.loads(text) for text in client.data_to_send())


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_client_events_conform(dialect: Dialect) -> None:
    traffic = client_traffic(dialect)
    assert len(traffic) == len(_client_requests(dialect))
    for event in traffic:
        validate_client_event(event, dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_client_traffic_covers_the_catalogue(dialect: Dialect) -> None:
    sent = {str(e["type"]) for e in client_traffic(dialect)}
    expected = set(CLIENT_EVENTS[dialect])
    if dialect is Dialect.GA:
        # GA clients update a transcription session with session.update (type "transcription");
        # the legacy GA transcription_session.update is covered by the xfail below.
        expected.discard("transcription_session.update")
        assert "transcription_session.update" not in sent
    assert sent == expected
    assert set(CLIENT_EVENTS[dialect]) == set(client_event_types(dialect))


def test_beta_transcription_session_update_is_sent_for_a_transcription_session() -> None:
    (event,) = [e for e in client_traffic(Dialect.BETA) if "transcription" in e["type"]]
    assert event["type"] == "transcription_session.update"
    assert event["session"]["input_audio_transcription"]["model"] == "gpt-4o-transcribe"
    assert event["session"]["turn_detection"]["threshold"] == 0.6
    assert "type" not in event["session"] and "audio" not in event["session"]


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_a_server_accepts_what_a_client_sends(dialect: Dialect) -> None:
    """Schema-level agreement of the two ends: no validation error for any client message
    (state errors such as unknown item ids aside)."""
    state_codes = {
        "item_retrieve_invalid_item_id",
        "item_truncate_invalid_item_id",
        "item_delete_invalid_item_id",
        "item_create_invalid_previous_item_id",
        "input_audio_buffer_commit_empty",
        "response_cancel_not_active",
        "conversation_already_has_active_response",
    }
    for event in client_traffic(dialect):
        session_type = (event.get("session") or {}).get("type")
        if event["type"] == "transcription_session.update" or session_type == "transcription":
            session = SessionConfig.default(session_type="transcription")
        else:
            session = None
        server = RealtimeConnection("server", dialect, session=session)
        server.receive(json.dumps(event))
        for text in server.data_to_send():
            answer = json.loads(text)
            if answer["type"] == "error":
                assert answer["error"]["code"] in state_codes, (event, answer)


def test_ga_transcription_session_update_uses_the_spec_shape() -> None:
    """The GA spec keeps ``transcription_session.update`` with the legacy flat session
    (``RealtimeTranscriptionSessionCreateRequest``: input_audio_format, input_audio_transcription,
    turn_detection, input_audio_noise_reduction, include)."""
    event = build(
        "transcription_session.update",
        session={
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            "input_audio_noise_reduction": {"type": "near_field"},
        },
    )
    validate_client_event(event, Dialect.GA)  # the oracle: this is the GA shape
    client = RealtimeConnection("client", Dialect.GA)
    try:
        client.send(event)
    except LocalProtocolError as exc:
        raise AssertionError(f"the GA client refuses the spec shape: {exc!r}") from None
    server = RealtimeConnection(
        "server", Dialect.GA, session=SessionConfig.default(session_type="transcription")
    )
    for text in client.data_to_send():
        server.receive(text)
    answers = [json.loads(t) for t in server.data_to_send()]
    assert [a["type"] for a in answers] != ["error"], answers
    assert server.session.transcription == {"model": "gpt-4o-transcribe", "language": "en"}


def test_transcription_session_updated_renders_the_official_shape() -> None:
    """What does conform in the legacy transcription session (the known bug aside)."""
    session = SessionConfig.default(session_type="transcription").to_wire(Dialect.BETA)
    assert session["object"] == "realtime.transcription_session"
    assert session["input_audio_format"] == "pcm16"
    assert session["input_audio_transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert "audio" not in session and "type" not in session
    assert "idle_timeout_ms" not in session["turn_detection"]


def test_scenario_uses_the_session_clock_of_the_input_buffer() -> None:
    """300 ms committed, 40 ms cleared, then 200 ms of silence: the idle timeout covers 340–540."""
    (event,) = server_by_type(Dialect.GA)["input_audio_buffer.timeout_triggered"]
    assert (event["audio_start_ms"], event["audio_end_ms"]) == (340, 540)
    committed = server_by_type(Dialect.GA)["input_audio_buffer.committed"]
    assert [c["item_id"] for c in committed] == ["item_userTurn0000000001", event["item_id"]]


# --- the oracle itself: it must be able to fail ------------------------------------------------


def _text_delta(dialect: Dialect, **extra: Any) -> dict[str, Any]:
    name = "response.output_text.delta" if dialect is Dialect.GA else "response.text.delta"
    event = {
        "type": name,
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hi",
    }
    return {**event, **extra}


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_oracle_accepts_a_plain_event(dialect: Dialect) -> None:
    validate_server_event(_text_delta(dialect), dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_oracle_rejects_unknown_fields_with_their_path(dialect: Dialect) -> None:
    with pytest.raises(AssertionError, match=r"\$\.colour"):
        validate_server_event(_text_delta(dialect, colour="blue"), dialect)
    session = SessionConfig.default().to_wire(dialect)
    if dialect is Dialect.GA:
        session["audio"]["output"]["pitch"] = 3
        path = r"\$\.session\.audio\.output\.pitch"
    else:
        session["turn_detection"]["pitch"] = 3
        path = r"\$\.session\.turn_detection\.pitch"
    event = {"type": "session.created", "event_id": "event_2", "session": session}
    with pytest.raises(AssertionError, match=path):
        validate_server_event(event, dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_oracle_is_strict_about_types_and_required_fields(dialect: Dialect) -> None:
    with pytest.raises(AssertionError, match="output_index"):
        validate_server_event(_text_delta(dialect, output_index="0"), dialect)
    missing = _text_delta(dialect)
    del missing["delta"]
    with pytest.raises(AssertionError, match="delta"):
        validate_server_event(missing, dialect)
    with pytest.raises(AssertionError, match="not in the openai"):
        validate_server_event({"type": "response.teleport", "event_id": "e"}, dialect)
    with pytest.raises(AssertionError, match="not a JSON object"):
        validate_server_event([], dialect)  # type: ignore[arg-type]


def test_oracle_knows_the_dialect_names() -> None:
    with pytest.raises(AssertionError, match=re.escape("'response.text.delta'")):
        validate_server_event(_text_delta(Dialect.BETA), Dialect.GA)
    with pytest.raises(AssertionError, match=re.escape("'response.output_text.delta'")):
        validate_server_event(_text_delta(Dialect.GA), "beta")
    with pytest.raises(ValueError, match="dialect"):
        validate_server_event(_text_delta(Dialect.GA), "v2")


def test_oracle_client_side() -> None:
    validate_client_event({"type": "input_audio_buffer.commit"}, "ga")
    with pytest.raises(AssertionError, match=r"\$\.session\.modalities"):
        validate_client_event(
            {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}},
            "ga",
        )
    with pytest.raises(AssertionError, match="session"):
        validate_client_event({"type": "session.update"}, "beta")
