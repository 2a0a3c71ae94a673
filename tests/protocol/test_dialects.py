"""Translation between the dialects, on the official examples and on generated sessions.

* every beta server example → GA: one event, conformant to the GA openai model (strict extras),
  and back to beta it equals the original;
* every GA server example → beta (GA-only events give ``[]``): conformant to the beta model, and
  back to GA it equals the original once the fields beta cannot carry are removed from both;
* client examples both ways (``translate_client_event``);
* session shapes (``session_to_beta``/``session_to_ga``), content part types, response objects,
  and :func:`kind`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rt_jupyter.protocol import Dialect, kind, translate_client_event, translate_server_event
from rt_jupyter.protocol.dialects import (
    BETA_TO_GA_EVENT,
    GA_ONLY_SERVER_EVENTS,
    GA_TO_BETA_EVENT,
    audio_format_name,
    beta_audio_format,
    ga_audio_format,
    item_to_beta,
    item_to_ga,
    response_params_to_beta,
    response_params_to_ga,
    response_to_beta,
    response_to_ga,
    session_to_beta,
    session_to_ga,
)
from tests.conformance import validate_client_event, validate_server_event
from tests.protocol._support import (
    client_examples,
    example_ids,
    server_examples,
)

# --- the official examples, with their known defects repaired ----------------------------------


def _fix_ga_server_example(name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Repair the GA examples that are wrong in the spec file itself (each documented)."""
    event = copy.deepcopy(event)
    if name == "RealtimeServerEventInputAudioBufferDtmfEventReceived":
        event["type"] = event["type"].strip()  # the example's type is " input_audio_buffer…"
    if name in (
        "RealtimeServerEventConversationItemRetrieved",
        "RealtimeServerEventResponseOutputItemDone",
    ):
        # both examples were left in beta shape (part types "audio"/"text", a "format" field)
        event["item"] = item_to_ga(event["item"])
        for part in event["item"]["content"]:
            part.pop("format", None)
    return event


def _fix_beta_client_example(name: str, event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if name == "RealtimeClientEventResponseCreate":
        # the beta example says max_output_tokens; the beta field is max_response_output_tokens
        event["response"]["max_response_output_tokens"] = event["response"].pop("max_output_tokens")
    return event


def _ga_server_examples() -> list[tuple[str, dict[str, Any]]]:
    return [(n, _fix_ga_server_example(n, e)) for n, e in server_examples(Dialect.GA)]


#: GA-required fields the beta dialect does not carry: a beta → GA translation cannot know them.
GA_FIELDS_BETA_LACKS: dict[str, dict[str, Any]] = {
    "conversation.item.input_audio_transcription.completed": {
        "usage": {"type": "duration", "seconds": 1.0}
    },
    "response.function_call_arguments.done": {"name": "get_weather"},
}


def _params(dialect: Dialect, side: str, bugs: dict[str, str]) -> list[Any]:
    ids = example_ids(dialect, side)
    out = []
    for index, test_id in enumerate(ids):
        name = test_id.split("#")[0]
        marks = [pytest.mark.xfail(strict=True, reason=bugs[name])] if name in bugs else []
        out.append(pytest.param(index, marks=marks, id=test_id))
    return out


# --- server events: beta → GA → beta ------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    _params(Dialect.BETA, "server", {}),
)
def test_beta_server_example_translates_to_conformant_ga(index: int) -> None:
    _, example = server_examples(Dialect.BETA)[index]
    before = copy.deepcopy(example)
    (ga,) = translate_server_event(example, Dialect.GA)
    assert example == before, "translation must not mutate its input"
    assert ga["type"] == kind(example["type"]) or (
        example["type"] == "conversation.item.created" and ga["type"] == "conversation.item.created"
    )
    lacking = GA_FIELDS_BETA_LACKS.get(ga["type"], {})
    assert not set(lacking) & set(ga), "the fill-in below would hide a translated field"
    validate_server_event({**ga, **lacking}, Dialect.GA)


