"""Tools for both front doors: Python functions as Realtime tools, one schema builder, one run
policy and one error encoding.

``function_tool(fn)`` returns ``(schema, call)``: ``schema`` is the ``{"type": "function", "name",
"description", "parameters"}`` object for ``session.tools``; ``call(arguments)`` takes the model's
``arguments`` (a JSON string or a dict), checks and converts them and calls ``fn``.
:func:`tool_schemas` turns what a user passes as ``tools=[...]`` into schemas (registering the
functions); :class:`ToolRunner` runs the model's calls (see its docstring for the policy).

Supported parameter types: ``str``, ``int``, ``float``, ``bool``, ``None``, ``list[T]``,
``tuple[T, ...]``, ``set[T]``, ``dict[str, T]``, ``Literal[...]``, ``Enum`` subclasses,
``T | None``, unions, ``Annotated[T, "description"]``, dataclasses and ``TypedDict``. Parameter
descriptions come from ``Annotated`` or from the docstring (Google ``Args:``, NumPy
``Parameters``, Sphinx ``:param x:``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import enum
import inspect
import json
import logging
import re
import time
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Union, get_args, get_origin

from ..errors import ConfigurationError, ToolError
from ..protocol import Conversation

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolArgumentError",
    "ToolResult",
    "ToolRunner",
    "check_tool_timeout",
    "encode_tool_error",
    "function_tool",
    "tool_output",
    "tool_schemas",
]

log = logging.getLogger("rt_jupyter.tools")

#: Seconds a tool call may take before its output becomes a timeout error.
DEFAULT_TOOL_TIMEOUT = 30.0

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ToolArgumentError(ToolError, ValueError):
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


# --- the schema builder --------------------------------------------------------------------------


def tool_schemas(
    entries: Iterable[Any], registry: dict[str, Tool], *, where: str = "tools"
) -> list[dict[str, Any]]:
    """The ``session.tools`` schemas for ``entries`` (Python functions, :func:`function_tool`
    results or schema dicts), in order; the functions go into ``registry`` by name and tools no
    longer listed leave it (the server will not call them).

    Raises ``TypeError`` for an entry that is none of these and ``ValueError`` for a schema
    without a name or two tools of one name; ``where`` names the setting in the message.
    """
    if not isinstance(entries, list | tuple):
        raise TypeError(
            f"{where} must be a list of Python functions or tool schemas, not "
            f"{type(entries).__name__}"
        )
    schemas: list[dict[str, Any]] = []
    found: dict[str, Tool] = {}
    for entry in entries:
        if isinstance(entry, Tool):
            schemas.append(entry.schema)
            found[entry.name] = entry
        elif isinstance(entry, Mapping):
            if entry.get("type", "function") == "function" and not entry.get("name"):
                raise ValueError(f"{where}: a tool schema needs a 'name': {dict(entry)!r}")
            schemas.append({"type": "function", **dict(entry)})
        elif callable(entry):
            tool = function_tool(entry)
            schemas.append(tool.schema)
            found[tool.name] = tool
        else:
            raise TypeError(
                f"{where}: pass Python functions, tool schema dicts or "
                f"rt_jupyter.function_tool(fn) results, not {type(entry).__name__}"
            )
    names = [s.get("name") for s in schemas]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where}: duplicate tool name(s) {duplicates}")
    for name in [n for n in registry if n not in names]:
        del registry[name]  # a tool that was removed is no longer run
    registry.update(found)
    return schemas


# --- one error encoding --------------------------------------------------------------------------


def encode_tool_error(exc: BaseException, *, name: str = "", timeout: float | None = None) -> str:
    """The ``function_call_output`` for a call that failed: ``{"error": "<Type>: <message>"}``
    for a raising tool, a bad argument (:class:`ToolArgumentError`) and a timeout alike."""
    if isinstance(exc, TimeoutError) and timeout is not None:
        message = f"TimeoutError: {name or 'the tool'} did not finish within {timeout:g} s"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return json.dumps({"error": message}, ensure_ascii=False)


# --- one run policy ------------------------------------------------------------------------------


@dataclasses.dataclass
class ToolResult:
    """One finished call: its output for the model (``error`` set when it failed)."""

    call_id: str
    name: str
    arguments: str
    output: str = ""
    error: str | None = None
    seconds: float = 0.0


@dataclasses.dataclass
class _Batch:
    """The calls of one response."""

    order: list[str] = dataclasses.field(default_factory=list)
    results: dict[str, ToolResult] = dataclasses.field(default_factory=dict)
    pending: int = 0
    done: bool = False
    status: str | None = None
    foreign: bool = False  # a call the runner has no function for (the user answers it)


#: Told when a response's calls are all answered: ``(response_id, results, follow_up)``;
#: ``follow_up`` is whether to send ``response.create`` after the outputs.
ReadyHook = Callable[[str, list[ToolResult], bool], None]


def check_tool_timeout(value: Any) -> float:
    """``value`` as a tool timeout in seconds; :class:`~rt_jupyter.ConfigurationError` unless it
    is a number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"tool_timeout={value!r}: use a number of seconds > 0, e.g. 30")
    return float(value)


