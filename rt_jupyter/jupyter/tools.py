"""Python functions as Realtime tools: a JSON schema from the signature, type hints and docstring.

``function_tool(fn)`` returns ``(schema, call)``: ``schema`` is the ``{"type": "function", "name",
"description", "parameters"}`` object for ``session.tools``; ``call(arguments)`` takes the model's
``arguments`` (a JSON string or a dict), checks and converts them and calls ``fn``. The widget and
the kernel client share it.

Supported parameter types: ``str``, ``int``, ``float``, ``bool``, ``None``, ``list[T]``,
``tuple[T, ...]``, ``set[T]``, ``dict[str, T]``, ``Literal[...]``, ``Enum`` subclasses,
``T | None``, unions, ``Annotated[T, "description"]``, dataclasses and ``TypedDict``. Parameter
descriptions come from ``Annotated`` or from the docstring (Google ``Args:``, NumPy
``Parameters``, Sphinx ``:param x:``).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Union, get_args, get_origin

__all__ = ["Tool", "ToolArgumentError", "function_tool", "tool_output"]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ToolArgumentError(ValueError):
    """The model called a tool with arguments that do not fit its signature."""


class Tool(typing.NamedTuple):
    """A tool: its schema for ``session.tools`` and the callable that runs it (a 2-tuple)."""

    schema: dict[str, Any]
    call: Callable[..., Any]

    @property
    def name(self) -> str:
        """The tool's name."""
        return str(self.schema["name"])


# --- docstrings ----------------------------------------------------------------------------------


def _split_doc(doc: str) -> tuple[str, dict[str, str]]:
    """The description (text before any parameter section) and per-parameter descriptions."""
    doc = inspect.cleandoc(doc or "")
    if not doc:
        return "", {}
    lines = doc.splitlines()
    params: dict[str, str] = {}
    description: list[str] = []
    section: str | None = None
    current: str | None = None
    param_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        sphinx = re.match(r"^:param\s+(?:[^:]+\s+)?(\w+):\s*(.*)$", stripped)
        if sphinx:
            section, current = "sphinx", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            i += 1
            continue
        if re.match(r"^:(returns?|raises?|rtype|type)\b", stripped):
            section, current = "other", None
            i += 1
            continue
        header = stripped.rstrip(":").lower()
        is_numpy_header = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip())
        if stripped.endswith(":") and header in ("args", "arguments", "parameters", "params"):
            section, current, param_indent = "google", None, None
            i += 1
            continue
        if is_numpy_header and header in ("parameters", "params", "arguments"):
            section, current = "numpy", None
            i += 2
            continue
        if (stripped.endswith(":") and header in ("returns", "return", "raises", "yields")) or (
            is_numpy_header
        ):
            section, current = "other", None
            i += 2 if is_numpy_header else 1
            continue
        if section is None:
            description.append(line)
        elif section == "google":
            m = re.match(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", stripped)
            indent = len(line) - len(line.lstrip())
            if param_indent is None and m:
                param_indent = indent
            if m and indent == param_indent:
                current = m.group(1).lstrip("*")
                params[current] = m.group(2).strip()
            elif current and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
            elif not stripped:
                current = None
        elif section == "numpy":
            m = re.match(r"^(\w+)\s*(?::.*)?$", stripped)
            if m and line == line.lstrip():
                current = m.group(1)
                params[current] = ""
            elif current and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == "sphinx" and current and stripped and line != line.lstrip():
            params[current] = f"{params[current]} {stripped}".strip()
        i += 1
    text = "\n".join(description).strip()
    return re.sub(r"\n\s*\n.*", "", text, flags=re.S).replace("\n", " ").strip(), params


# --- types to JSON schema ------------------------------------------------------------------------


def _schema_for(tp: Any, where: str) -> dict[str, Any]:
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated:
        schema = _schema_for(args[0], where)
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            schema["description"] = " ".join(notes)
        return schema
    if tp is type(None) or tp is None:
        return {"type": "null"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        return {"type": _json_type_of(values, where), "enum": values}
    if isinstance(tp, type) and tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if origin is typing.Literal:
        values = list(args)
        return {"type": _json_type_of(values, where), "enum": values}
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        nullable = len(members) < len(args)
        if len(members) == 1:
            schema = _schema_for(members[0], where)
            if nullable and "type" in schema and isinstance(schema["type"], str):
                schema["type"] = [schema["type"], "null"]
            return schema
        options = [_schema_for(m, where) for m in members]
        if nullable:
            options.append({"type": "null"})
        return {"anyOf": options}
    if origin in (list, set, frozenset, typing.Sequence, typing.MutableSequence) or tp in (
        list,
        set,
        frozenset,
    ):
        schema = {"type": "array"}
        if args:
            schema["items"] = _schema_for(args[0], f"{where}[]")
        return schema
    if origin is tuple or tp is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema_for(args[0], f"{where}[]")}
        if args:
            return {
                "type": "array",
                "prefixItems": [_schema_for(a, f"{where}[{i}]") for i, a in enumerate(args)],
                "minItems": len(args),
                "maxItems": len(args),
            }
        return {"type": "array"}
    if origin in (dict, typing.Mapping, typing.MutableMapping) or tp is dict:
        schema = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            schema["additionalProperties"] = _schema_for(args[1], f"{where}{{}}")
        return schema
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp, include_extras=True)
        props: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(tp):
            props[f.name] = _schema_for(hints.get(f.name, Any), f"{where}.{f.name}")
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        return {"type": "object", "properties": props, "required": required}
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        required_keys = getattr(tp, "__required_keys__", frozenset(hints))
        return {
            "type": "object",
            "properties": {k: _schema_for(v, f"{where}.{k}") for k, v in hints.items()},
            "required": [k for k in hints if k in required_keys],
        }
    raise TypeError(
        f"{where}: the type {tp!r} cannot be described as JSON schema for the model. Use str, "
        "int, float, bool, list[...], dict[str, ...], Literal[...], an Enum, a dataclass or a "
        "TypedDict (or pass a schema dict instead of a function)."
    )