@pytest.mark.parametrize("index", _params(Dialect.BETA, "server", {}))
def test_beta_server_example_round_trips(index: int) -> None:
    _, example = server_examples(Dialect.BETA)[index]
    (ga,) = translate_server_event(example, Dialect.GA)
    expected = copy.deepcopy(example)
    if isinstance(expected.get("session"), dict) and expected["type"] != (
        "transcription_session.updated"
    ):
        expected["session"].pop("temperature", None)  # GA has no temperature
    assert translate_server_event(ga, Dialect.BETA) == [expected]


# --- server events: GA → beta → GA --------------------------------------------------------------

_DROPPED_SESSION_KEYS = ("prompt", "truncation", "reasoning", "parallel_tool_calls")


def _without_what_beta_lacks(event: dict[str, Any]) -> dict[str, Any]:
    """A GA event minus the fields the beta dialect cannot carry (so they cannot round-trip)."""
    event = copy.deepcopy(event)
    event["type"] = kind(event["type"])
    if event["type"] == "conversation.item.input_audio_transcription.completed":
        event.pop("usage", None)
        event.pop("languages", None)
    if event["type"] == "response.function_call_arguments.done":
        event.pop("name", None)
    if event["type"] == "conversation.item.input_audio_transcription.delta":
        event.pop("obfuscation", None)
    session = event.get("session")
    if isinstance(session, dict):
        for key in _DROPPED_SESSION_KEYS:
            session.pop(key, None)
        inp = (session.get("audio") or {}).get("input") or {}
        if isinstance(inp.get("turn_detection"), dict):
            inp["turn_detection"].pop("idle_timeout_ms", None)
        if isinstance(inp.get("transcription"), dict):
            for key in ("delay", "keywords", "languages"):
                inp["transcription"].pop(key, None)
    items = [event.get("item"), *((event.get("response") or {}).get("output") or [])]
    for item in items:
        if isinstance(item, dict):
            item.pop("object", None)  # beta always has it, GA usually not
    usage = (event.get("response") or {}).get("usage")
    if isinstance(usage, dict):
        usage.get("input_token_details", {}).pop("image_tokens", None)
    return event


@pytest.mark.parametrize(
    "index",
    _params(Dialect.GA, "server", {}),
)
def test_ga_server_example_translates_to_conformant_beta(index: int) -> None:
    _, example = _ga_server_examples()[index]
    validate_server_event(example, Dialect.GA)  # the repaired example itself is GA
    before = copy.deepcopy(example)
    out = translate_server_event(example, Dialect.BETA)
    assert example == before, "translation must not mutate its input"
    if example["type"] in GA_ONLY_SERVER_EVENTS:
        assert out == []
        return
    (beta,) = out
    assert beta["type"] == GA_TO_BETA_EVENT.get(example["type"], example["type"])
    validate_server_event(beta, Dialect.BETA)


@pytest.mark.parametrize(
    "index",
    _params(Dialect.GA, "server", {}),
)
def test_ga_server_example_round_trips(index: int) -> None:
    _, example = _ga_server_examples()[index]
    out = translate_server_event(example, Dialect.BETA)
    if not out:
        assert example["type"] in GA_ONLY_SERVER_EVENTS
        return
    (back,) = translate_server_event(out[0], Dialect.GA)
    assert _without_what_beta_lacks(back) == _without_what_beta_lacks(example)


def test_ga_only_examples_are_exactly_the_ga_only_set() -> None:
    ga_only = {
        e["type"] for _, e in _ga_server_examples() if not translate_server_event(e, Dialect.BETA)
    }
    assert ga_only == GA_ONLY_SERVER_EVENTS


# --- client events both ways --------------------------------------------------------------------


