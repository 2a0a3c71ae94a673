"""Compatibility: the tool machinery lives in :mod:`rt_jupyter.core.tools` (tools are not
Jupyter-specific); this module re-exports it."""

from __future__ import annotations

from ..core.tools import Tool, ToolArgumentError, function_tool, tool_output

__all__ = ["Tool", "ToolArgumentError", "function_tool", "tool_output"]
