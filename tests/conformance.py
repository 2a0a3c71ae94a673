"""The conformance oracle: is a wire event what the official OpenAI types describe?

Reusable by every suite that sees Realtime wire traffic (protocol core, local service, clients)::

    from tests.conformance import validate_server_event, validate_client_event

    validate_server_event(json.loads(text), "ga")   # raises AssertionError when not conformant

The reference is the typed models of the ``openai`` package (a test dependency):
``openai.types.realtime`` for GA and ``openai.types.beta.realtime`` for beta
(``OpenAI-Beta: realtime=v1``). Each event is validated (strict types: ``"1"`` is not an integer)
with a pydantic :class:`~pydantic.TypeAdapter` over the members of the package's union, selected
by the ``type`` tag. The openai models accept unknown fields silently (``extra="allow"``), so the
validated model tree is walked as well and any field a typed model does not know fails, with its
path — except the few fields in :data:`EXTRA_FIELDS_ALLOWED`, each justified by the protocol
document (``shared/docs/realtime-protocol.md``) or the official example payloads.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pydantic
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.beta.realtime.realtime_response_usage import (
    InputTokenDetails as BetaInputTokenDetails,
)
from openai.types.beta.realtime.session import Session as BetaSession
from openai.types.beta.realtime.transcription_session import ClientSecret, TranscriptionSession
from openai.types.beta.realtime.transcription_session import (
    TurnDetection as TranscriptionTurnDetection,
)
from openai.types.beta.realtime.transcription_session_update import TranscriptionSessionUpdate
from openai.types.beta.realtime.transcription_session_updated_event import (
    TranscriptionSessionUpdatedEvent,
)
from openai.types.realtime import realtime_client_event as ga_client
from openai.types.realtime import realtime_server_event as ga_server
from openai.types.realtime.conversation_item_input_audio_transcription_delta_event import (
    ConversationItemInputAudioTranscriptionDeltaEvent as GATranscriptionDelta,
)
from openai.types.realtime.realtime_response_create_params import (
    RealtimeResponseCreateParams as GAResponseCreateParams,
)
from openai.types.realtime.realtime_session_create_request import (
    RealtimeSessionCreateRequest as GASessionRequest,
)
from openai.types.realtime.realtime_transcription_session_create_request import (
    RealtimeTranscriptionSessionCreateRequest as GATranscriptionRequest,
)
from openai.types.realtime.response_create_event import ResponseCreateEvent as GAResponseCreateEvent
from openai.types.realtime.response_item_reference import ResponseItemReference
from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = [
    "EXTRA_FIELDS_ALLOWED",
    "client_event_types",
    "server_event_types",
    "unknown_fields",
    "validate_client_event",
    "validate_server_event",
]


# --- where the SDK types are narrower than the documented wire --------------------------------


class _TranscriptionSessionAsSent(TranscriptionSession):
    """The session of ``transcription_session.updated``.

    The SDK (and the spec) type it as the REST *create response*, whose ``client_secret`` is
    required; the official ``transcription_session.updated`` example (both spec files) has none,
    and a session update is no place to mint a secret. Only that requirement is relaxed.
    """

    client_secret: ClientSecret | None = None  # type: ignore[assignment]


class _TranscriptionSessionUpdated(TranscriptionSessionUpdatedEvent):
    """``transcription_session.updated`` with the session as the server actually sends it.

    The GA SDK union has no ``transcription_session.updated`` at all, although the GA spec keeps
    the event (``RealtimeServerEventTranscriptionSessionUpdated``) with the same legacy flat
    session shape as beta; both dialects use this model.
    """

    session: _TranscriptionSessionAsSent


_GA_ITEM = typing.get_args(GAResponseCreateParams.model_fields["input"].annotation)[0]
_GA_ITEM = typing.get_args(_GA_ITEM)[0]  # List[X] -> X


class _ResponseCreateParamsWithReferences(GAResponseCreateParams):
    """GA ``response.create`` parameters whose ``input`` may hold ``item_reference`` entries.

    Doc §3.1/§7.7 and the GA spec (``RealtimeResponseCreateParams.input``, official example
    "out-of-band response" with ``{"type": "item_reference", "id": ...}``) allow references;
    the SDK has them only in its request TypedDicts (``…_with_references_param``), not in the
    model.
    """

    input: list[_GA_ITEM | ResponseItemReference] | None = None  # type: ignore[assignment,valid-type]


class _GAResponseCreate(GAResponseCreateEvent):
    response: _ResponseCreateParamsWithReferences | None = None


#: ``(typed model, field)`` pairs that may appear although the model lacks the field. Every entry
#: says where the official material (the protocol doc, the spec files, their examples) has it.
EXTRA_FIELDS_ALLOWED: dict[tuple[type[BaseModel], str], str] = {
    # GA session.created/updated: the SDK types the session as the *request* model; the spec
    # (RealtimeSessionCreateResponseGA), doc §4.2 ("GA extras") and the official GA
    # session.created example add id, object and expires_at.
    (GASessionRequest, "id"): "doc §4.2; RealtimeSessionCreateResponseGA",
    (GASessionRequest, "object"): "doc §4.2; RealtimeSessionCreateResponseGA",
    (GASessionRequest, "expires_at"): "doc §4.2; RealtimeSessionCreateResponseGA",
    # the same three for a GA transcription session (RealtimeTranscriptionSessionCreateResponseGA)
    (GATranscriptionRequest, "id"): "RealtimeTranscriptionSessionCreateResponseGA",
    (GATranscriptionRequest, "object"): "RealtimeTranscriptionSessionCreateResponseGA",
    (GATranscriptionRequest, "expires_at"): "RealtimeTranscriptionSessionCreateResponseGA",
    # beta session.created/updated: the official beta examples carry object "realtime.session";
    # doc §4.1 lists tracing/include/prompt among the beta session fields (the SDK Session lacks
    # include); expires_at: doc §4.2 (session end in session.created), and the real beta service
    # sent it (openai/openai-realtime-api-beta#23).
    (BetaSession, "object"): "beta session.created/updated examples",
    (BetaSession, "include"): "doc §4.1",
    (BetaSession, "expires_at"): "doc §4.2; observed on beta",
    # transcription_session.updated (both spec files): the official example shows id, object,
    # input_audio_noise_reduction, include and turn_detection.create_response, which the SDK's
    # TranscriptionSession lacks. (Its comment says interrupt_response is *not* returned.)
    (_TranscriptionSessionAsSent, "id"): "transcription_session.updated example",
    (_TranscriptionSessionAsSent, "object"): "transcription_session.updated example",
    (_TranscriptionSessionAsSent, "include"): "transcription_session.updated example",
    (_TranscriptionSessionAsSent, "input_audio_noise_reduction"): "same example",
    (TranscriptionTurnDetection, "create_response"): "transcription_session.updated example",
    # GA input transcription deltas carry `obfuscation` (doc §3.2 "same (+obfuscation)" and the
    # official GA example); the SDK model lacks it.
    (GATranscriptionDelta, "obfuscation"): "doc §3.2; GA transcription delta example",
    # beta usage.input_token_details.cached_tokens_details: doc §3.3 (usage) and the official
    # beta response.done example; the beta SDK model lacks it.
    (BetaInputTokenDetails, "cached_tokens_details"): "doc §3.3; beta response.done example",
}


# --- the unions, by dialect ---------------------------------------------------------------------


def _members(union: Any) -> list[type[BaseModel]]:
    """The model classes of an ``Annotated[Union[...], PropertyInfo(...)]`` alias."""
    inner = typing.get_args(union)[0] if typing.get_origin(union) is Annotated else union
    return [m for m in typing.get_args(inner) if isinstance(m, type) and issubclass(m, BaseModel)]


def _tag(model: type[BaseModel]) -> str:
    (value,) = typing.get_args(model.model_fields["type"].annotation)
    return str(value)


def _by_type(models: list[type[BaseModel]]) -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for model in models:
        out[_tag(model)] = model
    return out


_MODELS: dict[tuple[str, str], dict[str, type[BaseModel]]] = {
    ("ga", "server"): {
        **_by_type(_members(ga_server.RealtimeServerEvent)),
        "transcription_session.updated": _TranscriptionSessionUpdated,
    },
    ("beta", "server"): {
        **_by_type(_members(beta_server.RealtimeServerEvent)),
        "transcription_session.updated": _TranscriptionSessionUpdated,
    },
    # GA's client union lacks transcription_session.update, which the GA spec keeps with the
    # legacy flat session (RealtimeTranscriptionSessionCreateRequest): the beta model is that.
    ("ga", "client"): {
        **_by_type(_members(ga_client.RealtimeClientEvent)),
        "response.create": _GAResponseCreate,
        "transcription_session.update": TranscriptionSessionUpdate,
    },
    ("beta", "client"): _by_type(_members(beta_client.RealtimeClientEvent)),
}


def _adapter(models: Mapping[str, type[BaseModel]]) -> TypeAdapter[Any]:
    union = typing.Union[tuple(models.values())]  # type: ignore[valid-type]  # noqa: UP007
    tagged: Any = Annotated[union, pydantic.Field(discriminator="type")]
    return TypeAdapter(tagged)


_ADAPTERS: dict[tuple[str, str], TypeAdapter[Any]] = {
    key: _adapter(models) for key, models in _MODELS.items()
}


def _dialect(dialect: object) -> str:
    name = str(getattr(dialect, "value", dialect)).strip().lower()
    if name not in ("ga", "beta"):
        raise ValueError(f"unknown dialect {dialect!r}: use 'ga' or 'beta'")
    return name


def server_event_types(dialect: object) -> frozenset[str]:
    """Every server event type the oracle knows in a dialect."""
    return frozenset(_MODELS[_dialect(dialect), "server"])


def client_event_types(dialect: object) -> frozenset[str]:
    """Every client event type the oracle knows in a dialect."""
    return frozenset(_MODELS[_dialect(dialect), "client"])


# --- the extras walk ----------------------------------------------------------------------------


def unknown_fields(value: Any, path: str = "$") -> list[str]:
    """Paths of fields some typed model in the tree does not know (allow-listed ones excepted)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        cls = type(value)
        for key in value.model_extra or {}:
            if not any((base, key) in EXTRA_FIELDS_ALLOWED for base in cls.__mro__):
                found.append(f"{path}.{key} (unknown to {cls.__module__}.{cls.__qualname__})")
        for field in type(value).model_fields:
            found += unknown_fields(getattr(value, field, None), f"{path}.{field}")
    elif isinstance(value, list | tuple):
        for index, element in enumerate(value):
            found += unknown_fields(element, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, element in value.items():
            found += unknown_fields(element, f"{path}[{key!r}]")
    return found


def _validate(data: Any, dialect: object, side: str) -> BaseModel:
    d = _dialect(dialect)
    if not isinstance(data, dict):
        raise AssertionError(f"{d} {side} event is not a JSON object: {data!r:.200}")
    etype = data.get("type")
    models = _MODELS[d, side]
    if etype not in models:
        raise AssertionError(
            f"{d} {side} event type {etype!r} is not in the openai {d} {side} event union"
        )
    try:
        model = _ADAPTERS[d, side].validate_python(data, strict=True)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']} "
            f"[type={err['type']}, input={err.get('input')!r:.120}]"
            for err in exc.errors(include_url=False)
        )
        raise AssertionError(
            f"{d} {side} event {etype!r} does not conform to the openai {d} model "
            f"({exc.error_count()} errors):\n{problems}"
        ) from None
    assert isinstance(model, BaseModel)
    extras = unknown_fields(model)
    if extras:
        raise AssertionError(
            f"{d} {side} event {etype!r} has fields the typed model does not know: "
            + ", ".join(extras)
        )
    return model


def validate_server_event(data: dict[str, Any], dialect: Literal["ga", "beta"] | str) -> None:
    """Raise ``AssertionError`` unless ``data`` is a conformant server event of ``dialect``."""
    _validate(data, dialect, "server")


def validate_client_event(data: dict[str, Any], dialect: Literal["ga", "beta"] | str) -> None:
    """Raise ``AssertionError`` unless ``data`` is a conformant client event of ``dialect``."""
    _validate(data, dialect, "client")