class ToolRunner:
    """Runs the model's calls of registered tools; one policy for both front doors.

    * A call starts as soon as its arguments are done (:meth:`call_done`), or at the latest when
      its response is (:meth:`response_done`); each ``call_id`` runs once.
    * Sync tools run in a worker thread, async tools as tasks on the running loop, so neither the
      event loop nor the widget's comm handler blocks. (With no running loop, a call runs to its
      end before :meth:`call_done` returns.)
    * Each call has ``timeout`` seconds; a call that raises, gets bad arguments or times out
      answers with :func:`encode_tool_error` (a timed-out sync tool's thread is left to finish).
    * When the response that made the calls is done and every started call has finished,
      ``on_ready(response_id, results, follow_up)`` gets the outputs in call order. The adapter
      sends them and, when ``follow_up`` is true, one ``response.create``: never while that
      response is active (the server refuses with ``conversation_already_has_active_response``).
      ``follow_up`` is false when the response did not complete or made a call of a tool the
      runner does not have (whoever answers that call asks for the next response).
    """

    def __init__(
        self,
        registry: dict[str, Tool],
        on_ready: ReadyHook,
        *,
        timeout: float = DEFAULT_TOOL_TIMEOUT,
        on_result: Callable[[ToolResult], None] | None = None,
    ) -> None:
        self.registry = registry
        self.timeout = timeout
        self._on_ready = on_ready
        self._on_result = on_result
        self._batches: dict[str, _Batch] = {}
        self._started: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def timeout(self) -> float:
        """Seconds each call may take."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._timeout = check_tool_timeout(value)

    def call_done(self, call_id: str, name: str, arguments: str, response_id: str | None) -> bool:
        """The model finished a call's arguments: run it if the tool is registered and the call
        is new. Returns whether it was started."""
        batch = self._batches.setdefault(response_id or "", _Batch())
        if not call_id or call_id in self._started:
            return False
        if name not in self.registry:
            batch.foreign = True
            return False
        self._started.add(call_id)
        batch.order.append(call_id)
        batch.pending += 1
        self._start(self.registry[name], call_id, name, arguments, response_id or "")
        return True

    def arguments_done(self, event: Mapping[str, Any], conversation: Conversation) -> bool:
        """:meth:`call_done` for a ``response.function_call_arguments.done`` event; the tool's
        name comes from the call's item in ``conversation`` when the event has none."""
        name = event.get("name")
        if not name:
            item = conversation.get(str(event.get("item_id") or ""))
            name = item.name if item is not None else ""
        return self.call_done(
            str(event.get("call_id") or ""),
            str(name or ""),
            str(event.get("arguments") or ""),
            str(event.get("response_id") or ""),
        )

    def response_done(
        self, response_id: str, status: str | None, calls: Iterable[tuple[str, str, str]] = ()
    ) -> bool:
        """The response is done; ``calls`` are its ``(call_id, name, arguments)``. Returns
        whether it made calls this runner answers (then ``on_ready`` follows)."""
        for call_id, name, arguments in calls:
            self.call_done(call_id, name, arguments, response_id)
        batch = self._batches.get(response_id)
        if batch is None:
            return False
        batch.done, batch.status = True, status
        if not batch.order:
            del self._batches[response_id]
            return False
        self._maybe_ready(response_id)
        return True

    def reset(self) -> None:
        """Forget every call (a new connection or call starts); running calls are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        self._batches.clear()
        self._started.clear()

    def close(self) -> None:
        """Cancel running calls and let the worker threads go."""
        self.reset()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- running -----------------------------------------------------------------------------

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix="rtj-tool"
            )
        return self._executor

    def _start(self, tool: Tool, call_id: str, name: str, arguments: str, rid: str) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        started = time.perf_counter()
        if loop is None:  # nothing to yield to: run it here
            try:
                value = self._run_blocking(tool, arguments)
            except Exception as exc:
                self._finish(rid, call_id, name, arguments, started, exc=exc)
            else:
                self._finish(rid, call_id, name, arguments, started, value=value)
            return
        task = loop.create_task(self._run_async(tool, arguments))
        self._tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None and not isinstance(exc, Exception):
                return
            if exc is not None:
                self._finish(rid, call_id, name, arguments, started, exc=exc)
            else:
                self._finish(rid, call_id, name, arguments, started, value=task.result())

        task.add_done_callback(done)

    async def _run_async(self, tool: Tool, arguments: str) -> Any:
        if _is_async(tool.call):
            return await asyncio.wait_for(tool.call(arguments), self.timeout)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool(), tool.call, arguments)
        result = await asyncio.wait_for(work, self.timeout)
        if inspect.isawaitable(result):
            result = await asyncio.wait_for(_await(result), self.timeout)
        return result

    def _run_blocking(self, tool: Tool, arguments: str) -> Any:
        if _is_async(tool.call):
            return asyncio.run(asyncio.wait_for(_await(tool.call(arguments)), self.timeout))
        future = self._pool().submit(tool.call, arguments)
        try:
            result = future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError from None
        if inspect.isawaitable(result):
            result = asyncio.run(asyncio.wait_for(_await(result), self.timeout))
        return result

    def _finish(
        self,
        rid: str,
        call_id: str,
        name: str,
        arguments: str,
        started: float,
        *,
        value: Any = None,
        exc: BaseException | None = None,
    ) -> None:
        result = ToolResult(call_id, name, arguments, seconds=time.perf_counter() - started)
        if exc is not None:
            result.output = encode_tool_error(exc, name=name, timeout=self.timeout)
            result.error = json.loads(result.output)["error"]
            log.warning("tool %s failed: %s", name, result.error)
        else:
            try:
                result.output = tool_output(value)
            except Exception as failure:  # a result that cannot be encoded is an error too
                result.output = encode_tool_error(failure, name=name)
                result.error = json.loads(result.output)["error"]
        if self._on_result is not None:
            self._on_result(result)
        batch = self._batches.get(rid)
        if batch is None:  # forgotten by reset()
            return
        batch.results[call_id] = result
        batch.pending -= 1
        self._maybe_ready(rid)

    def _maybe_ready(self, rid: str) -> None:
        batch = self._batches.get(rid)
        if batch is None or not batch.done or batch.pending:
            return
        del self._batches[rid]
        results = [batch.results[c] for c in batch.order if c in batch.results]
        follow_up = batch.status == "completed" and not batch.foreign
        self._on_ready(rid, results, follow_up)


def _is_async(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(call)) or inspect.iscoroutinefunction(call)


async def _await(value: Awaitable[Any]) -> Any:
    return await value