def _json_type_of(values: list[Any], where: str) -> str | list[str]:
    kinds: list[str] = []
    for v in values:
        if isinstance(v, bool):
            k = "boolean"
        elif isinstance(v, int):
            k = "integer"
        elif isinstance(v, float):
            k = "number"
        elif isinstance(v, str):
            k = "string"
        elif v is None:
            k = "null"
        else:
            raise TypeError(f"{where}: choice {v!r} is not a JSON value (str, int, float, bool)")
        if k not in kinds:
            kinds.append(k)
    return kinds[0] if len(kinds) == 1 else kinds


# --- converting arguments ------------------------------------------------------------------------


def _convert(value: Any, tp: Any, where: str) -> Any:
    """The model's JSON value as ``tp`` (enums, dataclasses, tuples, numbers), or an error."""
    if tp is inspect.Parameter.empty or tp is Any:
        return value
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated:
        return _convert(value, args[0], where)
    if tp is type(None) or tp is None:
        if value is not None:
            raise ToolArgumentError(f"{where}: expected null, got {value!r}")
        return None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise ToolArgumentError(f"{where}: {value!r} is not one of {allowed}") from None
    if origin is typing.Literal:
        if value not in args:
            raise ToolArgumentError(f"{where}: {value!r} is not one of {list(args)!r}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for member in args:
            if member is type(None):
                continue
            try:
                return _convert(value, member, where)
            except ToolArgumentError as exc:
                errors.append(str(exc))
        raise ToolArgumentError("; ".join(errors) or f"{where}: unexpected {value!r}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ToolArgumentError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToolArgumentError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, float) and not value.is_integer():
            raise ToolArgumentError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToolArgumentError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ToolArgumentError(f"{where}: expected a string, got {value!r}")
        return value
    container = origin or tp
    if container in (list, set, frozenset, tuple, typing.Sequence, typing.MutableSequence):
        if not isinstance(value, list):
            raise ToolArgumentError(f"{where}: expected an array, got {value!r}")
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ToolArgumentError(f"{where}: expected {len(args)} items")
            return tuple(
                _convert(v, a, f"{where}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        if container in (set, frozenset):
            return container(items)
        return tuple(items) if container is tuple else items
    if container in (dict, typing.Mapping, typing.MutableMapping):
        if not isinstance(value, dict):
            raise ToolArgumentError(f"{where}: expected an object, got {value!r}")
        value_tp = args[1] if len(args) == 2 else Any
        return {k: _convert(v, value_tp, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ToolArgumentError(f"{where}: expected an object, got {value!r}")
        hints = typing.get_type_hints(tp, include_extras=True)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(value) - names
        if unknown:
            raise ToolArgumentError(f"{where}: unknown field(s) {sorted(unknown)}")
        missing = [
            f.name
            for f in dataclasses.fields(tp)
            if f.name not in value
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ToolArgumentError(f"{where}: missing required field(s) {missing}")
        return tp(**{k: _convert(v, hints.get(k, Any), f"{where}.{k}") for k, v in value.items()})
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            raise ToolArgumentError(f"{where}: expected an object, got {value!r}")
        hints = typing.get_type_hints(tp, include_extras=True)
        return {k: _convert(v, hints.get(k, Any), f"{where}.{k}") for k, v in value.items()}
    return value


def _parse_arguments(arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        data = json.loads(arguments)
    except ValueError as exc:
        raise ToolArgumentError(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ToolArgumentError(f"the arguments must be a JSON object, got {arguments!r}")
    return data


# --- the public helper ---------------------------------------------------------------------------


def function_tool(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> Tool:
    """``(schema, call)`` for a Python function (see the module docstring for the types).

    ``schema`` goes into ``session.tools``; ``call(arguments)`` parses the model's arguments (JSON
    text or a dict), converts them to the annotated types and calls ``fn`` (it returns whatever
    ``fn`` returns; a coroutine for ``async def`` functions). Raises ``TypeError`` when ``fn``
    cannot be described (``*args``, positional-only parameters, unsupported types).
    """
    if not callable(fn):
        raise TypeError(
            f"function_tool() takes a function, got {type(fn).__name__}; pass a def or "
            "async def with type hints (or a schema dict to VoiceChat(tools=[...]))"
        )
    if name is not None and not isinstance(name, str):
        raise TypeError(f"function_tool(name=...) must be a string, not {type(name).__name__}")
    if description is not None and not isinstance(description, str):
        raise TypeError(
            f"function_tool(description=...) must be a string, not {type(description).__name__}"
        )
    tool_name: str = name or str(getattr(fn, "__name__", ""))
    if not _NAME.match(tool_name):
        raise TypeError(
            f"tool name {tool_name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(pass name='...' to choose another)"
        )
    summary, param_docs = _split_doc(inspect.getdoc(fn) or "")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"{tool_name}: could not resolve its type hints ({exc})") from None
    signature = inspect.signature(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    converters: dict[str, Any] = {}
    for pname, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"{tool_name}: *{pname} / **{pname} cannot be described to the model; "
                "declare each argument as a named parameter"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(
                f"{tool_name}: parameter {pname!r} is positional-only; the model passes "
                "arguments by name, so remove the '/'"
            )
        tp = hints.get(pname, inspect.Parameter.empty)
        if tp is inspect.Parameter.empty and param.default is not param.empty:
            default_type = type(param.default)
            if default_type in _SCALARS:
                tp = default_type
        schema = _schema_for(tp, f"{tool_name}({pname})")
        doc = param_docs.get(pname)
        if doc and "description" not in schema:
            schema["description"] = doc
        if param.default is param.empty:
            required.append(pname)
        elif param.default is None or isinstance(param.default, str | int | float | enum.Enum):
            value = param.default.value if isinstance(param.default, enum.Enum) else param.default
            schema.setdefault("default", value)
        properties[pname] = schema
        converters[pname] = tp
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    schema = {
        "type": "function",
        "name": tool_name,
        "description": description if description is not None else summary,
        "parameters": parameters,
    }

    def call(arguments: str | Mapping[str, Any] | None = None) -> Any:
        args = _parse_arguments(arguments)
        unknown = [k for k in args if k not in converters]
        if unknown:
            raise ToolArgumentError(
                f"{tool_name}: unknown argument(s) {unknown}; expected {list(converters)}"
            )
        missing = [k for k in required if k not in args]
        if missing:
            raise ToolArgumentError(f"{tool_name}: missing required argument(s) {missing}")
        kwargs = {k: _convert(v, converters[k], f"{tool_name}({k})") for k, v in args.items()}
        return fn(**kwargs)

    call.__name__ = tool_name
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return Tool(schema=schema, call=call)


def tool_output(value: Any) -> str:
    """A tool's return value as the ``output`` string of a ``function_call_output`` item."""
    if isinstance(value, str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