def _without_item_object(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    items = [event.get("item"), *((event.get("response") or {}).get("input") or [])]
    for item in items:
        if isinstance(item, dict) and item.get("type") != "item_reference":
            item.pop("object", None)
    return event


@pytest.mark.parametrize("index", _params(Dialect.BETA, "client", {}))
def test_beta_client_example_both_ways(index: int) -> None:
    name, raw = client_examples(Dialect.BETA)[index]
    example = _fix_beta_client_example(name, raw)
    validate_client_event(example, Dialect.BETA)
    ga = translate_client_event(example, Dialect.GA)
    # `temperature` (beta only) is kept on purpose for the local service (response_params_to_ga,
    # session_to_ga); a GA wire event has no such field, so it is checked and removed here
    payload = ga.get("session") or ga.get("response") or {}
    beta_payload = example.get("session") or example.get("response") or {}
    assert payload.get("temperature") == beta_payload.get("temperature")
    conformant = copy.deepcopy(ga)
    for key in ("session", "response"):
        if isinstance(conformant.get(key), dict):
            conformant[key].pop("temperature", None)
    validate_client_event(conformant, Dialect.GA)
    back = translate_client_event(ga, Dialect.BETA)
    assert _without_item_object(back) == _without_item_object(example)


@pytest.mark.parametrize("index", _params(Dialect.GA, "client", {}))
def test_ga_client_example_both_ways(index: int) -> None:
    _, example = client_examples(Dialect.GA)[index]
    validate_client_event(example, Dialect.GA)
    beta = translate_client_event(example, Dialect.BETA)
    validate_client_event(beta, Dialect.BETA)
    back = translate_client_event(beta, Dialect.GA)
    if example["type"] == "transcription_session.update":
        # canonical GA form of the legacy event: session.update with a transcription session
        assert back == {
            "type": "session.update",
            "session": session_to_ga(example["session"], transcription=True),
        }
        validate_client_event(back, Dialect.GA)
    else:
        assert _without_item_object(back) == _without_item_object(example)


def test_ga_transcription_session_update_becomes_the_beta_event() -> None:
    ga = {
        "type": "session.update",
        "event_id": "e1",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "whisper-1", "language": "de"},
                    "turn_detection": None,
                }
            },
        },
    }
    beta = translate_client_event(ga, "beta")
    assert beta == {
        "type": "transcription_session.update",
        "event_id": "e1",
        "session": {
            "input_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1", "language": "de"},
            "turn_detection": None,
        },
    }
    validate_client_event(beta, "beta")
    assert translate_client_event(beta, "ga") == ga


# --- session shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ga", "beta"),
    [
        ({"output_modalities": ["text"]}, {"modalities": ["text"]}),
        ({"output_modalities": ["audio"]}, {"modalities": ["text", "audio"]}),
        ({"audio": {"output": {"voice": "ash"}}}, {"voice": "ash"}),
        ({"audio": {"output": {"speed": 1.25}}}, {"speed": 1.25}),
        (
            {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
            {"input_audio_format": "g711_ulaw"},
        ),
        (
            {"audio": {"input": {"format": {"type": "audio/pcma"}}}},
            {"input_audio_format": "g711_alaw"},
        ),
        (
            {"audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}}}},
            {"output_audio_format": "pcm16"},
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}},
            {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}},
        ),
        ({"audio": {"input": {"turn_detection": None}}}, {"turn_detection": None}),
        (
            {"audio": {"input": {"transcription": {"model": "whisper-1", "language": "en"}}}},
            {"input_audio_transcription": {"model": "whisper-1", "language": "en"}},
        ),
        ({"audio": {"input": {"transcription": None}}}, {"input_audio_transcription": None}),
        (
            {"audio": {"input": {"noise_reduction": {"type": "far_field"}}}},
            {"input_audio_noise_reduction": {"type": "far_field"}},
        ),
        ({"max_output_tokens": 512}, {"max_response_output_tokens": 512}),
        ({"max_output_tokens": "inf"}, {"max_response_output_tokens": "inf"}),
        ({"instructions": "Be brief.", "tools": []}, {"instructions": "Be brief.", "tools": []}),
    ],
)
def test_session_fields_map_both_ways(ga: dict[str, Any], beta: dict[str, Any]) -> None:
    full_ga = {"type": "realtime", **ga}
    assert session_to_beta(full_ga) == beta
    assert session_to_ga(beta) == full_ga


