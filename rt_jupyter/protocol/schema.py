"""A small schema language for validating JSON values the way the Realtime API does.

Each node checks a decoded JSON value and raises :class:`ProtocolError` with the official error
code and a ``param`` path (``session.audio.input.format.type``, ``session.tools[0].name``):

=================================  =====================================================
``unknown_parameter``              a field the schema does not know
``missing_required_parameter``     a required field is absent
``invalid_type``                   wrong JSON type (``expected a string, but got ...``)
``invalid_value``                  not one of the allowed values
``integer_below_min_value`` / ``integer_above_max_value``  (and ``decimal_...``)
``string_above_max_length`` / ``array_above_max_length``
=================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ProtocolError

__all__ = [
    "AnyOf",
    "AnyValue",
    "Arr",
    "Bool",
    "Int",
    "MapOf",
    "Node",
    "Num",
    "Obj",
    "Str",
    "Tagged",
    "describe_type",
    "validate",
]


def describe_type(value: Any) -> str:
    """The API's word for a JSON value's type ("a string", "an integer", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unsupported value"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_error(path: str, expected: str, value: Any) -> ProtocolError:
    return ProtocolError(
        f"Invalid type for '{path}': expected {expected}, but got {describe_type(value)} instead.",
        code="invalid_type",
        param=path or None,
    )


class Node:
    """Base of all schema nodes."""

    nullable: bool = False
    expected: str = "a value"

    def check(self, value: Any, path: str) -> Any:
        """Raise :class:`ProtocolError` if ``value`` does not conform; return the value to use
        (integral decimals such as ``2.0`` in integer fields become ``2``; containers are
        updated in place)."""
        if value is None and self.nullable:
            return value
        result = self._check(value, path)
        return value if result is None else result

    def accepts_type(self, value: Any) -> bool:
        """Whether ``value`` has the JSON type this node is about (used by :class:`AnyOf`)."""
        return (value is None and self.nullable) or self._is_type(value)

    def _check(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def _is_type(self, value: Any) -> bool:
        return True


class AnyValue(Node):
    """Any JSON value."""

    expected = "any value"

    def _check(self, value: Any, path: str) -> Any:
        return None


class Str(Node):
    """A string, optionally from a fixed set of values or with a maximum length."""

    expected = "a string"

    def __init__(
        self,
        enum: Iterable[str] | None = None,
        *,
        max_length: int | None = None,
        nullable: bool = False,
    ) -> None:
        self.enum = tuple(enum) if enum is not None else None
        self.max_length = max_length
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _type_error(path, self.expected, value)
        if self.enum is not None and value not in self.enum:
            allowed = ", ".join(f"'{v}'" for v in self.enum)
            raise ProtocolError(
                f"Invalid value: '{value[:200]}'. Supported values are: {allowed}.",
                code="invalid_value",
                param=path or None,
            )
        if self.max_length is not None and len(value) > self.max_length:
            raise ProtocolError(
                f"Invalid '{path}': string too long. Expected a string with maximum length "
                f"{self.max_length}, but got a string with length {len(value)} instead.",
                code="string_above_max_length",
                param=path or None,
            )


class _Number(Node):
    kind = "integer"

    def __init__(
        self,
        minimum: float | None = None,
        maximum: float | None = None,
        *,
        nullable: bool = False,
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.nullable = nullable

    def _range(self, value: float, path: str) -> None:
        word = "integer" if self.kind == "integer" else "decimal"
        if self.minimum is not None and value < self.minimum:
            raise ProtocolError(
                f"Invalid '{path}': {word} below minimum value. Expected a value >= "
                f"{self.minimum:g}, but got {value:g} instead.",
                code=f"{word}_below_min_value",
                param=path or None,
            )
        if self.maximum is not None and value > self.maximum:
            raise ProtocolError(
                f"Invalid '{path}': {word} above maximum value. Expected a value <= "
                f"{self.maximum:g}, but got {value:g} instead.",
                code=f"{word}_above_max_value",
                param=path or None,
            )


class Int(_Number):
    """An integer (JSON numbers with no fractional part), with an optional range."""

    expected = "an integer"
    kind = "integer"

    def __init__(
        self,
        minimum: float | None = None,
        maximum: float | None = None,
        *,
        enum: Iterable[int] | None = None,
        nullable: bool = False,
    ) -> None:
        super().__init__(minimum, maximum, nullable=nullable)
        self.enum = tuple(enum) if enum is not None else None

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def _check(self, value: Any, path: str) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # JSON 2.0 in an integer field: accepted as 2, and sent as 2
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(path, self.expected, value)
        if self.enum is not None and value not in self.enum:
            allowed = ", ".join(str(v) for v in self.enum)
            raise ProtocolError(
                f"Invalid value: {value}. Supported values are: {allowed}.",
                code="invalid_value",
                param=path or None,
            )
        self._range(value, path)
        return value


class Num(_Number):
    """A number (integer or decimal), with an optional range."""

    expected = "a decimal"
    kind = "decimal"

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _type_error(path, self.expected, value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ProtocolError(
                f"Invalid value for '{path}': expected a finite number.",
                code="invalid_value",
                param=path or None,
            )
        self._range(value, path)


class Bool(Node):
    """A boolean."""

    expected = "a boolean"

    def __init__(self, *, nullable: bool = False) -> None:
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, bool)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _type_error(path, self.expected, value)


class Arr(Node):
    """An array whose elements all match ``items``."""

    expected = "an array"

    def __init__(
        self, items: Node, *, max_items: int | None = None, nullable: bool = False
    ) -> None:
        self.items = items
        self.max_items = max_items
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, list)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _type_error(path, self.expected, value)
        if self.max_items is not None and len(value) > self.max_items:
            raise ProtocolError(
                f"Invalid '{path}': array too long. Expected an array with maximum length "
                f"{self.max_items}, but got an array with length {len(value)} instead.",
                code="array_above_max_length",
                param=path or None,
            )
        for i, element in enumerate(value):
            new = self.items.check(element, f"{path}[{i}]")
            if new is not element:
                value[i] = new


class Obj(Node):
    """An object with known fields; unknown fields are ``unknown_parameter`` unless ``open``."""

    expected = "an object"

    def __init__(
        self,
        fields: Mapping[str, Node] | None = None,
        *,
        required: Iterable[str] = (),
        open: bool = False,
        nullable: bool = False,
    ) -> None:
        self.fields: dict[str, Node] = dict(fields or {})
        self.required = tuple(required)
        self.open = open
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, dict)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _type_error(path, self.expected, value)
        for key in self.required:
            if key not in value:
                raise ProtocolError(
                    f"Missing required parameter: '{_join(path, key)}'.",
                    code="missing_required_parameter",
                    param=_join(path, key),
                )
        fields = self.fields
        for key, sub in value.items():
            node = fields.get(key)
            if node is None:
                if self.open:
                    continue
                raise ProtocolError(
                    f"Unknown parameter: '{_join(path, str(key)[:200])}'.",
                    code="unknown_parameter",
                    param=_join(path, str(key)[:200]),
                )
            new = node.check(sub, _join(path, key))
            if new is not sub:
                value[key] = new


class MapOf(Node):
    """An object used as a map: at most ``max_keys`` keys of ``key_max_length`` characters,
    every value matching ``values`` (e.g. ``metadata``: 16 string pairs)."""

    expected = "an object"

    def __init__(
        self,
        values: Node,
        *,
        max_keys: int | None = None,
        key_max_length: int | None = None,
        nullable: bool = False,
    ) -> None:
        self.values = values
        self.max_keys = max_keys
        self.key_max_length = key_max_length
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, dict)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _type_error(path, self.expected, value)
        if self.max_keys is not None and len(value) > self.max_keys:
            raise ProtocolError(
                f"Invalid '{path}': too many keys. Expected at most {self.max_keys}, but got "
                f"{len(value)} instead.",
                code="object_above_max_properties",
                param=path or None,
            )
        for key, sub in value.items():
            if self.key_max_length is not None and len(key) > self.key_max_length:
                raise ProtocolError(
                    f"Invalid '{path}': key too long. Expected keys of at most "
                    f"{self.key_max_length} characters, but got one of {len(key)}.",
                    code="string_above_max_length",
                    param=path or None,
                )
            new = self.values.check(sub, _join(path, key))
            if new is not sub:
                value[key] = new


