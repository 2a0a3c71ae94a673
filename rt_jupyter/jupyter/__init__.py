"""Jupyter integration: the ``VoiceChat`` widget, the server extension and Python tools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .tools import Tool, function_tool

if TYPE_CHECKING:
    from .widget import VoiceChat

__all__ = ["Tool", "VoiceChat", "function_tool"]


def __getattr__(name: str) -> Any:
    if name == "VoiceChat":  # imported lazily: the server extension does not need ipywidgets
        from .widget import VoiceChat

        return VoiceChat
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
