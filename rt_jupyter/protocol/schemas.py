"""Wire schemas of the client events of both dialects, in the language of :mod:`.schema`.

Written from ``shared/docs/realtime-protocol.md`` and the official OpenAPI schemas (GA @ f85dbe22,
beta @ 498c71dd); ``tests/protocol/test_spec_crosscheck.py`` compares every field name here with the
official schema files so the two cannot drift apart silently.
"""

from __future__ import annotations

from .dialects import Dialect
from .formats import AUDIO_FORMATS
from .schema import AnyOf, AnyValue, Arr, Bool, Int, MapOf, Node, Num, Obj, Str, Tagged

__all__ = [
    "CLIENT_EVENT_SCHEMAS",
    "GA_VOICES",
    "ITEM_SCHEMAS",
    "RESPONSE_PARAMS_SCHEMAS",
    "SESSION_SCHEMAS",
    "client_event_schema",
]

GA_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
BETA_VOICES = (*GA_VOICES[:-2], "fable", "onyx", "nova")

#: ``metadata``: up to 16 string pairs, keys ≤ 64 and values ≤ 512 characters.
_META = MapOf(Str(max_length=512), max_keys=16, key_max_length=64, nullable=True)
_EVENT_ID = Str(max_length=512)

# --- shared pieces -----------------------------------------------------------------------------

#: GA format objects by type; ``rate`` only where the GA object carries one (``audio/pcm``).
_GA_FORMAT = Tagged(
    {
        f.mime_type: Obj(
            {"type": Str(), "rate": Int(enum=[f.sample_rate])}
            if "rate" in f.ga()
            else {"type": Str()}
        )
        for f in AUDIO_FORMATS.values()
    }
)
_BETA_FORMAT = Str(list(AUDIO_FORMATS))

_NOISE = Obj({"type": Str(["near_field", "far_field"])}, nullable=True)

_GA_TRANSCRIPTION = Obj(
    {
        "model": Str(),
        "language": Str(),
        "languages": Arr(Str()),
        "keywords": Arr(Str()),
        "prompt": Str(),
        "delay": Str(["minimal", "low", "medium", "high", "xhigh"]),
    },
    nullable=True,
)
_BETA_TRANSCRIPTION = Obj({"model": Str(), "language": Str(), "prompt": Str()}, nullable=True)

_VAD_COMMON: dict[str, Node] = {
    "type": Str(),
    "create_response": Bool(),
    "interrupt_response": Bool(),
}
_SERVER_VAD: dict[str, Node] = {
    **_VAD_COMMON,
    "threshold": Num(0.0, 1.0),
    "prefix_padding_ms": Int(0, 10_000),
    "silence_duration_ms": Int(0, 10_000),
}
_SEMANTIC_VAD: dict[str, Node] = {
    **_VAD_COMMON,
    "eagerness": Str(["low", "medium", "high", "auto"]),
}
_GA_TURN = Tagged(
    {
        "server_vad": Obj({**_SERVER_VAD, "idle_timeout_ms": Int(5000, 30000, nullable=True)}),
        "semantic_vad": Obj(_SEMANTIC_VAD),
    },
    nullable=True,
)
_BETA_TURN = Tagged(
    {"server_vad": Obj(_SERVER_VAD), "semantic_vad": Obj(_SEMANTIC_VAD)},
    default="server_vad",
    nullable=True,
)

_FUNCTION_TOOL = Obj(
    {
        "type": Str(["function"]),
        "name": Str(max_length=64),
        "description": Str(),
        "parameters": Obj(open=True),
    },
    required=["name"],
)
_GA_TOOL = Tagged(
    {
        "function": _FUNCTION_TOOL,
        "mcp": Obj({"type": Str(), "server_label": Str()}, required=["server_label"], open=True),
    }
)
_BETA_TOOL = Tagged({"function": _FUNCTION_TOOL}, default="function")

_TOOL_CHOICE = AnyOf(
    Str(["none", "auto", "required"]),
    Tagged(
        {
            "function": Obj({"type": Str(), "name": Str()}, required=["name"]),
            "mcp": Obj(
                {"type": Str(), "server_label": Str(), "name": Str(nullable=True)},
                required=["server_label"],
            ),
        }
    ),
)
_BETA_TOOL_CHOICE = Str()  # "auto", "none", "required" or a function name
_MAX_TOKENS = AnyOf(Int(1, 4096), Str(["inf"]))
_TRACING = AnyOf(
    Str(["auto"]),
    Obj({"workflow_name": Str(), "group_id": Str(), "metadata": Obj(open=True)}),
    nullable=True,
)
_GA_VOICE = AnyOf(Str(max_length=64), Obj({"id": Str()}, required=["id"]))
_PROMPT = Obj(
    {"id": Str(), "version": Str(nullable=True), "variables": Obj(open=True, nullable=True)},
    required=["id"],
    nullable=True,
)
_INCLUDE = Arr(Str(["item.input_audio_transcription.logprobs"]))

# --- sessions ------------------------------------------------------------------------------------

