"""Our catalogue and schemas against the official OpenAPI schema extracts in ``tests/data/spec``.

* Every ``RealtimeServerEvent*`` / ``RealtimeClientEvent*`` schema of a dialect's spec file (beta:
  2025-04-29; GA: 2026-08-21, whose file holds no ``RealtimeBeta*`` schemas) has its ``type`` in
  our catalogue, with our required fields equal to the spec's ``required`` (minus
  ``type``/``event_id``), and every catalogue type appears in the spec.
* Every field name of the session schemas in ``rt_jupyter/protocol/schemas.py`` exists in the
  official session schema (walking nested ``properties``), and enumerations agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from rt_jupyter.protocol import CLIENT_EVENTS, SERVER_EVENTS, Dialect
from rt_jupyter.protocol import schemas as ours
from rt_jupyter.protocol.schema import AnyOf, Arr, Node, Obj, Str, Tagged
from tests.protocol._support import spec_schemas

DIALECTS = [Dialect.GA, Dialect.BETA]

#: Catalogue types deliberately absent from a spec file: none today. (The GA file does include
#: conversation.item.retrieved, output_audio_buffer.* and transcription_session.*.) An entry here
#: must say why, and the test checks that it is still absent.
NOT_IN_SPEC: dict[tuple[Dialect, str, str], str] = {}


def _event_schemas(dialect: Dialect) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """``(side, type) -> (schema name, required fields minus type/event_id)``."""
    out: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for name, schema in spec_schemas(dialect).items():
        if name.startswith("RealtimeBeta"):
            continue  # GA file: beta names carry GA types (known spec bug); not in our extract
        for prefix, side in (("RealtimeServerEvent", "server"), ("RealtimeClientEvent", "client")):
            if name.startswith(prefix) and name != prefix:
                (etype,) = schema["properties"]["type"]["enum"]
                required = tuple(
                    r for r in schema.get("required", []) if r not in ("type", "event_id")
                )
                assert (side, etype) not in out, f"two schemas for {etype}"
                out[side, etype] = (name, required)
    return out


def _catalogue(dialect: Dialect, side: str) -> dict[str, tuple[str, ...]]:
    return (SERVER_EVENTS if side == "server" else CLIENT_EVENTS)[dialect]


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_spec_event_counts(dialect: Dialect) -> None:
    specs = _event_schemas(dialect)
    servers = [t for side, t in specs if side == "server"]
    clients = [t for side, t in specs if side == "client"]
    assert len(clients) == 12
    assert len(servers) == (47 if dialect is Dialect.GA else 34) == len(SERVER_EVENTS[dialect])
    assert len(clients) == len(CLIENT_EVENTS[dialect])


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
@pytest.mark.parametrize("side", ["server", "client"])
def test_every_spec_event_is_in_the_catalogue_with_its_required_fields(
    dialect: Dialect, side: str
) -> None:
    catalogue = _catalogue(dialect, side)
    problems = []
    for (s, etype), (name, required) in sorted(_event_schemas(dialect).items()):
        if s != side:
            continue
        if etype not in catalogue:
            problems.append(f"{name}: type {etype!r} missing from the catalogue")
        elif set(catalogue[etype]) != set(required):
            problems.append(
                f"{name} ({etype}): ours {sorted(catalogue[etype])} != spec {sorted(required)}"
            )
        elif len(catalogue[etype]) != len(set(catalogue[etype])):
            problems.append(f"{etype}: duplicate required fields {catalogue[etype]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
@pytest.mark.parametrize("side", ["server", "client"])
def test_every_catalogue_event_is_in_the_spec(dialect: Dialect, side: str) -> None:
    in_spec = {t for s, t in _event_schemas(dialect) if s == side}
    missing = set(_catalogue(dialect, side)) - in_spec
    allowed = {t for d, s, t in NOT_IN_SPEC if d is dialect and s == side}
    assert missing == allowed


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_catalogue_order_follows_the_spec_required_lists(dialect: Dialect) -> None:
    """Required fields are listed in spec order (keeps diffs against the spec readable)."""
    for (side, etype), (_, required) in _event_schemas(dialect).items():
        ours_required = _catalogue(dialect, side)[etype]
        assert list(ours_required) == [r for r in required if r in ours_required], etype


# --- session schemas: field names and enumerations ----------------------------------------------

#: Our session fields the official (2025-04-29) beta schema lacks, each kept on purpose.
BETA_SESSION_EXTRAS = {
    "beta.session.speed": "in the openai beta SDK Session (later beta revisions; doc §4.1)",
    "beta.session.tracing": "in the openai beta SDK Session (later beta revisions; doc §4.1)",
    "beta.session.include": "doc §4.1 lists tracing/include/prompt for beta; transcription "
    "sessions have it in the 2025-04-29 spec",
}


def _resolve(schema: Any, spec: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _alternatives(schema: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A spec schema and every alternative under anyOf/oneOf/allOf, refs resolved."""
    schema = _resolve(schema, spec)
    if not isinstance(schema, dict):
        return []
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for alt in schema.get(key, []):
            out += _alternatives(alt, spec)
    return out


def _leaves(node: Node) -> list[Node]:
    if isinstance(node, AnyOf):
        return [leaf for option in node.options for leaf in _leaves(option)]
    if isinstance(node, Tagged):
        return [leaf for variant in node.variants.values() for leaf in _leaves(variant)]
    return [node]


