"""The I/O-free session layer both front doors drive (:class:`~rt_jupyter.RealtimeSession` over a
WebSocket, :class:`~rt_jupyter.VoiceChat` over the widget's comm): event dispatch, tools (schemas,
run policy, error encoding), usage totals and the transcript.

Nothing here opens a socket or a comm; the adapters feed events in and send what comes out.
"""

from __future__ import annotations

from .dispatch import Dispatcher, events_since, normalize
from .tools import (
    DEFAULT_TOOL_TIMEOUT,
    Tool,
    ToolArgumentError,
    ToolResult,
    ToolRunner,
    encode_tool_error,
    function_tool,
    tool_output,
    tool_schemas,
)
from .transcript import transcript_entries
from .usage import add_usage

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Dispatcher",
    "Tool",
    "ToolArgumentError",
    "ToolResult",
    "ToolRunner",
    "add_usage",
    "encode_tool_error",
    "events_since",
    "function_tool",
    "normalize",
    "tool_output",
    "tool_schemas",
    "transcript_entries",
]