def test_session_to_beta_drops_ga_only_fields() -> None:
    ga = {
        "type": "realtime",
        "prompt": {"id": "pmpt_1"},
        "truncation": "auto",
        "reasoning": {"effort": "low"},
        "parallel_tool_calls": True,
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad", "threshold": 0.4, "idle_timeout_ms": 6000}
            },
            "output": {"voice": {"id": "voice_custom_1"}},
        },
    }
    assert session_to_beta(ga) == {
        "turn_detection": {"type": "server_vad", "threshold": 0.4},
        "voice": "voice_custom_1",
    }


def test_session_object_names() -> None:
    realtime = session_to_beta({"type": "realtime", "object": "realtime.session"})
    assert realtime == {"object": "realtime.session"}
    transcription = session_to_beta({"type": "transcription", "object": "x", "audio": {}})
    assert transcription == {"object": "realtime.transcription_session"}


def test_transcription_session_object_survives_session_to_ga() -> None:
    beta = {"object": "realtime.transcription_session", "input_audio_format": "pcm16"}
    ga = session_to_ga(beta, transcription=True)
    assert ga["type"] == "transcription"
    assert ga["object"] == "realtime.transcription_session"


def test_session_translation_is_idempotent_on_its_own_dialect() -> None:
    ga = {"type": "realtime", "output_modalities": ["text"]}
    beta = {"modalities": ["text"], "voice": "sage"}
    assert session_to_ga(ga) == ga and session_to_ga(ga) is not ga
    assert session_to_beta(beta) == beta
    assert session_to_ga({"instructions": "x"}) == {"type": "realtime", "instructions": "x"}
    assert session_to_ga({}, transcription=True) == {"type": "transcription"}


def test_transcription_session_to_ga_has_no_output_side() -> None:
    beta = {
        "modalities": ["text"],
        "input_audio_format": "pcm16",
        "voice": "alloy",
        "client_secret": {"value": "ek_1"},
    }
    assert session_to_ga(beta, transcription=True) == {
        "type": "transcription",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
    }


# generated sessions: GA → beta → GA and beta → GA → beta are identities on the shared fields

_FORMATS = st.sampled_from(
    [{"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcmu"}, {"type": "audio/pcma"}]
)
_TURN = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.just("server_vad")},
        optional={
            "threshold": st.floats(0, 1),
            "prefix_padding_ms": st.integers(0, 1000),
            "silence_duration_ms": st.integers(0, 2000),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("semantic_vad")},
        optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"])},
    ),
)
_TRANSCRIPTION = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"model": st.sampled_from(["whisper-1", "gpt-4o-transcribe"])},
        optional={"language": st.sampled_from(["en", "fr"]), "prompt": st.text(max_size=5)},
    ),
)
_GA_SESSIONS = st.fixed_dictionaries(
    {"type": st.just("realtime")},
    optional={
        "output_modalities": st.sampled_from([["text"], ["audio"]]),
        "instructions": st.text(max_size=10),
        "max_output_tokens": st.one_of(st.integers(1, 4096), st.just("inf")),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": _FORMATS,
                        "turn_detection": _TURN,
                        "transcription": _TRANSCRIPTION,
                        "noise_reduction": st.sampled_from(
                            [None, {"type": "near_field"}, {"type": "far_field"}]
                        ),
                    },
                ),
                "output": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": _FORMATS,
                        "voice": st.sampled_from(["alloy", "ash", "marin"]),
                        "speed": st.floats(0.25, 1.5),
                    },
                ),
            },
        ),
    },
)