_GA_REALTIME_SESSION_FIELDS: dict[str, Node] = {
    "type": Str(["realtime"]),
    "model": Str(),
    "output_modalities": Arr(Str(["text", "audio"])),
    "instructions": Str(),
    "audio": Obj(
        {
            "input": Obj(
                {
                    "format": _GA_FORMAT,
                    "transcription": _GA_TRANSCRIPTION,
                    "noise_reduction": _NOISE,
                    "turn_detection": _GA_TURN,
                }
            ),
            "output": Obj({"format": _GA_FORMAT, "voice": _GA_VOICE, "speed": Num(0.25, 1.5)}),
        }
    ),
    "include": _INCLUDE,
    "tracing": _TRACING,
    "tools": Arr(_GA_TOOL, max_items=128),
    "tool_choice": _TOOL_CHOICE,
    "parallel_tool_calls": Bool(),
    "reasoning": Obj({"effort": Str(["minimal", "low", "medium", "high", "xhigh"])}),
    "max_output_tokens": _MAX_TOKENS,
    "truncation": AnyOf(
        Str(["auto", "disabled"]),
        Obj(
            {
                "type": Str(["retention_ratio"]),
                "retention_ratio": Num(0.0, 1.0),
                "token_limits": Obj(open=True),
            },
            required=["type", "retention_ratio"],
        ),
    ),
    "prompt": _PROMPT,
}

_GA_TRANSCRIPTION_SESSION_FIELDS: dict[str, Node] = {
    "type": Str(["transcription"]),
    "audio": Obj(
        {
            "input": Obj(
                {
                    "format": _GA_FORMAT,
                    "transcription": _GA_TRANSCRIPTION,
                    "noise_reduction": _NOISE,
                    "turn_detection": _GA_TURN,
                }
            )
        }
    ),
    "include": _INCLUDE,
}

GA_SESSION = Tagged(
    {
        "realtime": Obj(_GA_REALTIME_SESSION_FIELDS),
        "transcription": Obj(_GA_TRANSCRIPTION_SESSION_FIELDS),
    }
)

_BETA_SESSION_FIELDS: dict[str, Node] = {
    "modalities": Arr(Str(["text", "audio"])),
    "model": Str(),
    "instructions": Str(),
    "voice": Str(max_length=64),
    "input_audio_format": _BETA_FORMAT,
    "output_audio_format": _BETA_FORMAT,
    "input_audio_transcription": _BETA_TRANSCRIPTION,
    "turn_detection": _BETA_TURN,
    "input_audio_noise_reduction": _NOISE,
    "tools": Arr(_BETA_TOOL, max_items=128),
    "tool_choice": _BETA_TOOL_CHOICE,
    "temperature": Num(0.6, 1.2),
    "max_response_output_tokens": _MAX_TOKENS,
    "speed": Num(0.25, 1.5),
    "tracing": _TRACING,
    "include": _INCLUDE,
}
BETA_SESSION = Obj(_BETA_SESSION_FIELDS)
BETA_TRANSCRIPTION_SESSION = Obj(
    {
        "modalities": Arr(Str(["text", "audio"])),
        "input_audio_format": _BETA_FORMAT,
        "input_audio_transcription": _BETA_TRANSCRIPTION,
        "turn_detection": _BETA_TURN,
        "input_audio_noise_reduction": _NOISE,
        "include": _INCLUDE,
    }
)

SESSION_SCHEMAS: dict[Dialect, Node] = {Dialect.GA: GA_SESSION, Dialect.BETA: BETA_SESSION}

# --- conversation items --------------------------------------------------------------------------

_ITEM_COMMON: dict[str, Node] = {
    "id": Str(max_length=64),
    "object": Str(["realtime.item"]),
    "type": Str(),
    "status": Str(["completed", "incomplete", "in_progress"]),
}

_GA_CONTENT = Tagged(
    {
        "input_text": Obj({"type": Str(), "text": Str()}),
        "input_audio": Obj({"type": Str(), "audio": Str(), "transcript": Str(nullable=True)}),
        "input_image": Obj(
            {"type": Str(), "image_url": Str(), "detail": Str(["auto", "low", "high"])}
        ),
        "output_text": Obj({"type": Str(), "text": Str()}),
        "output_audio": Obj({"type": Str(), "audio": Str(), "transcript": Str(nullable=True)}),
    }
)
_BETA_CONTENT = Tagged(
    {
        "input_text": Obj({"type": Str(), "text": Str()}),
        "input_audio": Obj({"type": Str(), "audio": Str(), "transcript": Str(nullable=True)}),
        "item_reference": Obj({"type": Str(), "id": Str()}),
        "text": Obj({"type": Str(), "text": Str()}),
        "audio": Obj({"type": Str(), "audio": Str(), "transcript": Str(nullable=True)}),
    }
)


