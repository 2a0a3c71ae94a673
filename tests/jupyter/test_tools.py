"""``function_tool``: JSON schemas from signatures, type hints and docstrings; argument checks."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from typing import Annotated, Any, Literal, TypedDict

import pytest

from rt_jupyter import function_tool
from rt_jupyter.jupyter.tools import Tool, ToolArgumentError, tool_output
from rt_jupyter.protocol import session_update


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Custom:
    """Not describable as JSON."""


class Options(TypedDict):
    verbose: bool


def get_weather(
    city: str,
    unit: Unit = Unit.CELSIUS,
    days: int = 1,
    detail: Literal["short", "long"] = "short",
    tags: list[str] | None = None,
) -> str:
    """Current weather for a city.

    Longer text that is not part of the description.

    Args:
        city: The city name,
            e.g. Paris.
        unit: Temperature unit.
        days (int): How many days.

    Returns:
        A sentence.
    """
    return f"{city}|{unit.value}|{days}|{detail}|{tags}"


def test_schema_from_signature_and_google_docstring() -> None:
    schema, call = function_tool(get_weather)
    assert schema == {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name, e.g. Paris."},
                "unit": {
                    "type": "string",
                    "enum": ["celsius", "fahrenheit"],
                    "description": "Temperature unit.",
                    "default": "celsius",
                },
                "days": {"type": "integer", "description": "How many days.", "default": 1},
                "detail": {"type": "string", "enum": ["short", "long"], "default": "short"},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    session_update(tools=[schema])  # a valid session tool
    assert call('{"city": "Paris", "unit": "fahrenheit", "days": 2.0}') == (
        "Paris|fahrenheit|2|short|None"
    )
    assert call({"city": "Oslo", "tags": ["a"]}) == "Oslo|celsius|1|short|['a']"


def test_tool_is_a_named_pair() -> None:
    tool = function_tool(get_weather, name="weather", description="Weather.")
    assert isinstance(tool, Tool) and isinstance(tool, tuple)
    assert tool.name == "weather" and tool.schema["description"] == "Weather."


def test_sphinx_numpy_annotated_and_structured_types() -> None:
    def sphinx(x: Annotated[float, "the x value"], y: Any) -> None:
        """Sphinx style.

        :param x: ignored, Annotated wins
        :param y: anything at all
        """

    def numpy(point: Point, options: Options, weights: dict[str, int]) -> None:
        """NumPy style.

        Parameters
        ----------
        point : Point
            Where.
        options : Options
            How,
            verbosely.
        weights : dict
            Per name.
        """

    s = function_tool(sphinx).schema["parameters"]["properties"]
    assert s == {
        "x": {"type": "number", "description": "the x value"},
        "y": {"description": "anything at all"},
    }
    n = function_tool(numpy).schema["parameters"]["properties"]
    assert n["point"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x"],
        "description": "Where.",
    }
    assert n["options"]["properties"] == {"verbose": {"type": "boolean"}}
    assert n["options"]["description"] == "How, verbosely."
    assert n["weights"]["additionalProperties"] == {"type": "integer"}


def test_arguments_are_converted_and_checked() -> None:
    def place(point: Point, when: tuple[int, int], unit: Unit) -> str:
        """Place."""
        assert isinstance(point, Point) and isinstance(when, tuple) and isinstance(unit, Unit)
        return "ok"

    _, call = function_tool(place)
    assert call({"point": {"x": 1, "y": 2}, "when": [1, 2], "unit": "celsius"}) == "ok"
    with pytest.raises(ToolArgumentError, match="missing required"):
        call({"point": {"x": 1}})
    with pytest.raises(ToolArgumentError, match="unknown argument"):
        call({"point": {"x": 1}, "when": [1, 2], "unit": "celsius", "extra": 1})
    with pytest.raises(ToolArgumentError, match="not one of"):
        call({"point": {"x": 1}, "when": [1, 2], "unit": "kelvin"})
    with pytest.raises(ToolArgumentError, match="expected an integer"):
        call({"point": {"x": 1}, "when": [1, 2.5], "unit": "celsius"})
    with pytest.raises(ToolArgumentError, match="not valid JSON"):
        call("{nope")


def test_unsupported_functions_say_what_to_do() -> None:
    def star(*args: int) -> None: ...

    def positional(a: int, /) -> None: ...

    def custom(c: Custom) -> None: ...

    with pytest.raises(TypeError, match="named parameter"):
        function_tool(star)
    with pytest.raises(TypeError, match="remove the '/'"):
        function_tool(positional)
    with pytest.raises(TypeError, match="cannot be described as JSON schema"):
        function_tool(custom)
    with pytest.raises(TypeError, match="is not allowed"):
        function_tool(lambda: None)
    with pytest.raises(TypeError, match="takes a function"):
        function_tool("get_weather")  # type: ignore[arg-type]


def test_async_tools_return_coroutines() -> None:
    async def slow(n: int) -> int:
        """Double."""
        await asyncio.sleep(0)
        return n * 2

    _, call = function_tool(slow)
    assert asyncio.run(call('{"n": 4}')) == 8


def test_tool_output() -> None:
    assert tool_output("text") == "text"
    assert json.loads(tool_output({"a": [1, 2]})) == {"a": [1, 2]}
    assert json.loads(tool_output(Point(1.0))) == {"x": 1.0, "y": 0.0}
    assert tool_output(Unit.CELSIUS) == '"celsius"'
    assert tool_output(None) == "null"