def _prune(session: dict[str, Any]) -> dict[str, Any]:
    """Empty ``audio``/``input``/``output`` objects carry nothing a dialect could translate."""
    out = copy.deepcopy(session)
    audio = out.get("audio")
    if isinstance(audio, dict):
        for side in ("input", "output"):
            if audio.get(side) == {}:
                del audio[side]
        if not audio:
            del out["audio"]
    return out


@settings(max_examples=150, deadline=None)
@given(_GA_SESSIONS)
def test_generated_ga_sessions_round_trip_through_beta(session: dict[str, Any]) -> None:
    beta = session_to_beta(session)
    assert not {"type", "audio", "output_modalities", "max_output_tokens"} & set(beta)
    assert session_to_ga(beta) == _prune(session)


_BETA_SESSIONS = st.fixed_dictionaries(
    {},
    optional={
        "modalities": st.sampled_from([["text"], ["text", "audio"]]),
        "instructions": st.text(max_size=10),
        "voice": st.sampled_from(["alloy", "sage", "verse"]),
        "input_audio_format": st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
        "output_audio_format": st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
        "input_audio_transcription": _TRANSCRIPTION,
        "turn_detection": _TURN,
        "temperature": st.floats(0.6, 1.2),
        "max_response_output_tokens": st.one_of(st.integers(1, 4096), st.just("inf")),
        "speed": st.floats(0.25, 1.5),
    },
)


@settings(max_examples=150, deadline=None)
@given(_BETA_SESSIONS)
def test_generated_beta_sessions_round_trip_through_ga(session: dict[str, Any]) -> None:
    ga = session_to_ga(session)
    assert ga["type"] == "realtime"
    assert not {"modalities", "voice", "input_audio_format", "turn_detection"} & set(ga)
    assert session_to_beta(ga) == session


# --- items, parts, responses ---------------------------------------------------------------------


def test_content_part_types() -> None:
    ga_item: dict[str, Any] = {
        "id": "item_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "Hi"},
            {"type": "output_audio", "transcript": "Hi"},
        ],
    }
    beta_item = item_to_beta(ga_item)
    assert [p["type"] for p in beta_item["content"]] == ["text", "audio"]
    assert beta_item["object"] == "realtime.item"
    assert ga_item["content"][0]["type"] == "output_text", "input must not be mutated"
    back = item_to_ga(beta_item)
    assert [p["type"] for p in back["content"]] == ["output_text", "output_audio"]
    user = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "A"}]}
    assert item_to_beta(user)["content"] == user["content"]
    assert item_to_ga(user) == user
    reference = {"type": "item_reference", "id": "item_1"}
    assert item_to_beta(reference) == reference  # no object on references


def test_response_objects_both_ways() -> None:
    ga: dict[str, Any] = {
        "object": "realtime.response",
        "id": "resp_1",
        "status": "completed",
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcmu"}}},
        "output": [{"id": "i", "type": "message", "content": [{"type": "output_text"}]}],
        "usage": {"input_token_details": {"image_tokens": 3, "text_tokens": 1}},
    }
    beta = response_to_beta(ga)
    assert beta["modalities"] == ["text"]
    assert (beta["voice"], beta["output_audio_format"]) == ("ash", "g711_ulaw")
    assert beta["output"][0]["content"][0]["type"] == "text"
    assert beta["usage"] == {"input_token_details": {"text_tokens": 1}}
    assert ga["usage"]["input_token_details"]["image_tokens"] == 3, "input must not be mutated"
    back = response_to_ga({**beta, "temperature": 0.8})
    assert back["audio"] == {"output": {"voice": "ash", "format": {"type": "audio/pcmu"}}}
    assert back["output_modalities"] == ["text"] and "temperature" not in back