def _items(content: Node, *, ga: bool) -> Tagged:
    variants: dict[str, Node] = {
        "message": Obj(
            {
                **_ITEM_COMMON,
                "role": Str(["user", "assistant", "system"]),
                "content": Arr(content),
            },
            required=["role", "content"],
        ),
        "function_call": Obj(
            {**_ITEM_COMMON, "call_id": Str(), "name": Str(), "arguments": Str()},
            required=["name", "arguments"],
        ),
        "function_call_output": Obj(
            {**_ITEM_COMMON, "call_id": Str(), "output": Str()},
            required=["call_id", "output"],
        ),
    }
    if ga:
        for name in ("mcp_approval_response", "mcp_list_tools", "mcp_call", "mcp_approval_request"):
            variants[name] = Obj({"type": Str()}, open=True)
    return Tagged(variants)


GA_ITEM = _items(_GA_CONTENT, ga=True)
BETA_ITEM = _items(_BETA_CONTENT, ga=False)
ITEM_SCHEMAS: dict[Dialect, Node] = {Dialect.GA: GA_ITEM, Dialect.BETA: BETA_ITEM}

_ITEM_REFERENCE = Obj({"type": Str(), "id": Str()}, required=["id"])
_GA_INPUT_ITEM = Tagged({**GA_ITEM.variants, "item_reference": _ITEM_REFERENCE})
_BETA_INPUT_ITEM = Tagged({**BETA_ITEM.variants, "item_reference": _ITEM_REFERENCE})

# --- response.create parameters ------------------------------------------------------------------

_CONVERSATION = Str(["auto", "none"])

GA_RESPONSE_PARAMS = Obj(
    {
        "output_modalities": Arr(Str(["text", "audio"])),
        "instructions": Str(),
        "audio": Obj({"output": Obj({"format": _GA_FORMAT, "voice": _GA_VOICE})}),
        "tools": Arr(_GA_TOOL, max_items=128),
        "tool_choice": _TOOL_CHOICE,
        "parallel_tool_calls": Bool(),
        "reasoning": Obj({"effort": Str(["minimal", "low", "medium", "high", "xhigh"])}),
        "max_output_tokens": _MAX_TOKENS,
        "conversation": _CONVERSATION,
        "metadata": _META,
        "prompt": _PROMPT,
        "input": Arr(_GA_INPUT_ITEM),
    }
)
BETA_RESPONSE_PARAMS = Obj(
    {
        "modalities": Arr(Str(["text", "audio"])),
        "instructions": Str(),
        "voice": Str(max_length=64),
        "output_audio_format": _BETA_FORMAT,
        "tools": Arr(_BETA_TOOL, max_items=128),
        "tool_choice": _BETA_TOOL_CHOICE,
        "temperature": Num(0.6, 1.2),
        "max_response_output_tokens": _MAX_TOKENS,
        "conversation": _CONVERSATION,
        "metadata": _META,
        "input": Arr(_BETA_INPUT_ITEM),
    }
)
RESPONSE_PARAMS_SCHEMAS: dict[Dialect, Node] = {
    Dialect.GA: GA_RESPONSE_PARAMS,
    Dialect.BETA: BETA_RESPONSE_PARAMS,
}

# --- client events ------------------------------------------------------------------------------


def _event(fields: dict[str, Node] | None = None, required: tuple[str, ...] = ()) -> Obj:
    return Obj({"type": Str(), "event_id": _EVENT_ID, **(fields or {})}, required=required)


def _client_events(dialect: Dialect) -> dict[str, Obj]:
    ga = dialect is Dialect.GA
    item = GA_ITEM if ga else BETA_ITEM
    return {
        "session.update": _event({"session": SESSION_SCHEMAS[dialect]}, ("session",)),
        # the legacy flat transcription session, in both dialects
        "transcription_session.update": _event(
            {"session": BETA_TRANSCRIPTION_SESSION}, ("session",)
        ),
        "input_audio_buffer.append": _event({"audio": Str()}, ("audio",)),
        "input_audio_buffer.commit": _event(),
        "input_audio_buffer.clear": _event(),
        "output_audio_buffer.clear": _event(),
        "conversation.item.create": _event(
            {"previous_item_id": Str(nullable=True), "item": item}, ("item",)
        ),
        "conversation.item.retrieve": _event({"item_id": Str()}, ("item_id",)),
        "conversation.item.truncate": _event(
            {"item_id": Str(), "content_index": Int(0), "audio_end_ms": Int(0)},
            ("item_id", "content_index", "audio_end_ms"),
        ),
        "conversation.item.delete": _event({"item_id": Str()}, ("item_id",)),
        "response.create": _event({"response": RESPONSE_PARAMS_SCHEMAS[dialect]}),
        "response.cancel": _event({"response_id": Str()}),
    }


CLIENT_EVENT_SCHEMAS: dict[Dialect, dict[str, Obj]] = {
    Dialect.GA: _client_events(Dialect.GA),
    Dialect.BETA: _client_events(Dialect.BETA),
}


def client_event_schema(dialect: Dialect, event_type: str) -> Obj | None:
    """The schema of a client event type in a dialect, or ``None`` for an unknown type."""
    return CLIENT_EVENT_SCHEMAS[dialect].get(event_type)


ANY = AnyValue()
