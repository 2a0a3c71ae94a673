"""Shared helpers of the protocol tests: the official spec extracts kept in ``tests/data/spec``
(their source and licence are in the README there)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Final

from rt_jupyter.protocol import Dialect

REPO: Final = Path(__file__).resolve().parents[2]
SPEC_DIR: Final = REPO / "tests" / "data" / "spec"
SPEC_FILES: Final[dict[Dialect, Path]] = {
    Dialect.GA: SPEC_DIR / "realtime_schemas_ga_2026-08-21.json",
    Dialect.BETA: SPEC_DIR / "realtime_schemas_beta_2025-04-29.json",
}
EXAMPLE_FILES: Final[dict[Dialect, Path]] = {
    Dialect.GA: SPEC_DIR / "examples_ga_2026-08-21.txt",
    Dialect.BETA: SPEC_DIR / "examples_beta_2025-04-29.txt",
}


@functools.cache
def spec_schemas(dialect: Dialect) -> dict[str, Any]:
    """``components.schemas`` of a dialect's official schema file."""
    data = json.loads(SPEC_FILES[dialect].read_text(encoding="utf-8"))
    schemas: dict[str, Any] = data["components"]["schemas"]
    return schemas


_SECTION = re.compile(r"^## (\S+)\s+name=(.*?) group=\S+\n(.*?)(?=^## |\Z)", re.S | re.M)
_LINE_COMMENT = re.compile(r"(?m)^\s*//.*$")
_TRAILING_COMMENT = re.compile(r"(?m)\s//[^\"\n]*$")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _json_objects(body: str) -> list[Any]:
    """Every JSON value of an example block (some blocks hold two, with ``//`` comments and
    trailing commas, which are removed first)."""
    body = _LINE_COMMENT.sub("", body)
    body = _TRAILING_COMMENT.sub("", body)
    body = _TRAILING_COMMA.sub(r"\1", body).strip()
    decoder = json.JSONDecoder()
    out: list[Any] = []
    pos = 0
    while pos < len(body):
        value, pos = decoder.raw_decode(body, pos)
        out.append(value)
        while pos < len(body) and body[pos].isspace():
            pos += 1
    return out


@functools.cache
def examples(dialect: Dialect) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``(schema name, payload)`` for every example event of a dialect's examples file.

    The GA file's ``RealtimeBeta*`` sections carry GA names (a known spec bug) and the
    ``RealtimeTranslation*`` ones belong to another API: both are left out, as are non-event
    sections (session objects).
    """
    text = EXAMPLE_FILES[dialect].read_text(encoding="utf-8")
    out: list[tuple[str, dict[str, Any]]] = []
    for match in _SECTION.finditer(text):
        name, _, body = match.groups()
        if name.startswith(("RealtimeBeta", "RealtimeTranslation")):
            continue
        if not name.startswith(("RealtimeServerEvent", "RealtimeClientEvent")):
            continue
        for value in _json_objects(body):
            assert isinstance(value, dict), name
            out.append((name, value))
    return tuple(out)


def server_examples(dialect: Dialect) -> list[tuple[str, dict[str, Any]]]:
    return [(n, e) for n, e in examples(dialect) if n.startswith("RealtimeServerEvent")]


def client_examples(dialect: Dialect) -> list[tuple[str, dict[str, Any]]]:
    return [(n, e) for n, e in examples(dialect) if n.startswith("RealtimeClientEvent")]


def example_ids(dialect: Dialect, side: str) -> list[str]:
    """Test ids for the examples of one side (a file without examples gives no ids)."""
    if not EXAMPLE_FILES[dialect].is_file():
        return []
    pairs = server_examples(dialect) if side == "server" else client_examples(dialect)
    seen: dict[str, int] = {}
    ids: list[str] = []
    for name, _ in pairs:
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return ids