class Tagged(Node):
    """An object whose ``tag`` field (usually ``type``) selects the schema of the rest."""

    expected = "an object"

    def __init__(
        self,
        variants: Mapping[str, Node],
        *,
        tag: str = "type",
        default: str | None = None,
        nullable: bool = False,
    ) -> None:
        self.variants = dict(variants)
        self.tag = tag
        self.default = default
        self.nullable = nullable

    def _is_type(self, value: Any) -> bool:
        return isinstance(value, dict)

    def _check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _type_error(path, self.expected, value)
        tag_value = value.get(self.tag, self.default)
        if tag_value is None:
            raise ProtocolError(
                f"Missing required parameter: '{_join(path, self.tag)}'.",
                code="missing_required_parameter",
                param=_join(path, self.tag),
            )
        if not isinstance(tag_value, str):
            raise _type_error(_join(path, self.tag), "a string", tag_value)
        node = self.variants.get(tag_value)
        if node is None:
            allowed = ", ".join(f"'{v}'" for v in self.variants)
            raise ProtocolError(
                f"Invalid value: '{tag_value[:200]}'. Supported values are: {allowed}.",
                code="invalid_value",
                param=_join(path, self.tag),
            )
        return node.check(value, path)


class AnyOf(Node):
    """The first alternative whose JSON type fits decides (e.g. integer or ``"inf"``)."""

    def __init__(self, *options: Node, nullable: bool = False) -> None:
        self.options = options
        self.nullable = nullable
        self.expected = " or ".join(dict.fromkeys(o.expected for o in options))

    def _is_type(self, value: Any) -> bool:
        return any(o.accepts_type(value) for o in self.options)

    def _check(self, value: Any, path: str) -> Any:
        candidates = [o for o in self.options if o.accepts_type(value)]
        if not candidates:
            raise _type_error(path, self.expected, value)
        first_error: ProtocolError | None = None
        for option in candidates:
            try:
                return option.check(value, path)
            except ProtocolError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error


def validate(value: Any, node: Node, path: str = "") -> Any:
    """Check ``value`` against ``node``; raises :class:`ProtocolError` on the first problem.
    Returns the value to use (see :meth:`Node.check`)."""
    return node.check(value, path)