def test_response_params_both_ways() -> None:
    ga = {
        "output_modalities": ["audio"],
        "max_output_tokens": 100,
        "audio": {"output": {"voice": {"id": "v1"}, "format": {"type": "audio/pcma"}}},
        "reasoning": {"effort": "low"},
        "input": [{"type": "message", "role": "assistant", "content": [{"type": "output_text"}]}],
    }
    beta = response_params_to_beta(ga)
    assert beta == {
        "modalities": ["text", "audio"],
        "max_response_output_tokens": 100,
        "voice": "v1",
        "output_audio_format": "g711_alaw",
        "input": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text"}],
                "object": "realtime.item",
            }
        ],
    }
    back = response_params_to_ga({**beta, "temperature": 0.9})
    assert back["audio"] == {"output": {"voice": "v1", "format": {"type": "audio/pcma"}}}
    assert back["temperature"] == 0.9  # kept for the local service (documented)
    assert back["input"][0]["content"] == [{"type": "output_text"}]


def test_audio_format_names() -> None:
    assert ga_audio_format("pcm16") == {"type": "audio/pcm", "rate": 24000}
    assert ga_audio_format("audio/pcmu") == {"type": "audio/pcmu"}
    assert ga_audio_format({"type": "audio/pcma"}) == {"type": "audio/pcma"}
    assert beta_audio_format({"type": "audio/pcm", "rate": 24000}) == "pcm16"
    assert beta_audio_format("g711_alaw") == "g711_alaw"
    assert audio_format_name(None) == "pcm16"
    assert audio_format_name({"type": "audio/pcmu"}) == "g711_ulaw"


# --- kind, event names, dialect names -----------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "canonical"),
    [
        ("response.text.delta", "response.output_text.delta"),
        ("response.output_text.delta", "response.output_text.delta"),
        ("response.text.done", "response.output_text.done"),
        ("response.audio.delta", "response.output_audio.delta"),
        ("response.audio.done", "response.output_audio.done"),
        ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
        ("response.audio_transcript.done", "response.output_audio_transcript.done"),
        ("conversation.item.created", "conversation.item.added"),
        ("conversation.item.added", "conversation.item.added"),
        ("conversation.item.done", "conversation.item.done"),
        ("session.updated", "session.updated"),
        ("totally.unknown", "totally.unknown"),
        ("", ""),
    ],
)
def test_kind(wire: str, canonical: str) -> None:
    assert kind(wire) == canonical
    assert kind(kind(wire)) == kind(wire)


def test_event_name_tables_are_inverse() -> None:
    assert {v: k for k, v in GA_TO_BETA_EVENT.items()} == BETA_TO_GA_EVENT
    assert len(set(GA_TO_BETA_EVENT.values())) == len(GA_TO_BETA_EVENT)


def test_translation_renames_events() -> None:
    delta = {"type": "response.output_audio.delta", "event_id": "e", "delta": "AAAA"}
    (beta,) = translate_server_event(delta, "beta")
    assert beta["type"] == "response.audio.delta"
    assert translate_server_event(beta, "ga") == [delta]
    added = {"type": "conversation.item.added", "event_id": "e", "item": {"id": "i"}}
    (created,) = translate_server_event(added, "beta")
    assert created["type"] == "conversation.item.created"
    assert created["previous_item_id"] is None  # beta requires it
    for event_type in sorted(GA_ONLY_SERVER_EVENTS):
        assert translate_server_event({"type": event_type}, "beta") == []


def test_dialect_parse() -> None:
    assert Dialect.parse("GA") is Dialect.GA
    assert Dialect.parse(" beta ") is Dialect.BETA
    assert Dialect.parse(Dialect.BETA) is Dialect.BETA
    with pytest.raises(ValueError, match=r"'ga'.*'beta'"):
        Dialect.parse("v2")
    with pytest.raises(ValueError, match="unknown dialect"):
        translate_server_event({"type": "error"}, "v3")