class Walk:
    """Walks one of our schema nodes beside a spec schema, collecting disagreements."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.checked: list[str] = []
        self.extras: list[str] = []
        self.enum_problems: list[str] = []

    def node(self, node: Node, schema: Any, path: str) -> None:
        alts = _alternatives(schema, self.spec)
        for leaf in _leaves(node):
            if isinstance(leaf, Obj) and not leaf.open:
                for key, sub in leaf.fields.items():
                    found = [a["properties"][key] for a in alts if key in a.get("properties", {})]
                    if not found:
                        if any("properties" in a for a in alts):
                            self.extras.append(f"{path}.{key}")
                        continue
                    self.checked.append(f"{path}.{key}")
                    self.node(sub, {"anyOf": found}, f"{path}.{key}")
            elif isinstance(leaf, Arr):
                items = [a["items"] for a in alts if "items" in a]
                if items:
                    self.node(leaf.items, {"anyOf": items}, f"{path}[]")
            elif isinstance(leaf, Str) and leaf.enum is not None:
                spec_values = {v for a in alts for v in a.get("enum", []) if isinstance(v, str)}
                spec_values |= {a["const"] for a in alts if isinstance(a.get("const"), str)}
                if spec_values and not set(leaf.enum) <= spec_values:
                    self.enum_problems.append(
                        f"{path}: {sorted(set(leaf.enum) - spec_values)} not in the spec"
                    )


SESSION_CASES = [
    pytest.param(
        Dialect.GA,
        Obj(ours._GA_REALTIME_SESSION_FIELDS),
        "RealtimeSessionCreateRequestGA",
        "ga.session",
        id="ga-realtime",
    ),
    pytest.param(
        Dialect.GA,
        Obj(ours._GA_TRANSCRIPTION_SESSION_FIELDS),
        "RealtimeTranscriptionSessionCreateRequestGA",
        "ga.transcription",
        id="ga-transcription",
    ),
    pytest.param(
        Dialect.BETA, ours.BETA_SESSION, "RealtimeSessionCreateRequest", "beta.session", id="beta"
    ),
    pytest.param(
        Dialect.BETA,
        ours.BETA_TRANSCRIPTION_SESSION,
        "RealtimeTranscriptionSessionCreateRequest",
        "beta.transcription",
        id="beta-transcription",
    ),
    pytest.param(
        Dialect.GA,
        ours.GA_RESPONSE_PARAMS,
        "RealtimeResponseCreateParams",
        "ga.response",
        id="ga-response-params",
    ),
    pytest.param(
        Dialect.BETA,
        ours.BETA_RESPONSE_PARAMS,
        "RealtimeResponseCreateParams",
        "beta.response",
        id="beta-response-params",
    ),
]

#: Expected extras per case (anything else is drift).
EXPECTED_EXTRAS: dict[str, set[str]] = {"beta.session": set(BETA_SESSION_EXTRAS)}


@pytest.mark.parametrize(("dialect", "node", "schema_name", "path"), SESSION_CASES)
def test_schema_field_names_exist_in_the_spec(
    dialect: Dialect, node: Node, schema_name: str, path: str
) -> None:
    spec = spec_schemas(dialect)
    walk = Walk(spec)
    walk.node(node, spec[schema_name], path)
    assert set(walk.extras) == EXPECTED_EXTRAS.get(path, set()), walk.extras
    # the walk went deep (nested audio/turn_detection/tools objects), so it could have failed
    assert len(walk.checked) >= 8, walk.checked
    assert any(p.count(".") >= 2 for p in walk.checked), walk.checked


def test_ga_session_walk_reaches_the_nested_audio_fields() -> None:
    spec = spec_schemas(Dialect.GA)
    walk = Walk(spec)
    walk.node(Obj(ours._GA_REALTIME_SESSION_FIELDS), spec["RealtimeSessionCreateRequestGA"], "s")
    for field in (
        "s.audio.input.format.rate",
        "s.audio.input.turn_detection.idle_timeout_ms",
        "s.audio.input.turn_detection.eagerness",
        "s.audio.input.transcription.delay",
        "s.audio.output.voice",
        "s.audio.output.speed",
        "s.tools[].parameters",
        "s.truncation.retention_ratio",
    ):
        assert field in walk.checked, field


@pytest.mark.parametrize(
    ("dialect", "node", "schema_name", "path"),
    [p for p in SESSION_CASES if "response" not in str(p.id)],
)
def test_session_enumerations_are_those_of_the_spec(
    dialect: Dialect, node: Node, schema_name: str, path: str
) -> None:
    spec = spec_schemas(dialect)
    walk = Walk(spec)
    walk.node(node, spec[schema_name], path)
    assert not walk.enum_problems, walk.enum_problems


def test_voices_are_the_spec_voices() -> None:
    ga = spec_schemas(Dialect.GA)
    shared = _resolve({"$ref": "#/components/schemas/VoiceIdsShared"}, ga)
    spec_voices = {v for alt in _alternatives(shared, ga) for v in alt.get("enum", [])}
    assert set(ours.GA_VOICES) <= spec_voices
    assert {"marin", "cedar"} <= set(ours.GA_VOICES)


def test_our_extras_are_real_beta_sdk_fields() -> None:
    """The beta extras are not inventions: the openai beta SDK types know speed and tracing."""
    from openai.types.beta.realtime.session_update_event import Session

    assert {"speed", "tracing"} <= set(Session.model_fields)
